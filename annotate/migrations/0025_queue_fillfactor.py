from django.db import migrations

# Every partition of the queue's table leaves 10% of each page free
# (annotate.queue.priorities.QUEUE_FILLFACTOR, which a full re-rank gives each generation it
# builds): a re-ranked row's new version then stays on its page, where on a full page
# PostgreSQL first WAL-logs a lock of the old version and writes the new one elsewhere.
# A partitioned table has no storage parameters of its own, hence one ALTER per partition:
# generation 0 (where every project starts) and any generation built before this migration.
# Only pages written from now on leave the room (rewriting the pages now would lock out the
# claims); a full re-rank writes a fresh generation with it anyway.
FORWARD = """
DO $$
DECLARE
    part regclass;
BEGIN
    FOR part IN SELECT inhrelid::regclass FROM pg_inherits
        WHERE inhparent = 'annotate_queue'::regclass
    LOOP
        EXECUTE format('ALTER TABLE %s SET (fillfactor = 90)', part);
    END LOOP;
END $$;
"""
BACKWARD = FORWARD.replace("SET (fillfactor = 90)", "RESET (fillfactor)")


class Migration(migrations.Migration):

    dependencies = [
        ("annotate", "0024_queue_storage"),
    ]

    operations = [
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
