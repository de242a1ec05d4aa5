"""Shared test configuration: the ``--slow`` flag, hypothesis profiles, served units and a
real PostgreSQL server for the records' tests.

``pytest`` runs the CI profile (enough examples to matter, minutes not hours);
``pytest --slow`` also runs tests marked ``slow`` and uses many more examples.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from support.postgres import (
    INSTALL_HINT,
    PostgresServer,
    find_bindir,
    prepare_template,
    start_server,
)

from spasim.pytest_plugin import ServedUnit, start_served

settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(
    "slow",
    max_examples=5000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("dev", max_examples=50, deadline=None)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--slow", action="store_true", default=False, help="run slow tests, many more examples"
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--slow"):
        settings.load_profile("slow")
    else:
        settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


SERVE_WAIT = 15.0
"""Wall seconds any single wait on a served unit may take (never reached when healthy)."""


@pytest.fixture
def launch() -> Iterator[Callable[..., ServedUnit]]:
    """Start ``spasim serve`` processes; every one is stopped (killed if it must be) after
    the test."""
    started: list[ServedUnit] = []

    def start(*arguments: str, transport: str = "pty", speed: float = 1.0) -> ServedUnit:
        unit = start_served(
            ["serve", *arguments, "--speed", str(speed)],
            transport=transport,
            speed=speed,
            timeout=SERVE_WAIT,
        )
        started.append(unit)
        return unit

    yield start
    for unit in started:
        if unit.process.poll() is None:
            unit.process.kill()
        unit.discard()


# ------------------------------------------------------------------- a real PostgreSQL server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test session (tests/support/postgres.py), with the template
    database the records' tests copy; skipped, saying what to install, where there is none."""
    bindir = find_bindir()
    if bindir is None:
        pytest.skip(INSTALL_HINT)
    server = start_server(bindir)
    try:
        prepare_template(server)
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh database holding the migrated records schema (copied from the template);
    dropped after the test."""
    url = postgres_server.fresh_database()
    yield url
    postgres_server.drop_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def records_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a test's records are, once for each backend: an SQLite file, a PostgreSQL URL."""
    if request.param == "sqlite":
        return str(tmp_path / "records.sqlite3")
    url: str = request.getfixturevalue("pg_url")
    return url
