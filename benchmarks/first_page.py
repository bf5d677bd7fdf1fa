"""Time from `make run` on a fresh clone to the first page, as a newcomer gets it.

    python benchmarks/first_page.py [--keep]

Clones this repository's HEAD into a temporary folder, runs `make run` there with no
DATABASE_URL or REDIS_URL (venv and install from pip's cache, migrate on a new embedded
PostgreSQL, seed_demo, then serve: private Redis, Celery worker, web server), and polls the
login page until it answers 200. Prints when each phase started (from the commands make
echoes), then Ctrl-C's the run and checks that it stopped cleanly. The phases are the raw
floor to compare with: the install is pip's own time, the rest is ours.
Last line: first_page_s=<seconds> install_s=<seconds> migrate_s=<s> seed_s=<s> serve_s=<s>.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PHASES = {
    "install": "pip install",
    "migrate": "manage.py migrate",
    "seed": "manage.py seed_demo",
    "serve": "manage.py serve",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keep", action="store_true", help="keep the clone for a look")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="first-page-"))
    clone = folder / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env["PORT"] = str(port)
    started = time.monotonic()
    marks: dict[str, float] = {}
    log = (folder / "run.log").open("w")
    run = subprocess.Popen(
        ["make", "run"],
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )

    def read() -> None:
        for line in run.stdout:
            log.write(line)
            for phase, needle in PHASES.items():
                if phase not in marks and needle in line:
                    marks[phase] = time.monotonic() - started

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    url = f"http://127.0.0.1:{port}/accounts/login/"
    first_page = None
    try:
        while time.monotonic() - started < 600 and run.poll() is None:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        first_page = time.monotonic() - started
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGINT)
        code = run.wait(timeout=120)
        reader.join(timeout=10)
        log.close()
    if first_page is None:
        sys.exit(f"no first page; see {folder / 'run.log'}")
    # make itself dies of the SIGINT (code -2); serve, its child, must say it stopped.
    stopped = "Stopped." in (folder / "run.log").read_text()
    for phase in PHASES:
        print(f"{phase:8s} started at {marks.get(phase, float('nan')):6.1f} s")
    print(
        f"first page at {first_page:.1f} s; after Ctrl-C make exited {code} and serve "
        + ("stopped cleanly" if stopped else "did NOT report a clean stop")
    )
    ends = [*[marks.get(p, first_page) for p in list(PHASES)[1:]], first_page]
    spans = {phase: ends[i] - marks.get(phase, ends[i]) for i, phase in enumerate(PHASES)}
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    print(
        f"first_page_s={first_page:.1f} "
        + " ".join(f"{phase}_s={span:.1f}" for phase, span in spans.items())
    )


if __name__ == "__main__":
    main()
