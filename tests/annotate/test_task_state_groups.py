"""Task state groups live on AnnotationTask.State, one meaning each, and the places that
count tasks read the same groups."""

from __future__ import annotations

from activelearn.models import LearningSettings
from activelearn.retraining.rounds import COUNTED_STATES
from annotate.exchange.selectors import STATES_BY_FILTER
from annotate.models import AnnotationTask

State = AnnotationTask.State


def test_the_groups_are_not_states_of_their_own():
    assert State.values == [
        "pending", "in_progress", "submitted", "in_review", "accepted", "rejected", "skipped"
    ]  # fmt: skip


def test_a_task_is_either_waiting_for_an_annotator_labeled_or_skipped():
    groups = [set(State.IN_QUEUE), set(State.LABELED), {State.SKIPPED}]
    assert set.union(*groups) == set(State)
    assert sum(len(group) for group in groups) == len(State)


def test_a_rejected_task_is_back_in_the_queue_and_its_labeling_stays_spent():
    assert State.REJECTED in State.IN_QUEUE
    assert State.REJECTED in State.HANDED_IN
    assert set(State.HANDED_IN) == set(State.LABELED) | {State.REJECTED}


def test_retraining_counts_what_an_export_of_the_same_name_exports():
    for counts, states in COUNTED_STATES.items():
        name = {LearningSettings.RetrainCounts.ACCEPTED: "accepted"}.get(counts, "submitted")
        assert set(states) == set(STATES_BY_FILTER[name])
