"""Job boards served by a real HTTP server for the ``sites`` engine tests.

``Board`` is a form-driven board in the style the shipped ``bctechnology`` definition reads:
a search page whose form POSTs a keyword with hidden state fields, numbered results pages
linked by ``a.next``, and a detail page per job. It logs every request, form bodies included.
``realpython_routes`` serves the Real Python fake-jobs capture with its links pointed here.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import escape
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fixtures import real_bytes
from tests.http_server import serve_http

REALPYTHON_HOST = b"https://realpython.github.io"
TOKEN = "s3ss10n-t0ken"
PER_PAGE = 2


def real_capture(name: str, sha256_prefix: str) -> bytes:
    """A pristine job board capture (MANIFEST.md gives the hash prefixes)."""
    return real_bytes(f"jobboard/{name}", sha256_prefix)


@dataclass(frozen=True)
class Posting:
    job_id: int
    title: str
    company: str
    location: str
    posted: str  # as the board prints it: "Mar 05, 2026"
    employment_type: str
    salary: str


POSTINGS = [
    Posting(
        1, "Python Developer", "Hootsuite", "Vancouver, BC", "Mar 05, 2026", "Full-time", "$120k"
    ),
    Posting(
        2, "Senior Python Engineer", "Clio", "Burnaby, BC", "Mar 04, 2026", "Full-time", "$150k"
    ),
    Posting(
        3, "Python Data Analyst", "Absolute", "Victoria, BC", "Mar 03, 2026", "Contract", "$80/h"
    ),
    Posting(4, "Django Developer", "Visier", "Vancouver, BC", "Mar 01, 2026", "Part-time", "$60k"),
    Posting(
        5, "Rust Developer", "Dapper Labs", "Vancouver, BC", "Feb 27, 2026", "Full-time", "$140k"
    ),
]
MISSING_DETAIL = 3  # this job's detail page answers 404


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "text/html; charset=utf-8"


@dataclass
class Board:
    """The form-driven board; ``changed`` (``changed_detail``) switches its results (detail)
    pages to a new layout."""

    changed: bool = False
    changed_detail: bool = False
    requests: Counter[str] = field(default_factory=Counter)
    forms: list[dict[str, list[str]]] = field(default_factory=list)
    extra: dict[str, Callable[[str], Response]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def matching(self, keyword: str) -> list[Posting]:
        words = keyword.lower().split()
        return [p for p in POSTINGS if all(w in p.title.lower() for w in words)]

    def get(self, path: str) -> Response:
        parts = urlsplit(path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        for prefix, route in self.extra.items():
            if parts.path.startswith(prefix):
                return route(parts.path)
        if parts.path == "/jobs/search.cfm":
            return Response(200, SEARCH_PAGE.encode())
        if parts.path == "/jobs/results.cfm":
            return self.results(query.get("keywords", ""), int(query.get("page", "1")))
        if parts.path == "/jobs/job.cfm":
            return self.detail(int(query.get("id", "0")))
        return Response(404, b"<title>Not found</title>")

    def post(self, path: str, form: dict[str, list[str]]) -> Response:
        with self.lock:
            self.forms.append(form)
        if urlsplit(path).path != "/jobs/results.cfm":
            return Response(404, b"<title>Not found</title>")
        if form.get("token") != [TOKEN]:
            return Response(403, b"<title>Session expired</title>")
        return self.results(form.get("keywords", [""])[0], 1)

    def results(self, keyword: str, page: int) -> Response:
        found = self.matching(keyword)
        shown = found[(page - 1) * PER_PAGE : page * PER_PAGE]
        if not found:
            return Response(
                200, b"<html><body><p class='no-results'>No jobs match.</p></body></html>"
            )
        if self.changed:  # a redesign: cards instead of table rows
            cards = "".join(
                f"<div class='job-card'><h3>{escape(p.title)}</h3></div>" for p in shown
            )
            return Response(200, f"<html><body>{cards}</body></html>".encode())
        rows = "".join(
            "<tr class='job'>"
            f"<td class='title'><a href='/jobs/job.cfm?id={p.job_id}'>{escape(p.title)}</a></td>"
            f"<td class='company'>{escape(p.company)}</td>"
            f"<td class='location'>{escape(p.location)}</td>"
            f"<td class='posted'>{p.posted}</td></tr>"
            for p in shown
        )
        more = len(found) > page * PER_PAGE
        nxt = f"<a class='next' href='results.cfm?keywords={keyword}&amp;page={page + 1}'>Next</a>"
        body = (
            "<html><body><table class='job-results'><tr><th>Job</th></tr>"
            f"{rows}</table>{nxt if more else ''}</body></html>"
        )
        return Response(200, body.encode())

    def detail(self, job_id: int) -> Response:
        posting = next((p for p in POSTINGS if p.job_id == job_id), None)
        if posting is None or job_id == MISSING_DETAIL:
            return Response(404, b"<title>Gone</title>")
        if self.changed_detail:
            return Response(200, f"<main><h2>{escape(posting.title)}</h2></main>".encode())
        body = (
            "<html><body><div id='job'>"
            f"<h1>{escape(posting.title)}</h1><p class='company'>{escape(posting.company)}</p>"
            f"<p class='location'>{escape(posting.location)}</p>"
            f"<p class='type'>{posting.employment_type}</p>"
            f"<p class='salary'>{escape(posting.salary)}</p>"
            f"<div class='description'>Build things at {escape(posting.company)}.</div>"
            "</div></body></html>"
        )
        return Response(200, body.encode())


SEARCH_PAGE = f"""<html><head><title>Tech Jobs</title></head><body>
<form name="site-search" action="/search" method="get"><input name="q"></form>
<form id="job-search" action="results.cfm" method="post">
  <input type="hidden" name="token" value="{TOKEN}">
  <input type="text" name="keywords" value="">
  <select name="region">
    <option value="all" selected>All of BC</option><option value="van">Vancouver</option>
  </select>
  <input type="checkbox" name="remote" value="yes">
  <button type="submit" name="go" value="Search">Search</button>
</form></body></html>"""


def realpython_routes(board: Board, base: Callable[[], str]) -> None:
    """Serve the Real Python capture under /fake-jobs/, every job link to the detail capture."""
    index = real_capture("realpython_fakejobs_index.html", "f3199d30c223be6b")
    detail = real_capture(
        "realpython_fakejobs_detail_senior-python-developer-0.html", "3a59e264901ba765"
    )

    def route(path: str) -> Response:
        if path == "/fake-jobs/":
            return Response(200, index.replace(REALPYTHON_HOST, base().encode()))
        if path.startswith("/fake-jobs/jobs/") and path.endswith(".html"):
            return Response(200, detail)
        return Response(404, b"<title>Not found</title>")

    board.extra["/fake-jobs/"] = route


class _Handler(BaseHTTPRequestHandler):
    board: Board

    def do_GET(self) -> None:
        with self.board.lock:
            self.board.requests[f"GET {self.path}"] += 1
        self._send(self.board.get(self.path))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
        with self.board.lock:
            self.board.requests[f"POST {self.path}"] += 1
        self._send(self.board.post(self.path, form))

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextmanager
def serve(board: Board) -> Iterator[str]:
    """Serve ``board`` on 127.0.0.1 (a free port) in a thread; yields the base URL."""
    with serve_http(_Handler, board=board) as base:
        yield base
