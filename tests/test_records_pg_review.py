"""The review of the records on PostgreSQL (issue 14), finding by finding, each against what a
user meets: the command's exit code and its one line, the files it leaves behind, the records
a real server (tests/support/postgres.py) holds, the report a customer reads.

1. a mistyped server URL (``PostgreSQL://``, `` postgresql://``, ``postgresql:/``,
   ``postgresql+psycopg://``, ``mysql://``) is a server or a one-line refusal, never a new
   SQLite file in a folder named after the password;
3. a database not in UTF8 is refused with how to make one; text goes to the server as UTF8;
   an encoding problem is a database error in one line, never a usage error or a traceback;
4. ``--help`` never shows the password of ``$SPABENCH_DB``;
6. a lock timeout (and any refusal, however many lines the server wrote) is one line;
7. a status change or an agreement change typed in psql while a bench writes the same order
   is taken in the order the lock gives, not refused;
8. a write whose undo fails too says why the write failed;
9. (the README's PostgreSQL section: checked by running it against a local server);
10. a report never says "verified" of an order whose timeline does not say so.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cli_runner import one_line, spabench
from support.live_filing import file_live
from support.postgres import PostgresServer
from support.records import NOW, SERIAL, filter_pump_failure, passing_verification, register
from support.report_page import parse

from bench.records.database import DatabaseError, StoreOpenError
from bench.records.migrations import MIGRATIONS, Migration
from bench.records.store import Store

ADD_UNIT = ("unit", "add", "--serial", SERIAL, "--profile", "premium-4",
            "--purchase-date", "2025-06-01")  # fmt: skip


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory, the user's data directory and journal inside it: what a
    command leaves behind is all there to see."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("SPABENCH_JOURNAL", str(tmp_path / "data" / "journal.sqlite3"))
    monkeypatch.delenv("SPABENCH_DB", raising=False)
    return tmp_path


def left_behind(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.name != "work")


# ------------------------------------------------------------ 1. a mistyped server URL


@pytest.mark.parametrize(
    "location",
    [
        "postgresql:/bench:s3cret@server/spabench",
        "postgresql+psycopg://bench:s3cret@server/spabench",
        "mysql://bench:s3cret@server/spabench",
        "sqlite:///records.sqlite3",
        " POSTGRES:/bench:s3cret@server/spabench",
    ],
)
def test_a_location_that_is_neither_a_server_nor_a_file_is_refused_and_creates_nothing(
    workdir: Path, capsys: pytest.CaptureFixture[str], location: str
) -> None:
    scheme = location.strip().partition(":")[0]
    err = one_line(spabench(capsys, *ADD_UNIT, "--db", location), 2, scheme, "postgresql://")
    assert "s3cret" not in err
    assert left_behind(workdir) == []


@pytest.mark.parametrize(
    "command",
    [
        ("history", SERIAL),
        ("status",),
        ("sync",),
        ADD_UNIT,
        ("run", "--virtual", "--unit", SERIAL, "--plan", "smoke"),
    ],
)
def test_a_mistyped_spabench_db_is_refused_by_every_command_and_creates_nothing(
    workdir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: tuple[str, ...],
) -> None:
    monkeypatch.setenv("SPABENCH_DB", "postgresql+psycopg://bench:s3cret@server/spabench")
    err = one_line(spabench(capsys, *command), 2, "postgresql+psycopg", "SPABENCH_DB")
    assert "s3cret" not in err
    assert left_behind(workdir) == []


@pytest.mark.parametrize("value", ["thirty", "0", "-5", "nan", "1e9"])
@pytest.mark.parametrize(
    "command", [("status",), ("sync",), ("run", "--virtual", "--unit", SERIAL, "--plan", "smoke")]
)
def test_an_upload_bound_that_is_not_one_is_refused_before_anything_runs(
    workdir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: tuple[str, ...],
    value: str,
) -> None:
    """$SPABENCH_UPLOAD_TIMEOUT bounds every upload to the server; a value that is no bound
    was silently taken as 30 s, so a technician who set it never learnt it was ignored."""
    monkeypatch.setenv("SPABENCH_DB", "postgresql://bench:s3cret@127.0.0.1:9/spabench")
    monkeypatch.setenv("SPABENCH_UPLOAD_TIMEOUT", value)
    err = one_line(spabench(capsys, *command), 2, "SPABENCH_UPLOAD_TIMEOUT", repr(value))
    assert "s3cret" not in err
    assert left_behind(workdir) == []


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 nothing listens on (held bound, never listening)."""
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


@pytest.mark.parametrize("spelling", ["PostgreSQL://{}", " postgresql://{} ", "\tPOSTGRES://{}"])
def test_a_server_url_in_any_case_or_with_spaces_around_is_the_server(
    workdir: Path, capsys: pytest.CaptureFixture[str], closed_port: int, spelling: str
) -> None:
    url = spelling.format(f"bench:s3cret@127.0.0.1:{closed_port}/spabench")
    err = one_line(spabench(capsys, *ADD_UNIT, "--db", url), 3, "unreachable",
                   f"postgresql://bench@127.0.0.1:{closed_port}/spabench")  # fmt: skip
    assert "s3cret" not in err
    assert left_behind(workdir) == []


def test_a_server_url_typed_in_capitals_reaches_the_server(
    workdir: Path, capsys: pytest.CaptureFixture[str], pg_url: str
) -> None:
    typed = " PostgreSQL" + pg_url.removeprefix("postgresql") + " "
    code, _out, err = spabench(capsys, *ADD_UNIT, "--db", typed)
    assert (code, err) == (0, ""), err
    with Store(pg_url) as store:
        assert store.has_unit(SERIAL)
    assert left_behind(workdir) == []


def test_a_file_path_is_still_a_file(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Only a scheme makes a URL: a plain path, or one written ./word:/…, is a records file."""
    code, _out, err = spabench(capsys, *ADD_UNIT, "--db", "./odd:/records.sqlite3")
    assert (code, err) == (0, ""), err
    assert (workdir / "work" / "odd:" / "records.sqlite3").is_file()


# --------------------------------------------------------------------- 3. encodings


def database_in(server: PostgresServer, encoding: str) -> str:
    """A new empty database in ``encoding`` (as ``initdb`` in a C locale makes SQL_ASCII)."""
    url = server.fresh_database(template=None)
    name = url.rsplit("/", 1)[1]
    server.drop_database(url)
    with server.admin() as conn:
        conn.execute(
            f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING '{encoding}'"
            " LC_COLLATE 'C' LC_CTYPE 'C'"
        )
    return url


@pytest.mark.parametrize("encoding", ["SQL_ASCII", "LATIN1"])
def test_a_database_not_in_utf8_is_refused_saying_how_to_make_one(
    postgres_server: PostgresServer, capsys: pytest.CaptureFixture[str], encoding: str
) -> None:
    url = database_in(postgres_server, encoding)
    try:
        err = one_line(spabench(capsys, *ADD_UNIT, "--db", url), 3, encoding, "UTF8",
                       "createdb --encoding UTF8 --template template0")  # fmt: skip
        assert "nothing was changed" in err
        with psycopg.connect(url) as conn:
            tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            assert tables.fetchone() == (0,)
    finally:
        postgres_server.drop_database(url)


def test_text_goes_to_the_server_as_utf8_whatever_the_environment_says(
    pg_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGCLIENTENCODING", "LATIN1")
    monkeypatch.setenv("SPABENCH_DB", pg_url)
    assert spabench(capsys, *ADD_UNIT)[0] == 0
    code, out, err = spabench(capsys, "order", "open", "--serial", SERIAL,
                              "--symptom", "no heat 🔥", "--by", "Jo 😀")  # fmt: skip
    assert (code, err) == (0, ""), err
    with Store(pg_url) as store:
        order = store.order(int(out))
        assert (order.symptom, store.timeline(order.id)[0].by) == ("no heat 🔥", "Jo 😀")


def test_an_encoding_the_url_asks_for_fails_as_a_database_error_in_one_line(
    pg_url: str, postgres_server: PostgresServer, capsys: pytest.CaptureFixture[str]
) -> None:
    latin1 = f"{pg_url}?client_encoding=LATIN1"
    assert spabench(capsys, *ADD_UNIT, "--db", latin1)[0] == 0
    opened = ("order", "open", "--serial", SERIAL, "--symptom", "no heat 🔥", "--db", latin1)
    one_line(spabench(capsys, *opened), 3, "LATIN1")
    empty = postgres_server.fresh_database(template=None)  # the schema itself is not ASCII
    try:
        err = one_line(spabench(capsys, *ADD_UNIT, "--db", f"{empty}?client_encoding=SQL_ASCII"),
                       3, "cannot use records server")  # fmt: skip
        assert "ascii" in err
    finally:
        postgres_server.drop_database(empty)


# ------------------------------------------------------------------- 4. --help


@pytest.mark.parametrize(
    "command",
    [
        ("unit", "add"),
        ("order", "list"),
        ("history",),
        ("report",),
        ("run",),
        ("station", "run"),
        ("sync",),
        ("status",),
        ("console",),
    ],
)
def test_help_never_shows_the_password_of_spabench_db(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...]
) -> None:
    monkeypatch.setenv("SPABENCH_DB", "postgresql://bench:change-me@records.lan/spabench")
    monkeypatch.setenv("COLUMNS", "300")
    code, out, err = spabench(capsys, *command, "--help")
    assert code == 0 and "--db" in out, err
    assert "change-me" not in out + err
    if command[0] in ("unit", "order", "history", "report"):
        assert "postgresql://bench@records.lan:5432/spabench" in out


# ---------------------------------------------------------------- 6. one-line errors


@pytest.fixture
def order_on_server(pg_url: str) -> int:
    with Store(pg_url) as store:
        register(store)
        return store.open_order(SERIAL, "no heat", agreement="repair", now=NOW)


def test_a_lock_timeout_is_one_line(pg_url: str, order_on_server: int) -> None:
    with psycopg.connect(pg_url) as holder, Store(pg_url, timeout=0.2) as store:
        holder.execute("SELECT id FROM orders WHERE id = %s FOR UPDATE", (order_on_server,))
        with pytest.raises(DatabaseError) as waited:
            store.set_status(order_on_server, "diagnosed", now=NOW + timedelta(hours=1))
    message = str(waited.value)
    assert "another bench holds a lock" in message and "lock timeout" in message
    assert "\n" not in message and "CONTEXT" not in message


def test_a_refusal_the_server_writes_on_several_lines_is_one_line(
    pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION house_rule() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            " RAISE EXCEPTION E'no units today\\nask the workshop manager'"
            " USING ERRCODE = 'feature_not_supported'; END $$"
        )
        conn.execute(
            "CREATE TRIGGER house_rule BEFORE INSERT ON units"
            " FOR EACH ROW EXECUTE FUNCTION house_rule()"
        )
    err = one_line(spabench(capsys, *ADD_UNIT, "--db", pg_url), 3, "no units today")
    assert "ask the workshop manager" in err


# -------------------------------------------------------- 7. ids taken after the lock


def blocked_on_a_lock(admin: psycopg.Connection[Any], pid: int) -> bool:
    row = admin.execute("SELECT cardinality(pg_blocking_pids(%s)) > 0", (pid,)).fetchone()
    return bool(row and row[0])


def while_another_writes(
    url: str,
    order_id: int,
    typed: Callable[[psycopg.Connection[Any]], object],
    bench: Callable[[psycopg.Connection[Any]], object],
) -> BaseException | None:
    """``typed`` (psql's statement) runs while ``bench`` holds the order: it waits for the
    order's lock, ``bench`` writes and commits, then ``typed`` goes on. What ``typed`` raised."""
    failure: list[BaseException] = []
    with (
        psycopg.connect(url) as holder,
        psycopg.connect(url, autocommit=True) as psql,
        psycopg.connect(url, autocommit=True) as admin,
    ):
        holder.execute("SELECT id FROM orders WHERE id = %s FOR UPDATE", (order_id,))

        def type_it() -> None:
            try:
                typed(psql)
            except BaseException as error:  # reported to the test below
                failure.append(error)

        thread = threading.Thread(target=type_it)
        thread.start()
        deadline = time.monotonic() + 30
        while not blocked_on_a_lock(admin, psql.info.backend_pid):  # a bounded wait on the server
            assert thread.is_alive() and time.monotonic() < deadline, failure
        bench(holder)
        holder.commit()
        thread.join(30)
        assert not thread.is_alive()
    return failure[0] if failure else None


def at(hours: float) -> str:
    return (NOW + timedelta(hours=hours)).isoformat(timespec="microseconds")


def test_a_status_typed_in_psql_while_a_bench_changes_it_follows_the_bench(
    pg_url: str, order_on_server: int
) -> None:
    order = order_on_server
    insert = "INSERT INTO order_status (order_id, status, at, by) VALUES (%s, %s, %s, %s)"
    refused = while_another_writes(
        pg_url,
        order,
        lambda psql: psql.execute(insert, (order, "awaiting-approval", at(2), "psql")),
        lambda bench: bench.execute(insert, (order, "diagnosed", at(1), "bench")),
    )
    assert refused is None, refused
    with Store(pg_url) as store:
        assert [(c.status, c.by) for c in store.timeline(order)][1:] == [
            ("diagnosed", "bench"),
            ("awaiting-approval", "psql"),
        ]
        assert store.order(order).status == "awaiting-approval"


def test_an_agreement_typed_in_psql_while_a_bench_amends_it_follows_the_bench(
    pg_url: str, order_on_server: int
) -> None:
    order = order_on_server
    contact = "INSERT INTO contacts (order_id, at, by, note) VALUES (%s, %s, %s, '') RETURNING id"
    change = (
        "INSERT INTO agreement_changes (order_id, at, by, contact_id, before_agreement,"
        " before_parts, before_quote_cents, agreement, parts, quote_cents, quote_date)"
        " VALUES (%s, %s, %s, %s, %s, '[]', %s, %s, '[]', %s, %s)"
    )
    with psycopg.connect(pg_url, autocommit=True) as conn:
        row = conn.execute(contact, (order, at(0.5), "psql")).fetchone()
        assert row is not None
        psql_contact = row[0]

    def bench(conn: psycopg.Connection[Any]) -> None:
        row = conn.execute(contact, (order, at(1), "bench")).fetchone()
        assert row is not None
        conn.execute(
            change, (order, at(1), "bench", row[0], "repair", None, "repair", 8950, "2026-03-20")
        )

    refused = while_another_writes(
        pg_url,
        order,
        lambda psql: psql.execute(
            change,
            (order, at(2), "psql", psql_contact, "repair", 8950, "repair", 9900, "2026-03-20"),
        ),
        bench,
    )
    assert refused is None, refused
    with Store(pg_url) as store:
        changes = store.agreement_changes(order)
        assert [(c.by, c.after.quote_cents) for c in changes] == [("bench", 8950), ("psql", 9900)]
        assert store.order(order).quote_cents == 9900


# ------------------------------------------------------ 8. a failed undo hides nothing


def test_a_connection_lost_during_a_write_says_so(
    pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION cut_the_cable() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            " PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NEW; END $$"
        )
        conn.execute(
            "CREATE TRIGGER cut_the_cable BEFORE INSERT ON units"
            " FOR EACH ROW EXECUTE FUNCTION cut_the_cable()"
        )
    err = one_line(spabench(capsys, *ADD_UNIT, "--db", pg_url), 3, "terminating connection")
    assert "connection is closed" not in err


def test_a_connection_lost_during_a_migration_says_so(pg_url: str) -> None:
    cut = Migration(len(MIGRATIONS) + 1, "cut", "SELECT pg_terminate_backend(pg_backend_pid());")
    with pytest.raises(StoreOpenError, match="terminating connection") as refused:
        Store(pg_url, migrations=(*MIGRATIONS, cut))
    assert "connection is closed" not in str(refused.value)
    with Store(pg_url) as store:
        assert store.schema_version() == len(MIGRATIONS)


def test_a_write_the_file_rolled_back_itself_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """SQLite ends the transaction itself on RAISE(ROLLBACK) (and on a full disk): the undo
    that follows fails, and must not take the refusal's place."""
    db = tmp_path / "records.sqlite3"
    with Store(db) as store:
        register(store)
        order = store.open_order(SERIAL, "no heat", now=NOW)
        store._conn.execute(
            "CREATE TRIGGER house_rule BEFORE INSERT ON order_status WHEN NEW.status = 'diagnosed'"
            " BEGIN SELECT RAISE(ROLLBACK, 'diagnosis needs the manager'); END"
        )
    status = ("order", "status", str(order), "diagnosed", "--db", str(db))
    err = one_line(spabench(capsys, *status), 2, "diagnosis needs the manager")
    assert "no transaction" not in err


def test_a_migration_the_file_rolled_back_itself_says_why(tmp_path: Path) -> None:
    refusing = Migration(
        len(MIGRATIONS) + 1,
        "refusing",
        "CREATE TABLE t (a INTEGER);\n"
        "CREATE TRIGGER t_refused BEFORE INSERT ON t"
        " BEGIN SELECT RAISE(ROLLBACK, 'the migration refused itself'); END;\n"
        "INSERT INTO t VALUES (1);",
    )
    Store(tmp_path / "records.sqlite3").close()
    with pytest.raises(StoreOpenError, match="the migration refused itself"):
        Store(tmp_path / "records.sqlite3", migrations=(*MIGRATIONS, refusing))
    with Store(tmp_path / "records.sqlite3") as store:
        assert store.schema_version() == len(MIGRATIONS)


# ------------------------------------------------------ 10. verified only when it was


def test_a_report_never_says_verified_of_an_order_never_verified(
    records_location: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A dead pump found, then a test that passed — and nobody marked the order verified."""
    with Store(records_location) as store:
        register(store)
        order = store.open_order(SERIAL, "no heat", now=NOW + timedelta(minutes=5))
        file_live(store, filter_pump_failure(), order)
        passed = file_live(store, passing_verification(), order)
    html, js = tmp_path / "report.html", tmp_path / "order.json"
    code, out, err = spabench(capsys, "report", str(order), "--db", records_location,
                              "--html", str(html), "--json", str(js))  # fmt: skip
    assert (code, err) == (0, ""), err
    assert "verified by" not in out and "NOT VERIFIED" in out
    verdict = parse(html.read_text(encoding="utf-8")).verdict
    assert verdict.attrs["data-verdict"] == "not-verified"
    assert "NOT VERIFIED" in verdict.text() and "PASS" not in verdict.text()
    facts = json.loads(js.read_text(encoding="utf-8"))["summary"]["verification"]
    assert (facts["verdict"], facts["verified_by_run"]) == ("not-verified", None)
    assert facts["run"]["run_id"] == passed  # shown as the latest test, not a verification
    assert f"(run {passed}), passed" in facts["detail"]
