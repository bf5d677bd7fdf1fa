"""The reference check after a prediction INSERT (migration 0016's activelearn_prediction_refs)
reads the new rows' tasks once instead of twice (issue 16 item 2: it was a third of a push's
COPY time in PostgreSQL, 1.4 to 1.8 us of 4.4 to 5.0 per row, measured).

Before, it looked up the projects of the new rows' tasks and versions (a probe per task),
locked them, and then counted the tasks (a second probe per task). A push's rows name one
version, and their tasks are in that version's project. So now the versions' projects are
locked first (one probe per version), and then one count, after the locks, checks every
task exists and is in a locked project (an index-only scan of task_project_list_idx). If a
task is missing or in another project, the old path runs: the tasks' projects are locked and
the tasks counted, with the same error as before.

The locks work as migration 0016 says, with one change. When rows name tasks outside their
versions' projects, those projects are locked after the versions' ones, so the locks are no
longer taken in ascending order. A transaction deleting tasks in several projects, one
statement after another, could then deadlock with such an insert, and PostgreSQL aborts one
of them. A push never writes such rows: it finds its tasks in its own project.
"""

from django.db import migrations

PREDICTIONS = "activelearn_prediction"
TASKS = "annotate_annotationtask"
VERSIONS = "activelearn_modelversion"
LOCK_BASE = 0x614C7072 << 32  # migration 0016's project locks

FORWARD = f"""
CREATE OR REPLACE FUNCTION activelearn_prediction_refs() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    tasks bigint[];
    versions bigint[];
    projects bigint[];
    project bigint;
BEGIN
    SELECT array_agg(DISTINCT task_id), array_agg(DISTINCT model_version_id)
        INTO tasks, versions FROM new_rows;
    IF tasks IS NULL THEN
        RETURN NULL;
    END IF;
    -- The versions' projects, locked in ascending order and held to the end of the
    -- transaction (migration 0016); every check below reads after them (READ COMMITTED).
    SELECT array_agg(DISTINCT project_id) INTO projects FROM {VERSIONS} WHERE id = ANY(versions);
    FOREACH project IN ARRAY coalesce(projects, '{{}}') LOOP
        PERFORM pg_advisory_xact_lock_shared({LOCK_BASE} # project);
    END LOOP;
    -- The common case: every task exists and is in a project already locked. Otherwise the
    -- projects of the tasks are locked too, and the tasks counted.
    IF (SELECT count(*) FROM {TASKS} WHERE project_id = ANY(projects) AND id = ANY(tasks))
            < cardinality(tasks) THEN
        FOR project IN SELECT DISTINCT project_id FROM {TASKS} WHERE id = ANY(tasks) ORDER BY 1
        LOOP
            PERFORM pg_advisory_xact_lock_shared({LOCK_BASE} # project);
        END LOOP;
        IF (SELECT count(*) FROM {TASKS} WHERE id = ANY(tasks)) < cardinality(tasks) THEN
            RAISE foreign_key_violation USING
                MESSAGE = 'a prediction names a task that does not exist',
                TABLE = TG_TABLE_NAME;
        END IF;
    END IF;
    IF (SELECT count(*) FROM {VERSIONS} WHERE id = ANY(versions)) < cardinality(versions) THEN
        RAISE foreign_key_violation USING
            MESSAGE = 'a prediction names a model version that does not exist',
            TABLE = TG_TABLE_NAME;
    END IF;
    RETURN NULL;
END $$;
"""  # noqa: S608

# Migration 0016's function, as it was.
BACKWARD = f"""
CREATE OR REPLACE FUNCTION activelearn_prediction_refs() RETURNS trigger LANGUAGE plpgsql AS $$
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
    FOR project IN
        SELECT project_id FROM {TASKS} WHERE id = ANY(tasks)
        UNION SELECT project_id FROM {VERSIONS} WHERE id = ANY(versions)
        ORDER BY 1
    LOOP
        PERFORM pg_advisory_xact_lock_shared({LOCK_BASE} # project);
    END LOOP;
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
"""  # noqa: S608


class Migration(migrations.Migration):
    dependencies = [
        ("activelearn", "0017_push_speed"),
    ]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
