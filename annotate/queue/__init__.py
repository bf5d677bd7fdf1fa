"""The task lifecycle, owned by annotate: claiming a task under a lease (claim), holding it
(services: heartbeat, skip, submit), lease expiry, reviews (accept, or send back to the
annotator), the budget ledger, the priorities that order the queue, and the random audit
share that the ranking never orders (audit). Its rows are
annotate.models.queue (TaskLease, BudgetLedger).

activelearn computes priorities and writes them through priorities.priorities_write_bulk,
and draws each batch's audit sample through audit.audit_draw; it learns of lifecycle events
through annotate.events.
"""
