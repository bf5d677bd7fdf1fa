"""annotate-client: the command-line tool. Results go to stdout (a table, or JSON with
--json), progress bars and messages to stderr, and the exit code says how it went
(EXIT_CODES)."""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import importlib
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from . import config
from ._version import __version__
from .client import Client
from .errors import ClientError, ConnectionFailed, WaitTimeout
from .predictions import (
    Row,
    box_rows,
    embedding_rows,
    keypoint_rows,
    merge_rows,
    probability_rows,
    score_rows,
)
from .types import ModelVersion, PushResult, ScoringRun, UploadReport

OK, FAILED, USAGE, AUTH, UNREACHABLE, TIMEOUT, INTERRUPTED = 0, 1, 2, 3, 4, 5, 130
SHOWN_ERRORS = 20
EXIT_CODES = (
    "Exit codes: 0 done; 1 refused or failed (also when some files or rows were refused); "
    "2 wrong usage or unreadable input; 3 not logged in or credentials refused; "
    "4 server unreachable; 5 timed out waiting; 130 interrupted. "
    "The server and token come from --url/--token, else ANNOTATE_URL/ANNOTATE_TOKEN, "
    "else the file `login` writes ($ANNOTATE_CONFIG, default "
    "~/.config/annotate-client/config.json)."
)


class UsageError(Exception):
    """The command cannot run as given (exit code 2)."""


class NotLoggedIn(Exception):
    """No token anywhere (exit code 3)."""


@dataclasses.dataclass
class Context:
    args: argparse.Namespace
    out: Console
    err: Console
    opened: list[Client] = dataclasses.field(default_factory=list)

    def client(self, *, token_needed: bool = True) -> Client:
        found = config.resolve(url=self.args.url, token=self.args.token)
        if not found.url:
            raise UsageError(
                "no server address: give --url, set ANNOTATE_URL, or log in with "
                "`annotate-client login --url URL`"
            )
        if token_needed and not found.token:
            raise NotLoggedIn(
                "not logged in: run `annotate-client login` (or set ANNOTATE_TOKEN) first"
            )
        if config.loosely_readable() and found.token_from == str(config.config_path()):
            self.err.print(
                f"[yellow]warning:[/] {escape(found.token_from)} is readable by others; "
                "run chmod 600 on it"
            )
        return Client(found.url, found.token, progress=not self.args.quiet, console=self.err)

    def show(self, value: Any) -> None:
        """A result as JSON (with --json)."""
        print(json.dumps(_plain(value), indent=2, default=str), file=sys.stdout)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


# --- commands -------------------------------------------------------------------------------


def cmd_login(ctx: Context) -> int:
    args = ctx.args
    client = ctx.client(token_needed=False)
    if args.token_stdin:
        token = sys.stdin.readline().strip()
        if not token:
            raise UsageError("--token-stdin: no token on stdin")
        client.token = token
        client.projects()  # refused (exit 3) if the token is not valid
        who = "with the token given"
    else:
        username = args.username or _ask("Username: ")
        if args.password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        elif sys.stdin.isatty():
            password = getpass.getpass("Password: ")
        else:
            raise UsageError("no terminal to ask the password on: give it with --password-stdin")
        client.token_create(username, password)
        who = f"as {username}"
    assert client.token
    path = config.save(url=client.url, token=client.token)
    ctx.err.print(
        f"Logged in to {escape(client.url)} {escape(who)}; the token is stored in "
        f"{escape(str(path))} (readable by you only)."
    )
    if config.resolve().token_from == "ANNOTATE_TOKEN":
        ctx.err.print("[yellow]note:[/] ANNOTATE_TOKEN is set and is used instead of the file.")
    return OK


def _ask(prompt: str) -> str:
    if not sys.stdin.isatty():
        raise UsageError("no terminal to ask on: give --username (and --password-stdin)")
    return input(prompt).strip()


def cmd_logout(ctx: Context) -> int:
    removed = config.forget_token()
    ctx.err.print("The stored token is removed." if removed else "No token was stored.")
    return OK


def cmd_projects(ctx: Context) -> int:
    projects = ctx.client().projects()
    if ctx.args.json:
        ctx.show(projects)
        return OK
    table = Table("id", "name", "your role", "pending", "done")
    for project in projects:
        table.add_row(
            str(project.id),
            escape(project.name),
            project.role or "-",
            str(project.tasks_pending),
            str(project.tasks_done),
        )
    ctx.out.print(table)
    return OK


def cmd_upload(ctx: Context) -> int:
    args = ctx.args
    report = ctx.client().upload_media(
        args.project, args.paths, files_per_request=args.files_per_request
    )
    if args.json:
        ctx.show(report)
    else:
        _show_upload(ctx, report)
    return FAILED if report.errors else OK


def _show_upload(ctx: Context, report: UploadReport) -> None:
    shown = report.results if len(report.results) <= 50 else report.failed
    if shown:
        table = Table("file", "result", "asset", "message")
        for result in shown:
            colour = {"created": "green", "duplicate": "yellow"}.get(result.status, "red")
            table.add_row(
                escape(result.name),
                f"[{colour}]{result.status}[/]",
                str(result.asset_id or ""),
                escape(result.message),
            )
        ctx.out.print(table)
    ctx.err.print(
        f"{report.created} created, {report.duplicates} duplicates, {report.errors} refused."
    )


def cmd_push(ctx: Context) -> int:
    args = ctx.args
    client = ctx.client()
    rows = _rows_from_file(ctx, client, Path(args.file))
    result = client.push_predictions(
        args.project, rows, model_version=args.model_version, activate=args.activate
    )
    if args.json:
        ctx.show(result)
    else:
        _show_push(ctx, result)
    code = FAILED if result.error_count else OK
    if args.wait and result.scoring_run:
        code = max(code, _wait(ctx, client, args.project, result.scoring_run))
    return code


def _show_push(ctx: Context, result: PushResult) -> None:
    versions = ", ".join(repr(v) for v in result.model_versions) or "no version"
    # `stored` counts task predictions: a video's row is stored for each of its segments.
    ctx.err.print(
        f"{result.rows - result.error_count} of {result.rows} rows accepted for "
        f"{escape(versions)}, {result.error_count} refused ({result.stored} task predictions "
        f"stored). {escape(result.message)}"
    )
    if result.errors:
        table = Table("row", "asset", "error")
        for error in result.errors[:SHOWN_ERRORS]:
            key = error.asset if error.asset is not None else error.external_key or error.file_name
            table.add_row(
                str(error.row), escape(str(key if key is not None else "")), escape(error.error)
            )
        ctx.out.print(table)
        if result.error_count > SHOWN_ERRORS:
            ctx.err.print(f"... and {result.error_count - SHOWN_ERRORS} more (all with --json)")


def _rows_from_file(ctx: Context, client: Client, path: Path) -> Iterable[Row]:
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return _jsonl_rows(path)
    if suffix == ".json":
        try:
            data = json.loads(path.read_text())
        except ValueError as error:
            raise UsageError(f"{path} is not JSON: {error}") from None
        rows = data.get("predictions") if isinstance(data, dict) else data
        if not isinstance(rows, list):
            raise UsageError(f'{path}: a JSON list of rows (or {{"predictions": [...]}})')
        return rows
    if suffix in (".npy", ".npz"):
        try:
            return _array_rows(ctx, client, path)
        except ValueError as error:
            raise UsageError(f"{path}: {error}") from None
    raise UsageError(f"{path}: give a .jsonl, .json, .npy or .npz file")


def _jsonl_rows(path: Path) -> Iterator[Row]:
    with path.open() as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as error:
                raise UsageError(f"{path} line {number} is not JSON: {error}") from None
            yield row


def _numpy() -> Any:
    try:  # optional: only .npy and .npz files need it
        return importlib.import_module("numpy")
    except ImportError:
        raise UsageError(
            "reading .npy and .npz files needs numpy: pip install 'annotate-client[numpy]'"
        ) from None


def _array_rows(ctx: Context, client: Client, path: Path) -> list[Row]:
    """Rows from arrays: a .npy of probabilities [n, classes] or scores [n] (keys from
    --assets), or a .npz with `assets` and any of probs, embeddings, scores, boxes
    (box_scores, box_labels or box_class_probs, box_counts) and keypoints (keypoint_scores,
    keypoint_labels, keypoint_counts, keypoint_names)."""
    np = _numpy()
    args = ctx.args
    if path.suffix.lower() == ".npy":
        array = np.load(path, allow_pickle=False)
        arrays = {"probs" if array.ndim == 2 else "scores": array}
    else:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    assets = _asset_keys(args, arrays.pop("assets", None))
    by = args.by
    names_cache: dict[str, list[str]] = {}

    def class_names() -> list[str]:
        if "classes" not in names_cache:
            names_cache["classes"] = client.class_names(args.project)
        return names_cache["classes"]

    parts: list[list[Row]] = []
    if "probs" in arrays:
        parts.append(probability_rows(arrays.pop("probs"), assets, by=by))
    if "embeddings" in arrays:
        parts.append(embedding_rows(arrays.pop("embeddings"), assets, by=by))
    if "scores" in arrays:
        parts.append(score_rows(arrays.pop("scores"), assets, by=by))
    if "boxes" in arrays:
        labels = arrays.pop("box_labels", None)
        names = class_names() if labels is not None and labels.dtype.kind in "iuf" else None
        parts.append(
            box_rows(
                arrays.pop("boxes"),
                _need(arrays, "box_scores", "boxes"),
                assets,
                labels=labels,
                class_probs=arrays.pop("box_class_probs", None),
                class_names=names,
                counts=arrays.pop("box_counts", None),
                box_format=args.box_format,
                min_score=args.min_score,
                by=by,
            )
        )
    if "keypoints" in arrays:
        labels = arrays.pop("keypoint_labels", None)
        names = class_names() if labels is not None and labels.dtype.kind in "iuf" else None
        keypoint_names = arrays.pop("keypoint_names", None)
        parts.append(
            keypoint_rows(
                arrays.pop("keypoints"),
                keypoint_names.tolist()
                if keypoint_names is not None
                else client.project(args.project).keypoint_names,
                assets,
                scores=arrays.pop("keypoint_scores", None),
                labels=labels,
                class_names=names,
                counts=arrays.pop("keypoint_counts", None),
                by=by,
            )
        )
    if arrays:
        raise ValueError(f"arrays not understood (nothing was pushed): {', '.join(sorted(arrays))}")
    if not parts:
        raise ValueError("no predictions in it (probs, embeddings, scores, boxes, keypoints)")
    return merge_rows(*parts)


def _need(arrays: dict[str, Any], name: str, what: str) -> Any:
    if name not in arrays:
        raise ValueError(f"{what} need {name}")
    return arrays.pop(name)


def _asset_keys(args: argparse.Namespace, from_file: Any) -> list[Any]:
    if args.assets:
        lines = [line.strip() for line in Path(args.assets).read_text().splitlines()]
        keys: list[Any] = [line for line in lines if line]
    elif from_file is not None:
        keys = from_file.tolist()
    else:
        raise ValueError("name the assets: an `assets` array in the .npz, or --assets FILE")
    if args.by == "asset":
        try:
            return [int(key) for key in keys]
        except (TypeError, ValueError):
            raise ValueError(
                "asset ids must be integers (or use --by external_key / file_name)"
            ) from None
    return [str(key) for key in keys]


def cmd_checkpoint_list(ctx: Context) -> int:
    versions = ctx.client().checkpoints(ctx.args.project)
    if ctx.args.json:
        ctx.show(versions)
        return OK
    table = Table("id", "name", "kind", "task type", "active", "created")
    for version in versions:
        table.add_row(
            str(version.id),
            escape(version.name),
            version.kind,
            version.task_type,
            "yes" if version.is_active else "",
            f"{version.created_at:%Y-%m-%d %H:%M}",
        )
    ctx.out.print(table)
    return OK


def _json_argument(value: str, what: str) -> Any:
    """A JSON text, or the name of a file holding one."""
    text = Path(value).read_text() if Path(value).is_file() else value
    try:
        return json.loads(text)
    except ValueError as error:
        raise UsageError(f"{what} is neither a JSON file nor JSON: {error}") from None


def cmd_checkpoint_upload(ctx: Context) -> int:
    args = ctx.args
    client = ctx.client()
    spec = _json_argument(args.spec, "--spec")
    metrics = _json_argument(args.metrics, "--metrics") if args.metrics else None
    version = client.upload_checkpoint(
        args.project, args.file, name=args.name, spec=spec, notes=args.notes, metrics=metrics
    )
    ctx.err.print(
        f"Uploaded model version {version.id} ({escape(version.name)}, {version.task_type})."
    )
    if not args.activate:
        if args.json:
            ctx.show(version)
        return OK
    return _activate(ctx, client, version)


def cmd_checkpoint_activate(ctx: Context) -> int:
    args = ctx.args
    client = ctx.client()
    if args.version.isdigit():
        version: int | ModelVersion = int(args.version)
    elif args.project is None:
        raise UsageError("a version by name needs --project")
    else:
        version = client.checkpoint_named(args.project, args.version)
    return _activate(ctx, client, version)


def _activate(ctx: Context, client: Client, version: int | ModelVersion) -> int:
    answer = client.activate_checkpoint(version)
    if ctx.args.json:
        ctx.show(answer)
    ctx.err.print(
        f"Model version {answer.version.id} ({escape(answer.version.name)}) is active; "
        f"scoring run {answer.scoring_run} reorders the queue."
    )
    if ctx.args.wait:
        project = _project_of(client, answer.version.id, ctx.args)
        return _wait(ctx, client, project, answer.scoring_run)
    return OK


def _project_of(client: Client, version_id: int, args: argparse.Namespace) -> int:
    if getattr(args, "project", None) is not None:
        return int(args.project)
    for project in client.projects():
        if any(v.id == version_id for v in client.checkpoints(project)):
            return project.id
    raise UsageError("cannot tell the version's project: give --project")


def cmd_checkpoint_rollback(ctx: Context) -> int:
    client = ctx.client()
    answer = client.rollback_checkpoint(ctx.args.project)
    if ctx.args.json:
        ctx.show(answer)
    ctx.err.print(escape(answer.message))
    if ctx.args.wait:
        return _wait(ctx, client, ctx.args.project, answer.scoring_run)
    return OK


def cmd_wait_scoring(ctx: Context) -> int:
    client = ctx.client()
    return _wait(ctx, client, ctx.args.project, ctx.args.run)


def _wait(ctx: Context, client: Client, project: int, run: int | None) -> int:
    done = client.wait_for_scoring(project, run, timeout=ctx.args.timeout)
    if done is None:
        ctx.err.print(f"Project {project} has no scoring run.")
        return OK
    if ctx.args.json and ctx.args.command == "wait-scoring":
        ctx.show(done)
    ctx.err.print(_scored_words(done))
    return OK


def _scored_words(run: ScoringRun) -> str:
    by = f"with {run.model_version_name!r}" if run.model_version_name else "in cold-start order"
    return f"Scoring run {run.id} is {run.state}: {run.tasks_scored} tasks ranked {escape(by)}."


def cmd_export(ctx: Context) -> int:
    args = ctx.args
    client = ctx.client()
    if args.job is not None:
        job = client.export(args.job)
    else:
        job = client.start_export(
            args.project,
            args.format,
            state=args.state,
            phase=args.phase,
            date_from=args.date_from,
            date_to=args.date_to,
            include_images=args.images,
            skeletons=args.skeletons,
        )
        ctx.err.print(f"Export {job.id} ({job.format}) started.")
    job = client.wait_for_export(job, timeout=args.timeout)
    for line in job.summary:  # what the export left out, in the server's words
        ctx.err.print(f"Export {job.id}: {escape(line.message)}")
    if args.no_download:
        if args.json:
            ctx.show(job)
        ctx.err.print(f"Export {job.id} is done: {job.download_url}")
        return OK
    path = client.download_export(job, args.output, overwrite=args.overwrite)
    if args.json:
        ctx.show({"export": job, "path": str(path)})
    else:
        print(path)
    ctx.err.print(f"Export {job.id}: {job.tasks_done} tasks written to {escape(str(path))}.")
    return OK


# --- the parser -------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    # Global options are accepted before and after the command.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", default=argparse.SUPPRESS, help="server address ($ANNOTATE_URL)")
    common.add_argument("--token", default=argparse.SUPPRESS, help="API token ($ANNOTATE_TOKEN)")
    common.add_argument(
        "--quiet", "-q", action="store_true", default=argparse.SUPPRESS, help="no progress bars"
    )
    common.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="results as JSON on stdout"
    )

    parser = argparse.ArgumentParser(
        prog="annotate-client",
        description="Work with an Annotate server from the command line.",
        epilog=EXIT_CODES,
        parents=[common],
    )
    parser.set_defaults(url=None, token=None, quiet=False, json=False)
    parser.add_argument("--version", action="version", version=f"annotate-client {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        name: str, run: Callable[[Context], int], help: str, parent: Any = commands
    ) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = parent.add_parser(
            name, help=help, description=help, parents=[common]
        )
        sub.set_defaults(handler=run)
        return sub

    def waiting(sub: argparse.ArgumentParser, *, flag: bool = True) -> None:
        if flag:
            sub.add_argument(
                "--wait", action="store_true", help="wait for the scoring run it starts"
            )
        sub.add_argument("--timeout", type=float, default=600.0, help="seconds to wait (600)")

    login = command("login", cmd_login, "get a token and store it (0600) for the next commands")
    login.add_argument("--username", "-u")
    login.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    login.add_argument("--token-stdin", action="store_true", help="store a token read from stdin")
    command("logout", cmd_logout, "forget the stored token")
    command("projects", cmd_projects, "list your projects and your role in each")

    upload = command("upload", cmd_upload, "upload images, videos or zips (folders are walked)")
    upload.add_argument("project", type=int)
    upload.add_argument("paths", nargs="+", metavar="PATH")
    upload.add_argument("--files-per-request", type=int, default=100)

    push = command("push", cmd_push, "push predictions from .jsonl, .json, .npy or .npz")
    push.add_argument("project", type=int)
    push.add_argument("file")
    push.add_argument("--model-version", "-m", help="version name for rows that name none")
    push.add_argument("--activate", action="store_true", help="make that version the active one")
    push.add_argument(
        "--by",
        choices=["asset", "external_key", "file_name"],
        default="asset",
        help="what the asset keys are (arrays only; default: asset ids)",
    )
    push.add_argument("--assets", help="file with one asset key per line (arrays only)")
    push.add_argument("--box-format", choices=["xyxy", "xywh", "cxcywh"], default="xyxy")
    push.add_argument("--min-score", type=float, help="leave out boxes scoring below this")
    waiting(push)

    checkpoint = commands.add_parser("checkpoint", help="ONNX checkpoints and model versions")
    versions = checkpoint.add_subparsers(dest="checkpoint_command", required=True, metavar="ACTION")
    listing = command("list", cmd_checkpoint_list, "list model versions", versions)
    listing.add_argument("project", type=int)
    up = command("upload", cmd_checkpoint_upload, "upload an ONNX file with its spec", versions)
    up.add_argument("project", type=int)
    up.add_argument("file")
    up.add_argument("--name", required=True, help="version name, unique in the project")
    up.add_argument("--spec", required=True, help="the spec: a JSON file or JSON text")
    up.add_argument("--notes", default="")
    up.add_argument("--metrics", help="a JSON object: a file or JSON text")
    up.add_argument("--activate", action="store_true", help="activate it once uploaded")
    waiting(up)
    activate = command("activate", cmd_checkpoint_activate, "activate a model version", versions)
    activate.add_argument("version", help="its id, or its name with --project")
    activate.add_argument("--project", type=int)
    waiting(activate)
    rollback = command("rollback", cmd_checkpoint_rollback, "back to the version before", versions)
    rollback.add_argument("project", type=int)
    waiting(rollback)

    wait = command("wait-scoring", cmd_wait_scoring, "wait for a scoring run to finish")
    wait.add_argument("project", type=int)
    wait.add_argument("--run", type=int, help="run id (default: the newest)")
    waiting(wait, flag=False)

    export = command("export", cmd_export, "start an export, wait for it and download it")
    export.add_argument("project", type=int)
    export.add_argument(
        "--format",
        "-f",
        choices=["coco", "yolo", "mot", "cvat", "labelstudio", "cvat_images"],
        default="coco",
    )
    export.add_argument(
        "--images", action="store_true", help="put the images in the archive (yolo, cvat_images)"
    )
    export.add_argument(
        "--skeletons",
        choices=["skeleton", "points", "omit"],
        default="skeleton",
        help="cvat, cvat_images: skeletons as CVAT skeletons, as points per keypoint (for tools "
        "that cannot read skeletons) or left out",
    )
    export.add_argument("--state", choices=["accepted", "submitted"], default="accepted")
    export.add_argument("--phase", choices=["label", "review"], default="label")
    export.add_argument("--from", dest="date_from", metavar="DATE", help="YYYY-MM-DD")
    export.add_argument("--to", dest="date_to", metavar="DATE", help="YYYY-MM-DD, inclusive")
    export.add_argument("--output", "-o", default=".", help="file or folder (default: here)")
    export.add_argument("--overwrite", action="store_true")
    export.add_argument("--job", type=int, help="follow an export already started")
    export.add_argument("--no-download", action="store_true")
    waiting(export, flag=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    # Messages are never wrapped: a path or URL in one stays whole for copying.
    ctx = Context(args=args, out=Console(), err=Console(stderr=True, soft_wrap=True))
    try:
        code: int = args.handler(ctx)
        return code
    except ClientError as error:
        ctx.err.print(f"[red]error:[/] {escape(error.message)}")
        if error.is_authentication:
            return AUTH
        if isinstance(error, ConnectionFailed):
            return UNREACHABLE
        if isinstance(error, WaitTimeout):
            return TIMEOUT
        return FAILED
    except NotLoggedIn as error:
        ctx.err.print(f"[red]error:[/] {escape(str(error))}")
        return AUTH
    except (UsageError, OSError, ValueError) as error:
        ctx.err.print(f"[red]error:[/] {escape(str(error))}")
        return USAGE
    except KeyboardInterrupt:
        ctx.err.print("interrupted")
        return INTERRUPTED
    finally:
        for client in ctx.opened:
            client.close()
