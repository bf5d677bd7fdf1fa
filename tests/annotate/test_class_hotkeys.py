"""A class hotkey may not be a key the labeling page keeps for itself: the page's shortcut would
win and the class could never be picked by its key (a class on `q` met the occluded toggle)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from annotate.hotkeys import EDITOR_KEYS, FREE_KEYS, hotkey_problem
from annotate.services.projects import label_class_create
from tests.annotate.test_api import client_for

SHORTCUTS_JS = Path(__file__).resolve().parents[2] / "static" / "annotate" / "shortcuts.js"


def test_the_table_names_every_single_key_of_the_labeling_page():
    table = SHORTCUTS_JS.read_text().split("export const SHORTCUTS", 1)[1].split("];", 1)[0]
    keys = [key for group in re.findall(r"keys: \[([^\]]*)\]", table)
            for key in re.findall(r'"([^"]*)"', group)]  # fmt: skip
    single = {key for key in keys if re.fullmatch(r"[0-9a-z]", key)}
    assert single == set(EDITOR_KEYS)
    assert set(FREE_KEYS).isdisjoint(EDITOR_KEYS) and "1" in FREE_KEYS and "g" in FREE_KEYS


def test_an_editor_key_is_refused_in_words_and_a_free_one_is_not():
    assert "occluded" in hotkey_problem("q") and "Free keys: 0, 1" in hotkey_problem("q")
    assert hotkey_problem("g") is None and hotkey_problem("") is None
    assert hotkey_problem("G") == "One lower-case letter or digit."


@pytest.mark.django_db
def test_the_api_answers_a_field_error_and_saves_nothing(project, pat):
    url = f"/api/projects/{project.id}/classes/"
    response = client_for(pat).post(url, {"name": "dog", "hotkey": "q"}, format="json")
    assert response.status_code == 400
    assert "occluded" in str(response.json()["hotkey"])
    assert not project.label_classes.filter(name="dog").exists()
    person = project.label_classes.get(name="person")
    change = client_for(pat).patch(f"/api/classes/{person.id}/", {"hotkey": "d"}, format="json")
    assert change.status_code == 400 and "next frame" in str(change.json()["hotkey"])
    person.refresh_from_db()
    assert person.hotkey == "1"


@pytest.mark.django_db
def test_the_service_and_so_the_admin_refuse_it(project):
    with pytest.raises(ValidationError) as refused:
        label_class_create(project=project, name="dog", hotkey="b")
    assert "draw boxes" in str(refused.value.message_dict["hotkey"])
