"""Choices that models in more than one module of annotate.models use (a project's setting
and the jobs that copy it), so that each imports them from here, not from the other."""

from __future__ import annotations

from django.db import models

__all__ = ["PropagationBelow"]


class PropagationBelow(models.TextChoices):
    """What propagation does where its confidence falls below the project's threshold."""

    STOP = "stop", "Stop the track there"
    FLAG = "flag", "Keep going, flag the shapes for a human"
