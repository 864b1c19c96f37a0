"""Engines declare actions and settings in code; the registry finds them, skipping bad plugins."""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Iterator

import pytest

from haystack_collector.engines import (
    ActionSpec,
    Engine,
    NoSettings,
    get_engine,
    item_action,
    registry,
    start_action,
)
from haystack_collector.errors import ConfigError, NotFoundError
from tests.unit.engines.sample_engines import Broken, Echo, EchoSettings

MODULE = "tests.unit.engines.sample_engines"


def test_actions_are_declared_with_decorators_and_keep_their_kind() -> None:
    assert Echo.actions() == {
        "echo-search": ActionSpec(
            "echo-search", "start", "search", "Store the seeds", {"depth": 1}
        ),
        "echo-extract": ActionSpec(
            "echo-extract", "item", "extract", "Echo an item's URI into its data"
        ),
    }
    assert [spec.name for spec in Echo.start_actions()] == ["echo-search"]


def test_a_subclass_inherits_actions_and_may_override_them() -> None:
    class Louder(Echo):
        name = "louder"

        @start_action("echo-search", description="Louder")
        def shout(self, ctx: object) -> None: ...

        @item_action("other")
        def other(self, ctx: object, task: object) -> None: ...

    actions = Louder.actions()
    assert actions["echo-search"].function == "shout"
    assert set(actions) == {"echo-search", "echo-extract", "other"}


def test_an_action_needs_a_name() -> None:
    with pytest.raises(ValueError, match="needs a name"):
        start_action(" ")


def test_settings_are_validated_into_the_engines_model() -> None:
    settings = Echo.validate_settings({"seeds": ["https://x.test/"], "pages": 3})
    assert settings == EchoSettings(seeds=["https://x.test/"], pages=3)
    assert Echo.validate_settings(None) == EchoSettings()


def test_bad_settings_name_each_field_and_the_engine() -> None:
    with pytest.raises(ConfigError) as raised:
        Echo.validate_settings({"pages": 0, "seeds": "not-a-list"})
    message = str(raised.value)
    assert message.startswith("engine 'echo-test' settings are invalid: ")
    assert "pages: Input should be greater than or equal to 1" in message
    assert "seeds: Input should be a valid list" in message


def test_an_engine_without_settings_refuses_any() -> None:
    assert Broken.Settings is NoSettings
    with pytest.raises(ConfigError, match="unexpected: Extra inputs are not permitted"):
        Broken.validate_settings({"unexpected": 1})


def test_the_settings_schema_is_pydantics_json_schema() -> None:
    schema = Echo.settings_schema()
    assert schema["title"] == "EchoSettings"
    assert schema["properties"]["pages"] == {
        "default": 1,
        "minimum": 1,
        "title": "Pages",
        "type": "integer",
    }


# --- discovery ----------------------------------------------------------------------------


def _entry_point(name: str, value: str) -> importlib.metadata.EntryPoint:
    return importlib.metadata.EntryPoint(name, value, registry.ENTRY_POINT_GROUP)


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[importlib.metadata.EntryPoint]]:
    """Only the engines the test installs: no built-ins, entry points from the test's list."""
    points: list[importlib.metadata.EntryPoint] = []
    monkeypatch.setattr(registry, "BUILTIN_ENGINES", [])
    monkeypatch.setattr(registry, "engine_entry_points", lambda: points)
    registry.discover(refresh=True)
    yield points
    monkeypatch.undo()
    registry.discover(refresh=True)


def test_entry_points_are_discovered_by_engine_name(
    installed: list[importlib.metadata.EntryPoint],
) -> None:
    installed.append(_entry_point("echo", f"{MODULE}:Echo"))
    registry.discover(refresh=True)
    assert get_engine("echo-test") is Echo
    assert Echo in registry.all_engines()


def test_a_broken_entry_point_is_logged_and_skipped(
    installed: list[importlib.metadata.EntryPoint], caplog: pytest.LogCaptureFixture
) -> None:
    installed.extend(
        [
            _entry_point("missing", "tests.unit.engines.no_such_module:Engine"),
            _entry_point("wrong", f"{MODULE}:NotAnEngine"),
            _entry_point("echo", f"{MODULE}:Echo"),
        ]
    )
    with caplog.at_level(logging.ERROR, logger="haystack.engines.registry"):
        found = registry.discover(refresh=True)
    assert found == {"echo-test": Echo}
    messages = [record.getMessage() for record in caplog.records]
    assert any("missing" in m and "ModuleNotFoundError" in m for m in messages)
    assert any("wrong" in m and "not a named Engine subclass" in m for m in messages)


def test_builtin_engines_win_over_entry_points_of_the_same_name(
    installed: list[importlib.metadata.EntryPoint], monkeypatch: pytest.MonkeyPatch
) -> None:
    class Builtin(Engine):
        name = "echo-test"

    monkeypatch.setattr(registry, "BUILTIN_ENGINES", [Builtin])
    installed.append(_entry_point("echo", f"{MODULE}:Echo"))
    assert registry.discover(refresh=True)["echo-test"] is Builtin


def test_an_unknown_engine_is_a_clear_not_found_error(
    installed: list[importlib.metadata.EntryPoint],
) -> None:
    installed.append(_entry_point("echo", f"{MODULE}:Echo"))
    registry.discover(refresh=True)
    with pytest.raises(NotFoundError, match=r"no engine named 'nope' \(known engines: echo-test\)"):
        get_engine("nope")


def test_the_real_lookup_reads_the_engines_group() -> None:
    assert all(p.group == registry.ENTRY_POINT_GROUP for p in registry.engine_entry_points())
