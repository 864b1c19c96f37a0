"""The UI's pages: each renders a server-side shell that its script fills from the JSON API.

Pages never query the database while rendering, so they load (and say the API is down) even
when the database is not reachable. The one exception is the dashboard chart, an SVG image
loaded separately from ``/ui/charts/items-per-day.svg``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from haystack_collector import __version__
from haystack_collector.api.deps import DbDep, ReadAccess, ReadLaneDep, SettingsDep
from haystack_collector.fetch.download import read_data_file
from haystack_collector.snapshots import CONTENT_TYPES, snapshot_file, snapshot_folder
from haystack_collector.store.counts import items_per_day
from haystack_collector.store.snapshots import snapshot_kind
from haystack_collector.ui.charts import bar_chart_svg

TEMPLATES_DIR = Path(__file__).parent / "templates"
templates = Jinja2Templates(directory=TEMPLATES_DIR)  # autoescape is on for .html

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True, slots=True)
class NavEntry:
    page: str
    path: str
    label: str


NAV: tuple[NavEntry, ...] = (
    NavEntry("dashboard", "/", "Dashboard"),
    NavEntry("engines", "/engines", "Engines"),
    NavEntry("items", "/items", "Items"),
    NavEntry("postings", "/postings", "Postings"),
    NavEntry("runs", "/runs", "Runs"),
    NavEntry("watches", "/watches", "Watches"),
    NavEntry("queue", "/queue", "Queue"),
    NavEntry("hosts", "/hosts", "Hosts"),
    NavEntry("status", "/status", "Status log"),
    NavEntry("config", "/config", "Config"),
    NavEntry("admin", "/admin", "Database"),
)
_TITLES = {entry.page: entry.label for entry in NAV}


def _page(request: Request, page: str, **context: Any) -> HTMLResponse:
    title = context.pop("title", None) or _TITLES[page]
    return templates.TemplateResponse(
        request,
        f"{page}.html",
        {"page": page, "title": title, "nav": NAV, "version": __version__, **context},
    )


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request) -> HTMLResponse:
    return _page(request, "dashboard")


@router.get("/engines", response_class=HTMLResponse)
def engines_page(request: Request) -> HTMLResponse:
    return _page(request, "engines")


@router.get("/items", response_class=HTMLResponse)
def items_page(request: Request) -> HTMLResponse:
    return _page(request, "items")


@router.get("/items/{item_id}", response_class=HTMLResponse)
def item_page(request: Request, item_id: int) -> HTMLResponse:
    return _page(request, "item", title=f"Item {item_id}", item_id=item_id, nav_page="items")


@router.get("/postings", response_class=HTMLResponse)
def postings_page(request: Request) -> HTMLResponse:
    return _page(request, "postings")


@router.get("/runs", response_class=HTMLResponse)
def runs_page(request: Request) -> HTMLResponse:
    return _page(request, "runs")


@router.get("/jobs", include_in_schema=False)
def jobs_page(request: Request) -> RedirectResponse:
    """The Runs page's legacy address (it was "Jobs"); permanent, so bookmarks follow it."""
    query = f"?{request.url.query}" if request.url.query else ""
    return RedirectResponse(f"/runs{query}", status_code=308)


@router.get("/watches", response_class=HTMLResponse)
def watches_page(request: Request) -> HTMLResponse:
    return _page(request, "watches")


@router.get("/queue", response_class=HTMLResponse)
def queue_page(request: Request) -> HTMLResponse:
    return _page(request, "queue")


@router.get("/hosts", response_class=HTMLResponse)
def hosts_page(request: Request) -> HTMLResponse:
    return _page(request, "hosts")


@router.get("/status", response_class=HTMLResponse)
def status_page(request: Request) -> HTMLResponse:
    return _page(request, "status")


@router.get("/config", response_class=HTMLResponse)
def config_page(request: Request) -> HTMLResponse:
    return _page(request, "config")


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request) -> HTMLResponse:
    return _page(request, "admin")


@router.get("/ui/charts/items-per-day.svg")
def items_per_day_chart(
    db: DbDep, _reader: ReadAccess, days: Annotated[int, Query(ge=1, le=366)] = 30
) -> Response:
    """New items per day as an SVG image (loaded by the dashboard with an ``<img>``)."""
    today = datetime.now(UTC).date()
    counts = db.run_read(items_per_day, days=days, today=today)
    return Response(
        bar_chart_svg(counts),
        media_type="image/svg+xml",
        headers={"Cache-Control": "no-store"},
    )


# A rendered page is the scraped site's markup: shown in a sandbox (a unique origin, no
# scripts, no forms), loading nothing from anywhere (no tracking requests, no requests to the
# site again); the snapshot's own inline styles and data: images still show.
SNAPSHOT_HTML_POLICY = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
)
_SHA256_PATH = PathParam(pattern="^[0-9a-f]{64}$", min_length=64, max_length=64)


@router.get("/snapshots/{sha256}")
async def snapshot(
    db: DbDep,
    settings: SettingsDep,
    lane: ReadLaneDep,
    _reader: ReadAccess,
    sha256: Annotated[str, _SHA256_PATH],
) -> Response:
    """A stored page snapshot by its SHA-256: only a hash the database records as a snapshot,
    only its file in the snapshot folder (never through a symlink); 404 for anything else."""

    def read() -> tuple[str, bytes] | None:
        kind = db.run_read(snapshot_kind, sha256=sha256)
        if kind not in CONTENT_TYPES:
            return None
        folder = snapshot_folder(settings.downloads_dir.expanduser().absolute())
        path = snapshot_file(folder, sha256, kind)
        data = None if path is None else read_data_file(path)
        return None if data is None else (kind, data)

    found = await lane.run(read)
    if found is None:
        raise HTTPException(status_code=404, detail=f"no snapshot {sha256}")
    kind, data = found
    headers = {
        "Cache-Control": "private, max-age=86400",
        "Content-Disposition": f'inline; filename="{sha256}.{kind}"',
    }
    if kind == "html":
        headers["Content-Security-Policy"] = SNAPSHOT_HTML_POLICY
    return Response(data, media_type=CONTENT_TYPES[kind], headers=headers)  # type: ignore[index]
