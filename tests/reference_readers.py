"""The reference readers that cannot be installed beside the product's pins (datumaro and
supervision pin numpy, opencv and more their own way; TrackEval, the HOTA paper's reference
code, would bring matplotlib and replace the headless OpenCV) live in a virtual environment
of their own, made once and kept under var/ (or REFERENCE_READERS_VENV); its name changes
with READERS, so a new pin makes a new one. A test runs a short script in
it and reads its JSON answer from stdout. Making it needs the package index; a failure to make
it fails the test, it never skips."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

READERS = ("supervision==0.31.2", "datumaro==1.13.12", "trackeval==1.3.0")
ROOT = Path(__file__).resolve().parent.parent


def reader_python() -> Path:
    key = hashlib.sha256(" ".join(READERS).encode()).hexdigest()[:12]
    default = ROOT / "var" / f"reference-readers-{key}"
    home = Path(os.environ.get("REFERENCE_READERS_VENV", default))
    python = home / "bin" / "python"
    home.parent.mkdir(parents=True, exist_ok=True)
    with open(home.parent / f".{home.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # pytest-xdist workers make it once
        ready = home / ".ready"
        if not ready.exists():
            venv.create(home, with_pip=True, clear=True)
            subprocess.run(
                [str(python), "-m", "pip", "install", "-q", *READERS],
                check=True,
                timeout=1800,
            )
            ready.write_text(" ".join(READERS))
    return python


def run_reader(script: str, *args: str) -> object:
    """Run `script` (Python source) in the readers' environment; its last stdout line is JSON."""
    done = subprocess.run(
        [str(reader_python()), "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode:
        sys.stderr.write(done.stderr)
        raise AssertionError(f"the reference reader failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
