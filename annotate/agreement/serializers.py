"""Shapes of the agreement endpoints' answers (built by annotate.agreement.selectors), for
the OpenAPI schema."""

from __future__ import annotations

from rest_framework import serializers

from ..labeling.serializers import AnnotationData


class Figures(serializers.Serializer):
    box_f1 = serializers.FloatField(allow_null=True, help_text="Box F1 at the project's IoU.")
    keypoint_f1 = serializers.FloatField(allow_null=True, help_text="Skeleton F1 at that OKS.")
    oks = serializers.FloatField(allow_null=True, help_text="Mean OKS of matched skeletons.")
    hota = serializers.FloatField(allow_null=True)
    idf1 = serializers.FloatField(allow_null=True)
    idsw = serializers.FloatField(allow_null=True, help_text="Identity switches.")


class TaskAgreementData(Figures):
    annotators = serializers.IntegerField()
    per_class = serializers.DictField(child=serializers.FloatField(), help_text="class -> F1")
    per_joint = serializers.DictField(
        child=serializers.FloatField(), help_text="joint -> mean similarity"
    )
    created_at = serializers.DateTimeField()


class AnnotatorVersion(AnnotationData):
    figures = Figures(help_text="This submission against the consensus.")
    disputed = serializers.ListField(
        child=serializers.CharField(),
        help_text='Places of this version\'s shapes that disagree ("boxes[3]").',
    )


class MergedShapeData(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["box", "keypoints"])
    label = serializers.CharField()
    frame = serializers.IntegerField(allow_null=True)
    track = serializers.IntegerField(allow_null=True)
    box = serializers.ListField(child=serializers.FloatField(), allow_null=True)
    points = serializers.DictField(
        child=serializers.ListField(child=serializers.FloatField()), allow_null=True
    )
    members = serializers.DictField(
        child=serializers.CharField(allow_null=True),
        help_text="annotator -> place of their shape in their version (null: interpolated)",
    )
    votes = serializers.DictField(child=serializers.IntegerField())
    support = serializers.FloatField(help_text="Share of the annotators who drew it.")
    agreement = serializers.FloatField(help_text="Members' mean IoU or OKS with the merge.")
    kept = serializers.BooleanField(help_text="Whether the consensus kept it (the quorum).")
    disputed = serializers.BooleanField()


class MergedTrackData(serializers.Serializer):
    number = serializers.IntegerField()
    label = serializers.CharField()
    members = serializers.DictField(child=serializers.IntegerField())
    votes = serializers.DictField(child=serializers.IntegerField())
    support = serializers.FloatField()
    agreement = serializers.FloatField(help_text="Members' mean IoU over time.")
    kept = serializers.BooleanField()


class TaskConsensusSerializer(serializers.Serializer):
    task = serializers.IntegerField()
    agreement = TaskAgreementData(allow_null=True, help_text="null: no consensus yet.")
    merged = AnnotationData(allow_null=True)
    annotators = AnnotatorVersion(many=True)
    shapes = MergedShapeData(many=True)
    tracks = MergedTrackData(many=True)


class TaskRow(Figures):
    task = serializers.IntegerField()
    asset_name = serializers.CharField(allow_blank=True)
    annotators = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class AnnotatorRow(Figures):
    user = serializers.IntegerField(allow_null=True)
    username = serializers.CharField(allow_null=True)
    tasks = serializers.IntegerField()


class ClassRow(serializers.Serializer):
    name = serializers.CharField()
    tasks = serializers.IntegerField()
    box_f1 = serializers.FloatField(allow_null=True)


class JointRow(serializers.Serializer):
    name = serializers.CharField()
    tasks = serializers.IntegerField()
    similarity = serializers.FloatField(allow_null=True)


class Summary(Figures):
    tasks = serializers.IntegerField()


class ProjectAgreementSerializer(serializers.Serializer):
    project = serializers.IntegerField()
    summary = Summary()
    tasks = TaskRow(many=True)
    annotators = AnnotatorRow(many=True)
    classes = ClassRow(many=True)
    joints = JointRow(many=True)
