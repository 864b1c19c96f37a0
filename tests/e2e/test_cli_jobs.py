"""``haystack jobs``: the jobs every source collected, listed together and deduplicated."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from haystack_collector.cli import app
from haystack_collector.extract.sites import builtin_sites
from haystack_collector.logs import reset_logging
from tests.integration.engines.sites_board import POSTINGS, Board, serve


@pytest.fixture(autouse=True)
def _clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith(("HAYSTACK_", "DB_")) and not name.startswith("HAYSTACK_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield
    reset_logging()


def haystack(url: str, *args: str) -> Result:
    return CliRunner().invoke(app, ["--database-url", url, *args], catch_exceptions=False)


def test_jobs_found_by_a_form_search_are_listed_with_their_job_fields(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    board = Board()
    with serve(board) as base:
        source = builtin_sites()["bctechnology"].source
        assert source is not None
        definition = tmp_path / "board.yaml"
        text = Path(source).read_text(encoding="utf-8")
        definition.write_text(text.replace("https://www.bctechnology.com", base))
        run = haystack(
            url, "run", "sites", "--set", f"site={definition}", "--set", 'keywords=["python"]'
        )
        assert run.exit_code == 0, run.output

    listed = haystack(url, "jobs", "--json")
    assert listed.exit_code == 0, listed.output
    jobs = json.loads(listed.stdout)["jobs"]
    python_jobs = {p.title for p in POSTINGS if "python" in p.title.lower()}
    assert {job["title"] for job in jobs} == python_jobs
    assert all(job["sources"] == ["bctechnology"] for job in jobs)
    clio = next(job for job in jobs if job["company"] == "Clio")
    assert (clio["location"], clio["posted"]) == ("Burnaby, BC", "2026-03-04")

    table = haystack(url, "jobs", "--source", "nobody")
    assert table.exit_code == 0
    assert "Clio" not in table.stdout
