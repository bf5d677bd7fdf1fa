"""The validation slice: the tasks every model version is measured on and none is trained on.

A task is in it when a hash of (project, task) falls below VALIDATION_FRACTION, so membership
is random but fixed forever, and no later version is ever measured on a task an earlier one
trained on. Retraining leaves these tasks out; evaluation measures on them.
"""

from __future__ import annotations

import hashlib

VALIDATION_FRACTION = 0.2


def in_validation_slice(*, project_id: int, task_id: int) -> bool:
    """Whether a task belongs to the project's validation slice (fixed once and for all)."""
    digest = hashlib.sha256(f"validation:{project_id}:{task_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < VALIDATION_FRACTION
