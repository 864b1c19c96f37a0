"""A dead or restarted database server is survived: pre-ping plus the database retry policy.

Threads run units of work through ``Database.run`` while the server drops their connections
(killed from an admin connection) or restarts. Every unit must end up done exactly once in
effect: each is idempotent, so a unit whose commit was cut off may safely run again.

Each test works in a database of its own, so the shared test database's pool is not involved.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.db.schema import item_data, items
from haystack_collector.errors import DatabaseConnectionError
from haystack_collector.resilience import DATABASE_POLICY, RetryPolicy
from haystack_collector.store.values import decode
from tests.databases import (
    migrated_database,
    recreate_server_database,
    selected_backends,
    server_database_name,
    server_url,
)

# One per test session: two sessions on the same servers must not drop each other's database.
OUTAGE_DATABASE = f"haystack_outage_test_{os.getpid()}"
ADMIN_DATABASE = {"mariadb": "mysql", "postgresql": "postgres"}
MARIADBD = "/usr/sbin/mariadbd"

# A restart takes a few seconds; a unit caught by it keeps trying for well over ten seconds
# (full jitter: about 14 s on average, and below 10 s only with negligible probability).
PATIENT_POLICY = RetryPolicy(
    attempts=60, initial=0.05, maximum=0.5, retry_on=(DatabaseConnectionError,)
)


# Servers -----------------------------------------------------------------------------------


def _run(*command: str, timeout: float = 30) -> int:
    return subprocess.run(command, capture_output=True, timeout=timeout, check=False).returncode


def _host_port(backend: str) -> tuple[str, int]:
    url = server_url(backend)
    return url.host or "127.0.0.1", url.port or (5432 if backend == "postgresql" else 3306)


def _mariadb_admin(*command: str) -> int:
    host, port = _host_port("mariadb")
    user = server_url("mariadb").username or "root"
    return _run("mariadb-admin", "-h", host, "-P", str(port), "-u", user, *command, timeout=30)


def server_is_up(backend: str) -> bool:
    if backend == "postgresql":
        host, port = _host_port(backend)
        return _run("pg_isready", "-q", "-h", host, "-p", str(port), timeout=10) == 0
    return _mariadb_admin("ping") == 0


def wait_for(condition: Callable[[], bool], timeout: float, interval: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True


def _postgresql_cluster() -> str:
    return max(os.listdir("/etc/postgresql"), key=lambda v: [int(p) for p in v.split(".")])


def _mariadbd_running() -> bool:
    return _run("start-stop-daemon", "--status", "--exec", MARIADBD) == 0


def _start_mariadb() -> None:
    # --oknodo does nothing while an old mariadbd is still on its way out, so wait for it first.
    assert wait_for(lambda: not _mariadbd_running(), 30, interval=0.05), "mariadbd did not exit"
    _run("start-stop-daemon", "--start", "--oknodo", "--background", "--exec", MARIADBD)


def restart_server(backend: str) -> None:
    """Stop the server the way an operator would and start it again; returns once it answers."""
    if backend == "postgresql":
        command = ("pg_ctlcluster", "--skip-systemctl-redirect", _postgresql_cluster(), "main")
        assert _run(*command, "restart", timeout=60) == 0
    else:
        assert _mariadb_admin("shutdown") == 0
        _start_mariadb()
    assert wait_for(lambda: server_is_up(backend), 30, interval=0.05), f"{backend} stayed down"


def ensure_server_up(backend: str) -> None:
    """Start the server if a test left it down, and wait until it answers."""
    if server_is_up(backend):
        return
    if backend == "postgresql":
        _run("pg_ctlcluster", "--skip-systemctl-redirect", _postgresql_cluster(), "main", "start")
    else:
        _start_mariadb()
    assert wait_for(lambda: server_is_up(backend), 60, interval=0.1), f"{backend} stayed down"


def can_restart(backend: str) -> bool:
    local = _host_port(backend)[0] in ("127.0.0.1", "localhost")
    tools = (
        ("pg_ctlcluster", "pg_isready")
        if backend == "postgresql"
        else ("mariadb-admin", "start-stop-daemon")
    )
    return (
        local
        and os.geteuid() == 0
        and all(shutil.which(tool) for tool in tools)
        and (
            os.path.isdir("/etc/postgresql")
            if backend == "postgresql"
            else os.access(MARIADBD, os.X_OK)
        )
    )


def server_backends(*, restart: bool = False) -> list[Any]:
    chosen = selected_backends()
    params = []
    for backend in ("mariadb", "postgresql"):
        marks = [pytest.mark.skipif(backend not in chosen, reason=f"{backend} is not being tested")]
        if restart:
            marks.append(
                pytest.mark.skipif(
                    backend in chosen and not can_restart(backend),
                    reason=f"cannot restart {backend} from here (needs a local server and root)",
                )
            )
        params.append(pytest.param(backend, marks=marks))
    return params


def admin_engine(backend: str) -> Engine:
    return create_engine(
        server_url(backend, ADMIN_DATABASE[backend]),
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
    )


def kill_connections(admin: Engine, backend: str, database: str) -> int:
    """Kill every server connection to ``database`` (but the admin's own); returns how many."""
    with admin.connect() as conn:
        if backend == "postgresql":
            ended = conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": database},
            ).scalars()
            return sum(1 for ok in ended if ok)
        ids = conn.execute(
            text(
                "SELECT ID FROM information_schema.PROCESSLIST"
                " WHERE DB = :name AND ID <> CONNECTION_ID()"
            ),
            {"name": database},
        ).scalars()
        killed = 0
        for connection_id in list(ids):
            try:
                conn.execute(text(f"KILL {int(connection_id)}"))
            except DBAPIError:  # it closed by itself in the meantime (1094, unknown thread)
                continue
            killed += 1
        return killed


@pytest.fixture(autouse=True)
def servers_stay_up() -> Iterator[None]:
    """Whatever happens in a test, the servers answer again after it."""
    yield
    for backend in ("mariadb", "postgresql"):
        if backend in selected_backends():
            ensure_server_up(backend)


@pytest.fixture
def outage_db() -> Iterator[Callable[..., Database]]:
    """A freshly created and migrated database of its own on a server, dropped afterwards."""
    opened: list[tuple[str, Database]] = []

    def open_database(backend: str, **options: Any) -> Database:
        url = recreate_server_database(backend, OUTAGE_DATABASE)
        manager = migrated_database(url.render_as_string(hide_password=False), **options)
        database = manager.__enter__()
        opened.append((backend, database))
        return database

    yield open_database
    for backend, database in opened:
        database.dispose()
        ensure_server_up(backend)
        name = server_database_name(backend, OUTAGE_DATABASE)
        with admin_engine(backend).connect() as conn:
            if backend == "postgresql":
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            else:
                conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))


# The workload ------------------------------------------------------------------------------


class Workload:
    """Threads taking unit numbers in turn and running each unit through ``db.run``.

    A unit stores one item and its data, pauses as the collector would while it works, and
    then writes once more, so a connection killed in the pause breaks an open transaction.
    """

    def __init__(
        self,
        db: Database,
        *,
        prefix: str,
        units: int | None = None,
        threads: int = 8,
        think: float = 0.002,
    ) -> None:
        self.db = db
        self.prefix = prefix
        self.units = units
        self.think = think
        self.done: set[int] = set()
        self.failures: list[tuple[int, BaseException]] = []
        self.attempts = 0
        self.issued = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._work, name=f"workload-{n}", daemon=True)
            for n in range(threads)
        ]

    def uri(self, unit: int) -> str:
        return f"{self.prefix}/{unit}"

    @staticmethod
    def expected_data(unit: int) -> dict[str, list[Any]]:
        return {"unit": [unit], "parts": [unit, unit + 1, unit + 2], "checked": [True]}

    def _unit(self, conn: Connection, unit: int) -> None:
        with self._lock:
            self.attempts += 1
        record = store.ItemRecord(
            uri=self.uri(unit), data={"unit": unit, "parts": [unit, unit + 1, unit + 2]}
        )
        item_id = store.store_items(conn, engine_id=None, records=[record]).item_ids[record.uri]
        time.sleep(self.think)
        store.set_item_data(conn, item_id=item_id, key="checked", value=True)

    def _take(self) -> int | None:
        with self._lock:
            if self._stop.is_set() or (self.units is not None and self.issued >= self.units):
                return None
            self.issued += 1
            return self.issued - 1

    def _work(self) -> None:
        while (unit := self._take()) is not None:
            try:
                self.db.run(self._unit, unit)
            except BaseException as error:
                with self._lock:
                    self.failures.append((unit, error))
            else:
                with self._lock:
                    self.done.add(unit)

    @property
    def finished(self) -> bool:
        return not any(thread.is_alive() for thread in self._threads)

    def progress(self) -> int:
        with self._lock:
            return len(self.done)

    def reached(self, units: int) -> bool:
        """Whether ``units`` units are done, or the workload is over."""
        return self.progress() >= units or self.finished

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float) -> None:
        """Issue no more units, and wait for the ones under way."""
        self._stop.set()
        self.join(timeout)

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        assert self.finished, "workload threads are still running"

    def check(self) -> None:
        """Every unit issued succeeded, and the database holds each unit's data exactly once."""
        assert [f"{unit}: {error!r}" for unit, error in self.failures] == []
        assert self.done == set(range(self.issued))
        stored: dict[str, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
        with self.db.read() as conn:
            uris = Counter(
                conn.execute(
                    select(items.c.ItemURI).where(items.c.ItemURI.like(f"{self.prefix}/%"))
                ).scalars()
            )
            rows = conn.execute(
                select(
                    items.c.ItemURI,
                    item_data.c.itemData,
                    item_data.c.itemDataValue,
                    item_data.c.itemDataType,
                )
                .join(item_data, item_data.c.itemId == items.c.itemId)
                .where(items.c.ItemURI.like(f"{self.prefix}/%"))
                .order_by(items.c.ItemURI, item_data.c.itemData, item_data.c.itemDataSeq)
            )
            for uri, key, value, tag in rows:
                stored[uri][key].append(decode(value, tag))
        assert uris == {self.uri(unit): 1 for unit in self.done}
        mismatched = {
            self.uri(unit): stored[self.uri(unit)]
            for unit in self.done
            if stored[self.uri(unit)] != self.expected_data(unit)
        }
        assert mismatched == {}


def assert_pool_recovered(db: Database) -> None:
    status = db.pool_status()
    assert status.checked_out == 0
    health = db.health_check()
    assert health.ok, health.error
    db.run(lambda conn: conn.execute(text("SELECT 1")).scalar())


# Tests -------------------------------------------------------------------------------------


@pytest.mark.timeout(90)
@pytest.mark.parametrize("backend", server_backends())
def test_units_of_work_survive_their_connections_being_killed(
    backend: str, outage_db: Callable[..., Database]
) -> None:
    units = 300
    db = outage_db(backend, pool_size=4, max_overflow=4)  # the default DATABASE_POLICY
    assert db.retry_policy is DATABASE_POLICY
    workload = Workload(db, prefix=f"https://outage.test/{backend}/killed", units=units)
    admin = admin_engine(backend)
    killed: list[int] = []
    workload.start()
    try:
        for share in (0.15, 0.4, 0.65):
            wait_for(partial(workload.reached, int(share * units)), 30)
            killed.append(
                kill_connections(admin, backend, server_database_name(backend, OUTAGE_DATABASE))
            )
    finally:
        workload.join(timeout=60)
        admin.dispose()

    assert sum(killed) > 0, f"no connection was killed (rounds: {killed})"
    # Some units were cut off in the middle and run again ...
    assert workload.attempts > units
    # ... and still every one of them is stored, once.
    assert workload.issued == units
    workload.check()
    assert_pool_recovered(db)


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("backend", server_backends(restart=True))
def test_units_of_work_survive_a_server_restart(
    backend: str, outage_db: Callable[..., Database]
) -> None:
    db = outage_db(backend, pool_size=4, max_overflow=4, retry_policy=PATIENT_POLICY)
    workload = Workload(db, prefix=f"https://outage.test/{backend}/restarted")
    workload.start()
    try:
        assert wait_for(partial(workload.reached, 30), 20), "the workload did not get going"
        restart_server(backend)
        resumed = workload.progress()
        assert wait_for(partial(workload.reached, resumed + 50), 30), "no progress after"
    finally:
        try:
            workload.stop(timeout=60)
        finally:
            ensure_server_up(backend)

    assert workload.attempts > workload.issued  # units were caught by the restart and retried
    workload.check()
    assert_pool_recovered(db)
