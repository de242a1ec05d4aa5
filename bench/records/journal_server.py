"""Which records server a journal run is for, as the bench can know it without connecting.

A run filed in the journal waits there until one server takes it, so the bench must know,
offline too, which server that is — whatever way ``--db`` spells it today. The identity
(:attr:`Server.key`) is ``host:port/database``:

* the host normalised: an address as written, a name as it resolved (``getaddrinfo``) — and
  every loopback address, ``localhost`` and a local socket directory are ``localhost``; a
  name is resolved once per bench PC and the answer kept (``journal-hosts.json`` beside the
  journals), so a bench whose network is down (no DNS) still knows its server by the same
  key, and a slow resolver is given :data:`RESOLVE_WAIT_S` at most;
* the port (5432 unless given), the database name (as libpq chooses it: given, else
  ``$PGDATABASE``, else the user name);
* NOT the role or the password: the same server under another login is the same server.

The journal keeps, with every run, the key and the server's URL as it may be shown
(:attr:`Server.shown`, no password), so runs are never uploaded to another server than the
one they were filed for, and ``spabench status`` can say where waiting runs belong.
"""

from __future__ import annotations

import contextlib
import getpass
import ipaddress
import json
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

from psycopg import Error as DriverError
from psycopg.conninfo import conninfo_to_dict

from bench.records.backends.postgresql import display

RESOLVE_WAIT_S = 2.0
"""Wall seconds a host name's resolution may take before the name itself is the key."""
HOSTS_FILE = "journal-hosts.json"


@dataclass(frozen=True)
class Server:
    """A records server as the journal knows it (see module doc)."""

    shown: str
    """Its URL as it may be shown: ``postgresql://user@host:port/database``, no password."""
    key: str
    """``host:port/database``, the host normalised: the same for every spelling."""


def _resolved(name: str) -> str | None:
    """The first address ``name`` resolves to (IPv4 first), or None (unknown, too slow)."""
    found: list[str] = []

    def resolve() -> None:
        with contextlib.suppress(OSError, UnicodeError):
            infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
            found.extend(sorted({str(info[4][0]) for info in infos}, key=lambda a: (":" in a, a)))

    worker = threading.Thread(target=resolve, name="journal-resolve", daemon=True)
    worker.start()
    worker.join(RESOLVE_WAIT_S)
    return found[0] if found else None


def _address(name: str, hosts: Path) -> str:
    """``name``'s address as this bench PC first resolved it (kept in ``hosts``)."""
    try:
        known = json.loads(hosts.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    if not isinstance(known, dict):
        known = {}
    cached = known.get(name)
    if isinstance(cached, str):
        return cached
    address = _resolved(name)
    if address is None:
        return name
    known[name] = address
    with contextlib.suppress(OSError):
        hosts.parent.mkdir(parents=True, exist_ok=True)
        temporary = hosts.with_name(f".{hosts.name}.{os.getpid()}")
        temporary.write_text(json.dumps(known, indent=1, sort_keys=True), encoding="utf-8")
        temporary.replace(hosts)
    return address


def _host(given: str, hosts: Path) -> str:
    name = given.strip().strip("[]").lower().rstrip(".")
    if not name or name.startswith(("/", "@")) or name == "localhost":
        return "localhost"  # a local socket directory, or libpq's default
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        resolved = _address(name, hosts)
        try:
            address = ipaddress.ip_address(resolved)
        except ValueError:
            return resolved
    return "localhost" if address.is_loopback else str(address)


def identify(url: str, hosts_dir: Path) -> Server:
    """The server ``url`` names (see module doc); ``hosts_dir`` keeps the names resolved.
    A URL that does not parse is its own key (it is refused before anything is filed)."""
    try:
        params = conninfo_to_dict(url)
    except DriverError:
        return Server(display(url), display(url))
    hosts = hosts_dir / HOSTS_FILE
    host = str(params.get("host") or os.environ.get("PGHOST") or "")
    port = str(params.get("port") or os.environ.get("PGPORT") or "5432")
    user = str(params.get("user") or os.environ.get("PGUSER") or getpass.getuser())
    database = str(params.get("dbname") or os.environ.get("PGDATABASE") or user)
    names = ",".join(_host(each, hosts) for each in host.split(","))  # failover: each one
    return Server(display(url), f"{names}:{port}/{database}")
