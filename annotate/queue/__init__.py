"""The task lifecycle, owned by annotate: claiming a task under a lease (claim), holding it
(services: heartbeat, skip, submit), lease expiry, reviews (accept, or send back to the
annotator), the budget ledger, the priorities that order the queue, and the random audit
share that the ranking never orders (audit). Its rows are
annotate.models.queue (TaskLease, BudgetLedger).

The queue's order lives in a narrow table of its own, not on the task rows (priorities: a
generation per full re-rank, swapped in by a pointer, kept by triggers on the task table).
activelearn computes priorities and writes them through priorities.priorities_write_bulk
(in place) or priorities.priorities_replace (a whole project),
and draws each batch's audit sample through audit.audit_draw; it learns of lifecycle events
through annotate.events.
"""
