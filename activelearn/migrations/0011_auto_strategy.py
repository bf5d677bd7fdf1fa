"""The adaptive strategy `auto`: its state and picks per project, and `auto` as the strategy
of new projects. Existing projects keep what they had: a project that never saved learning
settings used the default ("default"), so it gets a row saying so."""

import django.db.models.deletion
from django.db import migrations, models


def _keep_existing_projects_on_default(apps, schema_editor):
    Project = apps.get_model("annotate", "Project")
    LearningSettings = apps.get_model("activelearn", "LearningSettings")
    LearningSettings.objects.bulk_create(
        [
            LearningSettings(project_id=project_id, strategy="default")
            for project_id in Project.objects.filter(learning__isnull=True).values_list(
                "pk", flat=True
            )
        ]
    )


class Migration(migrations.Migration):
    dependencies = [
        ("activelearn", "0010_queue_moved_to_annotate"),
        ("annotate", "0007_queue_leases_ledger"),
    ]

    operations = [
        migrations.RunPython(_keep_existing_projects_on_default, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="learningsettings",
            name="strategy",
            field=models.CharField(
                default="auto",
                help_text="A strategy name from the registry ('auto' learns which pays off), "
                "'default' (picked from what the model gives) or 'blend' to use the weights "
                "below.",
                max_length=50,
            ),
        ),
        migrations.CreateModel(
            name="AutoStrategyState",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "credits",
                    models.JSONField(blank=True, default=dict, help_text='{"arm": credit, ...}'),
                ),
                ("picks_counted", models.PositiveIntegerField(default=0)),
                (
                    "rewarded_picks",
                    models.PositiveIntegerField(
                        default=0,
                        help_text="Picks whose label both versions predicted (they carry a "
                        "reward).",
                    ),
                ),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "project",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="auto_state",
                        to="annotate.project",
                    ),
                ),
            ],
            options={"verbose_name": "auto strategy state"},
        ),
        migrations.CreateModel(
            name="AutoStrategyPick",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "q",
                    models.FloatField(
                        help_text="The task's probability under the mixture when picked."
                    ),
                ),
                (
                    "advised",
                    models.JSONField(
                        blank=True, default=list, help_text="Arms whose batch held it."
                    ),
                ),
                ("pool", models.PositiveIntegerField()),
                ("batch", models.PositiveIntegerField()),
                ("correct", models.FloatField(blank=True, null=True)),
                ("previous_correct", models.FloatField(blank=True, null=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "model_version",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="auto_picks",
                        to="activelearn.modelversion",
                    ),
                ),
                (
                    "previous_version",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="activelearn.modelversion",
                    ),
                ),
                (
                    "project",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="auto_picks",
                        to="annotate.project",
                    ),
                ),
                (
                    "task",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="auto_pick",
                        to="annotate.annotationtask",
                    ),
                ),
            ],
            options={
                "ordering": ["project", "created_at"],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("q__gt", 0), ("q__lte", 1)),
                        name="autopick_q_probability",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("batch__gte", 1), ("pool__gte", 1)),
                        name="autopick_pool_batch_positive",
                    ),
                ],
            },
        ),
    ]
