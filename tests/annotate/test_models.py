"""Model constraints hold in the database, not only in forms."""

import pytest
from django.db import IntegrityError, transaction

from annotate.models import Annotation, AnnotationTask, Asset, Box, Budget


def make_image(project, sha="a" * 64):
    return Asset.objects.create(
        project=project,
        kind="image",
        file="x.jpg",
        sha256=sha,
        content_type="image/jpeg",
        width=100,
        height=80,
        state="ready",
    )


def test_same_file_twice_in_a_project_is_refused(project):
    make_image(project)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_image(project)


def test_same_file_in_two_projects_is_allowed(project, other_project):
    make_image(project)
    make_image(other_project)
    assert Asset.objects.count() == 2


def test_annotation_versions_are_unique_per_task(project):
    asset = make_image(project)
    task = AnnotationTask.objects.create(project=project, asset=asset, kind="image")
    Annotation.objects.create(task=task, version=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Annotation.objects.create(task=task, version=1)


def test_box_needs_positive_size(project):
    asset = make_image(project)
    task = AnnotationTask.objects.create(project=project, asset=asset, kind="image")
    annotation = Annotation.objects.create(task=task, version=1)
    cls = project.label_classes.first()
    with pytest.raises(IntegrityError), transaction.atomic():
        Box.objects.create(annotation=annotation, label_class=cls, x=1, y=1, w=0, h=5)


def test_model_box_needs_confidence(project):
    asset = make_image(project)
    task = AnnotationTask.objects.create(project=project, asset=asset, kind="image")
    annotation = Annotation.objects.create(task=task, version=1)
    cls = project.label_classes.first()
    with pytest.raises(IntegrityError), transaction.atomic():
        Box.objects.create(
            annotation=annotation, label_class=cls, x=1, y=1, w=3, h=5, source="model"
        )


def test_budget_shares_cannot_exceed_the_whole(project):
    budget = Budget.objects.get(project=project)
    budget.label_share = "0.9"
    budget.review_share = "0.2"
    with pytest.raises(IntegrityError), transaction.atomic():
        budget.save()


def test_video_task_needs_a_segment(project):
    asset = make_image(project)
    with pytest.raises(IntegrityError), transaction.atomic():
        AnnotationTask.objects.create(project=project, asset=asset, kind="video")
