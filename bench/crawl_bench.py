"""Crawl benchmark: `haystack crawl` against Scrapy (and wget) on two documentation sites.

    scripts/bench-setup.sh          # once: both sites, nginx-light, time, wget, .bench-venv
    .venv/bin/python bench/crawl_bench.py [--site python|bdb|both] [--concurrency 16] [--runs 3]
                                          [--warmup 0] [--database-url URL] [--skip-scrapy]
                                          [--skip-haystack] [--skip-wget] [--keep]

Everything it runs is in this repository (see crawl_bench.md). Per site (``--site``, default
both, one after the other) it starts nginx with ``bench/site/serve-site.sh start SITE`` (left
running; ``serve-site.sh stop SITE`` ends it): python3-doc on http://127.0.0.1:8088/ (526 pages,
~175 links each) and the Berkeley DB documentation on http://127.0.0.1:8090/ (~5,500 pages, few
links each). It computes the site's <a href> ground truth with ``bench/site/site_truth.py``
(cached in /tmp/haystack-crawl-bench/), then per round runs Scrapy
(``bench/peers/scrapy_crawl.py`` in .bench-venv, CONCURRENT_REQUESTS and _PER_DOMAIN = C,
DOWNLOAD_DELAY 0) and right after it Haystack (``python -m haystack_collector crawl`` from this
checkout's ``src`` on a fresh database, ``--concurrency C --delay 0``, robots, breakers and
retries on as by default), and wget (``bench/peers/wget_crawl.sh``: one connection, a sequential
reference with no target), each under ``/usr/bin/time -v``.

Per crawler it reports pages, the crawler's own seconds and pages/s (its last stdout line,
``pages=<n> seconds=<s> pages_per_s=<r>``), the whole process' wall seconds and CPU, and peak
RSS: the larger of GNU time's "Maximum resident set size" (the largest single process) and the
sampled sum over the process tree (so worker child processes count). Page sets: every crawler
against the site's truth (information), and Haystack's against Scrapy's, the target: every
page Scrapy finds, and nothing else but pages the bench can justify (each difference is listed
with its reason, see ``justify``). Targets per site: Haystack/Scrapy pages/s >= 2x (pages of
the agreed set per crawler second), Haystack/Scrapy peak RSS <= 1x. With ``--runs N`` each
figure is the best of N (highest pages/s, lowest RSS); rounds alternate the crawlers so drift
hits them all. Bench traffic goes to 127.0.0.1 only. Not a test: pytest never collects this.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urldefrag, urljoin

from sqlalchemy import MetaData, create_engine, text  # the bench runs in Haystack's venv

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "bench" / "site"  # nginx, its configs, the ground truth and the URL comparison
PEERS = ROOT / "bench" / "peers"  # the other crawlers: Scrapy and wget
HAYSTACK_SRC = ROOT / "src"  # this checkout's code, whichever venv runs it
DEFAULT_HAYSTACK_PYTHON = ROOT / ".venv" / "bin" / "python"
DEFAULT_SCRAPY_PYTHON = ROOT / ".bench-venv" / "bin" / "python"
GNU_TIME = Path("/usr/bin/time")
CACHE = Path(tempfile.gettempdir()) / "haystack-crawl-bench"


@dataclass(frozen=True, slots=True)
class Site:
    name: str  # serve-site.sh's argument
    package: str  # the Debian package that ships it
    root: Path  # its files on disk
    start_url: str
    max_depth: int  # no real limit: deeper than the site


SITES = {
    "python": Site(
        "python",
        "python3-doc",
        Path("/usr/share/doc/python3-doc/html"),
        "http://127.0.0.1:8088/index.html",
        100,
    ),
    "bdb": Site(
        "bdb",
        "db5.3-doc",
        Path("/usr/share/doc/db5.3-doc"),
        "http://127.0.0.1:8090/index.html",
        1000,
    ),
}

DEFAULT_CONCURRENCY = 16  # scrapy_crawl.py's default, as in the harness's published figures
SPEED_TARGET = 2.0  # Haystack pages/s >= 2x Scrapy's
RSS_TARGET = 1.0  # Haystack peak RSS <= Scrapy's
NOISE_SHARE = 0.25  # warn when the rest of the machine used > 25% of a core during a run
SUMMARY_LINE = re.compile(r"^pages=(\d+) seconds=([0-9.]+) pages_per_s=([0-9.]+)\s*$")
SETUP_HINT = "run scripts/bench-setup.sh first (as root)"
# <frame src=...> and <iframe src=...> on the site's pages (see ``frame_targets``).
FRAME_SRC = re.compile(rb"<i?frame\b[^>]*?\bsrc\s*=\s*[\"']?([^\"'\s>]+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Run:
    crawler: str
    pages: int  # the crawler's own count (last stdout line)
    seconds: float  # the crawler's own crawl time
    pps: float
    wall: float  # the whole process, start-up included
    cpu: float  # user + sys of the process tree
    time_rss_kb: int  # GNU time: largest single process
    tree_rss_kb: int  # sampled: sum over the process tree
    exit_code: int
    found: int  # distinct page URLs in its URL list
    coverage_ok: bool  # that list equals the truth
    coverage: str  # compare_urls.py's first line
    other_cpu: float = 0.0  # CPU seconds the rest of the machine used meanwhile (noise)

    @property
    def verified_pps(self) -> float:
        """Truth pages found per crawler second: both crawlers' pages counted by one rule."""
        return self.found / self.seconds if self.seconds and self.coverage_ok else 0.0

    @property
    def rss_mib(self) -> float:
        return max(self.time_rss_kb, self.tree_rss_kb) / 1024


# --- site and truth -------------------------------------------------------------------------


def ensure_site(site: Site) -> None:
    missing = []
    if not (site.root / "index.html").is_file():
        missing.append(site.package)
    if shutil.which("nginx") is None:
        missing.append("nginx-light")
    if not GNU_TIME.is_file():
        missing.append("time")
    if shutil.which("curl") is None:
        missing.append("curl")
    if missing:
        raise SystemExit(f"missing Debian packages: {' '.join(missing)}; {SETUP_HINT}")
    started = subprocess.run(
        [SITE / "serve-site.sh", "start", site.name], capture_output=True, text=True, check=False
    )
    if started.returncode != 0:
        raise SystemExit(f"serve-site.sh start failed: {started.stderr.strip()}; {SETUP_HINT}")
    print(f"site: {started.stdout.strip()}")


def load_truth(site: Site, refresh: bool) -> tuple[Path, int]:
    """The site's <a href> page list (one URL a line), computed from disk once and cached."""
    CACHE.mkdir(exist_ok=True)
    truth = CACHE / ("truth.txt" if site.name == "python" else f"truth-{site.name}.txt")
    stale = (
        not truth.is_file() or truth.stat().st_mtime < (site.root / "index.html").stat().st_mtime
    )
    if refresh or stale:
        print(f"truth: computing with site_truth.py for {site.name} ...", flush=True)
        tmp = truth.with_suffix(".tmp")
        base = site.start_url.removesuffix("index.html")
        subprocess.run(
            [
                sys.executable,
                SITE / "site_truth.py",
                "--root",
                site.root,
                "--base",
                base,
                "--list",
                tmp,
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        tmp.replace(truth)
    pages = sum(1 for line in truth.read_text().splitlines() if line.strip())
    print(f"truth: {pages} pages reachable through <a href> ({truth})")
    return truth, pages


def compare(truth: Path, urls: Path) -> tuple[bool, str, int]:
    result = subprocess.run(
        [sys.executable, SITE / "compare_urls.py", truth, urls],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = result.stdout.splitlines()
    head = lines[0] if lines else result.stderr.strip()
    for line in lines[1:6]:
        print(f"      {line.strip()}")
    distinct = re.search(r"crawler_distinct=(\d+)", head)
    return result.returncode == 0, head, int(distinct.group(1)) if distinct else 0


# --- Haystack's URL list --------------------------------------------------------------------

# How the crawl engine (src/haystack_collector/engines/web_scraper.py, ``_page_record``) stores
# a fetched page; ADAPT here if that changes. Every fetched URL is an Item (ItemURI) with the
# ItemData rows 'StatusCode' (int; NULL when the fetch failed), 'ContentType' and, after a
# redirect, 'FinalUrl'. Link targets that were never fetched are Items without a StatusCode.
# A page, as in the truth, is a fetch that answered 200 text/html, under its final URL.
STATUS_KEY = "StatusCode"
CONTENT_TYPE_KEY = "ContentType"
FINAL_URL_KEY = "FinalUrl"
HTML_TYPES = {"text/html", "application/xhtml+xml"}


def export_haystack_pages(database_url: str, out: Path) -> str:
    """Write the URLs of the crawled HTML pages to ``out`` (read-only SQL, any backend).

    Returns a diagnostic line: items, fetched items by status, what was left out.
    """
    engine = create_engine(database_url)
    try:
        with engine.connect() as con:
            total = con.execute(text("SELECT COUNT(*) FROM Items")).scalar_one()
            rows = con.execute(
                text(
                    "SELECT i.itemId, i.ItemURI, d.itemData, d.itemDataValue FROM Items i"
                    " JOIN ItemData d ON d.itemId = i.itemId WHERE d.itemData IN (:s, :c, :f)"
                    " ORDER BY d.itemDataSeq, d.ItemDataId"
                ),
                {"s": STATUS_KEY, "c": CONTENT_TYPE_KEY, "f": FINAL_URL_KEY},
            ).all()
            edges = con.execute(  # the link graph, for justify()
                text(
                    "SELECT a.ItemURI, b.ItemURI FROM ItemLinks l"
                    " JOIN Items a ON a.itemId = l.itemId_left"
                    " JOIN Items b ON b.itemId = l.itemId_right"
                )
            ).all()
    finally:
        engine.dispose()
    fetched: dict[int, dict[str, str | None]] = {}
    for item_id, uri, key, value in rows:  # a later row (another fetch) wins
        fetched.setdefault(item_id, {"uri": uri})[key] = None if value is None else str(value)
    fetched = {k: v for k, v in fetched.items() if STATUS_KEY in v}
    codes = Counter(data[STATUS_KEY] or "failed" for data in fetched.values())
    pages, not_html = [], 0
    for data in fetched.values():
        if data[STATUS_KEY] != "200":
            continue
        kind = (data.get(CONTENT_TYPE_KEY) or "text/html").split(";")[0].strip().lower()
        if kind not in HTML_TYPES:
            not_html += 1
            continue
        pages.append(data.get(FINAL_URL_KEY) or data["uri"])
    out.write_text("".join(f"{url}\n" for url in sorted(pages)))
    out.with_suffix(".edges").write_text("".join(f"{a} {b}\n" for a, b in edges))
    histogram = ", ".join(f"{code}: {n}" for code, n in sorted(codes.items())) or "none"
    return (
        f"db: items={total} fetched={len(fetched)} ({histogram}) "
        f"non_html_200={not_html} -> pages={len(pages)} distinct={len(set(pages))}"
    )


def fresh_database(database_url: str | None, folder: Path, python: Path) -> str:
    """The run's database: a new SQLite file, or the given server database emptied and migrated.

    ``haystack crawl`` creates a SQLite file's schema itself; a server database it expects
    migrated (``haystack db upgrade``), outside the measured run.
    """
    if database_url is None:
        return f"sqlite:///{folder / 'crawl.db'}"
    engine = create_engine(database_url)
    try:
        meta = MetaData()
        meta.reflect(engine)
        meta.drop_all(engine)
    finally:
        engine.dispose()
    subprocess.run(
        [python, "-m", "haystack_collector", "--database-url", database_url, "db", "upgrade"],
        check=True,
        stdout=subprocess.DEVNULL,
        env=dict(os.environ, PYTHONPATH=str(HAYSTACK_SRC)),
    )
    return database_url


# --- the page sets ----------------------------------------------------------------------------


def load_urls(path: Path) -> set[str]:
    """A URL list (one a line, or the Scrapy feed's JSON lines), fragments dropped."""
    urls = set()
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line:
            urls.add(urldefrag(json.loads(line)["url"] if line.startswith("{") else line)[0])
    return urls


def frame_targets(site: Site) -> set[str]:
    """URLs that the site's pages show in a <frame> or <iframe> (read from disk, cached)."""
    cache = CACHE / f"frames-{site.name}.txt"
    if cache.is_file() and cache.stat().st_mtime >= (site.root / "index.html").stat().st_mtime:
        return set(cache.read_text().split())
    base = site.start_url.removesuffix("index.html")
    found: set[str] = set()
    for path in site.root.rglob("*.htm*"):
        page = base + quote(path.relative_to(site.root).as_posix())
        for src in FRAME_SRC.findall(path.read_bytes()):
            found.add(urldefrag(urljoin(page, src.decode("latin-1")))[0])
    CACHE.mkdir(exist_ok=True)
    cache.write_text("".join(f"{url}\n" for url in sorted(found)))
    return found


def behind_frames(start: str, edges_file: Path, blocked: set[str]) -> set[str]:
    """Pages Haystack reached only through one of ``blocked`` (frame targets Scrapy lacks).

    A walk of Haystack's own link graph from ``start`` that never enters a blocked page: what
    it does not reach, Haystack found only by following a frame.
    """
    graph: dict[str, list[str]] = {}
    for line in edges_file.read_text().splitlines():
        a, _, b = line.partition(" ")
        graph.setdefault(a, []).append(b)
    seen, todo = {start}, [start]
    while todo:
        for target in graph.get(todo.pop(), ()):
            if target not in seen and target not in blocked:
                seen.add(target)
                todo.append(target)
    return set(graph) | {b for targets in graph.values() for b in targets} - seen


def justify(url: str, frames: set[str], framed: set[str], side: str) -> str | None:
    """Why a page only Haystack (side "extra") or only Scrapy ("missing") found is fine."""
    # scrapy_crawl.py's LinkExtractor follows <a> and <area> only; a frameset's frames are
    # the site's own pages that a browser shows, so Haystack follows them, and their links.
    if side == "extra" and url in frames:
        return "a <frame>/<iframe> target: Scrapy's LinkExtractor does not follow frames"
    if side == "extra" and url in framed:
        return "linked only from pages shown in frames, which Scrapy does not follow"
    return None


@dataclass(frozen=True, slots=True)
class PageSets:
    missing: list[str]  # Scrapy found, Haystack did not
    extra: list[str]  # Haystack found, Scrapy did not
    unjustified: list[str]
    common: int

    @property
    def ok(self) -> bool:
        return not self.unjustified


def compare_with_scrapy(site: Site, haystack: Path, scrapy: Path) -> PageSets:
    ours, theirs = load_urls(haystack), load_urls(scrapy)
    frames = frame_targets(site)
    edges = haystack.with_suffix(".edges")
    framed = behind_frames(site.start_url, edges, frames - theirs) if edges.is_file() else set()
    missing, extra = sorted(theirs - ours), sorted(ours - theirs)
    print(
        f"    page sets Haystack vs Scrapy: common={len(ours & theirs)} "
        f"missing={len(missing)} extra={len(extra)}"
    )
    unjustified = []
    for side, urls in (("missing", missing), ("extra", extra)):
        for url in urls:
            why = justify(url, frames, framed, side)
            if why is None:
                unjustified.append(url)
            print(f"      {side}: {url}  [{why or 'UNJUSTIFIED'}]")
    return PageSets(missing, extra, unjustified, len(ours & theirs))


# --- measuring a process --------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                kids.extend(int(k) for k in f.read().split())
    except OSError:
        pass
    return kids


def tree_rss_kb(root_pid: int) -> int:
    """Sum of VmRSS over the descendants of ``root_pid`` (not itself: that is GNU time)."""
    total, todo = 0, _children(root_pid)
    page_kb = os.sysconf("SC_PAGE_SIZE") // 1024
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * page_kb
        except (OSError, IndexError, ValueError):
            continue
        todo.extend(_children(pid))
    return total


def busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (all cores), from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return 0.0
    idle = sum(fields[3:5])  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _time_v(text: str, label: str) -> float:
    found = re.search(re.escape(label) + r":\s*(\S+)", text)
    return float(found.group(1)) if found else 0.0


def measure(
    name: str, cmd: Sequence[str | Path], folder: Path, sample: float, env: dict[str, str]
) -> tuple[str, int, float, float, int, int, float]:
    """Run ``cmd`` under GNU time in ``folder``.

    Returns stdout, exit code, wall s, CPU s, GNU time's peak RSS, the sampled tree RSS peak and
    the CPU seconds everything else on the machine (nginx included) used meanwhile.
    """
    out, err, tv = folder / f"{name}.stdout", folder / f"{name}.stderr", folder / f"{name}.time"
    with out.open("w") as stdout, err.open("w") as stderr:
        busy0, t0 = busy_seconds(), time.monotonic()
        proc = subprocess.Popen(
            [GNU_TIME, "-v", "-o", tv, *cmd],
            cwd=folder,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            env=env,
        )
        peak = 0
        while proc.poll() is None:
            if sample > 0:
                peak = max(peak, tree_rss_kb(proc.pid))
                time.sleep(sample)
            else:
                proc.wait()
        wall, busy = time.monotonic() - t0, busy_seconds() - busy0
    report = tv.read_text() if tv.is_file() else ""
    cpu = _time_v(report, "User time (seconds)") + _time_v(report, "System time (seconds)")
    rss = int(_time_v(report, "Maximum resident set size (kbytes)"))
    return out.read_text(), proc.returncode, wall, cpu, rss, peak, max(0.0, busy - cpu)


def run_crawler(
    name: str,
    cmd: Sequence[str | Path],
    folder: Path,
    urls: Path,
    truth: Path,
    sample: float,
    database_url: str | None = None,
) -> Run:
    env = dict(os.environ)
    if name == "haystack":  # this checkout's code, whichever venv runs it
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(HAYSTACK_SRC), env.get("PYTHONPATH")])
        )
    stdout, code, wall, cpu, rss, tree, other = measure(name, cmd, folder, sample, env)
    lines = [line for line in stdout.splitlines() if line.strip()]
    last = SUMMARY_LINE.match(lines[-1]) if lines else None
    if not last:
        tail = (folder / f"{name}.stderr").read_text()[-3000:]
        raise SystemExit(
            f"{name}: no 'pages=.. seconds=.. pages_per_s=..' last line (exit {code});\n"
            f"stdout tail: {lines[-3:]}\nstderr tail:\n{tail}"
        )
    if name == "haystack" and database_url is not None:
        print(f"      {export_haystack_pages(database_url, urls)}")
    ok, head, found = compare(truth, urls) if urls.is_file() else (False, "no URL list", 0)
    return Run(
        crawler=name,
        pages=int(last.group(1)),
        seconds=float(last.group(2)),
        pps=float(last.group(3)),
        wall=wall,
        cpu=cpu,
        time_rss_kb=rss,
        tree_rss_kb=tree,
        exit_code=code,
        found=found,
        coverage_ok=code == 0 and (ok or name != "wget"),  # the truth is <a href> only
        coverage=head,
        other_cpu=other,
    )


# --- the two crawlers -----------------------------------------------------------------------


def scrapy_cmd(args: argparse.Namespace, site: Site, feed: Path) -> list[str | Path]:
    # scrapy_crawl.py sets ROBOTSTXT_OBEY=False; the sites have no robots.txt (404), so
    # Haystack, which obeys robots.txt, only fetches /robots.txt once more: the crawls are the same.
    return [
        args.scrapy_python,
        PEERS / "scrapy_crawl.py",
        "-c",
        str(args.concurrency),
        "--url",
        site.start_url,
        "--feed",
        feed,
    ]


def haystack_cmd(args: argparse.Namespace, site: Site, database_url: str) -> list[str | Path]:
    return [
        args.haystack_python,
        "-m",
        "haystack_collector",
        "--database-url",
        database_url,
        "crawl",
        site.start_url,
        "--concurrency",
        str(args.concurrency),
        "--delay",
        "0",
        "--max-pages",
        "100000",
        "--max-depth",
        str(args.max_depth or site.max_depth),
        *args.haystack_arg,
    ]


def wget_cmd(site: Site, folder: Path, urls: Path) -> list[str | Path]:
    # TMPDIR keeps wget's download folder (deleted after counting) and its log in the work folder.
    return [
        "env",
        f"TMPDIR={folder}",
        f"LOG={folder / 'wget.log'}",
        f"URLS={urls}",
        PEERS / "wget_crawl.sh",
        site.start_url,
    ]


def check_crawlers(args: argparse.Namespace) -> None:
    if not args.skip_scrapy:
        probe = [args.scrapy_python, "-c", "import scrapy; print(scrapy.__version__)"]
        found = subprocess.run(probe, capture_output=True, text=True, check=False)
        if not args.scrapy_python.is_file() or found.returncode != 0:
            raise SystemExit(f"no Scrapy in {args.scrapy_python.parent.parent}; {SETUP_HINT}")
        print(f"scrapy: {found.stdout.strip()} ({args.scrapy_python})")
    if not args.skip_haystack:
        if not args.haystack_python.is_file():
            raise SystemExit(f"no {args.haystack_python}: make the dev venv first (make unit)")
        probe = [args.haystack_python, "-m", "haystack_collector", "crawl", "--help"]
        env = dict(os.environ, PYTHONPATH=str(HAYSTACK_SRC))
        found = subprocess.run(probe, capture_output=True, text=True, check=False, env=env)
        if found.returncode != 0:
            raise SystemExit(
                "`haystack crawl` is not available in this checkout yet; "
                "run with --skip-haystack to measure Scrapy alone"
            )
        print(f"haystack: {args.haystack_python} -m haystack_collector crawl ({HAYSTACK_SRC})")
    if not args.skip_wget:
        if shutil.which("wget") is None:
            raise SystemExit(f"missing Debian package: wget; {SETUP_HINT} (or --skip-wget)")
        version = subprocess.run(["wget", "--version"], capture_output=True, text=True, check=False)
        print(f"wget: {(version.stdout.splitlines() or ['?'])[0]}")


# --- report ---------------------------------------------------------------------------------


def best(runs: list[Run]) -> Run:
    """The highest pages/s run, carrying the lowest peak RSS seen over all runs."""
    top = max(runs, key=lambda r: (r.verified_pps, r.pps))
    low = min(runs, key=lambda r: r.rss_mib)
    return Run(
        **{
            **{field: getattr(top, field) for field in Run.__dataclass_fields__},
            "time_rss_kb": low.time_rss_kb,
            "tree_rss_kb": low.tree_rss_kb,
            "coverage_ok": all(r.coverage_ok for r in runs),
        }
    )


def print_run(label: str, run: Run) -> None:
    print(
        f"  {label}: pages={run.pages} seconds={run.seconds:.3f} pages_per_s={run.pps:.1f} "
        f"wall={run.wall:.2f} cpu={run.cpu:.2f} rss_time={run.time_rss_kb / 1024:.1f}MiB "
        f"rss_tree={run.tree_rss_kb / 1024:.1f}MiB other_cpu={run.other_cpu:.1f} "
        f"exit={run.exit_code} | {run.coverage}",
        flush=True,
    )


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(site: Site, results: dict[str, Run], truth_pages: int, runs: int, sets_ok: bool) -> str:
    """Print the site's table and ratios; return its SUMMARY line."""
    print(
        f"\n{site.name}: best of {runs} (pages/s: highest; peak RSS: lowest, max(GNU time, "
        "process tree)); found = distinct HTML pages in its URL list, found/s = found / the "
        "crawler's own seconds (used for the ratio), CPU ms/page = process CPU / found"
    )
    print(
        f"  {'crawler':<9} {'pages':>5} {'found':>5} {'seconds':>8} {'pages/s':>8} "
        f"{'found/s':>8} {'wall s':>7} {'CPU s':>7} {'CPU ms/page':>11} {'peak RSS MiB':>12}"
        "  truth (<a href> only)"
    )
    for run in results.values():
        per_page = 1000 * run.cpu / run.found if run.found else 0.0
        print(
            f"  {run.crawler:<9} {run.pages:>5} {run.found:>5} {run.seconds:>8.2f} "
            f"{run.pps:>8.1f} {run.verified_pps:>8.1f} {run.wall:>7.2f} {run.cpu:>7.2f} "
            f"{per_page:>11.2f} {run.rss_mib:>12.1f}  {run.found}/{truth_pages}"
        )
    noisy = [r for r in results.values() if r.other_cpu > NOISE_SHARE * r.wall]
    if noisy:
        print(
            "  note: other processes kept the CPUs busy during "
            + ", ".join(f"{r.crawler} ({r.other_cpu:.0f} CPU s in {r.wall:.0f} s)" for r in noisy)
            + ": absolute figures are inflated; compare the ratios, or rerun on a quiet machine"
        )
    checks = {f"{run.crawler} exit": run.coverage_ok for run in results.values()}
    scrapy, haystack = results.get("scrapy"), results.get("haystack")
    figures = "; ".join(
        f"{run.crawler} {run.verified_pps:.1f} pages/s {run.rss_mib:.0f} MiB"
        for run in results.values()
    )
    if scrapy and haystack:
        speed = haystack.verified_pps / scrapy.verified_pps if scrapy.verified_pps else 0.0
        rss = haystack.rss_mib / scrapy.rss_mib if scrapy.rss_mib else float("inf")
        wall = (haystack.found / haystack.wall) / (scrapy.found / scrapy.wall)
        raw = haystack.pps / scrapy.pps if scrapy.pps else 0.0
        cpu = (scrapy.cpu / scrapy.found) / (haystack.cpu / haystack.found) if haystack.cpu else 0
        checks["same pages as Scrapy"] = sets_ok
        checks[f"speed {speed:.2f}x"] = speed >= SPEED_TARGET
        checks[f"RSS {rss:.2f}x"] = rss <= RSS_TARGET
        print(
            f"\n  {site.name}: pages/s Haystack/Scrapy = {speed:.2f}x "
            f"(target >= {SPEED_TARGET:g}x) "
            f"{verdict(speed >= SPEED_TARGET)}   [information: own pages_per_s {raw:.2f}x, "
            f"whole-process wall {wall:.2f}x, CPU per page Scrapy/Haystack {cpu:.2f}x]"
        )
        print(
            f"  {site.name}: peak RSS Haystack/Scrapy = {rss:.2f}x (target <= {RSS_TARGET:g}x) "
            f"{verdict(rss <= RSS_TARGET)}"
        )
        print(f"  {site.name}: page set Haystack vs Scrapy {verdict(sets_ok)}")
    else:
        figures += "; ratios not measured (one crawler skipped)"
    ok = all(checks.values())
    detail = ", ".join(f"{name} {verdict(good)}" for name, good in checks.items())
    return f"{site.name}: {verdict(ok)} - {detail} - {figures}"


# --- main -----------------------------------------------------------------------------------


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--site", choices=["python", "bdb", "both"], default="both", help="default both"
    )
    ap.add_argument("--concurrency", "-c", type=int, default=DEFAULT_CONCURRENCY)
    ap.add_argument("--runs", "-n", type=int, default=3, help="best of N rounds (default 3)")
    ap.add_argument("--warmup", type=int, default=0, help="uncounted rounds first (default 0)")
    ap.add_argument("--skip-scrapy", action="store_true")
    ap.add_argument("--skip-haystack", action="store_true")
    ap.add_argument("--skip-wget", action="store_true", help="the sequential reference crawler")
    ap.add_argument(
        "--max-depth", type=int, default=None, help="default: deeper than the site (100 / 1000)"
    )
    ap.add_argument(
        "--database-url",
        default=None,
        metavar="URL",
        help="Haystack's database, e.g. mysql+pymysql://root@127.0.0.1:3306/haystack_bench; "
        "its tables are DROPPED before every run (default: a new SQLite file per run)",
    )
    ap.add_argument(
        "--haystack-python",
        type=Path,
        default=DEFAULT_HAYSTACK_PYTHON,
        help=f"the venv that runs this checkout's src/ (default {DEFAULT_HAYSTACK_PYTHON})",
    )
    ap.add_argument(
        "--scrapy-python",
        type=Path,
        default=DEFAULT_SCRAPY_PYTHON,
        help=f"the venv with Scrapy (default {DEFAULT_SCRAPY_PYTHON})",
    )
    ap.add_argument(
        "--haystack-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for `haystack crawl` (repeatable, e.g. --haystack-arg=--flag)",
    )
    ap.add_argument(
        "--rss-sample",
        type=float,
        default=0.1,
        metavar="S",
        help="process-tree RSS sampling interval in seconds; 0 = GNU time only (default 0.1)",
    )
    ap.add_argument("--refresh-truth", action="store_true", help="recompute the cached truth")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (logs, DB, lists)")
    args = ap.parse_args(argv)
    if args.skip_scrapy and args.skip_haystack and args.skip_wget:
        ap.error("nothing to run: every crawler skipped")
    if args.runs < 1 or args.concurrency < 1:
        ap.error("--runs and --concurrency must be >= 1")
    return args


def bench_site(args: argparse.Namespace, site: Site, crawlers: list[str], work: Path) -> str:
    """Every round on one site; returns its SUMMARY line."""
    ensure_site(site)
    truth, truth_pages = load_truth(site, args.refresh_truth)
    print(
        f"crawl bench {site.name}: {' then '.join(crawlers)} from {site.start_url}, concurrency "
        f"{args.concurrency}, delay 0, {args.warmup} warm-up + {args.runs} rounds"
    )
    runs: dict[str, list[Run]] = {name: [] for name in crawlers}
    sets_ok = True
    for n in range(args.warmup + args.runs):
        label = f"warm-up {n + 1}" if n < args.warmup else f"run {n - args.warmup + 1}"
        lists: dict[str, Path] = {}
        for name in crawlers:
            folder = work / f"{site.name}-{n}-{name}"
            folder.mkdir()
            database_url = None
            if name == "scrapy":
                urls = folder / "scrapy-crawl.jsonl"
                cmd = scrapy_cmd(args, site, urls)
            elif name == "wget":
                urls = folder / "wget-pages.txt"
                cmd = wget_cmd(site, folder, urls)
            else:
                urls = folder / "haystack-pages.txt"
                database_url = fresh_database(args.database_url, folder, args.haystack_python)
                cmd = haystack_cmd(args, site, database_url)
            run = run_crawler(name, cmd, folder, urls, truth, args.rss_sample, database_url)
            print_run(f"{site.name} {label} {name}", run)
            lists[name] = urls
            if n >= args.warmup:
                runs[name].append(run)
        if "scrapy" in lists and "haystack" in lists and n >= args.warmup:
            sets = compare_with_scrapy(site, lists["haystack"], lists["scrapy"])
            sets_ok = sets_ok and sets.ok
    return report(
        site, {name: best(found) for name, found in runs.items()}, truth_pages, args.runs, sets_ok
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    check_crawlers(args)
    crawlers = [
        name
        for name, skip in (
            ("scrapy", args.skip_scrapy),
            ("haystack", args.skip_haystack),
            ("wget", args.skip_wget),
        )
        if not skip
    ]
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} CPUs, load average {load:.2f} (1 min) before the bench")
    sites = list(SITES.values()) if args.site == "both" else [SITES[args.site]]
    work = Path(tempfile.mkdtemp(prefix="haystack-crawl-bench-"))
    try:
        summaries = [bench_site(args, site, crawlers, work) for site in sites]
    finally:
        if args.keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print()
    for line in summaries:
        print(f"SUMMARY {line}")
    ok = all(": PASS" in line for line in summaries)
    print(f"SUMMARY: {verdict(ok)} ({len(summaries)} site(s))")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
