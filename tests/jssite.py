"""A local JavaScript site: pages whose content only a browser sees (``serve_jssite``).

Every page ships an empty shell; its script fills it in. A plain fetch gets none of the
content, the browser fetcher all of it. Pages:

* ``/feed-results``: an empty ``<ul id="results">``; a script ``fetch()``es
  ``/api/results.json`` (``?pad=N`` adds N bytes to it) and inserts ``FEED_ITEMS`` (12)
  ``<li class="result"><a href="/item/N">Title N</a></li>``; each ``/item/N`` is a real
  (static) page. The site is the ``jssite`` fixture (tests/conftest.py).
* ``/scroll``: an infinite list of ``li.entry``, ``SCROLL_BATCH`` (10) per batch loaded when
  the reader nears the bottom, ``SCROLL_TOTAL`` (50) in all.
* ``/search``: ``<form id="search">`` with ``input[name=q]``, ``select[name=category]`` (all,
  engineering, sales), ``input[type=checkbox][name=remote]``, ``input[type=date][name=since]``
  and a submit button. A script intercepts the submit, POSTs JSON to ``/api/search`` and
  renders ``div.result`` elements, each with ``h2.title > a[href]`` (``/job/N``), ``.company``,
  ``.location``, ``.posted`` (ISO date) and, for some, ``.salary``; ``PAGE_SIZE`` (10) per
  page, with a client-side ``a.next`` link while more remain. ``/search?more=1`` shows a
  ``button.load-more`` instead, which appends the next page.
* ``/never``: a page whose synchronous script is a request the server never answers: its
  loading never finishes.
* ``/slow?ms=N``: a page whose synchronous script takes N ms to arrive (a restart test kills
  the browser meanwhile); the script adds a link to ``/item/99``.
* ``/sneaky?target=URL``: a script ``fetch()``es ``URL``, opens a WebSocket to it and an
  ``<img>`` loads it (another loopback server in the tests); the page reports what the
  script got in ``#sneaky``.
* ``/big``: a page larger than a small body cap (``BIG_BYTES``), with an image.

The search data set (``JOBS``, deterministic): 60 jobs, N = 1..60.

* title: ``Python developer N`` when N % 3 != 0, else ``Java engineer N``: 40 "python" jobs;
* category: ``engineering`` when N % 4 != 0, else ``sales``;
* remote: N % 2 == 0; location ``Remote`` then, else ``Vancouver``;
* posted: 2024-01-01 plus N days (N=1: 2024-01-02 ... N=60: 2024-03-01);
* salary: ``$N,000`` when N % 5 == 0, else none.

``q`` matches titles case-insensitively; ``category`` "all" matches every category; ``remote``
keeps remote jobs only; ``since`` keeps jobs posted on or after it. So q=python gives 40 (4
pages), with category=engineering 30 (N % 3 != 0 and N % 4 != 0), plus remote 10 (N = 2 mod
4), plus since=2024-02-01 (N >= 31) 5: N = 34, 38, 46, 50, 58. q=python with category=sales
gives 10. ``expected(...)`` computes any such set; tests compare against it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from tests.http_server import serve_http

FEED_ITEMS = 12
SCROLL_BATCH = 10
SCROLL_TOTAL = 50
PAGE_SIZE = 10
JOB_COUNT = 60
BIG_BYTES = 300_000
_START = date(2024, 1, 1)


@dataclass(frozen=True, slots=True)
class JobRow:
    n: int
    title: str
    category: str
    remote: bool
    location: str
    company: str
    posted: str
    salary: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "url": f"/job/{self.n}",
            "title": self.title,
            "company": self.company,
            "location": self.location,
            "posted": self.posted,
            "salary": self.salary,
        }


def _job(n: int) -> JobRow:
    remote = n % 2 == 0
    return JobRow(
        n=n,
        title=f"Python developer {n}" if n % 3 else f"Java engineer {n}",
        category="engineering" if n % 4 else "sales",
        remote=remote,
        location="Remote" if remote else "Vancouver",
        company=f"Company {n % 7}",
        posted=(_START + timedelta(days=n)).isoformat(),
        salary=f"${n},000" if n % 5 == 0 else None,
    )


JOBS: tuple[JobRow, ...] = tuple(_job(n) for n in range(1, JOB_COUNT + 1))


def expected(
    q: str = "", category: str = "all", *, remote: bool = False, since: str = ""
) -> list[JobRow]:
    """The jobs a search for these inputs finds, in the site's order."""
    return [
        job
        for job in JOBS
        if q.lower() in job.title.lower()
        and category in ("all", "", job.category)
        and (job.remote or not remote)
        and (not since or job.posted >= since)
    ]


_SHELL = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<style>li.entry {{ height: 120px; }}</style></head><body>{body}</body></html>"""

_FEED = """<h1>Feed</h1><ul id="results"></ul>
<script>
fetch('/api/results.json' + location.search).then(r => r.json()).then(items => {
  const ul = document.getElementById('results');
  for (const it of items) {
    const li = document.createElement('li'); li.className = 'result';
    const a = document.createElement('a'); a.href = '/item/' + it.n; a.textContent = it.title;
    li.appendChild(a); ul.appendChild(li);
  }
});
</script>"""

_SCROLL = """<h1>Entries</h1><ul id="entries"></ul>
<script>
let loaded = 0, busy = false;
async function more() {
  if (busy || loaded >= %(total)d) return;
  busy = true;
  const r = await fetch('/api/entries.json?offset=' + loaded);
  const items = await r.json();
  const ul = document.getElementById('entries');
  for (const it of items) {
    const li = document.createElement('li'); li.className = 'entry'; li.textContent = it;
    ul.appendChild(li);
  }
  loaded += items.length; busy = false;
}
window.addEventListener('scroll', () => {
  if (window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 200) more();
});
more();
</script>"""

_SEARCH = """<h1>Job search</h1>
<form id="search" action="/no-js-search" method="post">
  <input name="q" type="text">
  <select name="category">
    <option value="all">All</option><option value="engineering">Engineering</option>
    <option value="sales">Sales</option>
  </select>
  <label><input type="checkbox" name="remote" value="1"> Remote only</label>
  <input type="date" name="since">
  <button type="submit">Search</button>
</form>
<div id="results"></div><div id="pager"></div>
<script>
const MORE = %(more)s;
let query = null, page = 1;
function el(tag, cls, text) {
  const e = document.createElement(tag); if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text; return e;
}
async function load(append) {
  const r = await fetch('/api/search', {method: 'POST',
    headers: {'Content-Type': 'application/json'},
    body: JSON.stringify(Object.assign({page: page}, query))});
  const data = await r.json();
  const box = document.getElementById('results');
  if (!append) box.innerHTML = '';
  for (const job of data.results) {
    const d = el('div', 'result');
    const h = el('h2', 'title'); const a = el('a', '', job.title); a.href = job.url;
    h.appendChild(a); d.appendChild(h);
    d.appendChild(el('span', 'company', job.company));
    d.appendChild(el('span', 'location', job.location));
    d.appendChild(el('time', 'posted', job.posted));
    if (job.salary) d.appendChild(el('span', 'salary', job.salary));
    box.appendChild(d);
  }
  const pager = document.getElementById('pager'); pager.innerHTML = '';
  if (data.has_more) {
    if (MORE) {
      const b = el('button', 'load-more', 'Load more'); b.type = 'button';
      b.onclick = () => { page += 1; load(true); }; pager.appendChild(b);
    } else {
      const n = el('a', 'next', 'Next'); n.href = '#page-' + (page + 1);
      n.onclick = (ev) => { ev.preventDefault(); page += 1; load(false); };
      pager.appendChild(n);
    }
  }
}
document.getElementById('search').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const f = ev.target;
  query = {q: f.q.value, category: f.category.value, remote: f.remote.checked,
           since: f.since.value};
  page = 1; load(false);
});
</script>"""

_NEVER = """<h1>Never</h1><div id="late"></div><script src="/api/never.js"></script>"""

_SNEAKY = """<h1>Sneaky</h1><div id="sneaky">pending</div><img src="%(target)s/img.png">
<script>
try { new WebSocket(%(target_js)s.replace(/^http/, 'ws') + '/ws'); } catch (e) {}
fetch(%(target_js)s + '/secret').then(r => r.text())
  .then(t => { document.getElementById('sneaky').textContent = 'got: ' + t; })
  .catch(e => { document.getElementById('sneaky').textContent = 'refused'; });
</script>"""


class JsSiteHandler(BaseHTTPRequestHandler):
    """The site's pages and its JSON endpoints (see the module docstring)."""

    hits: ClassVar[list[str]]  # every path requested, in order
    release: ClassVar[threading.Event]  # set when the test ends: /api/never.js gives up

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, body: str | bytes, content_type: str = "text/html; charset=utf-8") -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _page(self, title: str, body: str) -> None:
        self._send(_SHELL.format(title=title, body=body))

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        self.hits.append(self.path)
        if path == "/robots.txt":
            self._send("User-agent: *\nDisallow: /private\n", "text/plain")
        elif path == "/feed-results":
            self._page("Feed", _FEED)
        elif path == "/api/results.json":
            items: list[dict[str, Any]] = [
                {"n": n, "title": f"Title {n}"} for n in range(1, FEED_ITEMS + 1)
            ]
            pad = int(query.get("pad", ["0"])[0])  # bytes of filler: a body cap test
            if pad:
                items[0]["pad"] = "x" * pad
            self._send(json.dumps(items), "application/json")
        elif path.startswith(("/item/", "/job/")):
            n = path.rsplit("/", 1)[1]
            self._page(f"Page {n}", f"<h1>Page {n}</h1><p>Static content {n}.</p>")
        elif path == "/scroll":
            self._page("Scroll", _SCROLL % {"total": SCROLL_TOTAL})
        elif path == "/api/entries.json":
            offset = int(query.get("offset", ["0"])[0])
            end = min(offset + SCROLL_BATCH, SCROLL_TOTAL)
            self._send(
                json.dumps([f"Entry {i}" for i in range(offset + 1, end + 1)]), "application/json"
            )
        elif path == "/search":
            more = "true" if query.get("more") == ["1"] else "false"
            self._page("Search", _SEARCH % {"more": more})
        elif path == "/never":
            self._page("Never", _NEVER)
        elif path == "/slow":
            ms = int(query.get("ms", ["1000"])[0])
            self._page("Slow", f'<h1>Slow</h1><script src="/api/slow.js?ms={ms}"></script>')
        elif path == "/api/slow.js":
            self.release.wait(int(query.get("ms", ["1000"])[0]) / 1000)
            script = "document.body.insertAdjacentHTML('beforeend', '<a href=\"/item/99\">99</a>')"
            self._send(script, "text/javascript")
        elif path == "/api/never.js":
            self.release.wait(60)  # never answered while the test runs
        elif path == "/sneaky":
            target = query.get("target", ["http://127.0.0.2:9"])[0]
            self._page("Sneaky", _SNEAKY % {"target": target, "target_js": json.dumps(target)})
        elif path == "/big":
            filler = "<p>" + "x" * 1000 + "</p>"
            self._page("Big", '<img src="/img.png">' + filler * (BIG_BYTES // 1000))
        elif path == "/img.png":
            self._send(_PNG, "image/png")
        else:
            self.send_error(404)

    def do_POST(self) -> None:
        self.hits.append(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if self.path != "/api/search":
            self.send_error(404)
            return
        ask = json.loads(raw or b"{}")
        found = expected(
            str(ask.get("q") or ""),
            str(ask.get("category") or "all"),
            remote=bool(ask.get("remote")),
            since=str(ask.get("since") or ""),
        )
        page = max(int(ask.get("page") or 1), 1)
        chunk = found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        body = {
            "results": [job.as_json() for job in chunk],
            "total": len(found),
            "has_more": page * PAGE_SIZE < len(found),
        }
        self._send(json.dumps(body), "application/json")


# A 1x1 transparent PNG.
_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


@dataclass
class JsSite:
    """A running site: its base URL and every path it was asked for."""

    url: str
    hits: list[str]

    def asked(self, prefix: str) -> list[str]:
        return [hit for hit in self.hits if hit.startswith(prefix)]


@contextmanager
def serve_jssite(host: str = "127.0.0.1") -> Iterator[JsSite]:
    """Serve the site on ``host`` and a free port for the block."""
    hits: list[str] = []
    release = threading.Event()
    try:
        with serve_http(JsSiteHandler, host=host, hits=hits, release=release) as url:
            yield JsSite(url, hits)
    finally:
        release.set()


@dataclass
class Recorder:
    """Another loopback server that counts what reached it (the guard's target)."""

    url: str
    hits: list[str]


class _RecorderHandler(BaseHTTPRequestHandler):
    hits: ClassVar[list[str]]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.hits.append(self.path)
        data = b"secret"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@contextmanager
def serve_recorder(host: str = "127.0.0.2") -> Iterator[Recorder]:
    """A server on another loopback address that records every request it gets."""
    hits: list[str] = []
    with serve_http(_RecorderHandler, host=host, hits=hits) as url:
        yield Recorder(url, hits)
