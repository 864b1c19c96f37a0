"""The run executor's action selection and the API's SSRF check of settings (no database)."""

from __future__ import annotations

import asyncio
import re
from typing import Any, cast

import pytest

from haystack_collector.api.routes.runs import check_settings_urls
from haystack_collector.db import Database
from haystack_collector.errors import ConfigError, NotFoundError
from haystack_collector.runs import _only, execute_run
from tests.integration.api.runs_fixtures import Seeds

NO_DATABASE = cast(Database, None)  # the checks below fail before any database call


def check(settings: Any, *, allow_private: bool = False) -> None:
    asyncio.run(check_settings_urls(settings, allow_private=allow_private))


@pytest.mark.parametrize(
    ("settings", "where", "reason"),
    [
        ({"url": "http://127.0.0.1:8000/"}, "url", "loopback"),
        ({"url": "HTTP://LocalHost/admin"}, "url", "loopback"),
        ({"url": "http://[::1]/"}, "url", "loopback"),
        ({"url": "http://169.254.169.254/latest/meta-data"}, "url", "link-local"),
        ({"feeds": ["https://93.184.216.34/", "https://10.1.2.3/feed"]}, "feeds.1", "private"),
        ({"nested": {"mirror": "ftp://192.168.0.7/pub"}}, "nested.mirror", "private"),
        ({"url": "http://[::ffff:127.0.0.1]/"}, "url", "loopback"),
        ("http://0.0.0.0/", "(settings)", "unspecified"),
    ],
)
def test_urls_to_private_hosts_are_refused_naming_the_setting(
    settings: Any, where: str, reason: str
) -> None:
    with pytest.raises(
        ConfigError, match=rf"^{re.escape(where)}: .*\({reason}\).*API_ALLOW_PRIVATE"
    ) as info:
        check(settings)
    assert info.value.setting == where


def test_public_urls_and_other_strings_pass() -> None:
    check(
        {
            "url": "https://93.184.216.34/start",
            "allowed_domains": ["example.com", "sub.example.com"],
            "path": "/var/lib/haystack",
            "note": "not a URL at all: 127.0.0.1",
            "mailto": "mailto:someone@127.0.0.1",
            "count": 3,
            "flag": True,
            "nothing": None,
        }
    )


def test_private_urls_pass_when_the_api_allows_them() -> None:
    check({"url": "http://127.0.0.1:8000/"}, allow_private=True)


def test_a_malformed_url_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"^url: not a valid URL"):
        check({"url": "http://93.184.216.34:99999/"})


def test_an_unknown_action_is_not_run() -> None:
    with pytest.raises(NotFoundError, match="has no start action 'nope'"):
        execute_run(Seeds, NO_DATABASE, action="nope", settings={})


def test_an_item_action_is_not_run_as_a_start_action() -> None:
    with pytest.raises(NotFoundError, match="has no start action 'visit'"):
        execute_run(Seeds, NO_DATABASE, action="visit", settings={})


def test_a_named_start_action_runs_alone_under_the_engines_name() -> None:
    spec = Seeds.actions()["seed-one"]
    only = _only(Seeds, spec)

    assert only.start_actions() == [spec]
    assert (only.name, only.version, only.Settings) == (Seeds.name, Seeds.version, Seeds.Settings)
    assert issubclass(only, Seeds)
    assert [s.name for s in Seeds.start_actions()] == ["seed-many", "seed-one"]
