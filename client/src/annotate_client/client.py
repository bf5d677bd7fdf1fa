"""The client's operations: token login, projects, media upload, prediction push,
checkpoints, scoring runs and exports (requests go through transport.Transport)."""

from __future__ import annotations

import dataclasses
import json
import mimetypes
import os
import re
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote

import requests

from .errors import (
    ClientError,
    ConnectionFailed,
    JobFailed,
    PushRefused,
    WaitTimeout,
    error_from_response,
    json_body,
)
from .multipart import CountedStream, FilePart, MultipartBody
from .progress import job_bar, transfer_bar
from .transport import Transport, connection_reason, object_id
from .types import (
    Activation,
    ExportJob,
    FileResult,
    LabelClass,
    ModelVersion,
    Project,
    PushResult,
    PushRowError,
    Rollback,
    ScoringRun,
    Task,
    Token,
    UploadReport,
    parse,
)

ProjectRef = int | Project
ExportFormat = Literal["coco", "yolo", "mot", "cvat", "labelstudio", "cvat_images"]
# How the CVAT formats write skeletons: as CVAT skeletons, as points per keypoint, or not.
SkeletonMode = Literal["skeleton", "points", "omit"]

MiB = 1024**2
# One upload request holds at most this many files and bytes (the server's defaults allow
# 500 files and 2 GiB a request); a file larger than the byte budget goes alone.
FILES_PER_REQUEST = 100
BYTES_PER_REQUEST = 512 * MiB
# A push body up to this size is built in memory; larger ones spill to a temporary file.
PUSH_MEMORY_BYTES = 32 * MiB
NOT_FINITE = "NaN or infinity in the row: not sent (the server refuses them)"


def _jsonable(value: Any) -> Any:
    """json.dumps' fallback for numpy scalars and arrays left inside rows."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON: give numbers, strings and lists")


def _media_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The files named, folders walked in name order (hidden files left out)."""
    found: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found += sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    return found


def _download_name(response: requests.Response, export_id: int) -> str:
    disposition = response.headers.get("Content-Disposition", "")
    match = re.search(r"filename\*=(?:UTF-8|utf-8)''([^;]+)", disposition)
    name = unquote(match.group(1)) if match else ""
    if not name:
        match = re.search(r'filename="([^"]+)"', disposition)
        name = match.group(1) if match else ""
    name = Path(name.replace("\\", "/")).name  # never a path of the server's choosing
    return name if name not in ("", ".", "..") else f"export-{export_id}"


class Client(Transport):
    """A session with one server.

    >>> client = Client.login("http://127.0.0.1:8000", "mlengineer", "demo-mlengineer")
    >>> client.upload_media(3, ["photos/"])

    progress=True draws rich progress bars on stderr (or on `console`)."""

    # --- login and projects ----------------------------------------------------------------

    @classmethod
    def login(cls, url: str, username: str, password: str, **options: Any) -> Client:
        """A client holding a new token for username and password (POST /api/token/)."""
        client = cls(url, **options)
        client.token = client.token_create(username, password)
        return client

    def token_create(self, username: str, password: str) -> str:
        doing = f"Logging in as {username}"
        response = self._send(
            "token", doing=doing, json={"username": username, "password": password}
        )
        token = self._one(Token, response, doing).token
        self.token = token
        return token

    def projects(self) -> list[Project]:
        """The projects you are a member of, with your role in each."""
        return self._pages("projects", Project, doing="Listing projects", path={})

    def project(self, project: ProjectRef) -> Project:
        pk = object_id(project)
        doing = f"Reading project {pk}"
        return self._one(Project, self._send("project", doing=doing, path={"id": pk}), doing)

    def classes(self, project: ProjectRef) -> list[LabelClass]:
        pk = object_id(project)
        doing = f"Reading the classes of project {pk}"
        body = self._json(self._send("classes", doing=doing, path={"id": pk}), doing)
        return [parse(LabelClass, item) for item in body]

    def class_names(self, project: ProjectRef) -> list[str]:
        """Class names in the order pushed probabilities are read (deactivated classes
        included: they keep their column)."""
        ordered = sorted(self.classes(project), key=lambda c: (c.order, c.id))
        return [label_class.name for label_class in ordered]

    # --- media -----------------------------------------------------------------------------

    def upload_media(
        self,
        project: ProjectRef,
        paths: Iterable[str | os.PathLike[str]],
        *,
        files_per_request: int = FILES_PER_REQUEST,
        bytes_per_request: int = BYTES_PER_REQUEST,
    ) -> UploadReport:
        """Upload images, videos and zips (folders are walked), a few requests of many
        files each, streamed from disk. Each file's fate is in the report's results;
        a file the server refuses (not media, too large, broken) is an "error" result,
        not an exception."""
        pk = object_id(project)
        files = _media_files(paths)
        if not files:
            raise ValueError("no files to upload")
        total = sum(f.stat().st_size for f in files)
        results: list[FileResult] = []
        doing = f"Uploading media to project {pk}"
        with transfer_bar(
            f"Uploading {len(files)} files", total, enabled=self.progress, console=self.console
        ) as bar:
            for batch in self._batches(files, files_per_request, bytes_per_request):
                results += self._upload_batch(pk, batch, bar, doing)
        return UploadReport(
            created=sum(r.status == "created" for r in results),
            duplicates=sum(r.status == "duplicate" for r in results),
            errors=sum(r.status == "error" for r in results),
            results=results,
        )

    @staticmethod
    def _batches(files: list[Path], most_files: int, most_bytes: int) -> Iterator[list[Path]]:
        batch: list[Path] = []
        size = 0
        for path in files:
            length = path.stat().st_size
            if batch and (len(batch) >= most_files or size + length > most_bytes):
                yield batch
                batch, size = [], 0
            batch.append(path)
            size += length
        if batch:
            yield batch

    def _upload_batch(self, pk: int, batch: list[Path], bar: Any, doing: str) -> list[FileResult]:
        parts = [
            FilePart(
                "files", path, mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            )
            for path in batch
        ]
        body = MultipartBody([], parts, on_read=bar.advance)
        try:
            response = self._send(
                "upload",
                doing=doing,
                path={"project_id": pk},
                accept=(400, 413),
                data=body,
                headers={"Content-Type": body.content_type},
                sending=True,
            )
        finally:
            body.close()
        answer = json_body(response)
        if response.status_code == 413:
            sent = sum(path.stat().st_size for path in batch)
            bar.advance(-sent)
            if len(batch) > 1:  # smaller requests may fit
                half = len(batch) // 2
                return self._upload_batch(pk, batch[:half], bar, doing) + self._upload_batch(
                    pk, batch[half:], bar, doing
                )
            bar.advance(sent)
            error = error_from_response(response, doing=doing)
            message = error.detail or "The file is larger than the server accepts."
            return [FileResult(batch[0].name, "error", message, None, None, None)]
        if response.status_code == 400 and not (isinstance(answer, dict) and "results" in answer):
            raise error_from_response(response, doing=doing)
        return parse(UploadReport, self._json(response, doing)).results

    # --- predictions -----------------------------------------------------------------------

    def push_predictions(
        self,
        project: ProjectRef,
        rows: Iterable[Mapping[str, Any]],
        *,
        model_version: str | None = None,
        activate: bool = False,
    ) -> PushResult:
        """Push prediction rows (see annotate_client.predictions for building them from
        arrays) as JSON Lines, the server reading them as they arrive. `model_version`
        names the version for rows that name none; `activate` makes it the active one.

        Refused rows are in the result's errors with their position in `rows` (from 1);
        rows holding NaN or infinity are not sent and reported the same way. When every
        row is refused, PushRefused carries the result."""
        pk = object_id(project)
        doing = f"Pushing predictions to project {pk}"
        local_errors: list[PushRowError] = []
        sent: list[int] = []  # the caller's row number of each line sent
        body = tempfile.SpooledTemporaryFile(max_size=PUSH_MEMORY_BYTES)  # noqa: SIM115
        try:
            for number, row in enumerate(rows, start=1):
                row = dict(row)
                try:
                    line = json.dumps(
                        row, default=_jsonable, allow_nan=False, separators=(",", ":")
                    )
                except ValueError:  # NaN or infinity somewhere in the row
                    keys = {k: row[k] for k in ("asset", "external_key", "file_name") if k in row}
                    local_errors.append(PushRowError(row=number, error=NOT_FINITE, **keys))
                    continue
                body.write(line.encode() + b"\n")
                sent.append(number)
            if not sent:
                if not local_errors:
                    raise ValueError("no prediction rows to push")
                result = PushResult(
                    len(local_errors), 0, len(local_errors), local_errors, [], None, None, False,
                    "No row was sent.", None,
                )  # fmt: skip
                raise PushRefused(_push_refused_words(doing, result), result=result, status=None)
            result = self._push_body(pk, body, model_version, activate, doing)
        finally:
            body.close()
        renumbered = [
            dataclasses.replace(error, row=sent[error.row - 1])
            if 0 < error.row <= len(sent)
            else error
            for error in result.errors
        ]
        result = dataclasses.replace(
            result,
            rows=result.rows + len(local_errors),
            error_count=result.error_count + len(local_errors),
            errors=sorted(renumbered + local_errors, key=lambda e: e.row),
        )
        if result.stored == 0 and result.error_count:
            raise PushRefused(_push_refused_words(doing, result), result=result)
        return result

    def _push_body(
        self, pk: int, body: Any, model_version: str | None, activate: bool, doing: str
    ) -> PushResult:
        length = body.tell()
        body.seek(0)
        params: dict[str, str] = {}
        if model_version:
            params["model_version"] = model_version
        if activate:
            params["activate"] = "1"
        with transfer_bar(
            "Pushing predictions", length, enabled=self.progress, console=self.console
        ) as bar:
            response = self._send(
                "push",
                doing=doing,
                path={"id": pk},
                params=params,
                accept=(400,),
                data=CountedStream(body, length, on_read=bar.advance),
                headers={"Content-Type": "application/x-ndjson"},
                sending=True,
            )
        answer = json_body(response)
        if response.status_code == 400 and not (isinstance(answer, dict) and "rows" in answer):
            raise error_from_response(response, doing=doing)
        return self._one(PushResult, response, doing)

    # --- checkpoints -----------------------------------------------------------------------

    def checkpoints(self, project: ProjectRef) -> list[ModelVersion]:
        """The project's model versions, newest first (uploads, baselines, pushed)."""
        pk = object_id(project)
        doing = f"Listing the model versions of project {pk}"
        body = self._json(self._send("checkpoints", doing=doing, path={"id": pk}), doing)
        return [parse(ModelVersion, item) for item in body]

    def checkpoint_named(self, project: ProjectRef, name: str) -> ModelVersion:
        versions = self.checkpoints(project)
        for version in versions:
            if version.name == name:
                return version
        known = ", ".join(v.name for v in versions) or "none"
        raise ClientError(
            f"Project {object_id(project)} has no model version named {name!r} (it has: {known}).",
            status=404,
        )

    def upload_checkpoint(
        self,
        project: ProjectRef,
        path: str | os.PathLike[str],
        *,
        name: str,
        spec: Mapping[str, Any],
        notes: str = "",
        metrics: Mapping[str, Any] | None = None,
    ) -> ModelVersion:
        """Upload an ONNX file with its spec (README "Checkpoint spec"); the server test-runs
        it before storing it, and a spec it cannot use is refused by field."""
        pk = object_id(project)
        file = Path(path)
        if not file.is_file():
            raise FileNotFoundError(f"no such checkpoint file: {file}")
        doing = f"Uploading checkpoint {name!r} to project {pk}"
        fields = [("name", name), ("spec", json.dumps(dict(spec))), ("notes", notes)]
        if metrics is not None:
            fields.append(("metrics", json.dumps(dict(metrics))))
        with transfer_bar(
            f"Uploading {file.name}",
            file.stat().st_size,
            enabled=self.progress,
            console=self.console,
        ) as bar:
            body = MultipartBody(fields, [FilePart("file", file)], on_read=bar.advance)
            try:
                response = self._send(
                    "checkpoint_upload",
                    doing=doing,
                    path={"id": pk},
                    data=body,
                    headers={"Content-Type": body.content_type},
                    sending=True,
                )
            finally:
                body.close()
        return self._one(ModelVersion, response, doing)

    def activate_checkpoint(self, version: int | ModelVersion) -> Activation:
        """Make a version order the queue; the answer names the scoring run it started."""
        pk = object_id(version)
        doing = f"Activating model version {pk}"
        response = self._send("checkpoint_activate", doing=doing, path={"id": pk})
        return self._one(Activation, response, doing)

    def rollback_checkpoint(self, project: ProjectRef) -> Rollback:
        pk = object_id(project)
        doing = f"Rolling back the model of project {pk}"
        response = self._send("checkpoint_rollback", doing=doing, path={"id": pk})
        return self._one(Rollback, response, doing)

    # --- scoring ---------------------------------------------------------------------------

    def tasks(
        self, project: ProjectRef, *, state: str | Iterable[str] | None = None
    ) -> Iterator[Task]:
        """The project's tasks in id order, optionally in some states ("pending",
        "submitted", ...), read 50 at a time as you iterate: the list pages by cursor, so
        the millionth task costs what the first does and tasks added meanwhile come last."""
        pk = object_id(project)
        params: dict[str, object] = {"project": pk}
        if state is not None:
            params["state"] = [state] if isinstance(state, str) else list(state)
        doing = f"Listing the tasks of project {pk}"
        return self._iter_pages("tasks", Task, doing=doing, path={}, params=params)

    def scoring_runs(self, project: ProjectRef) -> list[ScoringRun]:
        """The project's most recent scoring runs, newest first (the first page)."""
        pk = object_id(project)
        doing = f"Listing the scoring runs of project {pk}"
        body = self._json(self._send("scoring_runs", doing=doing, path={"id": pk}), doing)
        return [parse(ScoringRun, item) for item in body["results"]]

    def scoring_run(self, project: ProjectRef, run: int) -> ScoringRun:
        pk = object_id(project)
        doing = f"Reading scoring run {run} of project {pk}"
        response = self._send("scoring_run", doing=doing, path={"id": pk, "run_id": run})
        return self._one(ScoringRun, response, doing)

    def wait_for_scoring(
        self,
        project: ProjectRef,
        run: int | None = None,
        *,
        timeout: float = 600.0,
        poll_interval: float = 1.0,
    ) -> ScoringRun | None:
        """Wait until scoring run `run` (default: the newest) is done and return it. A run
        superseded by a newer one is followed to that one. None when the project has no run.
        JobFailed when it fails; WaitTimeout when it is still going after `timeout` s."""
        pk = object_id(project)
        current = self.scoring_run(pk, run) if run is not None else self._newest_run(pk)
        if current is None:
            return None
        deadline = time.monotonic() + timeout
        with job_bar(_run_words(current), enabled=self.progress, console=self.console) as bar:
            while True:
                bar.update(completed=current.progress, description=_run_words(current))
                if current.state == "superseded":
                    newer = self._newest_run(pk)
                    if newer is not None and newer.id != current.id:
                        current = newer
                        continue
                if current.state == "failed":
                    raise JobFailed(
                        f"Scoring run {current.id} of project {pk} failed: {current.error}",
                        job=current,
                    )
                if current.finished:
                    return current
                left = deadline - time.monotonic()
                if left <= 0:
                    raise WaitTimeout(
                        _still_going(
                            f"Scoring run {current.id} of project {pk}",
                            current.state,
                            timeout,
                            f"{current.chunks_done} of {current.chunks_total} chunks",
                            current.error,
                        )
                    )
                time.sleep(min(poll_interval, left))
                current = self.scoring_run(pk, current.id)

    def _newest_run(self, pk: int) -> ScoringRun | None:
        runs = self.scoring_runs(pk)
        return runs[0] if runs else None

    # --- exports ---------------------------------------------------------------------------

    def start_export(
        self,
        project: ProjectRef,
        format: ExportFormat,
        *,
        state: Literal["accepted", "submitted"] = "accepted",
        phase: Literal["label", "review"] = "label",
        date_from: str | None = None,
        date_to: str | None = None,
        include_images: bool = False,
        skeletons: SkeletonMode = "skeleton",
    ) -> ExportJob:
        """Start an export job (a worker writes the file); follow it with wait_for_export.

        include_images (YOLO, CVAT for images) puts the images in the archive; skeletons
        (CVAT formats) "points" writes each keypoint as CVAT points for tools that cannot
        read skeletons, "omit" writes boxes only (the job's summary says what was left out)."""
        pk = object_id(project)
        doing = f"Starting a {format} export of project {pk}"
        payload: dict[str, Any] = {"format": format, "state": state, "phase": phase}
        if include_images:
            payload["include_images"] = True
        if skeletons != "skeleton":
            payload["skeletons"] = skeletons
        if date_from:
            payload["date_from"] = date_from
        if date_to:
            payload["date_to"] = date_to
        response = self._send(
            "export_start", doing=doing, path={"id": pk}, json=payload, accept=(503,)
        )
        job = self._one(ExportJob, response, doing)
        if response.status_code == 503:
            raise ClientError(
                f"{doing}: the server's job queue is unreachable (503). {job.error} "
                f"Export {job.id} waits and is sent to a worker once the queue is back.",
                status=503,
                detail=job.error,
                body=job,
            )
        return job

    def export(self, export: int | ExportJob) -> ExportJob:
        pk = object_id(export)
        doing = f"Reading export {pk}"
        return self._one(ExportJob, self._send("export", doing=doing, path={"id": pk}), doing)

    def wait_for_export(
        self, export: int | ExportJob, *, timeout: float = 600.0, poll_interval: float = 1.0
    ) -> ExportJob:
        """Wait until the export is done; JobFailed if it fails, WaitTimeout if it is still
        going after `timeout` s."""
        job = self.export(export)
        deadline = time.monotonic() + timeout
        with job_bar(
            f"Export {job.id} ({job.format})", enabled=self.progress, console=self.console
        ) as bar:
            while True:
                bar.update(
                    completed=job.progress,
                    description=f"Export {job.id} ({job.format}): {job.state}, "
                    f"{job.tasks_done} of {job.tasks_total} tasks",
                )
                if job.state == "failed":
                    raise JobFailed(f"Export {job.id} failed: {job.error}", job=job)
                if job.finished:
                    return job
                left = deadline - time.monotonic()
                if left <= 0:
                    raise WaitTimeout(
                        _still_going(
                            f"Export {job.id}",
                            job.state,
                            timeout,
                            f"{job.tasks_done} of {job.tasks_total} tasks",
                            job.error,
                        )
                    )
                time.sleep(min(poll_interval, left))
                job = self.export(job.id)

    def download_export(
        self,
        export: int | ExportJob,
        destination: str | os.PathLike[str] = ".",
        *,
        overwrite: bool = False,
    ) -> Path:
        """Stream a finished export to `destination` (a folder: the server's file name in
        it), through a temporary file renamed at the end, so a broken download never looks
        complete. An existing file is kept unless overwrite=True. 409 (code not_ready)
        while the export runs."""
        pk = object_id(export)
        doing = f"Downloading export {pk}"
        with self._send("export_download", doing=doing, path={"id": pk}, stream=True) as response:
            target = Path(destination)
            if target.is_dir():
                target = target / _download_name(response, pk)
            if target.exists() and not overwrite:
                raise FileExistsError(f"{target} exists; choose another name or overwrite it")
            length = response.headers.get("Content-Length")
            partial = target.with_name(f".{target.name}.part")
            try:
                with (
                    partial.open("wb") as out,
                    transfer_bar(
                        f"Downloading {target.name}",
                        int(length) if length and length.isdigit() else None,
                        enabled=self.progress,
                        console=self.console,
                    ) as bar,
                ):
                    for block in response.iter_content(256 * 1024):
                        out.write(block)
                        bar.advance(len(block))
                os.replace(partial, target)
            except requests.exceptions.RequestException as error:
                partial.unlink(missing_ok=True)
                raise ConnectionFailed(
                    f"{doing}: the download broke off ({connection_reason(error)}); "
                    "nothing was kept. Download it again."
                ) from None
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
        return target


def _still_going(what: str, state: str, timeout: float, done: str, error: str) -> str:
    why = f" {error}" if error else ""
    return (
        f"{what} is still {state} after {timeout:g} s ({done}).{why} It goes on on the "
        "server; wait again with a longer timeout."
    )


def _run_words(run: ScoringRun) -> str:
    version = run.model_version_name or "cold start"
    words = f"Scoring run {run.id} ({version}): {run.state}"
    if run.chunks_total:
        words += f", {run.chunks_done} of {run.chunks_total} chunks"
    return words


def _push_refused_words(doing: str, result: PushResult) -> str:
    lines = [f"{doing}: every row was refused ({result.error_count} of {result.rows})."]
    lines += [f"  row {e.row}: {e.error}" for e in result.errors[:10]]
    if result.error_count > 10:
        lines.append(f"  ... and {result.error_count - 10} more")
    return "\n".join(lines)
