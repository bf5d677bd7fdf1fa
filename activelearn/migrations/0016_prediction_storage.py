"""Predictions stored for bulk loading (issue 16 item 2; see Prediction's docstring).

The table loses its id column and two of its four indexes: the key is (task, model version),
the primary key, and model_version_id keeps an index of its own (a version's predictions,
deleting a version). The foreign keys, which PostgreSQL checks with a lookup and a row lock
per inserted row, give way to triggers that work per statement, ordered by an advisory lock
per project (so a long delete in one project, a project's own deletion say, holds up the
pushes of that project only):

- after an INSERT (COPY included), `activelearn_prediction_refs` looks up the projects of the
  new rows' tasks and versions, takes each project's lock in shared mode, in ascending order,
  and then checks, in one indexed query each, that every task and version the new rows name
  exists; the statement fails with foreign_key_violation otherwise;
- after a DELETE on the task or the version table, a trigger takes the lock of each project
  of the deleted rows in exclusive mode, in ascending order, and deletes the predictions of
  the deleted rows (Django's collector deleted those it saw already).

So a delete waits for the prediction inserts under way in its projects, then removes their
rows; an insert after a delete began waits for it and then finds its tasks gone. Both hold
under READ COMMITTED, the project's isolation level (each trigger query reads after the
lock). A task whose delete committed before the insert's lookup gives no project to lock,
and the check after the locks still counts it missing. A task does not change projects, so
the insert and the delete name the same lock. One statement takes its locks in ascending
order; a transaction that deletes in several projects statement by statement can still
deadlock with a push naming several of them (PostgreSQL then aborts one), and a push names
one project.
"""

from django.db import migrations, models

PREDICTIONS = "activelearn_prediction"
TASKS = "annotate_annotationtask"
VERSIONS = "activelearn_modelversion"
# The advisory locks prediction inserts hold shared and deletes of their tasks and versions
# take exclusive: one per project, the single-bigint key `LOCK_BASE # project_id`, whose
# high word is "aLpr" and low word the project id (pg_locks: classid, objid, objsubid 1) for
# every id below 2**32; XOR with a constant, so no two projects share a key whatever their
# ids. The project's other advisory locks take the two-int4 form (objsubid 2), which no
# single-bigint key can meet.
LOCK_CLASS = 0x614C7072
LOCK_BASE = LOCK_CLASS << 32


def _deleted_trigger(name: str, table: str, column: str) -> str:
    """After a DELETE on `table` (tasks or model versions): the exclusive lock of every
    project of the deleted rows, in project order, then their predictions deleted."""
    return f"""
CREATE FUNCTION activelearn_prediction_{name}_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    project bigint;
BEGIN
    IF NOT EXISTS (SELECT FROM old_rows) THEN
        RETURN NULL;
    END IF;
    FOR project IN SELECT DISTINCT project_id FROM old_rows ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock({LOCK_BASE} # project);
    END LOOP;
    DELETE FROM {PREDICTIONS} WHERE {column} = ANY(ARRAY(SELECT id FROM old_rows));
    RETURN NULL;
END $$;

CREATE TRIGGER activelearn_prediction_{name}_deleted AFTER DELETE ON {table}
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION activelearn_prediction_{name}_deleted();
"""  # noqa: S608


FORWARD = f"""
ALTER TABLE {PREDICTIONS} DROP CONSTRAINT {PREDICTIONS}_pkey;
ALTER TABLE {PREDICTIONS} DROP COLUMN id;
ALTER TABLE {PREDICTIONS} ADD CONSTRAINT {PREDICTIONS}_pkey PRIMARY KEY (task_id, model_version_id);

CREATE FUNCTION activelearn_prediction_refs() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    tasks bigint[];
    versions bigint[];
    project bigint;
BEGIN
    SELECT array_agg(DISTINCT task_id), array_agg(DISTINCT model_version_id)
        INTO tasks, versions FROM new_rows;
    IF tasks IS NULL THEN
        RETURN NULL;
    END IF;
    -- Held to the end of the transaction: a delete of tasks or versions of these projects
    -- waits for it (and then removes these rows); a delete under way makes it wait, and the
    -- checks below, which read after it (READ COMMITTED), find what it deleted. A task or
    -- version already gone gives no project here, and the checks count it missing.
    FOR project IN
        SELECT project_id FROM {TASKS} WHERE id = ANY(tasks)
        UNION SELECT project_id FROM {VERSIONS} WHERE id = ANY(versions)
        ORDER BY 1
    LOOP
        PERFORM pg_advisory_xact_lock_shared({LOCK_BASE} # project);
    END LOOP;
    -- = ANY(array): index probes, whatever the planner guesses of the transition table.
    IF (SELECT count(*) FROM {TASKS} WHERE id = ANY(tasks)) < cardinality(tasks) THEN
        RAISE foreign_key_violation USING
            MESSAGE = 'a prediction names a task that does not exist',
            TABLE = TG_TABLE_NAME;
    END IF;
    IF (SELECT count(*) FROM {VERSIONS} WHERE id = ANY(versions)) < cardinality(versions) THEN
        RAISE foreign_key_violation USING
            MESSAGE = 'a prediction names a model version that does not exist',
            TABLE = TG_TABLE_NAME;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER activelearn_prediction_refs AFTER INSERT ON {PREDICTIONS}
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION activelearn_prediction_refs();
"""  # noqa: S608
FORWARD += _deleted_trigger("task", TASKS, "task_id")
FORWARD += _deleted_trigger("version", VERSIONS, "model_version_id")

BACKWARD = f"""
DROP TRIGGER activelearn_prediction_version_deleted ON {VERSIONS};
DROP FUNCTION activelearn_prediction_version_deleted();
DROP TRIGGER activelearn_prediction_task_deleted ON {TASKS};
DROP FUNCTION activelearn_prediction_task_deleted();
DROP TRIGGER activelearn_prediction_refs ON {PREDICTIONS};
DROP FUNCTION activelearn_prediction_refs();
ALTER TABLE {PREDICTIONS} DROP CONSTRAINT {PREDICTIONS}_pkey;
ALTER TABLE {PREDICTIONS} ADD COLUMN id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY;
"""


def _references(constraint: bool) -> list:
    return [
        migrations.AlterField(
            model_name="prediction",
            name="model_version",
            field=models.ForeignKey(
                db_constraint=constraint,
                on_delete=models.deletion.CASCADE,
                related_name="predictions",
                to="activelearn.modelversion",
            ),
        ),
        migrations.AlterField(
            model_name="prediction",
            name="task",
            field=models.ForeignKey(
                db_constraint=constraint,
                db_index=constraint,
                on_delete=models.deletion.CASCADE,
                related_name="predictions",
                to="annotate.annotationtask",
            ),
        ),
    ]


class Migration(migrations.Migration):
    dependencies = [
        ("activelearn", "0015_incremental_scoring"),
        ("annotate", "0023_export_options"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RemoveConstraint(
                    model_name="prediction", name="prediction_unique_task_version"
                ),
                *_references(constraint=False),
                migrations.RunSQL(FORWARD, BACKWARD),
            ],
            state_operations=[
                migrations.RemoveConstraint(
                    model_name="prediction", name="prediction_unique_task_version"
                ),
                migrations.RemoveField(model_name="prediction", name="id"),
                migrations.AddField(
                    model_name="prediction",
                    name="pk",
                    field=models.CompositePrimaryKey(
                        "task",
                        "model_version",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                *_references(constraint=False),
            ],
        ),
    ]
