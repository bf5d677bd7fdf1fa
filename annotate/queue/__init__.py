"""The task lifecycle, owned by annotate: claiming under a lease (claim), holding it
(services: heartbeat, skip, submit), expiry, the budget ledger, and the priorities that
order the queue. Reviews are annotate.services.reviews; the rows are annotate.models.queue.

activelearn computes priorities and writes them through priorities.priorities_write_bulk;
it learns of lifecycle events through annotate.events.
"""
