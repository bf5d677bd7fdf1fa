from django.contrib.auth.management import create_permissions
from django.db import migrations

# group -> {activelearn model: actions}: the retraining loop's rows in the admin.
GROUP_PERMISSIONS = {
    "Project manager": {
        "webhookendpoint": ["add", "change", "delete", "view"],
        "webhookdelivery": ["view"],
        "webhookattempt": ["view"],
        "retraininground": ["view"],
    },
    "ML engineer": {
        "webhookendpoint": ["add", "change", "delete", "view"],
        "webhookdelivery": ["view"],
        "webhookattempt": ["view"],
        "retraininground": ["view"],
    },
}


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group_name, models in GROUP_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        codenames = [f"{a}_{m}" for m, actions in models.items() for a in actions]
        group.permissions.add(
            *Permission.objects.filter(
                content_type__app_label="activelearn", codename__in=codenames
            )
        )


class Migration(migrations.Migration):
    dependencies = [
        ("activelearn", "0006_preannotation_thresholds"),
        ("annotate", "0002_groups"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
