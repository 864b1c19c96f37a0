"""``haystack crawl --render --snapshot``: each rendered page's snapshots stored by hash under
the downloads folder and linked from the page; the option's mistakes are refused up front."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from haystack_collector.cli import app
from tests.databases import migrated_database
from tests.integration.crawl.helpers import link_edges
from tests.jssite import JsSite

pytestmark = [pytest.mark.usefixtures("user_shell"), pytest.mark.timeout(180)]


def haystack(url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--database-url", url, *args])
    return result.exit_code, result.stdout, result.stderr


def test_crawl_render_snapshot_keeps_a_png_and_pdf_of_each_page(
    tmp_path: Path, jssite: JsSite
) -> None:
    start = f"{jssite.url}/feed-results"
    url = f"sqlite:///{tmp_path / 'snap.db'}"
    args = ["crawl", start, "--delay", "0", "--max-depth", "0", "--render"]
    code, _, err = haystack(url, *args, "--wait-selector", "li.result", "--snapshot", "png,pdf")
    assert code == 0, err

    # user_shell works in tmp_path: the downloads folder is ./downloads.
    folder = tmp_path / "downloads" / "snapshots"
    files = sorted(folder.iterdir())
    assert sorted(path.suffix for path in files) == [".pdf", ".png"]
    for path in files:
        assert path.stem == hashlib.sha256(path.read_bytes()).hexdigest()
    png = next(path for path in files if path.suffix == ".png")
    assert png.read_bytes().startswith(b"\x89PNG")
    with migrated_database(url) as db:
        linked = {right for left, right in link_edges(db) if left == start}
    assert {f"urn:sha256:{path.stem}" for path in files} <= linked


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--snapshot", "png"], "--snapshot needs --render"),
        (["--render", "--snapshot", "png,gif"], "unknown snapshot kind 'gif'"),
    ],
)
def test_snapshot_mistakes_are_refused_before_any_fetch(
    tmp_path: Path, jssite: JsSite, args: list[str], problem: str
) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    code, _, err = haystack(url, "crawl", f"{jssite.url}/feed-results", *args)
    assert code != 0
    assert problem in err
    assert jssite.hits == []
