"""The SSRF guard against real connections: rebinding names, and who may go private."""

from __future__ import annotations

import dataclasses
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from haystack_collector.fetch import Fetcher, FetchSettings
from haystack_collector.origin import API, origin_scope
from tests.unit.fetch.test_ssrf import Rebinder


def _counting_server() -> tuple[ThreadingHTTPServer, list[str]]:
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, hits


async def test_a_name_that_rebinds_after_the_check_is_not_fetched_for_api_work() -> None:
    server, hits = _counting_server()
    port = server.server_address[1]
    resolver = Rebinder("93.184.216.34", "127.0.0.1")  # the check sees public, the connect not
    settings = FetchSettings(allow_private=True, obey_robots=False, retry_attempts=1)
    try:
        async with Fetcher(settings, resolver=resolver) as fetcher:
            with origin_scope(API):
                result = await fetcher.fetch(f"http://rebind.test:{port}/")
    finally:
        server.shutdown()
        server.server_close()

    assert resolver.asked == ["rebind.test", "rebind.test"]  # the early check, then the connect
    assert result.error == "blocked address: rebind.test resolves to 127.0.0.1 (loopback)"
    assert result.attempts == 1  # a refusal is not retried
    assert hits == []


async def test_api_work_reaches_private_addresses_only_when_the_operator_allows_it() -> None:
    server, hits = _counting_server()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    trusted = FetchSettings(allow_private=True, obey_robots=False, retry_attempts=1)
    try:
        async with Fetcher(trusted) as fetcher:
            assert (await fetcher.fetch(url)).status == 200  # the command line's own work
            with origin_scope(API):
                refused = await fetcher.fetch(url)
        opened = dataclasses.replace(trusted, allow_private=False, api_allow_private=True)
        async with Fetcher(opened) as fetcher:
            with origin_scope(API):
                allowed = await fetcher.fetch(url)
            closed = await fetcher.fetch(url)  # outside API work, allow_private rules
    finally:
        server.shutdown()
        server.server_close()

    assert refused.error is not None
    assert refused.error.startswith("blocked address")
    assert allowed.status == 200
    assert closed.error is not None
    assert closed.error.startswith("blocked address")
    assert hits == ["/", "/"]
