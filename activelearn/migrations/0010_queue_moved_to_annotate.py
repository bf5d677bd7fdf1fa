from django.db import migrations

MOVED = ("tasklease", "budgetledger")


def _move(apps, source: str, target: str) -> None:
    """Give the moved models' content types to `target`, so their permissions (and every
    group's and user's grant of them) follow the models."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    for model in MOVED:
        old = ContentType.objects.filter(app_label=source, model=model).first()
        if old is None:
            continue
        new = ContentType.objects.filter(app_label=target, model=model).first()
        if new is None:
            old.app_label = target
            old.save(update_fields=["app_label"])
            continue
        # Both exist (the target's permissions were made already): carry the grants over.
        for permission in Permission.objects.filter(content_type=old):
            twin = Permission.objects.filter(content_type=new, codename=permission.codename).first()
            if twin is None:
                permission.content_type = new
                permission.save(update_fields=["content_type"])
                continue
            for group in permission.group_set.all():
                group.permissions.add(twin)
            for user in permission.user_set.all():
                user.user_permissions.add(twin)
            permission.delete()
        old.delete()


def forwards(apps, schema_editor):
    _move(apps, "activelearn", "annotate")


def backwards(apps, schema_editor):
    _move(apps, "annotate", "activelearn")


class Migration(migrations.Migration):
    """TaskLease and BudgetLedger now belong to annotate (annotate/models/queue.py), with the
    same tables: leave activelearn's state, keep the tables, move the content types."""

    dependencies = [
        ("activelearn", "0009_job_base"),
        ("annotate", "0007_queue_leases_ledger"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(model_name="tasklease", name="task"),
                migrations.RemoveField(model_name="tasklease", name="user"),
                migrations.DeleteModel(name="BudgetLedger"),
                migrations.DeleteModel(name="TaskLease"),
            ],
            database_operations=[],
        ),
        migrations.RunPython(forwards, backwards),
    ]
