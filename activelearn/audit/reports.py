"""The audit measurement job: one AuditReport row per measurement (the one job model), run by
the Celery task `activelearn.audit_measure`, requested when a batch closes or a retraining
round ends (activelearn.scoring.runs.audit_measure_request). It measures, in order: what
became of the audit's draws, the active model on the audit sample, the learner's curves of
actively chosen against audit labels, the labels saved against random sampling, and the
forecast with the stop recommendation, which is announced to the webhooks once per project.

Every random number comes from a generator seeded by the report's id, so a report run again
after its worker died gives the same figures.
"""

from __future__ import annotations

import logging

import numpy as np
from django.db import transaction
from django.utils import timezone

from activelearn.audit.arms import LEARNER, arms_build
from activelearn.audit.forecast import forecast_figures
from activelearn.audit.model import model_on_audit
from activelearn.audit.samples import audit_counts, label_order
from activelearn.audit.stats import arm_standard_errors, arm_values, labels_saved
from activelearn.models import AuditReport, LearningSettings, ModelVersion, StopRecommendation
from activelearn.webhooks.delivery import STOP_RECOMMENDED, webhooks_notify
from annotate.jobs import job_claim, job_fail, job_finish, job_heartbeat
from annotate.models import Project

logger = logging.getLogger(__name__)

SAVINGS_DRAWS = 500
# One report per closed batch: the newest ones are kept, to compare; older ones go.
KEEP_REPORTS = 20


def _points(sizes, values, errors) -> list[dict]:
    return [
        {
            "labels": int(n),
            "value": float(v),
            "error": float(e),
            "low": float(max(0.0, v - 1.96 * e)),
            "high": float(min(1.0, v + 1.96 * e)),
        }
        for n, v, e in zip(sizes, values, errors, strict=True)
        if np.isfinite(v)
    ]


def _curves(project: Project, order, rng, report_id: int) -> tuple[dict, dict]:
    """The learner's two arms as plot points, and the labels saved."""
    built = arms_build(
        project=project,
        order=order,
        rng=rng,
        progress=lambda done: job_heartbeat(AuditReport, report_id, progress=0.2 + 0.6 * done),
    )
    curves = {
        "learner": LEARNER,
        "active_labels": built.active_labels,
        "audit_labels": built.audit_labels,
        "tested": built.audit_tests,
        "active": [],
        "random": [],
        "reason": built.reason,
    }
    if built.arms is None:
        return curves, {"reason": built.reason}
    arms = built.arms
    active, random = arm_values(arms, np.ones(arms.tested))
    active_errors, random_errors = arm_standard_errors(arms, rng=rng)
    curves["active"] = _points(arms.active_sizes, active, active_errors)
    curves["random"] = _points(arms.random_sizes, random, random_errors)
    savings = labels_saved(
        arms,
        labels_used=built.active_labels,
        cap=project.tasks.count(),
        rng=rng,
        draws=SAVINGS_DRAWS,
    )
    if savings is None:
        return curves, {"reason": "The audit curve does not fit an inverse power law yet."}
    return curves, savings.as_dict()


def audit_figures(*, project: Project, report_id: int) -> tuple[dict, ModelVersion | None, int]:
    """Every figure of the audit (see the module's docstring), the version measured and
    the labels counted."""
    rng = np.random.default_rng(report_id)
    settings = LearningSettings.for_project(project)
    order = label_order(project)
    version = ModelVersion.objects.active_for(project)
    model = model_on_audit(project=project, version=version, order=order, rng=rng)
    job_heartbeat(AuditReport, report_id, progress=0.2)
    curves, saved = _curves(project, order, rng, report_id)
    forecast = forecast_figures(
        project=project, settings=settings, order=order, arms_points=curves, rng=rng
    )
    figures = {
        "share": settings.audit_share,
        "stop_gain_per_1000": settings.stop_gain_per_1000,
        "labels": len(order.task_ids),
        "active_labels": len(order.active),
        "audit_labels": len(order.audited),
        "audit": audit_counts(project).as_dict(),
        "model": model,
        "curves": curves,
        "saved": saved,
        "forecast": forecast,
        "measured_at": timezone.now().isoformat(),
    }
    return figures, version, len(order.task_ids)


def audit_measure_run(*, report_id: int) -> str:
    """Measure and store one report; a redelivered message finds it taken. The stop
    recommendation, when the forecast makes one, is announced once per project."""
    if not job_claim(AuditReport, report_id):
        return "taken"
    report = AuditReport.objects.select_related("project").get(pk=report_id)
    project = report.project
    try:
        figures, version, labels = audit_figures(project=project, report_id=report_id)
    except Exception as error:
        logger.exception("audit measurement %s failed", report_id)
        job_fail(AuditReport, report_id, f"{type(error).__name__}: {error}")
        return AuditReport.State.FAILED
    with transaction.atomic():
        job_finish(AuditReport, report_id, figures=figures, labels=labels, model_version=version)
        stop_announce(project=project, report_id=report_id, figures=figures)
        done = AuditReport.objects.filter(project=project, state=AuditReport.State.DONE)
        old = done.order_by("-created_at", "-id").values_list("pk", flat=True)[KEEP_REPORTS:]
        AuditReport.objects.filter(pk__in=list(old)).delete()
    return AuditReport.State.DONE


def stop_payload(project: Project, report_id: int, figures: dict) -> dict:
    forecast = figures["forecast"]
    return {
        "project": {"id": project.pk, "name": project.name},
        "report": report_id,
        "labels": figures["labels"],
        "metric": forecast["metric"],
        "source": forecast["source"],
        "gain_per_1000": forecast["gain_next"],
        "threshold": forecast["threshold"],
        "now": forecast["now"],
        "at_budget_end": forecast["end"],
        "labels_left": forecast["budget"]["labels_left"],
    }


def stop_announce(*, project: Project, report_id: int, figures: dict) -> StopRecommendation | None:
    """The first stop recommendation of a project: stored, and sent to its webhooks as
    "learning.stop_recommended". Later ones are not announced again. Returns the new one."""
    forecast = figures.get("forecast") or {}
    if not forecast.get("stop_recommended"):
        return None
    with transaction.atomic():
        recommendation, created = StopRecommendation.objects.get_or_create(
            project=project,
            defaults={
                "report_id": report_id,
                "labels": figures["labels"],
                "metric": forecast["metric"],
                "gain_per_1000": forecast["gain_next"]["value"],
                "gain_per_1000_high": forecast["gain_next"]["high"],
                "threshold": forecast["threshold"],
            },
        )
        if not created:
            return None
        webhooks_notify(
            project_id=project.pk,
            event=STOP_RECOMMENDED,
            payload=stop_payload(project, report_id, figures),
        )
    return recommendation


def audit_report_latest(*, project: Project) -> tuple[AuditReport | None, AuditReport | None]:
    """The newest done report (what the page shows) and the newest one still live."""
    reports = AuditReport.objects.filter(project=project).order_by("-created_at", "-id")
    done = reports.filter(state=AuditReport.State.DONE).first()
    live = reports.filter(state__in=[AuditReport.State.QUEUED, AuditReport.State.RUNNING]).first()
    return done, live
