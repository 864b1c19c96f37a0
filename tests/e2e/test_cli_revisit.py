"""``haystack revisit`` and ``haystack crawl --revisit-every`` as a user runs them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from haystack_collector.cli import app
from haystack_collector.engines.web_scraper import REVISIT_ACTION, WebScraper
from tests.databases import migrated_database
from tests.integration.revisit.helpers import age, item_ids, pending
from tests.integration.revisit.site import Site, serve

pytestmark = pytest.mark.usefixtures("user_shell")


@pytest.fixture
def base() -> Iterator[str]:
    site = Site()
    site.html("/", "Home", "the start", ("/a", "/b"))
    site.html("/a", "A", "page a")
    site.html("/b", "B", "page b")
    with serve(site) as url:
        yield url


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'haystack.db'}"


def haystack(url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--database-url", url, *args])
    return result.exit_code, result.stdout, result.stderr


def policies(url: str) -> list[dict[str, object]]:
    code, out, err = haystack(url, "revisit", "--list", "--json")
    assert code == 0, err
    listed: list[dict[str, object]] = json.loads(out)["policies"]
    return listed


def test_set_list_and_remove_a_policy(url: str) -> None:
    code, out, err = haystack(url, "revisit", "webScraper", "--every", "24h", "--older-than", "12h")
    assert code == 0, err
    assert out.strip() == "re-visit policy 'revisit:webScraper': every 1d, items older than 12h"
    code, out, _ = haystack(url, "revisit", "sites", "--site", "weworkremotely", "--every", "6h")
    assert code == 0
    assert "items older than 3h" in out  # half the period by default

    listed = {row["name"]: row for row in policies(url)}
    assert listed["revisit:webScraper"]["every"] == "1d"
    assert listed["revisit:webScraper"]["older_than"] == "12h"
    assert listed["revisit:sites:weworkremotely"]["site"] == "weworkremotely"
    code, out, _ = haystack(url, "revisit", "--list")
    assert code == 0
    assert out.splitlines()[0].startswith("revisit:sites:weworkremotely  sites  every 6h")

    # Set again with another period: replaced, not added.
    haystack(url, "revisit", "webScraper", "--every", "2d", "--batch", "50")
    listed = {row["name"]: row for row in policies(url)}
    assert (listed["revisit:webScraper"]["every"], listed["revisit:webScraper"]["batch"]) == (
        "2d",
        50,
    )
    assert haystack(url, "revisit", "webScraper", "--remove")[0] == 0
    assert [row["name"] for row in policies(url)] == ["revisit:sites:weworkremotely"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nosuch", "--every", "1h"], "no engine named 'nosuch'"),
        (["fileDownloader", "--every", "1h"], "does not re-visit"),
        (["webScraper", "--every", "soon"], "not a duration: 'soon'"),
        (["webScraper"], "give --every DURATION"),
        (["webScraper", "--site", "x", "--every", "1h"], "--site applies to the sites engine"),
    ],
)
def test_bad_input_is_a_usage_error(url: str, args: list[str], message: str) -> None:
    code, _, err = haystack(url, "revisit", *args)
    assert code == 2
    assert message in err


def test_removing_a_missing_policy_fails(url: str) -> None:
    code, _, err = haystack(url, "revisit", "rss", "--remove")
    assert code == 1
    assert "no re-visit policy named 'revisit:rss'" in err


def test_crawl_stores_its_revisit_setting_and_now_queues_its_old_pages(url: str, base: str) -> None:
    code, _, err = haystack(
        url, "crawl", f"{base}/", "--delay", "0", "--revisit-every", "1d",
        "--revisit-older-than", "12h",
    )  # fmt: skip
    assert code == 0, err
    [policy] = policies(url)
    assert (policy["engine"], policy["every"], policy["older_than"]) == ("webScraper", "1d", "12h")
    name = str(policy["name"])
    assert name == f"revisit:crawl:{policy['crawl']}"
    with migrated_database(url) as db:
        old = item_ids(db, f"{base}/a")
        age(db, WebScraper, old, days=1)

    code, _, err = haystack(url, "revisit", "webScraper", "--now")
    assert code == 1  # the crawl's policy is not the engine's
    assert "no schedule named 'revisit:webScraper'" in err
    code, _, err = haystack(url, "crawl", f"{base}/", "--revisit-older-than", "1h")
    assert code == 2
    assert "--revisit-older-than needs --revisit-every" in err

    with migrated_database(url) as db:
        from haystack_collector.engines.registry import all_engines  # noqa: PLC0415
        from haystack_collector.revisits import Revisiter  # noqa: PLC0415
        from haystack_collector.store.schedules import get_schedule  # noqa: PLC0415

        queued = Revisiter(db, all_engines()).fire(db.run_read(get_schedule, name=name))
        assert queued == 1
        assert pending(db, WebScraper, REVISIT_ACTION) == set(old)


def test_now_fires_an_engine_policy_at_once(url: str, base: str) -> None:
    assert haystack(url, "crawl", f"{base}/", "--delay", "0")[0] == 0
    with migrated_database(url) as db:
        pages = item_ids(db, f"{base}/", f"{base}/a", f"{base}/b")
        age(db, WebScraper, pages, days=3)
    code, out, err = haystack(
        url, "revisit", "webScraper", "--every", "1d", "--older-than", "2d", "--now"
    )
    assert code == 0, err
    assert out.splitlines()[-1] == "re-visit policy 'revisit:webScraper': queued 3 item(s)"
    code, out, _ = haystack(url, "revisit", "webScraper", "--now")
    assert out.splitlines()[-1] == "re-visit policy 'revisit:webScraper': queued 0 item(s)"
