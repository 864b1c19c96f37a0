"""Every answer carries X-Correlation-ID; clients are rate limited; CORS only where configured."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import HTTPException

from haystack_collector.db import Database
from haystack_collector.db.migrate import upgrade
from haystack_collector.logs import get_correlation_id, get_logger
from tests.integration.api.core_fixtures import (
    REMOTE,
    captured_logs,
    client_for,
    core_app,
    mint,
)

HEX8 = re.compile(r"[0-9a-f]{8}")

# --- correlation ids -----------------------------------------------------------------------


def test_a_new_id_is_made_for_each_request_without_one(db: Database) -> None:
    with client_for(core_app(db)) as client:
        first = client.get("/api/config").headers["X-Correlation-ID"]
        second = client.get("/api/config").headers["X-Correlation-ID"]
    assert HEX8.fullmatch(first)
    assert HEX8.fullmatch(second)
    assert first != second


def test_a_sane_id_from_the_client_is_echoed(db: Database) -> None:
    with client_for(core_app(db)) as client:
        answer = client.get("/api/config", headers={"X-Correlation-ID": "req-42.a:b"})
    assert answer.headers["X-Correlation-ID"] == "req-42.a:b"


def test_an_unfit_id_is_replaced(db: Database) -> None:
    with client_for(core_app(db)) as client:
        for unfit in ("two words", "x" * 65, "<script>", "-leading-dash"):
            answer = client.get("/api/config", headers={"X-Correlation-ID": unfit})
            assert HEX8.fullmatch(answer.headers["X-Correlation-ID"]), unfit


def test_error_answers_carry_the_id_too(db: Database) -> None:
    app = core_app(db)

    def boom() -> None:
        raise RuntimeError("unexpected")

    def refuse() -> None:
        raise HTTPException(418, "teapot")

    app.add_api_route("/test/boom", boom)
    app.add_api_route("/test/refuse", refuse)
    with client_for(app) as client:
        answers = {
            "404": client.get("/api/nowhere"),
            "401": client.put("/api/config/x?value=1"),
            "422": client.get("/api/status?limit=0"),
            "418": client.get("/test/refuse"),
            "500": client.get("/test/boom", headers={"X-Correlation-ID": "boom-1"}),
        }
    for status, answer in answers.items():
        assert str(answer.status_code) == status
        assert answer.headers.get("X-Correlation-ID"), status
    assert answers["500"].json() == {"detail": "internal error"}
    assert answers["500"].headers["X-Correlation-ID"] == "boom-1"


def test_log_lines_of_the_request_carry_its_id(tmp_path: Path) -> None:
    # A database without tables: /health reaches it, its queries fail and are logged, inside
    # the request's work (in the thread pool), with the request's id.
    bare = Database(f"sqlite:///{tmp_path / 'bare.db'}")
    try:
        with captured_logs() as logs, client_for(core_app(bare)) as client:
            answer = client.get("/health", headers={"X-Correlation-ID": "trace-me"})
        assert answer.status_code == 200
        assert answer.json()["status"] == "degraded"
        assert logs.ids_of("health: the database answered but a query failed") == ["trace-me"]
        assert logs.ids_of("no such table") == ["trace-me", "trace-me"]  # store, then route
        assert logs.ids_of("GET /health -> 200") == ["trace-me"]
        assert {getattr(r, "correlation_id", None) for r in logs.records} == {"trace-me"}
    finally:
        bare.dispose()


def test_the_id_does_not_outlive_the_request(db: Database) -> None:
    with captured_logs() as logs, client_for(core_app(db)) as client:
        client.get("/api/config", headers={"X-Correlation-ID": "only-inside"})
        get_logger("haystack.test").info("after the request")
    assert logs.ids_of("GET /api/config -> 200") == ["only-inside"]
    assert logs.ids_of("after the request") == [None]
    assert get_correlation_id() is None


def test_a_migrated_bare_database_is_healthy(tmp_path: Path) -> None:
    fresh = Database(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        upgrade(fresh)
        with client_for(core_app(fresh)) as client:
            assert client.get("/health").json()["status"] == "ok"
    finally:
        fresh.dispose()


# --- rate limit ----------------------------------------------------------------------------


def test_a_client_over_its_budget_gets_429_with_retry_after(db: Database) -> None:
    app = core_app(db, api_rate_limit=0.5, api_rate_burst=3)
    with client_for(app) as client, client_for(app, client=REMOTE) as other:
        statuses = [client.get("/health").status_code for _ in range(3)]
        refused = client.get("/health")
        assert other.get("/health").status_code == 200  # another address, another bucket

    assert statuses == [200, 200, 200]
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "2"  # one token at 0.5/s
    assert refused.headers["X-Correlation-ID"]
    assert refused.json()["detail"].startswith("rate limit exceeded")


def test_a_token_has_its_own_budget_apart_from_its_address(db: Database) -> None:
    _, alice = mint(db)
    _, bob = mint(db)
    app = core_app(db, api_rate_limit=0.01, api_rate_burst=3)
    with client_for(app) as client:
        # The first use of each token is counted against the address (it is not yet verified).
        assert client.get("/api/config", headers=alice).status_code == 200
        assert client.get("/api/config", headers=bob).status_code == 200
        alice_answers = [client.get("/api/config", headers=alice).status_code for _ in range(4)]
        bob_answers = [client.get("/api/config", headers=bob).status_code for _ in range(4)]
        anonymous = [client.get("/api/config").status_code for _ in range(2)]

    assert alice_answers == [200, 200, 200, 429]
    assert bob_answers == [200, 200, 200, 429]
    assert anonymous == [200, 429]  # the address had 3: two first uses and this one


def test_made_up_tokens_do_not_escape_the_address_budget(db: Database) -> None:
    app = core_app(db, api_rate_limit=0.01, api_rate_burst=2)
    with client_for(app) as client:
        answers = [
            client.get("/api/config", headers={"Authorization": f"Bearer fake-{n}"}).status_code
            for n in range(3)
        ]
    assert answers == [401, 401, 429]


# --- CORS ----------------------------------------------------------------------------------


def test_no_cors_headers_by_default(db: Database) -> None:
    with client_for(core_app(db)) as client:
        answer = client.get("/health", headers={"Origin": "http://ui.example"})
        preflight = client.options(
            "/api/config/x",
            headers={"Origin": "http://ui.example", "Access-Control-Request-Method": "PUT"},
        )
    assert "access-control-allow-origin" not in answer.headers
    assert "access-control-allow-origin" not in preflight.headers


def test_cors_answers_only_the_configured_origins(db: Database) -> None:
    app = core_app(db, cors_origins=["http://ui.example"])
    with client_for(app) as client:
        allowed = client.get("/health", headers={"Origin": "http://ui.example"})
        other = client.get("/health", headers={"Origin": "http://evil.example"})
        preflight = client.options(
            "/api/config/x",
            headers={
                "Origin": "http://ui.example",
                "Access-Control-Request-Method": "PUT",
                "Access-Control-Request-Headers": "Authorization, Content-Type",
            },
        )
        refused = client.options(
            "/api/config/x",
            headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "PUT"},
        )

    assert allowed.headers["access-control-allow-origin"] == "http://ui.example"
    exposed = allowed.headers["access-control-expose-headers"].lower()
    assert "x-correlation-id" in exposed
    assert "retry-after" in exposed
    assert "access-control-allow-origin" not in other.headers
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "http://ui.example"
    assert "PUT" in preflight.headers["access-control-allow-methods"]
    assert "access-control-allow-origin" not in refused.headers
    assert refused.status_code == 400


# --- 405 -----------------------------------------------------------------------------------


def test_a_405_lists_every_method_of_the_path(db: Database) -> None:
    with client_for(core_app(db)) as client:
        answer = client.put("/api/events/1")
        single = client.post("/api/hosts")
    assert answer.status_code == 405
    assert answer.headers["Allow"] == "DELETE, GET"
    assert answer.headers["X-Correlation-ID"]
    assert single.headers["Allow"] == "GET"
