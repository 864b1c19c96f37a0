#!/usr/bin/env python3
"""Ground truth for the crawl benchmark (stdlib only).

Computes the set of HTML pages reachable from index.html by following
same-host <a href> links only (fragments and query strings stripped, URLs
normalized), and prints the count.

Two independent modes:
  --root DIR   (default) walk the files on disk, resolving each link the way a
               browser would against a virtual base URL and mapping it to a
               file the way the static server (nginx, `index index.html`) does.
               Needs no server at all.
  --http URL   fetch over HTTP from a running server, starting at URL, and
               decide "HTML page" by the Content-Type of a 200 response.

The last line printed is `truth_pages=<n>` (distinct normalized page URLs).
From the shared crawl harness (only type hints and formatting differ).
"""

from __future__ import annotations

import argparse
import http.client
import os
import sys
import time
from collections import deque
from html.parser import HTMLParser
from urllib.parse import SplitResult, quote, unquote, urldefrag, urljoin, urlsplit, urlunsplit

DEFAULT_ROOT = "/usr/share/doc/python3-doc/html"
DEFAULT_BASE = "http://127.0.0.1:8088/"
HTML_SUFFIXES = (".html", ".htm", ".shtml")  # nginx mime.types -> text/html
SAFE = "/:@!$&'()*+,;=-._~"  # unreserved + sub-delims kept literal in a path


class AnchorParser(HTMLParser):
    """Collects href of <a> tags (and honours <base href>)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []
        self.base: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            for k, v in attrs:
                if k == "href" and v is not None:
                    self.hrefs.append(v)
        elif tag == "base" and self.base is None:
            for k, v in attrs:
                if k == "href" and v:
                    self.base = v

    handle_startendtag = handle_starttag


def host_key(parts: SplitResult) -> str:
    host = (parts.hostname or "").lower()
    port = parts.port
    if (
        port is None
        or (parts.scheme == "http" and port == 80)
        or (parts.scheme == "https" and port == 443)
    ):
        return host
    return f"{host}:{port}"


def normalize(page_url: str, href: str, base_override: str | None = None) -> str | None:
    """Absolute, normalized URL without fragment/query, or None if unusable."""
    href = href.strip()
    if not href:
        return None  # empty href = the page itself; not a new page
    base = urljoin(page_url, base_override) if base_override else page_url
    absu, _frag = urldefrag(urljoin(base, href))
    p = urlsplit(absu)
    if p.scheme not in ("http", "https"):
        return None
    path = quote(unquote(p.path or "/"), safe=SAFE)
    return urlunsplit((p.scheme.lower(), host_key(p), path, "", ""))


def parse_links(html_text: str, page_url: str, start_host: str) -> list[str]:
    ap = AnchorParser()
    try:
        ap.feed(html_text)
        ap.close()
    except Exception as e:  # malformed HTML should not kill ground truth
        print(f"warn: parse error on {page_url}: {e}", file=sys.stderr)
    out = []
    for h in ap.hrefs:
        u = normalize(page_url, h, ap.base)
        if u is not None and urlsplit(u).netloc == start_host:
            out.append(u)
    return out


def start_of(base: str, href: str) -> str:
    start = normalize(base, href)
    if start is None:
        raise SystemExit(f"not an http(s) start URL: {base}")
    return start


def crawl_fs(root: str, base: str) -> tuple[set[str], set[str], set[str], set[str]]:
    root = os.path.realpath(root)
    start = start_of(base, "index.html")
    start_host = urlsplit(start).netloc
    seen = {start}
    queue = deque([start])
    pages: set[str] = set()
    files: set[str] = set()
    non_html: set[str] = set()
    broken: set[str] = set()
    while queue:
        url = queue.popleft()
        path = unquote(urlsplit(url).path)
        fpath = os.path.normpath(os.path.join(root, path.lstrip("/")))
        if not (fpath == root or fpath.startswith(root + os.sep)):
            broken.add(url)
            continue
        if os.path.isdir(fpath):
            # nginx: "/dir" -> 301 "/dir/"; "/dir/" -> dir/index.html
            if not path.endswith("/"):
                nxt = normalize(url, os.path.basename(path) + "/")
                if nxt is not None and nxt not in seen:
                    seen.add(nxt)
                    queue.append(nxt)
                continue
            fpath = os.path.join(fpath, "index.html")
        if not os.path.isfile(fpath):
            broken.add(url)
            continue
        if not fpath.lower().endswith(HTML_SUFFIXES):
            non_html.add(url)
            continue
        pages.add(url)
        files.add(os.path.realpath(fpath))
        with open(fpath, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        for link in parse_links(text, url, start_host):
            if link not in seen:
                seen.add(link)
                queue.append(link)
    return pages, files, non_html, broken


def crawl_http(start_url: str) -> tuple[set[str], set[str], set[str], int]:
    start = start_of(start_url, start_url)
    sp = urlsplit(start)
    start_host, hostname = sp.netloc, sp.hostname or "127.0.0.1"
    conn = http.client.HTTPConnection(hostname, sp.port or 80, timeout=30)
    seen = {start}
    queue = deque([start])
    pages: set[str] = set()
    non_html: set[str] = set()
    broken: set[str] = set()
    redirects = 0
    while queue:
        url = queue.popleft()
        path = urlsplit(url).path
        for attempt in (1, 2):
            try:
                conn.request("GET", path, headers={"Host": start_host})
                resp = conn.getresponse()
                body = resp.read()
                break
            except (http.client.HTTPException, OSError):
                conn.close()
                conn = http.client.HTTPConnection(hostname, sp.port or 80, timeout=30)
                if attempt == 2:
                    raise
        if resp.status in (301, 302, 303, 307, 308):
            redirects += 1
            loc = resp.getheader("Location")
            nxt = normalize(url, loc) if loc else None
            if nxt and urlsplit(nxt).netloc == start_host and nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
            continue
        if resp.status != 200:
            broken.add(url)
            continue
        ctype = (resp.getheader("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "text/html":
            non_html.add(url)
            continue
        pages.add(url)
        for link in parse_links(body.decode("utf-8", "replace"), url, start_host):
            if link not in seen:
                seen.add(link)
                queue.append(link)
    conn.close()
    return pages, non_html, broken, redirects


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--root", default=None, help=f"doc folder on disk (default {DEFAULT_ROOT})")
    g.add_argument("--http", metavar="URL", help="crawl a running server from URL instead")
    ap.add_argument("--base", default=DEFAULT_BASE, help="virtual base URL for --root mode")
    ap.add_argument("--list", metavar="FILE", help="write the sorted page URLs to FILE")
    args = ap.parse_args()

    t0 = time.monotonic()
    if args.http:
        pages, non_html, broken, redirects = crawl_http(args.http)
        print(f"mode=http start={args.http}")
        print(f"redirects_followed={redirects}")
    else:
        root = args.root or DEFAULT_ROOT
        pages, files, non_html, broken = crawl_fs(root, args.base)
        print(f"mode=fs root={root} base={args.base}")
        print(f"distinct_html_files={len(files)}")
        all_html = sum(
            1
            for d, _, fs in os.walk(os.path.realpath(root))
            for n in fs
            if n.lower().endswith(HTML_SUFFIXES)
        )
        print(f"html_files_on_disk={all_html}")
    print(f"non_html_link_targets={len(non_html)}")
    print(f"broken_links={len(broken)}")
    for u in sorted(broken)[:10]:
        print(f"  broken: {u}")
    print(f"elapsed_s={time.monotonic() - t0:.2f}")
    if args.list:
        with open(args.list, "w") as f:
            f.writelines(u + "\n" for u in sorted(pages))
    print(f"truth_pages={len(pages)}")


if __name__ == "__main__":
    main()
