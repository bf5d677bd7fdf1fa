"""The generation of the queue a project's claims read, as a STABLE function.

Written as a sub-select in the claim statement, the generation is known only while the
statement runs, so PostgreSQL's kept (generic) plan of the claim starts a scan of every
generation of the queue table before it can leave all but one out: with 500 other
projects re-ranked whole, each keeping a generation of its own, a claim cost PostgreSQL
seven times the CPU (benchmarks/README.md, issue 16). A stable function's value is
known when the statement starts, and PostgreSQL then leaves the other generations out
before it starts any scan (partition pruning at executor start-up).
"""

from django.db import migrations

# PL/pgSQL, not SQL: PostgreSQL plans an SQL function's body again in every statement that
# calls it, where PL/pgSQL keeps the plan of its query for the session.
FUNCTION = """
CREATE FUNCTION annotate_queue_gen(project bigint) RETURNS bigint
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    RETURN COALESCE(
        (SELECT g.gen FROM annotate_queue_generation g WHERE g.project_id = project), 0);
END
$$
"""


class Migration(migrations.Migration):
    dependencies = [("annotate", "0027_claim_indexes")]

    operations = [
        migrations.RunSQL(FUNCTION, "DROP FUNCTION annotate_queue_gen(bigint)"),
    ]
