"""A PostgreSQL server for the tests: the one ``JOURNEYDSL_TEST_DSN`` names, or a throwaway
cluster started here when the PostgreSQL binaries are installed (``initdb`` in a temporary folder,
as the ``postgres`` user when running as root; ``pg_ctl start`` on 127.0.0.1 and a free port,
``fsync=off``), stopped at the end of the session. Each test gets a database of its own.

Tests that need it use the ``pg_dsn`` fixture (and are marked ``postgres``); without a server they
skip and say why, unless ``JOURNEYDSL_REQUIRE_POSTGRES=1`` (what .ci/run sets): then they fail.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["PgServer", "find_binaries", "start_cluster"]


@dataclass
class PgServer:
    """A server the tests may create databases on: ``dsn`` connects to its ``postgres``
    database as a superuser; ``stop`` (for a cluster started here) stops and removes it."""

    dsn: str
    data_dir: Path | None = None
    pg_ctl: list[str] = field(default_factory=list)
    _names: itertools.count[int] = field(default_factory=itertools.count)

    def database_dsn(self, name: str) -> str:
        """The DSN of database ``name`` on this server, as a ``postgresql://`` URI (what
        ``--db`` takes)."""
        from urllib.parse import quote, urlencode

        from psycopg.conninfo import conninfo_to_dict

        parts = {k: str(v) for k, v in conninfo_to_dict(self.dsn).items() if v is not None}
        user = quote(parts.pop("user", ""), safe="")
        password = parts.pop("password", None)
        auth = f"{user}:{quote(password, safe='')}@" if password else (f"{user}@" if user else "")
        host = parts.pop("host", "")
        port = parts.pop("port", None)
        parts.pop("dbname", None)
        where = f"{quote(host, safe='')}:{port}" if port else quote(host, safe="")
        query = f"?{urlencode(parts)}" if parts else ""
        return f"postgresql://{auth}{where}/{quote(name, safe='')}{query}"

    def create_database(self) -> str:
        """A new, empty database; returns its DSN."""
        import psycopg

        name = f"jdsl_test_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.database_dsn(name)

    def drop_database(self, dsn: str) -> None:
        """Drop the database of ``dsn`` (its connections are ended first)."""
        import psycopg
        from psycopg.conninfo import conninfo_to_dict

        name = conninfo_to_dict(dsn)["dbname"]
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        """Stop the cluster started here, and remove its folder."""
        if self.data_dir is None:
            return
        subprocess.run(
            [*self.pg_ctl, "stop", "-D", str(self.data_dir), "-m", "immediate", "-w"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)


def find_binaries() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``: on PATH, or Debian's
    /usr/lib/postgresql/*/bin (the newest)."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).parent
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version, reverse=True):
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    return None


def _version(folder: str) -> int:
    name = Path(folder).parent.name
    return int(name) if name.isdigit() else 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_cluster() -> PgServer:
    """Start a throwaway cluster; raises RuntimeError saying why it could not."""
    binaries = find_binaries()
    if binaries is None:
        raise RuntimeError(
            "no PostgreSQL binaries (initdb, pg_ctl) on PATH or in /usr/lib/postgresql"
        )
    as_user: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="jdsl-pg-"))
    if os.geteuid() == 0:
        # initdb refuses to run as root: the cluster belongs to the postgres user.
        runuser = shutil.which("runuser")
        if runuser is None:
            raise RuntimeError("running as root without runuser: cannot start PostgreSQL")
        as_user = [runuser, "-u", "postgres", "--"]
        shutil.chown(base, "postgres", "postgres")
    data = base / "data"
    port = _free_port()
    pg_ctl = [*as_user, str(binaries / "pg_ctl")]
    steps = [
        [*as_user, str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
         "--no-sync", "-E", "UTF8", "--locale=C"],
        [*pg_ctl, "start", "-D", str(data), "-w", "-t", "60", "-l", str(base / "server.log"),
         "-o", f"-c listen_addresses=127.0.0.1 -c port={port} -c fsync=off "
         f"-c synchronous_commit=off -c full_page_writes=off -c unix_socket_directories={base}"],
    ]  # fmt: skip
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            log = base / "server.log"
            detail = (done.stderr or done.stdout).strip()
            if log.exists():
                detail += "\n" + log.read_text(errors="replace")[-2000:]
            shutil.rmtree(base, ignore_errors=True)
            raise RuntimeError(f"{Path(step[len(as_user)]).name} failed: {detail}")
    return PgServer(f"postgresql://postgres@127.0.0.1:{port}/postgres", data, pg_ctl)
