"""The client is a package of its own (pip install ./client): its dependencies are ranges
that hold the repository's pins, its console script exists, it ships py.typed, and it
imports no server code (nor numpy, which only .npy/.npz files in the tool need)."""

from __future__ import annotations

import importlib
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

from tests.client.conftest import CLIENT_SOURCE

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "client" / "pyproject.toml").read_text())["project"]


def pins() -> dict[str, str]:
    found = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            found[name.strip().lower()] = version.strip()
    return found


def test_every_dependency_of_the_client_allows_the_version_the_repository_pins():
    pinned = pins()
    requirements = [Requirement(text) for text in PROJECT["dependencies"]]
    requirements += [Requirement(t) for t in PROJECT["optional-dependencies"]["numpy"]]

    assert {r.name for r in requirements} == {"requests", "rich", "numpy"}
    for requirement in requirements:
        assert requirement.specifier.contains(pinned[requirement.name]), requirement


def test_the_console_script_and_the_version_point_at_the_package():
    module, function = PROJECT["scripts"]["annotate-client"].split(":")

    assert callable(getattr(importlib.import_module(module), function))
    assert (CLIENT_SOURCE / "annotate_client" / "py.typed").exists()
    assert importlib.import_module("annotate_client").__version__ == "0.1.0"


def test_importing_the_client_loads_no_server_code_and_no_numpy():
    code = (
        "import sys, annotate_client, annotate_client.cli; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'django', 'rest_framework', 'annotate', 'activelearn', 'config', 'numpy'}))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": str(CLIENT_SOURCE)},
        capture_output=True,
        text=True,
        check=True,
    )

    assert loaded.stdout.strip() == "[]"
