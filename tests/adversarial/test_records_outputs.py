"""Output paths (issue 10): checked before the work, written atomically, only ever replacing
a regular file, no ``.partial`` left behind."""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

import pytest
from cli_runner import one_line, spabench
from support.records import SERIAL, passing_verification, register, store_run

from bench.cli import main
from bench.records.store import Store
from protocols.files import OutputWriteError, write_atomic


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "db" / "records.sqlite3"
    monkeypatch.setenv("SPABENCH_DB", str(tmp_path / "not-this-one.sqlite3"))
    with Store(path) as store:
        register(store)
        store_run(store, passing_verification())
    return path


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def listing(folder: Path) -> list[str]:
    return sorted(entry.name for entry in folder.iterdir())


@pytest.mark.parametrize("option", ["--html", "--json", "--csv"])
def test_report_into_an_existing_directory_is_refused_before_any_work(
    capsys: pytest.CaptureFixture[str], db: Path, out_dir: Path, option: str
) -> None:
    target = out_dir / "report"
    target.mkdir()
    result = spabench(capsys, "report", "--run", "1", option, str(target), "--db", str(db))
    one_line(result, 2, str(target), "directory")
    assert target.is_dir() and listing(target) == []
    assert listing(out_dir) == ["report"]


def test_report_into_a_missing_directory_is_refused(
    capsys: pytest.CaptureFixture[str], db: Path, out_dir: Path
) -> None:
    target = out_dir / "missing" / "report.html"
    result = spabench(capsys, "report", "--run", "1", "--html", str(target), "--db", str(db))
    one_line(result, 2, str(target.parent), "does not exist")
    assert listing(out_dir) == []


def test_a_good_html_with_a_bad_json_writes_neither(
    capsys: pytest.CaptureFixture[str], db: Path, out_dir: Path
) -> None:
    html = out_dir / "report.html"
    result = spabench(
        capsys, "report", "--run", "1", "--html", str(html), "--json", str(out_dir / "no" / "x"),
        "--db", str(db),
    )  # fmt: skip
    one_line(result, 2, "does not exist")
    assert listing(out_dir) == []


@pytest.mark.skipif(not Path("/proc/version").is_file(), reason="needs Linux /proc")
def test_report_into_proc_is_refused_and_leaves_nothing(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    before = Path("/proc/version").read_text()
    result = spabench(capsys, "report", "--run", "1", "--html", "/proc/version", "--db", str(db))
    one_line(result, 2, "/proc/version")
    assert Path("/proc/version").read_text() == before
    assert not [name for name in os.listdir("/proc") if name.startswith(".version")]


def test_a_fifo_is_never_replaced(
    capsys: pytest.CaptureFixture[str], db: Path, out_dir: Path
) -> None:
    """Stand-in for ``/dev/full``: a node that is not a regular file stays what it is."""
    fifo = out_dir / "full"
    os.mkfifo(fifo)
    result = spabench(capsys, "report", "--run", "1", "--json", str(fifo), "--db", str(db))
    one_line(result, 2, str(fifo), "FIFO")
    assert fifo.is_fifo()
    assert listing(out_dir) == ["full"]


def test_a_symlink_is_never_replaced(
    capsys: pytest.CaptureFixture[str], db: Path, out_dir: Path
) -> None:
    real = out_dir / "real.csv"
    real.write_text("keep me\n")
    link = out_dir / "link.csv"
    link.symlink_to(real)
    result = spabench(capsys, "report", "--run", "1", "--csv", str(link), "--db", str(db))
    one_line(result, 2, str(link), "symbolic link")
    assert link.is_symlink() and real.read_text() == "keep me\n"


def test_an_existing_regular_file_is_replaced_whole(
    capsys: pytest.CaptureFixture[str], db: Path, out_dir: Path
) -> None:
    target = out_dir / "run.json"
    target.write_text("old\n")
    target.chmod(0o640)
    code, _, err = spabench(capsys, "report", "--run", "1", "--json", str(target), "--db", str(db))
    assert (code, err) == (0, "")
    assert target.read_text().startswith("{")
    assert target.stat().st_mode & 0o777 == 0o640
    assert listing(out_dir) == ["run.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = out_dir / "report.html"
    target.write_text("old report\n")

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OutputWriteError, match="No space left on device") as caught:
        write_atomic(target, "new report\n" * 1000)
    assert "\n" not in str(caught.value)
    assert target.read_text() == "old report\n"
    assert listing(out_dir) == ["report.html"]


def runs_in(db: Path) -> int:
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM runs").fetchone()[0])
    finally:
        conn.close()


@pytest.mark.parametrize("where", ["directory", "missing", "fifo"])
def test_run_json_is_checked_before_the_run_starts(
    capsys: pytest.CaptureFixture[str], db: Path, out_dir: Path, where: str
) -> None:
    target = out_dir / "run.json"
    if where == "directory":
        target.mkdir()
    elif where == "missing":
        target = out_dir / "missing" / "run.json"
    else:
        os.mkfifo(target)
    before = runs_in(db)
    result = spabench(
        capsys, "run", "--virtual", "--unit", SERIAL, "--db", str(db), "--json", str(target)
    )
    one_line(result, 2, str(target))
    assert runs_in(db) == before  # nothing ran, nothing was filed


def test_sniff_checks_its_capture_path_before_opening_any_adapter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A capture into a directory that does not exist is refused at once (exit 2), not
    after the adapters were opened and the technician started the unit."""
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "sniff", "--box", "loop://", "--remote", "loop://",
                "--capture", str(tmp_path / "missing" / "c.cap"),
            ]
        )  # fmt: skip
    assert exit_info.value.code == 2
    assert "does not exist" in capsys.readouterr().err
