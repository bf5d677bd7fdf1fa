"""Where the command-line tool keeps the server address and token: a JSON file readable by
its owner only (0600, in a 0700 folder), unless ANNOTATE_URL / ANNOTATE_TOKEN are set.

The file is $ANNOTATE_CONFIG, else $XDG_CONFIG_HOME/annotate-client/config.json, else
~/.config/annotate-client/config.json."""

from __future__ import annotations

import json
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path


def config_path() -> Path:
    if os.environ.get("ANNOTATE_CONFIG"):
        return Path(os.environ["ANNOTATE_CONFIG"]).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "annotate-client" / "config.json"


@dataclass(frozen=True)
class Settings:
    url: str | None
    token: str | None
    # Where each came from, for messages: "--url", "ANNOTATE_URL", the file's path.
    url_from: str = ""
    token_from: str = ""


def load(path: Path | None = None) -> dict[str, str]:
    path = path or config_path()
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read the configuration {path}: {error}") from None
    return {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}


def loosely_readable(path: Path | None = None) -> bool:
    """Whether others than the owner may read the file (someone widened its mode)."""
    path = path or config_path()
    try:
        return bool(path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))
    except FileNotFoundError:
        return False


def save(*, url: str, token: str, path: Path | None = None) -> Path:
    """Store url and token (other keys kept); the file is created 0600 and never widened."""
    path = path or config_path()
    _write({**load(path), "url": url, "token": token}, path)
    return path


def forget_token(path: Path | None = None) -> bool:
    """Remove the stored token (logout); whether there was one."""
    path = path or config_path()
    data = load(path)
    if "token" not in data:
        return False
    del data["token"]
    _write(data, path)
    return True


def _write(data: dict[str, str], path: Path) -> None:
    """Atomically: a reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".config-", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(handle, "w") as out:
            json.dump(data, out, indent=2)
            out.write("\n")
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def resolve(*, url: str | None = None, token: str | None = None) -> Settings:
    """Flags first, then the environment, then the file."""
    stored = load()
    where = str(config_path())
    url_found = (
        (url, "--url")
        if url
        else (os.environ["ANNOTATE_URL"], "ANNOTATE_URL")
        if os.environ.get("ANNOTATE_URL")
        else (stored.get("url"), where)
    )
    token_found = (
        (token, "--token")
        if token
        else (os.environ["ANNOTATE_TOKEN"], "ANNOTATE_TOKEN")
        if os.environ.get("ANNOTATE_TOKEN")
        else (stored.get("token"), where)
    )
    return Settings(
        url=url_found[0],
        token=token_found[0],
        url_from=url_found[1] if url_found[0] else "",
        token_from=token_found[1] if token_found[0] else "",
    )
