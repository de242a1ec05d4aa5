"""A real PostgreSQL server for the tests, started and stopped by the test session.

The records' PostgreSQL backend is tested against the database itself, never a mock: a
mock would agree with whatever the backend believes about locks, triggers and placeholders.
So the session starts its own throw-away server:

* the binaries are found as :func:`find_bindir` says (``$PG_BINDIR``, ``pg_config --bindir``,
  Debian's ``/usr/lib/postgresql/*/bin``, ``$PATH``); when there are none, the tests that need
  a server are skipped with :data:`INSTALL_HINT` as the reason (``.ci/run`` installs them);
* ``initdb`` in a temporary directory, the server listening on 127.0.0.1 on a free port and
  on a unix socket in that directory, with durability off (``fsync``, ``synchronous_commit``,
  ``full_page_writes``): a crash of a test server loses nothing anyone needs, and commits
  cost no disk flush;
* PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` OS user
  (Debian's package creates it) on a directory handed to that user;
* each test gets a fresh database copied from a template that already holds the migrated
  schema (:meth:`PostgresServer.fresh_database`): copying is much cheaper than migrating.

The server is stopped when the session ends, a failing one included, and a pytest process
killed outright takes it along (the parent-death signal).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path

import psycopg

INSTALL_HINT = (
    "no PostgreSQL server binaries (initdb, postgres) found: install them "
    "(Debian/Ubuntu: apt-get install postgresql) or point $PG_BINDIR at their directory"
)
START_WAIT = 60.0
"""Wall seconds ``initdb`` or the server's start may take (never reached when healthy)."""
USER = "spabench"
TEMPLATE = "spabench_template"


def _has_server(folder: Path) -> bool:
    return all(os.access(folder / name, os.X_OK) for name in ("initdb", "postgres"))


def _pg_config_bindir() -> Path | None:
    program = shutil.which("pg_config")
    if program is None:
        return None
    try:
        found = subprocess.run(
            [program, "--bindir"], capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(found.stdout.strip())


def _version_key(folder: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", folder.parent.name))


def find_bindir() -> Path | None:
    """The directory holding ``initdb`` and ``postgres``, or None.

    Looked for in order: ``$PG_BINDIR``; ``pg_config --bindir`` (the client's own server, when
    installed); Debian's ``/usr/lib/postgresql/<version>/bin``, newest first (Debian puts
    neither on ``$PATH``); the directory of ``postgres``/``initdb`` on ``$PATH``. ``.ci/run``
    looks the same way before deciding to install the distribution's package.
    """
    candidates: list[Path] = []
    if os.environ.get("PG_BINDIR"):
        candidates.append(Path(os.environ["PG_BINDIR"]))
    configured = _pg_config_bindir()
    if configured is not None:
        candidates.append(configured)
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
    for name in ("postgres", "initdb"):
        program = shutil.which(name)
        if program is not None:
            candidates.append(Path(program).resolve().parent)
    return next((folder for folder in candidates if _has_server(folder)), None)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """The server gets SIGTERM when the pytest process dies, however it dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class PostgresServer:
    """One running test server; ``url(name)`` connects to database ``name`` as superuser."""

    bindir: Path
    root: Path
    port: int
    process: subprocess.Popen[str]
    log: list[str] = field(default_factory=list)
    _names: Iterator[int] = field(default_factory=lambda: count(1))

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    def url(self, database: str) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        """An autocommit connection to the maintenance database, for CREATE/DROP DATABASE."""
        return psycopg.connect(self.url("postgres"), autocommit=True, connect_timeout=10)

    def fresh_database(self, template: str | None = TEMPLATE) -> str:
        """A new database (a copy of ``template``, or empty with None); returns its URL."""
        name = f"test_{os.getpid()}_{next(self._names)}"
        source = "template0" if template is None else template
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}" STRATEGY FILE_COPY')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        """Fast shutdown (clients disconnected), killed if it does not go in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=START_WAIT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def _server_user() -> str | None:
    """Popen's ``user``/``group``: PostgreSQL refuses root, so root runs it as ``postgres``."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise RuntimeError(
            "the tests run as root and PostgreSQL refuses to: they need an OS user 'postgres' "
            "to run the server as (Debian's postgresql package creates it)"
        ) from None
    return "postgres"


def _drain(server: PostgresServer, ready: threading.Event) -> None:
    """Keep the server's log (its stderr) and say when it accepts connections."""
    assert server.process.stderr is not None
    for line in server.process.stderr:
        server.log.append(line.rstrip())
        if "ready to accept connections" in line:
            ready.set()
    ready.set()  # the server ended: whoever waits must look at it now


def _initdb(bindir: Path, root: Path, owner: str | None) -> None:
    done = subprocess.run(
        [
            str(bindir / "initdb"),
            "-D",
            str(root / "data"),
            "-U",
            USER,
            "--auth=trust",
            "--no-sync",
            "--no-locale",
            "--encoding=UTF8",
        ],
        capture_output=True,
        text=True,
        timeout=START_WAIT,
        check=False,
        cwd=root,
        user=owner,
        group=owner,
    )
    if done.returncode != 0:
        raise RuntimeError(f"initdb failed: {done.stderr.strip()[-2000:]}")


def start_server(bindir: Path, settings: Mapping[str, str] | None = None) -> PostgresServer:
    """``initdb`` and start a server in a new temporary directory; stopped by the caller.

    ``settings`` override the tests' (durability off; ``benchmarks/records.py`` turns it on)."""
    owner = _server_user()
    root = Path(tempfile.mkdtemp(prefix="spabench-pg-"))
    (root / "socket").mkdir()
    if owner:
        for path in (root, root / "socket"):
            shutil.chown(path, owner, owner)
    try:
        _initdb(bindir, root, owner)
        for _attempt in range(3):  # a free port may be taken before the server binds it
            server = _launch(bindir, root, owner, settings or {})
            if server.process.poll() is None:
                return server
        raise RuntimeError("the test PostgreSQL server did not start:\n" + "\n".join(server.log))
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise


def _launch(
    bindir: Path, root: Path, owner: str | None, overrides: Mapping[str, str]
) -> PostgresServer:
    settings = {
        "listen_addresses": "127.0.0.1",
        "unix_socket_directories": str(root / "socket"),
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "max_connections": "60",
        "autovacuum": "off",
        "log_min_messages": "log",  # LOG lines (ready, shutdown), not every refused INSERT
        **overrides,
    }
    port = _free_port()
    command = [str(bindir / "postgres"), "-D", str(root / "data"), "-p", str(port)]
    for name, value in settings.items():
        command += ["-c", f"{name}={value}"]
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=root,
        preexec_fn=_die_with_parent,  # the server must not outlive the tests
        user=owner,
        group=owner,
    )
    server = PostgresServer(bindir, root, port, process)
    ready = threading.Event()
    threading.Thread(target=_drain, args=(server, ready), daemon=True).start()
    if not ready.wait(START_WAIT) or process.poll() is not None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait()
    return server


def prepare_template(server: PostgresServer) -> None:
    """The template every test database is copied from: the records schema, migrated once."""
    from bench.records.store import Store

    with server.admin() as conn:
        conn.execute(f'CREATE DATABASE "{TEMPLATE}"')
    Store(server.url(TEMPLATE)).close()
