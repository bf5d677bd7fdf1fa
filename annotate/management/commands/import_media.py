"""python manage.py import_media PROJECT PATH: import a folder or a zip of images and videos.

PROJECT is a project id or its exact name. Prints one line per file and a summary.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotate.ingest.services import IngestError, ingest_path
from annotate.models import Project


def _project(ref: str) -> Project:
    if ref.isdigit():
        project = Project.objects.filter(pk=int(ref)).first()
        if project:
            return project
    matches = list(Project.objects.filter(name=ref)[:2])
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise CommandError(f"Several projects are named {ref!r}; give the project id instead.")
    raise CommandError(f"No project with id or name {ref!r}.")


class Command(BaseCommand):
    help = "Import images and videos from a folder or a zip file into a project."

    def add_arguments(self, parser) -> None:
        parser.add_argument("project", help="project id or exact name")
        parser.add_argument("path", help="a folder or a .zip file")

    def handle(self, *args, project: str, path: str, **options) -> None:
        target = _project(project)
        source = Path(path)
        if not source.exists():
            raise CommandError(f"{path} does not exist.")
        try:
            report = ingest_path(project=target, path=source)
        except IngestError as error:
            raise CommandError(str(error)) from None
        for result in report.results:
            ref = f" asset {result.asset_id}" if result.asset_id else ""
            line = f"{result.status:9} {result.name}{ref}: {result.message}"
            style = {"created": self.style.SUCCESS, "error": self.style.ERROR}.get(
                result.status, self.style.WARNING
            )
            self.stdout.write(style(line))
        if not report.results:
            raise CommandError(f"No files found in {path}.")
        self.stdout.write(f"{target.name}: {report.summary()}")
        if report.results and not report.created_ids and report.errors:
            raise CommandError("Nothing was imported: every file was refused.")
