"""``haystack postings`` (and its old name ``jobs``): the board of job postings from every source,
listed together and deduplicated, filtered, moved through the workflow and exported as CSV."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


@pytest.fixture(scope="module")
def harvested(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database holding the Python jobs a form search of the local board found (one search
    for the module: the tests that change statuses come last)."""
    folder = tmp_path_factory.mktemp("postings")
    url = f"sqlite:///{folder / 'postings.db'}"
    board = Board()
    with pytest.MonkeyPatch.context() as monkeypatch, serve(board) as base:
        for name in list(os.environ):
            if name.startswith(("HAYSTACK_", "DB_")) and not name.startswith("HAYSTACK_TEST_"):
                monkeypatch.delenv(name)
        monkeypatch.chdir(folder)
        source = builtin_sites()["bctechnology"].source
        assert source is not None
        definition = folder / "board.yaml"
        text = Path(source).read_text(encoding="utf-8")
        definition.write_text(text.replace("https://www.bctechnology.com", base))
        run = haystack(
            url, "run", "sites", "--set", f"site={definition}", "--set", 'keywords=["python"]'
        )
        assert run.exit_code == 0, run.output
        reset_logging()
    return url


def listed(url: str, *args: str) -> list[dict[str, Any]]:
    result = haystack(url, "postings", "--json", *args)
    assert result.exit_code == 0, result.output
    postings: list[dict[str, Any]] = json.loads(result.stdout)["postings"]
    return postings


def test_postings_found_by_a_form_search_are_listed_with_their_job_fields(harvested: str) -> None:
    postings = listed(harvested)
    python_jobs = {p.title for p in POSTINGS if "python" in p.title.lower()}
    assert {posting["title"] for posting in postings} == python_jobs
    assert all(posting["sources"] == ["bctechnology"] for posting in postings)
    assert all(posting["status"] == "new" for posting in postings)
    clio = next(posting for posting in postings if posting["company"] == "Clio")
    assert (clio["location"], clio["posted"]) == ("Burnaby, BC", "2026-03-04")

    table = haystack(harvested, "postings")
    assert table.exit_code == 0
    assert "Clio" in table.stdout
    assert f"{len(python_jobs)} of {len(python_jobs)} posting(s)" in table.stdout
    assert "Clio" not in haystack(harvested, "postings", "--source", "nobody").stdout


def test_jobs_is_a_hidden_alias_that_still_works(harvested: str) -> None:
    old = haystack(harvested, "jobs", "--json")
    assert old.exit_code == 0, old.output
    assert json.loads(old.stdout)["postings"] == listed(harvested)
    with_source = haystack(harvested, "jobs", "--source", "bctechnology", "-n", "1", "--json")
    assert len(json.loads(with_source.stdout)["postings"]) == 1
    commands = haystack(harvested, "--help").stdout
    assert "postings" in commands
    assert " jobs " not in commands


def test_filters_narrow_the_board(harvested: str) -> None:
    assert {p["company"] for p in listed(harvested, "--location", "burnaby")} == {"Clio"}
    assert {p["company"] for p in listed(harvested, "--q", "analyst")} == {"Absolute"}
    assert {p["company"] for p in listed(harvested, "--posted-since", "2026-03-04")} == {
        "Hootsuite",
        "Clio",
    }
    # $150k, $120k and $80/h (166,400 a year); the analyst's detail page is missing, so it
    # has no compensation.
    assert {p["company"] for p in listed(harvested, "--min-compensation", "130000")} == {"Clio"}
    assert {p["company"] for p in listed(harvested, "--no-compensation")} == {"Absolute"}
    bad = haystack(harvested, "postings", "--posted-since", "yesterday")
    assert bad.exit_code == 2
    assert "--posted-since: not a date" in bad.stderr


def test_csv_prints_every_matching_posting(harvested: str) -> None:
    postings = listed(harvested, "--source", "bctechnology")
    result = haystack(harvested, "postings", "--csv", "--location", "burnaby")
    assert result.stdout.startswith('"fingerprint","status","title",')
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    clio = next(p for p in postings if p["company"] == "Clio")
    assert rows == [
        {
            "fingerprint": clio["fingerprint"],
            "status": "new",
            "title": "Senior Python Engineer",
            "company": "Clio",
            "location": "Burnaby, BC",
            "compensation": "$150k",
            "compensation_per_year": "150000",
            "employment_type": "Full-time",
            "posted": "2026-03-04",
            "found": clio["found"],
            "status_changed": "",
            "gone": "no",
            "gone_at": "",
            "sources": "bctechnology",
            "urls": clio["items"][0]["url"],
        }
    ]


def test_set_status_moves_a_posting_and_refuses_invalid_moves(harvested: str) -> None:
    clio = next(p for p in listed(harvested) if p["company"] == "Clio")["fingerprint"]

    seen = haystack(harvested, "postings", "--set-status", clio, "seen")
    assert seen.exit_code == 0, seen.output
    assert seen.stdout.strip() == f"{clio}: new -> seen"
    applied = haystack(
        harvested, "postings", "--set-status", clio, "applied", "--note", "through the site"
    )
    assert applied.exit_code == 0
    assert [p["company"] for p in listed(harvested, "--status", "applied")] == ["Clio"]
    assert len(listed(harvested, "--status", "new", "--status", "seen")) == 2

    invalid = haystack(harvested, "postings", "--set-status", clio, "new")
    assert invalid.exit_code == 1
    assert invalid.stderr.strip() == (
        "error: a posting that is applied cannot become new"
        " (it may become: interviewing, offer, rejected, archived, ignored)"
    )
    unknown = haystack(harvested, "postings", "--set-status", clio, "hired")
    assert unknown.exit_code == 2
    assert "not a posting status: 'hired'" in unknown.stderr
    missing = haystack(harvested, "postings", "--set-status", "0" * 32, "seen")
    assert missing.exit_code == 1
    assert "no posting with fingerprint" in missing.stderr
