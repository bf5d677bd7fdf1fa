"""`{% loop_summary project %}`: the one line on a project page saying what the loop did last.
The page belongs to annotate, which never imports activelearn; its template includes
activelearn/_loop_summary.html, which loads this library."""

from __future__ import annotations

from django import template

from activelearn.selectors import loop_summary as loop_summary_of
from annotate.models import Project

register = template.Library()


@register.inclusion_tag("activelearn/_loop_summary_line.html")
def loop_summary(project: Project) -> dict:
    # The page has checked "project.view": every member may read what the loop did (counts
    # and a version name, nothing about other people's work).
    return {"project": project, "summary": loop_summary_of(project=project)}
