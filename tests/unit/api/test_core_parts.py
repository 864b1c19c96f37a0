"""The API core's pure parts: token buckets, correlation ids, loopback, host merging, SSE."""

from __future__ import annotations

import json

import pytest

from haystack_collector.api.deps import is_loopback
from haystack_collector.api.middleware import KnownTokens, client_limiters, sane_correlation_id
from haystack_collector.api.routes.stream import sse
from haystack_collector.metrics import MAX_HOST_LABELS, OTHER_HOST, HostLabels
from haystack_collector.settings import Settings
from haystack_collector.store.workers import merge_hosts

# --- token buckets -------------------------------------------------------------------------


def test_clients_get_a_bucket_each_with_the_configured_rate_and_burst() -> None:
    limiters = client_limiters(Settings(api_rate_limit=0.001, api_rate_burst=2))
    alice, bob = limiters.get("token:alice"), limiters.get("ip:10.0.0.1")

    assert (alice.rate, alice.burst) == (0.001, 2.0)
    assert [alice.take() > 0 for _ in range(3)] == [False, False, True]
    assert bob.take() == 0.0  # alice's spending is not bob's
    assert limiters.get("token:alice") is alice


def test_client_buckets_are_bounded() -> None:
    limiters = client_limiters(Settings(api_rate_limit=0.001, api_rate_burst=1), max_clients=5)
    for n in range(50):
        limiters.get(f"ip:10.0.0.{n}").take()
    assert len(limiters.snapshot()) == 5


# --- correlation ids and tokens ------------------------------------------------------------


@pytest.mark.parametrize("value", ["abc", "A1", "req-1.2:3_x", "a" * 64])
def test_sane_correlation_ids_pass(value: str) -> None:
    assert sane_correlation_id(value) == value


@pytest.mark.parametrize("value", [None, "", "a" * 65, "a b", "-a", "x\ny", "é", "<b>"])
def test_unfit_correlation_ids_are_refused(value: str | None) -> None:
    assert sane_correlation_id(value) is None


def test_known_tokens_keep_the_most_recent_up_to_capacity() -> None:
    known = KnownTokens(capacity=2)
    known.remember("h1", "one")
    known.remember("h2", "two")
    known.remember("h1", "one")  # used again: now the most recent
    known.remember("h3", "three")
    assert (known.name_for("h1"), known.name_for("h2"), known.name_for("h3")) == (
        "one",
        None,
        "three",
    )


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("10.0.0.1", False),
        ("203.0.113.7", False),
        ("testclient", False),
        ("localhost", False),  # a name, not an address: never trusted
        ("", False),
        (None, False),
    ],
)
def test_loopback_is_judged_by_address(host: str | None, loopback: bool) -> None:
    assert is_loopback(host) is loopback


# --- hosts ---------------------------------------------------------------------------------


def test_merge_hosts_adds_counters_and_keeps_the_strictest_state() -> None:
    merged = merge_hosts(
        {"a.test": {"requests": 2, "errors": 1, "in_flight": 1, "delay": 1.0, "avg_latency": 0.1}},
        {
            "a.test": {
                "requests": 6,
                "errors": 0,
                "in_flight": 0,
                "delay": 3.0,
                "avg_latency": 0.5,
                "last_latency": 0.4,
                "breaker": "half_open",
            },
            "b.test": {"requests": 1, "breaker": "open"},
        },
    )
    a = merged["a.test"]
    assert (a["requests"], a["errors"], a["in_flight"], a["delay"]) == (8, 1, 1, 3.0)
    assert a["avg_latency"] == pytest.approx((2 * 0.1 + 6 * 0.5) / 8)
    assert a["last_latency"] == 0.4
    assert a["breaker"] == "half_open"
    assert merged["b.test"]["breaker"] == "open"
    assert list(merged) == ["a.test", "b.test"]


def test_merge_hosts_skips_what_it_cannot_read() -> None:
    merged = merge_hosts({"a.test": "garbage", "b.test": {"requests": "many", "delay": True}})
    assert list(merged) == ["b.test"]
    assert (merged["b.test"]["requests"], merged["b.test"]["delay"]) == (0, None)


# --- metrics and SSE -----------------------------------------------------------------------


def test_host_labels_are_capped() -> None:
    labels = HostLabels(limit=3)
    assert [labels(f"h{n}.test") for n in range(5)] == [
        "h0.test",
        "h1.test",
        "h2.test",
        OTHER_HOST,
        OTHER_HOST,
    ]
    assert labels("h0.test") == "h0.test"  # a host seen before keeps its own series
    assert MAX_HOST_LABELS >= 100


def test_an_sse_event_keeps_its_data_on_one_line() -> None:
    text = sse("status", {"message": "two\nlines"}, event_id=7)
    assert text == 'id: 7\nevent: status\ndata: {"message": "two\\nlines"}\n\n'
    assert json.loads(text.split("data: ")[1]) == {"message": "two\nlines"}
