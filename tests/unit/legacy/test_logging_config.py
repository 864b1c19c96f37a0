"""The original logging_config calls, on top of haystack_collector.logs."""

from __future__ import annotations

import contextvars
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from haystack_collector.legacy.logging_config import (
    get_correlation_id,
    get_logger,
    log_performance,
    logging_context,
    set_correlation_id,
    setup_logging,
)
from haystack_collector.logs import reset_logging

T = TypeVar("T")


@pytest.fixture(autouse=True)
def _clean_logging() -> Iterator[None]:
    reset_logging()
    yield
    reset_logging()


def _records(log_dir: Path) -> list[dict[str, Any]]:
    lines = (log_dir / "haystack.json").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def _record(log_dir: Path, message: str) -> dict[str, Any]:
    return next(r for r in _records(log_dir) if r["message"] == message)


def in_own_context(body: Callable[[], T]) -> T:
    """Run ``body`` in a copy of the context, so the ids it sets do not leak into other tests."""
    return contextvars.copy_context().run(body)


def test_the_original_calls_write_debug_lines_with_id_and_context(tmp_path: Path) -> None:
    setup_logging(log_level="DEBUG", log_dir=tmp_path / "logs")
    logger = get_logger("test.logging")

    def body() -> str:
        logger.debug("a debug line")
        correlation_id = set_correlation_id()
        with logging_context(engine_name="test_engine", operation="test_operation", item_id=123):
            logger.info("with context")
        logger.info("after the block")
        return correlation_id

    correlation_id = in_own_context(body)

    assert _record(tmp_path / "logs", "a debug line")["level"] == "DEBUG"
    inside = _record(tmp_path / "logs", "with context")
    assert inside["correlation_id"] == correlation_id
    assert (inside["engine_name"], inside["operation"], inside["item_id"]) == (
        "test_engine",
        "test_operation",
        123,
    )
    assert "engine_name" not in _record(tmp_path / "logs", "after the block")
    assert "with context" in (tmp_path / "logs" / "haystack.log").read_text(encoding="utf-8")


def test_setup_logging_writes_to_a_logs_folder_in_the_working_folder_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    setup_logging()
    get_logger("x").info("hello")

    assert _record(tmp_path / "logs", "hello")["logger"] == "haystack.x"


def test_setup_logging_without_files_writes_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)

    setup_logging(enable_json_logging=False, enable_file_logging=False)
    get_logger("x").warning("to the console")

    assert not (tmp_path / "logs").exists()
    assert "to the console" in capsys.readouterr().err


def test_the_level_filters_lines(tmp_path: Path) -> None:
    setup_logging(log_level="WARNING", log_dir=tmp_path)

    get_logger("x").info("quiet")
    get_logger("x").warning("loud")

    assert [r["message"] for r in _records(tmp_path)] == ["loud"]


def test_set_correlation_id_returns_a_new_id_or_the_one_given() -> None:
    def body() -> None:
        first, second = set_correlation_id(), set_correlation_id()

        assert first != second
        assert get_correlation_id() == second
        assert set_correlation_id("job-42") == "job-42" == get_correlation_id()

    in_own_context(body)


def test_without_a_correlation_id_the_original_placeholder_is_returned() -> None:
    assert contextvars.Context().run(get_correlation_id) == "no-correlation-id"


def test_logging_context_can_scope_a_correlation_id_and_the_other_original_fields(
    tmp_path: Path,
) -> None:
    setup_logging(log_level="INFO", log_dir=tmp_path)

    def body() -> None:
        set_correlation_id("outer")
        with logging_context(correlation_id="inner", engine_id=7, user_id="ann", request_id="r1"):
            get_logger("x").info("scoped")
        get_logger("x").info("unscoped")

    in_own_context(body)

    scoped = _record(tmp_path, "scoped")
    assert (scoped["correlation_id"], scoped["engine_id"], scoped["user_id"]) == ("inner", 7, "ann")
    assert scoped["request_id"] == "r1"
    assert _record(tmp_path, "unscoped")["correlation_id"] == "outer"


def test_get_logger_names_every_logger_inside_the_haystack_tree() -> None:
    assert get_logger("engines.craigslist").name == "haystack.engines.craigslist"
    assert get_logger("haystack.db").name == "haystack.db"


def test_log_performance_logs_the_duration_and_a_failure(tmp_path: Path) -> None:
    setup_logging(log_level="INFO", log_dir=tmp_path)

    @log_performance("database_query")
    def query() -> int:
        return 1

    @log_performance()
    def broken() -> None:
        raise RuntimeError("boom")

    assert query() == 1
    with pytest.raises(RuntimeError):
        broken()

    records = _records(tmp_path)
    assert any(r.get("operation") == "database_query" and "duration_ms" in r for r in records)
    failed = next(r for r in records if r.get("error_type") == "RuntimeError")
    assert failed["operation"].endswith("broken")
