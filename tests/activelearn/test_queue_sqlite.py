"""The embedded SQLite path: claims from several processes never share a task, and the
compare-and-set update refuses a task someone else already took."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_claims_on_sqlite_never_return_the_same_task_twice(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'queue.sqlite3'}",
        "DEBUG": "1",
        "MEDIA_ROOT": str(tmp_path / "media"),
    }
    env.pop("TEST_DB_NAME", None)
    done = subprocess.run(
        [sys.executable, "-m", "tests.activelearn.sqlite_claims"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["cas_winner"] and not result["cas_loser"]
    claimed = result["claimed"]
    assert len(claimed) == 48 and len(set(claimed)) == 48
    assert sorted(result["active_leases"]) == sorted(claimed)
    assert result["in_progress"] == 48
