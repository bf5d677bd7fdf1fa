"""The demo project's loop settings, small enough that one newcomer sees the loop close in the
first minutes. Called when annotate's seed_demo sends DEMO_SEEDED (activelearn.receivers).

Why these numbers: the newcomer labels alone as `annotator`, and nobody may review their own
work (annotate.queue.reviews), so a loop counting accepted labels would never turn.
Rounds count submitted labels instead; review stays on, and what the demo reviewer rejects
leaves the next round. Five labels start the first round (the baseline needs a few images of
two classes, and one in the validation slice, to train and be measured) and a rescoring.
The random audit is off: its figures need hundreds of labels, more than the demo's 49 tasks,
and an audit label never trains the baseline, which the first five labels must do.
"""

from __future__ import annotations

from activelearn.models import LearningSettings

DEMO_LEARNING = {
    "retrain_every_accepted": 5,
    "retrain_counts": LearningSettings.RetrainCounts.SUBMITTED,
    "rescore_every_labels": 5,
    "audit_share": 0.0,
}


def demo_learning_ensure(*, project_id: int) -> LearningSettings:
    """The demo's learning settings, made once: settings a manager saved are never reset."""
    learning, _created = LearningSettings.objects.get_or_create(
        project_id=project_id, defaults=DEMO_LEARNING
    )
    return learning
