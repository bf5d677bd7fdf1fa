# Per-keypoint OKS sigmas in the skeleton (COCO's for existing COCO-17 skeletons), and the
# keypoints the model has mastered (written by the loop, read by pre-filling).

from django.db import migrations, models

# COCO's published sigmas (annotate.schema.COCO17_SIGMAS at the time of this migration).
COCO17 = {
    "nose": 0.026, "left_eye": 0.025, "right_eye": 0.025, "left_ear": 0.035,
    "right_ear": 0.035, "left_shoulder": 0.079, "right_shoulder": 0.079,
    "left_elbow": 0.072, "right_elbow": 0.072, "left_wrist": 0.062, "right_wrist": 0.062,
    "left_hip": 0.107, "right_hip": 0.107, "left_knee": 0.087, "right_knee": 0.087,
    "left_ankle": 0.089, "right_ankle": 0.089,
}


def coco_skeletons_get_sigmas(apps, schema_editor):
    """A COCO-17 skeleton made before sigmas existed gets COCO's, so they show to edit."""
    Project = apps.get_model("annotate", "Project")
    for project in Project.objects.filter(skeleton__has_key="keypoints"):
        skeleton = project.skeleton
        if "sigmas" not in skeleton and skeleton.get("keypoints") == list(COCO17):
            skeleton["sigmas"] = dict(COCO17)
            project.save(update_fields=["skeleton"])


class Migration(migrations.Migration):

    dependencies = [
        ("annotate", "0012_pose_point_source"),
    ]

    operations = [
        migrations.AddField(
            model_name='project',
            name='mastered_keypoints',
            field=models.JSONField(blank=True, default=list, editable=False),
        ),
        migrations.AlterField(
            model_name='project',
            name='skeleton',
            field=models.JSONField(blank=True, default=dict, help_text='{"keypoints": [names in order], "edges": [[name, name], ...], "sigmas": {name: OKS sigma, one per keypoint; optional}}'),
        ),
        migrations.RunPython(coco_skeletons_get_sigmas, migrations.RunPython.noop),
    ]
