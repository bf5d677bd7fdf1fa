"""Progress bars (rich, on stderr) for transfers in bytes and for jobs the server runs.
Off, they cost nothing; on a console that is not a terminal, rich draws only the end."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)


class Bar(Protocol):
    def advance(self, amount: float) -> None: ...

    def update(self, *, completed: float | None = None, description: str | None = None) -> None:
        """completed: bytes for a transfer, 0 to 1 for a job."""


class _Nothing:
    def advance(self, amount: float) -> None:
        pass

    def update(self, *, completed: float | None = None, description: str | None = None) -> None:
        pass


class _RichBar:
    def __init__(self, progress: Progress, task: TaskID) -> None:
        self._progress = progress
        self._task = task

    def advance(self, amount: float) -> None:
        self._progress.advance(self._task, amount)

    def update(self, *, completed: float | None = None, description: str | None = None) -> None:
        self._progress.update(self._task, completed=completed, description=description)


@contextmanager
def transfer_bar(
    description: str, total: int | None, *, enabled: bool, console: Console | None = None
) -> Iterator[Bar]:
    """Bytes sent or received, with speed and time left."""
    if not enabled:
        yield _Nothing()
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console or Console(stderr=True)) as progress:
        yield _RichBar(progress, progress.add_task(description, total=total))


@contextmanager
def job_bar(description: str, *, enabled: bool, console: Console | None = None) -> Iterator[Bar]:
    """A job's progress from 0 to 1, the description saying its state."""
    if not enabled:
        yield _Nothing()
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console or Console(stderr=True)) as progress:
        yield _RichBar(progress, progress.add_task(description, total=1.0))
