"""Specification of haystack_collector.logs: outputs, context, correlation, redaction, timing."""

from __future__ import annotations

import asyncio
import contextvars
import io
import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from haystack_collector import logs
from haystack_collector.errors import ConfigError, RateLimitError
from haystack_collector.logs import (
    ContextFilter,
    correlation_scope,
    get_correlation_id,
    get_log_context,
    get_logger,
    log_performance,
    logging_context,
    redact,
    reset_logging,
    set_correlation_id,
    setup_logging,
)

EXAMPLE_LINE = (
    "[2025-08-03 13:50:27.376] INFO [91207f18] [craigslist:scrape] "
    "haystack.engines.craigslist: Processing job listing"
)
CONSOLE_LINE = re.compile(
    r"\[(?P<timestamp>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3})\] "
    r"(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL) "
    r"\[(?P<cid>[0-9a-f]{8}|-)\] "
    r"(?:\[(?P<scope>[^\]]+)\] )?"
    r"(?P<logger>haystack(?:\.[\w.]+)?): "
    r"(?P<message>.*)"
)
ANSI = "\x1b["


@pytest.fixture(autouse=True)
def _clean_logging() -> Iterator[None]:
    """Every test starts and ends without Haystack handlers, so nothing leaks between files."""
    reset_logging()
    yield
    reset_logging()


@pytest.fixture
def log() -> logging.Logger:
    return get_logger("haystack.engines.craigslist")


def read_json(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def console_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("[")]


class TtyStream(io.StringIO):
    def isatty(self) -> bool:
        return True


# --- loggers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("haystack", "haystack"),
        ("haystack.engines.craigslist", "haystack.engines.craigslist"),
        ("haystack_collector", "haystack"),
        ("haystack_collector.db.store", "haystack.db.store"),
        ("engines.rss", "haystack.engines.rss"),
    ],
)
def test_get_logger_places_every_name_under_the_haystack_tree(name: str, expected: str) -> None:
    assert get_logger(name).name == expected


def test_setup_leaves_the_root_logger_alone(tmp_path: Path) -> None:
    root = logging.getLogger()
    handlers_before, level_before = list(root.handlers), root.level

    setup_logging("DEBUG", tmp_path)

    assert root.handlers == handlers_before
    assert root.level == level_before


def test_unknown_level_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="nonsense"):
        setup_logging("nonsense")


def test_level_names_are_case_insensitive() -> None:
    assert setup_logging("debug", console=False).level == logging.DEBUG


# --- JSON files ------------------------------------------------------------------------------


def test_json_record_carries_core_fields_context_and_extras(
    tmp_path: Path, log: logging.Logger
) -> None:
    setup_logging("INFO", tmp_path, console=False)
    before = datetime.now(UTC)

    with (
        correlation_scope("91207f18"),
        logging_context(engine_name="craigslist", operation="scrape", item_id=42, region="sfbay"),
    ):
        log.info("Processing %s", "job listing", extra={"price": 1200, "tags": ["a", "b"]})

    [record] = read_json(tmp_path / "haystack.json")
    assert record["level"] == "INFO"
    assert record["logger"] == "haystack.engines.craigslist"
    assert record["message"] == "Processing job listing"
    assert record["correlation_id"] == "91207f18"
    assert record["engine_name"] == "craigslist"
    assert record["operation"] == "scrape"
    assert record["item_id"] == 42
    assert record["region"] == "sfbay"
    assert record["price"] == 1200
    assert record["tags"] == ["a", "b"]
    assert "exception" not in record
    stamp = datetime.fromisoformat(record["timestamp"])
    assert stamp.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=1) <= stamp <= datetime.now(UTC) + timedelta(seconds=1)


def test_json_correlation_id_is_null_outside_any_scope(tmp_path: Path, log: logging.Logger) -> None:
    setup_logging("INFO", tmp_path, console=False)

    log.info("no request in flight")

    [record] = read_json(tmp_path / "haystack.json")
    assert record["correlation_id"] is None


def test_errors_file_only_gets_error_and_above(tmp_path: Path, log: logging.Logger) -> None:
    setup_logging("DEBUG", tmp_path, console=False)

    log.debug("d")
    log.info("i")
    log.warning("w")
    log.error("e")
    log.critical("c")

    assert [r["message"] for r in read_json(tmp_path / "haystack.json")] == list("diwec")
    assert [r["level"] for r in read_json(tmp_path / "haystack_errors.json")] == [
        "ERROR",
        "CRITICAL",
    ]


def test_json_false_writes_only_the_human_log(tmp_path: Path, log: logging.Logger) -> None:
    setup_logging("INFO", tmp_path, json=False, console=False)

    log.error("only text")

    assert sorted(p.name for p in tmp_path.iterdir()) == ["haystack.log"]


def test_log_dir_is_created_if_missing(tmp_path: Path, log: logging.Logger) -> None:
    log_dir = tmp_path / "var" / "log" / "haystack"

    setup_logging("INFO", log_dir, console=False)
    log.info("hello")

    assert (log_dir / "haystack.log").read_text(encoding="utf-8").endswith("hello\n")


def raise_value_error() -> None:
    raise ValueError("bad listing price")


def test_exception_is_recorded_with_type_message_and_stack(
    tmp_path: Path, log: logging.Logger
) -> None:
    setup_logging("INFO", tmp_path, console=False)

    try:
        raise_value_error()
    except ValueError:
        log.exception("could not parse listing")

    [record] = read_json(tmp_path / "haystack_errors.json")
    exception = record["exception"]
    assert exception["type"] == "ValueError"
    assert exception["message"] == "bad listing price"
    assert exception["stack"].startswith("Traceback (most recent call last):")
    assert "in raise_value_error" in exception["stack"]
    assert exception["stack"].rstrip().endswith("ValueError: bad listing price")
    human = (tmp_path / "haystack.log").read_text(encoding="utf-8")
    assert "Traceback (most recent call last):" in human


def test_haystack_error_context_is_kept_structured(tmp_path: Path, log: logging.Logger) -> None:
    setup_logging("INFO", tmp_path, console=False)

    try:
        raise RateLimitError("slow down", retry_after=30.0)
    except RateLimitError:
        log.exception("fetch failed")

    [record] = read_json(tmp_path / "haystack_errors.json")
    assert record["exception"]["type"] == "haystack_collector.errors.RateLimitError"
    assert record["exception"]["context"] == {"retry_after": 30.0}


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no")

    __repr__ = __str__


def test_json_never_crashes_on_odd_values(tmp_path: Path, log: logging.Logger) -> None:
    setup_logging("INFO", tmp_path, console=False)
    circular: dict[str, Any] = {}
    circular["self"] = circular

    log.info("odd", extra={"when": datetime(2025, 8, 3, tzinfo=UTC), "raw": b"\x00", "s": {1}})
    log.info("unprintable", extra={"thing": Unprintable()})
    log.info("circular", extra={"loop": circular})
    log.info("tuple keys", extra={"mapping": {(1, 2): "x"}})

    records = read_json(tmp_path / "haystack.json")
    assert [r["message"] for r in records] == ["odd", "unprintable", "circular", "tuple keys"]
    assert records[0]["when"] == "2025-08-03 00:00:00+00:00"
    assert records[1]["thing"] == "<unprintable Unprintable>"


# --- context ---------------------------------------------------------------------------------


def test_logging_context_nests_overrides_and_restores() -> None:
    assert get_log_context() == {}
    with logging_context(engine_name="craigslist", operation="scrape"):
        with logging_context(operation="parse", item_id=7, page=2) as inner:
            assert inner == {
                "engine_name": "craigslist",
                "operation": "parse",
                "item_id": 7,
                "page": 2,
            }
        assert get_log_context() == {"engine_name": "craigslist", "operation": "scrape"}
    assert get_log_context() == {}


def test_context_is_restored_even_when_the_block_raises() -> None:
    with pytest.raises(KeyError), logging_context(engine_name="rss"):
        raise KeyError("x")
    assert get_log_context() == {}


def test_every_record_inside_a_context_gets_its_fields(tmp_path: Path, log: logging.Logger) -> None:
    setup_logging("INFO", tmp_path, console=False)

    with logging_context(engine_name="craigslist"):
        log.info("one")
        with logging_context(operation="scrape"):
            log.info("two")
        log.info("three")
    log.info("four")

    records = read_json(tmp_path / "haystack.json")
    assert [(r.get("engine_name"), r.get("operation")) for r in records] == [
        ("craigslist", None),
        ("craigslist", "scrape"),
        ("craigslist", None),
        (None, None),
    ]


def test_extra_fields_override_context_fields(tmp_path: Path, log: logging.Logger) -> None:
    setup_logging("INFO", tmp_path, console=False)

    with logging_context(operation="scrape"):
        log.info("step", extra={"operation": "parse"})

    [record] = read_json(tmp_path / "haystack.json")
    assert record["operation"] == "parse"


# --- correlation ids -------------------------------------------------------------------------


def test_set_correlation_id_generates_a_short_hex_id_for_the_current_context() -> None:
    def in_fresh_context() -> tuple[str, str | None]:
        return set_correlation_id(), get_correlation_id()

    generated, seen = contextvars.copy_context().run(in_fresh_context)

    assert re.fullmatch(r"[0-9a-f]{8}", generated)
    assert seen == generated
    assert get_correlation_id() is None  # the caller's context is untouched


def test_set_correlation_id_keeps_a_given_id() -> None:
    assert contextvars.copy_context().run(set_correlation_id, "req-1") == "req-1"


def test_correlation_scope_sets_and_restores() -> None:
    with correlation_scope("outer111") as outer:
        assert outer == "outer111"
        with correlation_scope() as inner:
            assert re.fullmatch(r"[0-9a-f]{8}", inner)
            assert get_correlation_id() == inner
        assert get_correlation_id() == "outer111"
    assert get_correlation_id() is None


async def test_asyncio_task_inherits_the_correlation_id_it_was_created_with() -> None:
    async def child() -> str | None:
        await asyncio.sleep(0)
        return get_correlation_id()

    with correlation_scope("parent01"):
        task = asyncio.create_task(child())
    # The scope has ended before the task runs; the task copied the context at creation.
    assert await task == "parent01"


async def test_concurrent_tasks_keep_their_own_correlation_ids(
    tmp_path: Path, log: logging.Logger
) -> None:
    setup_logging("INFO", tmp_path, console=False)
    b_has_set_its_id = asyncio.Event()

    async def task_a() -> None:
        set_correlation_id("aaaa1111")
        await b_has_set_its_id.wait()
        log.info("from a")

    async def task_b() -> None:
        set_correlation_id("bbbb2222")
        b_has_set_its_id.set()
        await asyncio.sleep(0)
        log.info("from b")

    await asyncio.gather(task_a(), task_b())

    ids = {r["message"]: r["correlation_id"] for r in read_json(tmp_path / "haystack.json")}
    assert ids == {"from a": "aaaa1111", "from b": "bbbb2222"}
    assert get_correlation_id() is None  # tasks never leak into their parent


def test_threads_started_with_copy_context_see_id_and_context(
    tmp_path: Path, log: logging.Logger
) -> None:
    setup_logging("INFO", tmp_path, console=False)

    with correlation_scope("thread01"), logging_context(engine_name="craigslist"):
        ctx = contextvars.copy_context()
        copied = threading.Thread(target=ctx.run, args=(log.info, "copied"))
        plain = threading.Thread(target=log.info, args=("plain",))
        copied.start()
        plain.start()
        copied.join()
        plain.join()

    records = {r["message"]: r for r in read_json(tmp_path / "haystack.json")}
    assert records["copied"]["correlation_id"] == "thread01"
    assert records["copied"]["engine_name"] == "craigslist"
    # A plain thread starts from an empty context; that is why copy_context is needed.
    assert records["plain"]["correlation_id"] is None
    assert "engine_name" not in records["plain"]


def test_executor_jobs_submitted_through_copy_context_see_the_id() -> None:
    with correlation_scope("pool0001"), ThreadPoolExecutor(max_workers=2) as pool:
        futures = [
            pool.submit(contextvars.copy_context().run, get_correlation_id) for _ in range(4)
        ]
        assert [f.result() for f in futures] == ["pool0001"] * 4


async def test_to_thread_carries_the_id() -> None:
    with correlation_scope("tothread"):
        assert await asyncio.to_thread(get_correlation_id) == "tothread"


# --- console ---------------------------------------------------------------------------------


def test_the_issue_example_matches_the_console_pattern() -> None:
    match = CONSOLE_LINE.fullmatch(EXAMPLE_LINE)
    assert match is not None
    assert match["scope"] == "craigslist:scrape"


def test_console_line_has_the_documented_format(
    capsys: pytest.CaptureFixture[str], log: logging.Logger
) -> None:
    setup_logging("INFO")

    with (
        correlation_scope("91207f18"),
        logging_context(engine_name="craigslist", operation="scrape"),
    ):
        log.info("Processing job listing")

    [line] = console_lines(capsys.readouterr().err)
    match = CONSOLE_LINE.fullmatch(line)
    assert match is not None, line
    assert line == EXAMPLE_LINE.replace("2025-08-03 13:50:27.376", match["timestamp"])
    stamp = datetime.strptime(match["timestamp"], "%Y-%m-%d %H:%M:%S.%f")
    assert abs(stamp - datetime.now()) < timedelta(seconds=5)


@pytest.mark.parametrize(
    ("engine", "operation", "expected"),
    [
        ("craigslist", None, "[-] [craigslist] haystack.engines.craigslist: hi"),
        (None, "scrape", "[-] [scrape] haystack.engines.craigslist: hi"),
        (None, None, "[-] haystack.engines.craigslist: hi"),
    ],
)
def test_console_scope_bracket_shows_what_is_set(
    capsys: pytest.CaptureFixture[str],
    log: logging.Logger,
    engine: str | None,
    operation: str | None,
    expected: str,
) -> None:
    setup_logging("INFO")

    with logging_context(engine_name=engine, operation=operation):
        log.info("hi")

    [line] = console_lines(capsys.readouterr().err)
    assert CONSOLE_LINE.fullmatch(line)
    assert line.endswith("] INFO " + expected)


@pytest.fixture
def kathmandu_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A UTC+05:45 local zone, so local and UTC timestamps cannot coincide by accident."""
    if not hasattr(time, "tzset"):
        pytest.skip("time.tzset is POSIX only")
    monkeypatch.setenv("TZ", "NPT-05:45")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("kathmandu_time")
def test_human_timestamps_are_local_and_json_timestamps_utc(
    tmp_path: Path, log: logging.Logger
) -> None:
    setup_logging("INFO", tmp_path, console=False)

    log.info("when")

    [line] = (tmp_path / "haystack.log").read_text(encoding="utf-8").splitlines()
    match = CONSOLE_LINE.fullmatch(line)
    assert match is not None
    local = datetime.strptime(match["timestamp"], "%Y-%m-%d %H:%M:%S.%f")
    [record] = read_json(tmp_path / "haystack.json")
    utc = datetime.fromisoformat(record["timestamp"]).replace(tzinfo=None)
    assert local - utc == timedelta(hours=5, minutes=45)


def test_no_colour_when_the_stream_is_not_a_tty(
    capsys: pytest.CaptureFixture[str], log: logging.Logger
) -> None:
    setup_logging("INFO")

    log.warning("plain")

    assert ANSI not in capsys.readouterr().err


def test_level_is_coloured_on_a_tty_but_never_in_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, log: logging.Logger
) -> None:
    tty = TtyStream()
    monkeypatch.setattr("sys.stderr", tty)
    setup_logging("INFO", tmp_path)

    log.info("coloured")

    assert "] \x1b[32mINFO\x1b[0m [-] " in tty.getvalue()
    assert ANSI not in (tmp_path / "haystack.log").read_text(encoding="utf-8")


def test_setup_twice_replaces_its_handlers_instead_of_duplicating(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, log: logging.Logger
) -> None:
    setup_logging("INFO", tmp_path)
    setup_logging("INFO", tmp_path)

    log.info("once")

    assert len(console_lines(capsys.readouterr().err)) == 1
    assert len((tmp_path / "haystack.log").read_text(encoding="utf-8").splitlines()) == 1
    assert len(read_json(tmp_path / "haystack.json")) == 1


def test_setup_keeps_handlers_it_did_not_install(tmp_path: Path, log: logging.Logger) -> None:
    haystack = logging.getLogger("haystack")
    own = logging.NullHandler()
    haystack.addHandler(own)
    try:
        setup_logging("INFO", tmp_path, console=False)
        setup_logging("INFO", tmp_path, console=False)
        reset_logging()
        assert haystack.handlers == [own]
    finally:
        haystack.removeHandler(own)


def test_reset_logging_removes_what_setup_installed(tmp_path: Path) -> None:
    setup_logging("DEBUG", tmp_path)

    reset_logging()

    haystack = logging.getLogger("haystack")
    assert haystack.handlers == []
    assert haystack.level == logging.NOTSET
    assert haystack.propagate


# --- redaction -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mysql+pymysql://user:pw@host/db", "mysql+pymysql://user:***@host/db"),
        (
            "connect postgresql://app:s3cr3t@db:5432/hay ok",
            "connect postgresql://app:***@db:5432/hay ok",
        ),
        ("redis://:hunter2@cache:6379/0", "redis://:***@cache:6379/0"),
        ("mysql://u:p@ss:w@rd@host/db", "mysql://u:***@host/db"),
        ("https://example.com/a?api_key=abc123&q=jobs", "https://example.com/a?api_key=***&q=jobs"),
        ("login password=hunter2 done", "login password=*** done"),
        ("https://user@example.com/x", "https://user@example.com/x"),
        ("http://example.com:8080/path", "http://example.com:8080/path"),
        ("page=2 region=sfbay", "page=2 region=sfbay"),
        ("nothing to see", "nothing to see"),
    ],
)
def test_redact_masks_passwords_in_urls_and_secret_parameters(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_secret_fields_and_urls_never_reach_the_files(tmp_path: Path, log: logging.Logger) -> None:
    setup_logging("INFO", tmp_path, console=False)

    with logging_context(engine_name="api", token="ctx-token-value"):
        log.info(
            "connecting to %s",
            "mysql+pymysql://user:pw-in-args@host/db",
            extra={
                "password": "pw-field",
                "db_passwd": "pw-field-2",
                "api_key": "key-value",
                "client_secret": "secret-value",
                "headers": {"Authorization": "Bearer bearer-value", "Accept": "text/html"},
                "dsn": "postgresql://app:pw-in-dsn@db/hay",
                "user": "alice",
            },
        )

    for path in (tmp_path / "haystack.json", tmp_path / "haystack.log"):
        text = path.read_text(encoding="utf-8")
        for secret in ("ctx-token-value", "pw-in-args", "pw-field", "key-value", "secret-value"):
            assert secret not in text
        assert "bearer-value" not in text
        assert "pw-in-dsn" not in text
    [record] = read_json(tmp_path / "haystack.json")
    assert record["message"] == "connecting to mysql+pymysql://user:***@host/db"
    assert record["token"] == "***"
    assert record["password"] == "***"
    assert record["db_passwd"] == "***"
    assert record["api_key"] == "***"
    assert record["client_secret"] == "***"
    assert record["headers"] == {"Authorization": "***", "Accept": "text/html"}
    assert record["dsn"] == "postgresql://app:***@db/hay"
    assert record["user"] == "alice"
    assert record["engine_name"] == "api"


def test_tokens_and_webhook_urls_are_masked_by_value_in_message_and_fields(
    tmp_path: Path, log: logging.Logger
) -> None:
    setup_logging("INFO", tmp_path, console=False)
    github = "ghp_" + "Zx9kQ2vL8mN4pR7tY1wB6cD3fG5hJ0sAqq"
    slack = "https://hooks.slack.com/services/T0AAAA/B0BBBB/hooksecretvalue123456"

    log.warning(
        "cloned https://%s@github.com/o/r, notified %s",
        github,
        slack,
        extra={"target": slack, "remote": f"https://alice:{github}@github.com"},
    )

    for path in (tmp_path / "haystack.json", tmp_path / "haystack.log"):
        text = path.read_text(encoding="utf-8")
        assert github not in text
        assert "hooksecretvalue123456" not in text
    [record] = read_json(tmp_path / "haystack.json")
    assert record["message"] == (
        "cloned https://***@github.com/o/r, notified https://hooks.slack.com/services/***"
    )
    assert record["target"] == "https://hooks.slack.com/services/***"
    assert record["remote"] == "https://alice:***@github.com"


class Point(NamedTuple):
    x: int
    y: int


class BrokenMapping(dict[str, str]):
    def items(self) -> Any:
        raise RuntimeError("cannot iterate")


def test_redaction_never_breaks_the_log_call(tmp_path: Path, log: logging.Logger) -> None:
    setup_logging("INFO", tmp_path, console=False)

    log.info("odd containers", extra={"point": Point(1, 2), "broken": BrokenMapping(a="b")})

    [record] = read_json(tmp_path / "haystack.json")
    assert record["point"] == [1, 2]
    assert record["broken"] == "***"


def test_exception_text_is_redacted(tmp_path: Path, log: logging.Logger) -> None:
    setup_logging("INFO", tmp_path, console=False)

    try:
        raise ConnectionError("cannot reach mysql://app:hunter2@db/hay")
    except ConnectionError:
        log.exception("database down")

    text = (tmp_path / "haystack_errors.json").read_text(encoding="utf-8")
    assert "hunter2" not in text
    [record] = read_json(tmp_path / "haystack_errors.json")
    assert record["exception"]["message"] == "cannot reach mysql://app:***@db/hay"
    assert "hunter2" not in (tmp_path / "haystack.log").read_text(encoding="utf-8")


# --- laziness --------------------------------------------------------------------------------


class CountsStr:
    def __init__(self) -> None:
        self.calls = 0

    def __str__(self) -> str:
        self.calls += 1
        return "expensive"

    __repr__ = __str__


def test_disabled_level_never_stringifies_arguments_or_runs_filters(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, log: logging.Logger
) -> None:
    setup_logging("INFO", tmp_path)
    filter_calls: list[logging.LogRecord] = []
    original = ContextFilter.filter

    def spy(self: ContextFilter, record: logging.LogRecord) -> bool:
        filter_calls.append(record)
        return original(self, record)

    monkeypatch.setattr(ContextFilter, "filter", spy)
    value = CountsStr()

    with correlation_scope("lazy0001"), logging_context(engine_name="x"):
        log.debug("value is %s", value)

    assert value.calls == 0
    assert filter_calls == []
    assert read_json(tmp_path / "haystack.json") == []


def test_enabled_level_stringifies_the_argument_once_per_output(
    tmp_path: Path, log: logging.Logger
) -> None:
    """The control for the test above: the counter does see formatting when it happens."""
    setup_logging("INFO", tmp_path, console=False)
    value = CountsStr()

    log.info("value is %s", value)

    assert value.calls >= 1
    [record] = read_json(tmp_path / "haystack.json")
    assert record["message"] == "value is expensive"


# --- rotation --------------------------------------------------------------------------------


def test_files_rotate_by_size_keeping_backup_count(tmp_path: Path, log: logging.Logger) -> None:
    setup_logging("INFO", tmp_path, console=False, max_bytes=300, backup_count=2)

    for n in range(60):
        log.error("line %03d with some padding to fill the file", n)

    names = {p.name for p in tmp_path.iterdir()}
    for base in ("haystack.log", "haystack.json", "haystack_errors.json"):
        assert {base, f"{base}.1", f"{base}.2"} <= names
        assert f"{base}.3" not in names
    assert (tmp_path / "haystack.log").stat().st_size <= 300
    last = read_json(tmp_path / "haystack.json")[-1]
    assert last["message"].startswith("line 059")


# --- log_performance -------------------------------------------------------------------------


@pytest.fixture
def perf_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="haystack.performance")
    return caplog


def test_log_performance_decorates_a_sync_function(perf_log: pytest.LogCaptureFixture) -> None:
    @log_performance("parse_listing")
    def parse(text: str) -> int:
        time.sleep(0.01)
        return len(text)

    assert parse("abc") == 3

    [record] = perf_log.records
    assert parse.__name__ == "parse"
    assert record.levelno == logging.DEBUG
    assert record.name == "haystack.performance"
    assert record.operation == "parse_listing"  # type: ignore[attr-defined]
    assert record.duration_ms >= 10  # type: ignore[attr-defined]
    assert record.getMessage().startswith("parse_listing took ")


async def test_log_performance_decorates_an_async_function(
    perf_log: pytest.LogCaptureFixture,
) -> None:
    @log_performance("fetch_page")
    async def fetch(url: str) -> str:
        await asyncio.sleep(0.01)
        return url

    assert asyncio.iscoroutinefunction(fetch)
    assert await fetch("https://example.com") == "https://example.com"

    [record] = perf_log.records
    assert record.operation == "fetch_page"  # type: ignore[attr-defined]
    assert record.duration_ms >= 10  # type: ignore[attr-defined]


def test_log_performance_times_a_with_block(perf_log: pytest.LogCaptureFixture) -> None:
    with log_performance("store_batch"):
        time.sleep(0.01)

    [record] = perf_log.records
    assert record.operation == "store_batch"  # type: ignore[attr-defined]
    assert record.duration_ms >= 10  # type: ignore[attr-defined]
    assert record.funcName == "test_log_performance_times_a_with_block"


def test_log_performance_can_log_at_info_on_a_chosen_logger(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="haystack.engines.rss")

    with log_performance("poll", logger="haystack.engines.rss", level=logging.INFO):
        pass

    [record] = caplog.records
    assert (record.name, record.levelno) == ("haystack.engines.rss", logging.INFO)


def test_log_performance_failure_logs_a_warning_and_reraises(
    perf_log: pytest.LogCaptureFixture,
) -> None:
    @log_performance("parse_listing")
    def parse() -> None:
        raise ValueError("no price")

    with pytest.raises(ValueError, match="no price"):
        parse()

    [record] = perf_log.records
    assert record.levelno == logging.WARNING
    assert record.operation == "parse_listing"  # type: ignore[attr-defined]
    assert record.error == "no price"  # type: ignore[attr-defined]
    assert record.error_type == "ValueError"  # type: ignore[attr-defined]
    assert record.duration_ms >= 0  # type: ignore[attr-defined]
    assert "no price" in record.getMessage()


async def test_log_performance_async_failure_logs_a_warning_and_reraises(
    perf_log: pytest.LogCaptureFixture,
) -> None:
    @log_performance("fetch_page")
    async def fetch() -> None:
        raise TimeoutError("slow site")

    with pytest.raises(TimeoutError):
        await fetch()

    [record] = perf_log.records
    assert (record.levelno, record.error_type) == (logging.WARNING, "TimeoutError")  # type: ignore[attr-defined]


def test_log_performance_with_block_failure_reraises(
    perf_log: pytest.LogCaptureFixture,
) -> None:
    with pytest.raises(KeyError), log_performance("lookup"):
        raise KeyError("missing")

    [record] = perf_log.records
    assert record.levelno == logging.WARNING


async def test_cancellation_is_not_reported_as_a_failure(
    perf_log: pytest.LogCaptureFixture,
) -> None:
    @log_performance("long_poll")
    async def poll() -> None:
        await asyncio.sleep(10)

    task = asyncio.create_task(poll())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert perf_log.records == []


def test_log_performance_is_silent_when_its_level_is_off(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="haystack.performance")

    with log_performance("quiet"):
        pass

    assert caplog.records == []


def test_log_performance_records_carry_the_surrounding_context(
    tmp_path: Path,
) -> None:
    setup_logging("DEBUG", tmp_path, console=False)

    with (
        correlation_scope("perf0001"),
        logging_context(engine_name="craigslist"),
        log_performance("scrape_page"),
    ):
        pass

    [record] = read_json(tmp_path / "haystack.json")
    assert record["correlation_id"] == "perf0001"
    assert record["engine_name"] == "craigslist"
    assert record["operation"] == "scrape_page"
    assert isinstance(record["duration_ms"], float)


def test_module_exports_its_public_api() -> None:
    assert set(logs.__all__) <= set(dir(logs))
