"""The task lifecycle, owned by annotate: claiming a task under a lease (claim), holding it
(services: heartbeat, skip, submit), lease expiry, reviews (accept, or send back to the
annotator), the budget ledger, and the priorities that order the queue. Its rows are
annotate.models.queue (TaskLease, BudgetLedger).

activelearn computes priorities and writes them through priorities.priorities_write_bulk;
it learns of lifecycle events through annotate.events.
"""
