"""A stand-in for Craigslist: the real captured pages served, unchanged, by a local HTTP server.

``searches`` maps a search path (``/search/apa``) to the page it answers, whatever the query;
a request with an offset (``s=``) gets ``next_page`` instead. Posting paths (anything ending in
``/<post id>.html``) answer ``postings[post id]`` when given, or ``default_posting``;
``statuses`` makes a post id answer an HTTP error instead. Every request is counted.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fixtures import real_bytes
from tests.http_server import serve_http

_POST_ID = re.compile(r"/(\d{6,})\.html$")


def real(relative: str) -> bytes:
    """A real capture, as it is on disk."""
    return real_bytes(relative)


@dataclass
class ClSite:
    """What the server answers, and what it was asked."""

    searches: dict[str, bytes] = field(default_factory=dict)
    next_page: bytes = b""
    postings: dict[str, bytes] = field(default_factory=dict)
    default_posting: bytes = b""
    statuses: dict[str, int] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, target: str) -> tuple[int, bytes]:
        parts = urlsplit(target)
        if parts.path == "/robots.txt":
            return 200, b"User-agent: *\nAllow: /\n"
        if parts.path in self.searches:
            offset = parse_qs(parts.query).get("s")
            return 200, self.next_page if offset else self.searches[parts.path]
        match = _POST_ID.search(parts.path)
        if match is None:
            return 404, b"<title>not found</title>"
        post_id = match.group(1)
        if post_id in self.statuses:
            return self.statuses[post_id], b"<title>error</title>"
        return 200, self.postings.get(post_id, self.default_posting)

    def posting_requests(self) -> Counter[str]:
        """Requests per post id."""
        found: Counter[str] = Counter()
        for target, count in self.requests.items():
            match = _POST_ID.search(urlsplit(target).path)
            if match:
                found[match.group(1)] += count
        return found


class _Handler(BaseHTTPRequestHandler):
    site: ClSite

    def do_GET(self) -> None:
        with self.site.lock:
            self.site.requests[self.path] += 1
        status, body = self.site.answer(self.path)
        self.send_response(status)
        self.send_header("Content-Type", "text/html")  # no charset: the pages say theirs
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextmanager
def serve(site: ClSite) -> Iterator[str]:
    """Serve ``site`` on 127.0.0.1 (a free port) in a thread; yields ``http://127.0.0.1:PORT/``."""
    with serve_http(_Handler, site=site) as base:
        yield base + "/"
