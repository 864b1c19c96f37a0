"""A real HTTP server on 127.0.0.1 and a free port, in a thread, for the tests' local sites."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Workers open many connections at once; the default backlog of 5 would drop some.
    request_queue_size = 64


@contextmanager
def serve_http(
    handler: type[BaseHTTPRequestHandler], *, host: str = "127.0.0.1", **attributes: Any
) -> Iterator[str]:
    """Serve with a subclass of ``handler`` carrying ``attributes``; yields the base URL.

    The base URL is ``http://HOST:PORT`` (no trailing slash); any 127.0.0.0/8 address works as
    ``host`` on Linux. The server is shut down and its thread joined when the block ends.
    """
    bound = type(handler.__name__, (handler,), attributes)
    server = _Server((host, 0), bound)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
