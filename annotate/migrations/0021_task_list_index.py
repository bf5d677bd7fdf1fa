"""The task lists' keyset index, built without locking writes: on a table of millions of
tasks a plain CREATE INDEX would hold claims and submissions for the whole build."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("annotate", "0019_formats"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="annotationtask",
            index=models.Index(fields=["project", "id"], name="task_project_list_idx"),
        ),
    ]
