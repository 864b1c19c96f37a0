"""A generated web site served by a real HTTP server, with a server-side request log.

Pages: a home page, ``pages`` numbered pages in cycles, an endless calendar (/cal/Y/M),
an /a/a/a/... chain, non-HTML files, a 404, a 500, malformed HTML, a page disallowed by
robots.txt, off-site links and many spellings of the same URL (fragments, dot segments,
upper-case scheme and host). ``links`` is the site's graph as a reference crawler sees it.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.http_server import serve_http

OFFSITE = "http://offsite.invalid/page"
ROBOTS = b"User-agent: *\nDisallow: /private/\n"


@dataclass
class Response:
    status: int
    content_type: str
    body: bytes


@dataclass
class Site:
    """The pages by path, and the canonical link targets (paths) of each HTML page."""

    pages: int = 60
    with_error_page: bool = True
    sleep: float = 0.0
    routes: dict[str, Response] = field(default_factory=dict)
    links: dict[str, list[str]] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._build()

    def html(
        self,
        path: str,
        title: str,
        hrefs: list[str],
        extra: str = "",
        canonical: list[str] | None = None,
    ) -> None:
        anchors = "".join(f'<a href="{href}">link</a>\n' for href in hrefs)
        body = f"<html><head><title>{title}</title></head><body>{anchors}{extra}</body></html>"
        self.routes[path] = Response(200, "text/html; charset=utf-8", body.encode())
        self.links[path] = canonical if canonical is not None else []

    def _build(self) -> None:
        n = self.pages
        home_hrefs = [f"/p/{i}" for i in range(10)] + [
            "/p/1#fragment",
            "/x/../p/2",
            "HTTP://127.0.0.1:{port}/p/3",
            "/cal/2024/01",
            "/a/",
            "/file.pdf",
            "/data.json",
            "/missing",
            "/malformed",
            "/private/secret",
            OFFSITE,
        ]
        home_links = [f"/p/{i}" for i in range(10)] + [
            "/cal/2024/01",
            "/a/",
            "/file.pdf",
            "/data.json",
            "/missing",
            "/malformed",
            "/private/secret",
        ]
        if self.with_error_page:
            home_hrefs.append("/broken")
            home_links.append("/broken")
        self.html("/", "Home", home_hrefs, canonical=home_links)
        for i in range(n):
            nxt, jump, two = (i + 1) % n, (i * 7) % n, (i + 2) % n
            hrefs = [f"/p/{nxt}", f"/p/{jump}", "/", f"/p/{i}#top", f"../p/{two}", OFFSITE]
            extra = f'<img src="/img/{i}.png" alt="Picture {i}" width="{i + 1}" height="x">'
            if i % 10 == 0:
                extra += (
                    f'<form name="f{i}" action="/search" method="post">'
                    '<input name="q" type="text" value="hay">'
                    '<input name="page" type="hidden" value="1">'
                    '<textarea name="note">hi</textarea></form>'
                )
            self.html(
                f"/p/{i}",
                f"Page {i}",
                hrefs,
                extra,
                canonical=list(
                    dict.fromkeys([f"/p/{nxt}", f"/p/{jump}", "/", f"/p/{i}", f"/p/{two}"])
                ),
            )
        self.routes["/file.pdf"] = Response(200, "application/pdf", b"%PDF-1.4 <a href='/p/0'>")
        self.routes["/data.json"] = Response(200, "application/json", b'{"a": "/p/0"}')
        self.routes["/broken"] = Response(500, "text/html", b"<title>Oops</title>")
        self.routes["/private/secret"] = Response(200, "text/html", b"<title>Secret</title>")
        self.routes["/malformed"] = Response(
            200,
            "text/html",
            b"<html><head><title>Bad &amp; broken</title><body><div><a href='/p/5'>x"
            b"<p><a href=/p/6>y"
            b"<table><tr><td><a href='/malformed#again'>",
        )
        self.links["/malformed"] = ["/p/5", "/p/6", "/malformed"]
        self.links["/file.pdf"] = self.links["/data.json"] = self.links["/broken"] = []
        self.links["/private/secret"] = []
        self.links["/missing"] = []

    def respond(self, path: str, port: int) -> Response:
        """Generated routes: the calendar and the /a/ chain are endless."""
        if path == "/robots.txt":
            return Response(200, "text/plain", ROBOTS)
        parts = path.strip("/").split("/")
        if parts[0] == "cal" and len(parts) == 3:
            year, month = int(parts[1]), int(parts[2])
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
            nxt = f"/cal/{year}/{month:02d}"
            body = f"<title>Cal {parts[1]}-{parts[2]}</title><a href='{nxt}'>next</a>"
            return Response(200, "text/html", body.encode())
        if parts and all(part == "a" for part in parts) and path.endswith("/"):
            body = f"<title>A{len(parts)}</title><a href='a/'>deeper</a>"
            return Response(200, "text/html", body.encode())
        found = self.routes.get(path)
        if found is None:
            return Response(404, "text/html", b"<title>Not found</title>")
        if b"{port}" in found.body:
            return Response(
                found.status, found.content_type, found.body.replace(b"{port}", str(port).encode())
            )
        return found

    def graph_links(self, path: str) -> list[str]:
        """Canonical in-site link targets of ``path`` (for a reference crawl)."""
        parts = path.strip("/").split("/")
        if parts[0] == "cal" and len(parts) == 3:
            year, month = int(parts[1]), int(parts[2])
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
            return [f"/cal/{year}/{month:02d}"]
        if parts and all(part == "a" for part in parts) and path.endswith("/"):
            return [path + "a/"]
        return self.links.get(path, [])


class _Handler(BaseHTTPRequestHandler):
    site: Site

    def do_GET(self) -> None:
        with self.site.lock:
            self.site.requests[self.path] += 1
        if self.site.sleep and self.path != "/robots.txt":
            time.sleep(self.site.sleep)
        response = self.site.respond(self.path, self.server.server_address[1])
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextmanager
def serve(site: Site) -> Iterator[str]:
    """Serve ``site`` on 127.0.0.1 (a free port) in a thread; yields the base URL."""
    with serve_http(_Handler, site=site) as base:
        yield base


def reference_crawl(site: Site, *, max_depth: int, trap: Any) -> dict[str, int]:
    """Breadth-first depths of every path a correct crawl stores (``trap(path)`` skips)."""
    depths = {"/": 0}
    frontier = ["/"]
    while frontier:
        following: list[str] = []
        for path in frontier:
            if depths[path] >= max_depth:
                continue
            for target in site.graph_links(path):
                if target not in depths and not trap(target):
                    depths[target] = depths[path] + 1
                    following.append(target)
        frontier = following
    return depths
