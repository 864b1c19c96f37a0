"""A local site whose pages a test changes between visits, answering conditional GETs."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from tests.http_server import _Server, serve_http


@dataclass(slots=True)
class Page:
    body: str
    status: int = 200
    etag: bool = True  # send an ETag (and answer If-None-Match with 304)
    last_modified: str | None = None

    @property
    def tag(self) -> str:
        return '"' + hashlib.sha256(self.body.encode()).hexdigest()[:16] + '"'


@dataclass
class Site:
    """Pages by path; every request is logged with its conditional headers."""

    pages: dict[str, Page] = field(default_factory=dict)
    requests: list[tuple[str, str | None, str | None, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def html(self, path: str, title: str, text: str, links: tuple[str, ...] = ()) -> None:
        anchors = "".join(f'<a href="{link}">{link}</a>' for link in links)
        body = (
            f"<html><head><title>{title}</title></head><body><p>{text}</p>{anchors}</body></html>"
        )
        self.pages[path] = Page(body)

    def asked(self, path: str) -> list[tuple[str | None, str | None, int]]:
        """(If-None-Match, If-Modified-Since, status answered) of each request for ``path``."""
        with self.lock:
            return [(etag, since, status) for p, etag, since, status in self.requests if p == path]


class _Handler(BaseHTTPRequestHandler):
    site: Site

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        page = self.site.pages.get(path)
        etag, since = self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
        if page is None:
            status, body, headers = 404, b"not here", {}
        elif page.status != 200:
            status, body, headers = page.status, page.body.encode(), {}
        else:
            headers = {"ETag": page.tag} if page.etag else {}
            if page.last_modified:
                headers["Last-Modified"] = page.last_modified
            fresh = (page.etag and etag == page.tag) or (
                not page.etag and page.last_modified is not None and since == page.last_modified
            )
            status, body = (304, b"") if fresh else (200, page.body.encode())
        with self.site.lock:
            self.site.requests.append((path, etag, since, status))
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 304:
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serve(site: Site, *, port: int = 0) -> Iterator[str]:
    """Serve ``site``; ``port`` brings a stopped site back where its pages' URLs point."""
    if not port:
        with serve_http(_Handler, site=site) as url:
            yield url
        return
    bound = type("_Handler", (_Handler,), {"site": site})
    server = _Server(("127.0.0.1", port), bound)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
