"""The README's "Checkpoint spec" examples are accepted by the real spec validator and by the
scoring reader, and match the spec's JSON Schema in the OpenAPI document."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
from rest_framework.test import APIClient

from activelearn.inference.spec import ModelSpec
from activelearn.learning_settings import version_gives
from activelearn.models import ModelVersion
from activelearn.versions.services import spec_normalise
from tests.conftest import ROOT

pytestmark = pytest.mark.django_db


def readme_examples() -> list[dict]:
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Checkpoint spec\n", 1)[1].split("\n## ", 1)[0]
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", section, re.S)]


def test_the_readme_shows_a_classifier_a_detector_and_a_pose_model():
    assert [spec["output"]["layout"] for spec in readme_examples()] == [
        "logits",
        "detection",
        "yolo_pose",
    ]


@pytest.mark.parametrize(
    ("index", "task_type", "gives"),
    [
        (0, "classification", {"class_probs", "embeddings"}),
        (1, "detection", {"boxes"}),
        (2, "keypoints", {"boxes", "keypoints"}),
    ],
    ids=["classifier", "detector", "pose"],
)
def test_each_readme_example_is_accepted_by_the_spec_validator(project, index, task_type, gives):
    spec = spec_normalise(project=project, spec=readme_examples()[index])
    assert spec["task_type"] == task_type
    version = ModelVersion(project=project, name="x", kind="onnx", task_type=task_type, spec=spec)
    read = ModelSpec.from_version(version)  # what scoring reads; raises on a bad spec
    assert (read.height, read.width) == tuple(spec["input"]["size"])
    assert version_gives(version) == gives


def test_each_readme_example_matches_the_openapi_json_schema(pat):
    client = APIClient()
    client.force_authenticate(pat)
    document = client.get("/api/schema/", {"format": "json"}).json()
    upload = document["paths"]["/api/projects/{id}/checkpoints/"]["post"]["requestBody"]
    form = upload["content"]["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[1]
    spec_ref = document["components"]["schemas"][form]["properties"]["spec"]
    assert "CheckpointSpec" in json.dumps(spec_ref)
    schema = {"$ref": "#/components/schemas/CheckpointSpec", "components": document["components"]}
    for example in readme_examples():
        jsonschema.validate(example, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"input": {"size": [224, 224]}, "output": {"layout": "x"}}, schema)
