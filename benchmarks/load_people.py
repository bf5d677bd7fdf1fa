"""The people of benchmarks/load.py: annotators, reviewers and a manager, each a thread with
one keep-alive HTTP connection and token auth, and the records they keep of every request,
every save answered 200 and every task they held (which load.py checks against the database
afterwards).

A request that fails with a 5xx or no answer is sent again after a pause (Retry-After, at
most 2 s), as the labeling page does; a save whose answer was lost and that is found saved
meanwhile (409 with the newer version) carries on from that version.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal

IMAGE_SIZE = (640, 480)
LABELS = ("person", "car")
HTTP_TIMEOUT_S = 30
RETRY_FOR_S = 90  # a client gives up on one request after this long


# --- clients --------------------------------------------------------------------------------


@dataclass
class Call:
    started: float  # seconds since the run began
    ms: float
    what: str
    outcome: str  # the status code, or the kind of connection failure

    @property
    def ended(self) -> float:
        """When the answer (or the failure) came: what a fault is judged by."""
        return self.started + self.ms / 1000


@dataclass
class Records:
    started_at: float
    calls: list[Call] = field(default_factory=list)
    saved: list[tuple[int, int, str, int]] = field(
        default_factory=list
    )  # task, version, kind, boxes
    holds: list[tuple[int, str, float, float]] = field(default_factory=list)  # task, who, from, to
    spend_went_down: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> float:
        return time.monotonic() - self.started_at


class Client:
    """One person's keep-alive connection; every request is timed and recorded."""

    def __init__(self, port: int, token: str, records: Records, name: str) -> None:
        self.port, self.token, self.records, self.name = port, token, records, name
        self.conn: http.client.HTTPConnection | None = None

    def once(self, method: str, path: str, body: dict | None, what: str):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=HTTP_TIMEOUT_S)
        headers = {"Authorization": f"Token {self.token}", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        started = self.records.now()
        t0 = time.perf_counter()
        try:
            self.conn.request(method, path, body=data, headers=headers)
            response = self.conn.getresponse()
            raw = response.read()
            status, retry_after = response.status, response.getheader("Retry-After")
        except (OSError, http.client.HTTPException) as error:
            self.conn.close()
            self.conn = None
            kind = type(error).__name__
            with self.records.lock:
                self.records.calls.append(
                    Call(started, (time.perf_counter() - t0) * 1000, what, kind)
                )
            return None, None, None
        with self.records.lock:
            self.records.calls.append(
                Call(started, (time.perf_counter() - t0) * 1000, what, str(status))
            )
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError:
            parsed = {}
        return status, parsed, retry_after

    def call(self, method: str, path: str, body: dict | None, what: str, stop: threading.Event):
        """Send until an answer below 500 comes (or RETRY_FOR_S passes): (status, body)."""
        give_up = time.monotonic() + RETRY_FOR_S
        pause = 0.25
        while True:
            status, parsed, retry_after = self.once(method, path, body, what)
            if status is not None and status < 500:
                return status, parsed
            if time.monotonic() > give_up or stop.is_set():
                return status, parsed
            wait = pause
            if retry_after and retry_after.isdigit():
                wait = min(float(retry_after), 2.0)
            time.sleep(wait * random.uniform(0.7, 1.3))
            pause = min(pause * 2, 2.0)


def _boxes(rng: random.Random) -> list[dict]:
    boxes = []
    for _ in range(rng.randint(1, 4)):
        w, h = rng.randint(10, 200), rng.randint(10, 200)
        boxes.append(
            {
                "frame": None,
                "label": rng.choice(LABELS),
                "x": rng.randint(0, IMAGE_SIZE[0] - w),
                "y": rng.randint(0, IMAGE_SIZE[1] - h),
                "w": w,
                "h": h,
            }
        )
    return boxes


def annotator(client: Client, project: int, stop: threading.Event, think: float, seed: int):
    rng = random.Random(seed)
    records = client.records

    def pause(low: float, high: float) -> None:
        stop.wait(rng.uniform(low, high) * think)

    def save(path: str, method: str, task: int, base, kind: str) -> int | None:
        """A draft or the submission; returns the version saved, or None if abandoned."""
        payload = {"boxes": _boxes(rng)}
        for _ in range(5):
            status, body = client.call(
                method, path, {"base_version": base, "payload": payload}, kind, stop
            )
            if status == 200:
                with records.lock:
                    records.saved.append((task, body["version"], kind, len(payload["boxes"])))
                return body["version"]
            if status == 409 and body.get("code") == "version_conflict":
                base = body.get("latest_version")  # our own save whose answer was lost
                continue
            return None
        return None

    while not stop.is_set():
        status, body = client.call(
            "POST", f"/api/projects/{project}/tasks/next/", {}, "next task", stop
        )
        task = (body or {}).get("task") if status == 200 else None
        if not task:
            pause(1, 2)
            continue
        task_id, held_from = task["id"], records.now()
        client.call("GET", f"/api/tasks/{task_id}/payload/", None, "payload", stop)
        status, latest = client.call(
            "GET", f"/api/tasks/{task_id}/annotation/", None, "latest version", stop
        )
        base = (latest or {}).get("version") if status == 200 else None
        pause(0.5, 1.5)
        for _ in range(2):
            saved = save(f"/api/tasks/{task_id}/annotation/", "PUT", task_id, base, "draft")
            base = saved or base
            pause(0.8, 1.6)
        if stop.is_set():
            break
        submitted = save(f"/api/tasks/{task_id}/submit/", "POST", task_id, base, "submission")
        if submitted is not None:
            with records.lock:
                records.holds.append((task_id, client.name, held_from, records.now()))


def reviewer(client: Client, project: int, stop: threading.Event, think: float, seed: int):
    rng = random.Random(seed)
    while not stop.is_set():
        status, page = client.call(
            "GET", f"/api/tasks/?project={project}&state=submitted", None, "review list", stop
        )
        waiting = (page or {}).get("results", []) if status == 200 else []
        if not waiting:
            stop.wait(2 * think)
            continue
        task = rng.choice(waiting[:20])
        decision = (
            {"decision": "accept"}
            if rng.random() < 0.9
            else {"decision": "reject", "comment": "Boxes too loose"}
        )
        client.call("POST", f"/api/tasks/{task['id']}/review/", decision, "review", stop)
        stop.wait(rng.uniform(1, 3) * think)


def manager(client: Client, project: int, stop: threading.Event):
    records = client.records
    last_spent, last_export = Decimal(0), time.monotonic()
    while not stop.is_set():
        status, budget = client.call(
            "GET", f"/api/projects/{project}/budget/", None, "read spend", stop
        )
        if status == 200:
            spent = Decimal(str(budget["spent"]["money_spent"]))
            if spent < last_spent:
                with records.lock:
                    records.spend_went_down += 1
            last_spent = max(last_spent, spent)
        if time.monotonic() - last_export > 30:
            last_export = time.monotonic()
            # Not sent again on a 503: the job waits in its row and the sweep sends it.
            client.once("POST", f"/api/projects/{project}/exports/", {"format": "coco"}, "export")
        stop.wait(2)
