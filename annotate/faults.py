"""What a lost database connection looks like, for the web requests (annotate.middleware)
and the workers' tasks (annotate.jobs) alike, and how to get a working one back."""

from __future__ import annotations

import psycopg
from django.db import InterfaceError, OperationalError, connections

# Django's errors, and psycopg's own for the statements run on the raw cursor
# (annotate.queue.sql prepares its claim statement there, outside Django's error wrapper).
DATABASE_FAULTS = (
    OperationalError,
    InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)


def fresh_connections() -> None:
    """Close this thread's connections that no longer work, so the next query opens a new
    one. Those inside an atomic block are left to it: it rolls back and closes them as it
    unwinds."""
    for conn in connections.all(initialized_only=True):
        if conn.connection is None or conn.in_atomic_block:
            continue
        conn.close_if_unusable_or_obsolete()
        if conn.connection is not None and not conn.is_usable():
            conn.close()
