"""Fewer index entries per claim (issue 16): a lease row goes into each index of the lease
table, and every claim and submit writes a new version of a task row into each index of the
task table that is not partial on something it leaves out.

- The lease table's own indexes on task and on user go: tasklease_unique_task_user leads
  with the task and tasklease_user_state_idx with the user, so every lookup by either (the
  foreign keys' cascades included) has an index.
- The task table's index on gold_reference becomes partial (where set): almost every task
  has none.

Only the indexes change; the foreign keys are left as they are (Django's AlterField would
drop and re-validate them over the whole table)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("annotate", "0026_push_speed"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="annotationtask",
                    name="gold_reference",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        help_text="The reference annotation gold attempts are scored against.",
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="annotate.annotation",
                    ),
                ),
                migrations.AlterField(
                    model_name="tasklease",
                    name="task",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="leases",
                        to="annotate.annotationtask",
                    ),
                ),
                migrations.AlterField(
                    model_name="tasklease",
                    name="user",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="task_leases",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "annotate_annotationtask_gold_reference_id_7db83bc1";'
                    ' DROP INDEX IF EXISTS "activelearn_tasklease_task_id_70a5ad5c";'
                    ' DROP INDEX IF EXISTS "activelearn_tasklease_user_id_bb6d9775";',
                    reverse_sql=(
                        'CREATE INDEX "annotate_annotationtask_gold_reference_id_7db83bc1"'
                        ' ON "annotate_annotationtask" ("gold_reference_id");'
                        ' CREATE INDEX "activelearn_tasklease_task_id_70a5ad5c"'
                        ' ON "activelearn_tasklease" ("task_id");'
                        ' CREATE INDEX "activelearn_tasklease_user_id_bb6d9775"'
                        ' ON "activelearn_tasklease" ("user_id");'
                    ),
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="annotationtask",
            index=models.Index(
                condition=models.Q(("gold_reference__isnull", False)),
                fields=["gold_reference"],
                name="task_gold_reference_idx",
            ),
        ),
    ]
