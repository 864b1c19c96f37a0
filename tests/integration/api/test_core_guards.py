"""The API against hostile clients: Host names (DNS rebinding), body sizes, auth before the
body, validation errors that echo nothing, security headers, proxy headers."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from haystack_collector.api.guards import (
    BodyLimitMiddleware,
    allowed_host_names,
    docs_policy,
    host_name,
)
from haystack_collector.db import Database
from haystack_collector.serve import uvicorn_config
from tests.integration.api.core_fixtures import (
    client_for,
    core_app,
    core_settings,
    mint,
    served,
)

WRITE = "/api/admin/tables/Items/records"  # a write route with a JSON body
MIB = 1024 * 1024

# --- Host header (DNS rebinding) -----------------------------------------------------------


def test_a_rebound_name_is_refused_and_loopback_names_are_answered(db: Database) -> None:
    with client_for(core_app(db)) as client:
        rebound = client.get("/api/items", headers={"Host": "attacker.example"})
        answers = {
            host: client.get("/api/items", headers={"Host": host}).status_code
            for host in ("localhost", "localhost:8000", "127.0.0.1:8000", "[::1]:8000", "LOCALHOST")
        }
        for odd in ("localhost:port", "[::1", "", "127.0.0.1:8000:1"):
            assert client.get("/api/items", headers={"Host": odd}).status_code == 400, odd

    assert rebound.status_code == 400
    assert rebound.json() == {"detail": "invalid Host header; see HAYSTACK_ALLOWED_HOSTS"}
    assert "X-Correlation-ID" in rebound.headers
    assert set(answers.values()) == {200}, answers


def test_allowed_hosts_adds_names_and_a_star_allows_any(db: Database) -> None:
    with client_for(core_app(db, allowed_hosts=["haystack.example", "10.0.0.5"])) as client:
        assert client.get("/health", headers={"Host": "haystack.example:443"}).status_code == 200
        assert client.get("/health", headers={"Host": "10.0.0.5"}).status_code == 200
        assert client.get("/health", headers={"Host": "other.example"}).status_code == 400
    with client_for(core_app(db, allowed_hosts=["*"])) as client:
        assert client.get("/health", headers={"Host": "other.example"}).status_code == 200


def test_the_bound_address_is_a_name_unless_it_is_a_wildcard() -> None:
    def names(**values: Any) -> frozenset[str] | None:
        return allowed_host_names(core_settings(**values))

    assert names(api_host="192.168.1.20") == {"localhost", "127.0.0.1", "::1", "192.168.1.20"}
    assert names(api_host="box.lan") == {"localhost", "127.0.0.1", "::1", "box.lan"}
    # 0.0.0.0 answers on every interface but names none of them: list names to allow.
    assert names(api_host="0.0.0.0") == {"localhost", "127.0.0.1", "::1"}
    assert names(api_host="::", allowed_hosts=["[fd00::1]"]) == {
        "localhost",
        "127.0.0.1",
        "::1",
        "fd00::1",
    }
    assert names(allowed_hosts=["*"]) is None


def test_host_header_names_are_parsed_strictly() -> None:
    assert host_name("Example.com:8000") == "example.com"
    assert host_name("localhost.") == "localhost"
    assert host_name("[::1]:8000") == "::1"
    assert host_name("[0:0:0:0:0:0:0:1]") == "::1"
    for bad in ("", ":80", "host:", "host:80x", "[::1]x", "[::1", "a:1:2"):
        assert host_name(bad) is None, bad


def test_bad_allowed_hosts_are_refused_by_the_settings() -> None:
    for bad in (["haystack.example:8000"], ["http://haystack.example"], [""]):
        with pytest.raises(ValueError, match="allowed_hosts"):
            core_settings(allowed_hosts=bad)
    with pytest.raises(ValueError, match="forwarded_allow_ips"):
        core_settings(forwarded_allow_ips=["proxy.example"])


# --- request bodies: size, auth first, no echo -------------------------------------------


def test_a_body_over_the_cap_is_413_at_once_by_its_content_length(db: Database) -> None:
    _, auth = mint(db)
    with client_for(core_app(db, api_max_body_bytes=4096)) as client:
        big = {"ItemURI": "x" * 5000}
        for headers in ({}, auth):  # before the token is even looked at
            answer = client.post(WRITE, json=big, headers=headers)
            assert answer.status_code == 413
            assert answer.json() == {"detail": "request body too large: at most 4096 bytes"}
        small = client.post(WRITE, json={"ItemURI": "https://x.test/"}, headers=auth)
        garbled = client.post(WRITE, content=b"{}", headers=auth | {"Content-Length": "x"})
    assert small.status_code == 201
    assert garbled.status_code == 400


def test_the_default_cap_is_one_mebibyte(db: Database) -> None:
    _, auth = mint(db)
    with client_for(core_app(db)) as client:
        over = client.post(WRITE, content=b"[" + b" " * MIB + b"]", headers=auth)
    assert over.status_code == 413


def test_a_streamed_body_is_cut_off_once_it_passes_the_cap(db: Database) -> None:
    _, auth = mint(db)
    sent: list[int] = []

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked, as a client may
        for _ in range(200):
            sent.append(1)
            yield b" " * 16384

    with served(core_app(db, api_max_body_bytes=64 * 1024)) as base:
        try:
            answer = httpx.post(
                base + WRITE,
                content=chunks(),
                headers=auth | {"Content-Type": "application/json"},
                timeout=10,
            )
        except httpx.HTTPError:  # the server may close before all of it is sent
            pytest.fail("the server should answer 413, not drop the connection")
    assert answer.status_code == 413
    assert answer.json() == {"detail": "request body too large: at most 65536 bytes"}


def test_the_body_limit_reads_no_further_than_the_chunk_that_passes_the_cap() -> None:
    read: list[int] = []
    answered: list[dict[str, Any]] = []

    async def reader(scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if not message.get("more_body"):
                break

    async def receive() -> dict[str, Any]:
        read.append(1)
        return {"type": "http.request", "body": b"x" * 1000, "more_body": len(read) < 10_000}

    async def send(message: dict[str, Any]) -> None:
        answered.append(message)

    middleware = BodyLimitMiddleware(reader, limit=4500)
    asyncio.run(middleware({"type": "http", "headers": []}, receive, send))
    assert len(read) == 5  # 5000 bytes: the fifth chunk passed 4500
    assert answered[0]["status"] == 413


def test_a_write_without_a_token_is_401_before_its_body_is_read(db: Database) -> None:
    app = core_app(db)
    received: list[str] = []

    async def call(headers: list[tuple[bytes, bytes]]) -> int:
        async def receive() -> dict[str, Any]:
            received.append("body")
            return {"type": "http.request", "body": b"not json at all", "more_body": False}

        status: list[int] = []

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": WRITE,
            "raw_path": WRITE.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"localhost"), (b"content-type", b"application/json"), *headers],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }
        await app(scope, receive, send)
        return status[0]

    _, auth = mint(db)
    token = auth["Authorization"].encode()
    assert asyncio.run(call([])) == 401
    assert asyncio.run(call([(b"authorization", b"Bearer forged")])) == 401
    assert received == []  # nothing of either body was read
    assert asyncio.run(call([(b"authorization", token)])) == 422  # read, and not JSON
    assert received == ["body"]


def test_an_anonymous_non_json_body_gets_401_not_422(db: Database) -> None:
    with client_for(core_app(db)) as client:
        answer = client.post(WRITE, content=b"\x00garbage", headers={"Content-Type": "text/x"})
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == "Bearer"


def test_validation_errors_never_echo_the_input(db: Database) -> None:
    _, auth = mint(db)
    secret = "S3CRET-" + "z" * 500_000
    with client_for(core_app(db)) as client:
        wrong_type = client.post(WRITE, json=[secret], headers=auth)
        not_json = client.post(
            WRITE,
            content=b'{"a": "' + secret.encode(),
            headers=auth | {"Content-Type": "application/json"},
        )
        long_key = client.post(WRITE, json={"k" * 5000: 1}, headers=auth)
        bad_query = client.get(f"/api/status?limit={secret[:200]}")

    for answer in (wrong_type, not_json, bad_query):
        assert answer.status_code == 422
        assert "S3CRET" not in answer.text
        assert len(answer.content) < 2000
        for problem in answer.json()["detail"]:
            assert set(problem) == {"loc", "msg", "type"}
    assert wrong_type.json()["detail"][0]["loc"] == ["body"]
    assert not_json.json()["detail"][0]["type"] == "json_invalid"
    assert long_key.status_code in (404, 422)
    assert len(long_key.content) < 2000


# --- headers --------------------------------------------------------------------------------


def test_every_answer_carries_the_security_headers(db: Database) -> None:
    with client_for(core_app(db)) as client:
        answers = [
            client.get("/"),
            client.get("/api/items"),
            client.get("/static/haystack.css"),
            client.get("/nowhere"),
            client.get("/", headers={"Host": "attacker.example"}),
        ]
    for answer in answers:
        headers = answer.headers
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "no-referrer"
        policy = headers["Content-Security-Policy"]
        assert "script-src 'self';" in policy
        assert "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy


def test_the_docs_page_allows_its_own_inline_script_by_hash_only(db: Database) -> None:
    with client_for(core_app(db)) as client:
        docs = client.get("/docs")
        redoc = client.get("/redoc")
    [script] = re.findall(r"<script>(.*?)</script>", docs.text, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    policy = docs.headers["Content-Security-Policy"]
    assert f"'sha256-{digest}'" in policy
    script_src = re.search(r"script-src ([^;]*)", policy)
    assert script_src is not None
    assert "unsafe-inline" not in script_src.group(1)
    assert "frame-ancestors 'none'" in redoc.headers["Content-Security-Policy"]
    assert docs_policy(b"<p>no scripts</p>").count("sha256") == 0


# --- proxy headers ---------------------------------------------------------------------------


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """``app`` behind uvicorn configured as ``haystack serve`` configures it."""
    config = uvicorn_config(app, app.state.settings, host="127.0.0.1", port=0)
    config.lifespan = "off"
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        assert thread.is_alive(), "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def rotating_forwarded_for(base: str, count: int) -> list[int]:
    with httpx.Client(base_url=base, timeout=5) as client:
        return [
            client.get("/health", headers={"X-Forwarded-For": f"198.51.100.{n}"}).status_code
            for n in range(count)
        ]


def test_x_forwarded_for_is_ignored_by_default(db: Database) -> None:
    # Once, a loopback client rotating the header passed 400 of 400 requests the limit.
    app = core_app(db, api_rate_limit=0.01, api_rate_burst=3)
    with serving(app) as base:
        answers = rotating_forwarded_for(base, 6)
    assert answers == [200, 200, 200, 429, 429, 429]


def test_x_forwarded_for_is_believed_from_forwarded_allow_ips(db: Database) -> None:
    app = core_app(db, api_rate_limit=0.01, api_rate_burst=3, forwarded_allow_ips=["127.0.0.1"])
    with serving(app) as base:
        answers = rotating_forwarded_for(base, 6)
    assert answers == [200] * 6  # each forwarded client has its own budget
    config = uvicorn_config(app, app.state.settings, host="127.0.0.1", port=0)
    assert (config.proxy_headers, config.forwarded_allow_ips) == (True, ["127.0.0.1"])
    default = uvicorn_config(app, core_settings(), host="127.0.0.1", port=0)
    assert default.proxy_headers is False
