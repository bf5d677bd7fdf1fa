"""TaskLease and BudgetLedger moved from activelearn to annotate with their tables: their
content types moved too (activelearn's 0009), so permissions and group grants survive."""

from __future__ import annotations

import importlib

from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType

from annotate.models import BudgetLedger, TaskLease

moved = importlib.import_module("activelearn.migrations.0010_queue_moved_to_annotate")


def test_the_moved_models_keep_their_tables_and_belong_to_annotate(db):
    assert TaskLease._meta.app_label == BudgetLedger._meta.app_label == "annotate"
    assert TaskLease._meta.db_table == "activelearn_tasklease"
    assert BudgetLedger._meta.db_table == "activelearn_budgetledger"
    assert ContentType.objects.get_for_model(TaskLease).app_label == "annotate"
    assert not ContentType.objects.filter(app_label="activelearn", model="tasklease").exists()


def test_project_managers_still_see_leases_and_the_ledger(db):
    managers = Group.objects.get(name="Project manager")
    granted = set(
        managers.permissions.filter(content_type__app_label="annotate").values_list(
            "codename", flat=True
        )
    )
    assert {"view_tasklease", "view_budgetledger"} <= granted


def test_moving_the_content_types_back_and_forth_keeps_the_grants(db):
    managers = Group.objects.get(name="Project manager")
    permission = Permission.objects.get(
        content_type__app_label="annotate", codename="view_tasklease"
    )
    moved.backwards(apps, None)
    assert ContentType.objects.get(pk=permission.content_type_id).app_label == "activelearn"
    moved.forwards(apps, None)
    assert ContentType.objects.get(pk=permission.content_type_id).app_label == "annotate"
    assert managers.permissions.filter(pk=permission.pk).exists()


def test_a_grant_of_the_old_permission_moves_onto_the_new_one_when_both_exist(db):
    group = Group.objects.create(name="Auditors")
    stale = ContentType.objects.create(app_label="activelearn", model="budgetledger")
    old = Permission.objects.create(
        content_type=stale, codename="view_budgetledger", name="Can view budget ledger"
    )
    group.permissions.add(old)
    moved.forwards(apps, None)
    assert not ContentType.objects.filter(pk=stale.pk).exists()
    assert group.permissions.filter(
        content_type__app_label="annotate", codename="view_budgetledger"
    ).exists()
