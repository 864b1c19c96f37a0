"""Page snapshots through the API and the UI route: an item's snapshots listed, each file served
by its hash only, with its own content type, and nothing else served."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.snapshots import (
    Snapshot,
    parse_kinds,
    snapshot_folder,
    snapshot_records,
    store_snapshot,
)
from haystack_collector.store import ItemRecord
from tests.integration.api.items_fixtures import api_for

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
HTML = b"<html><body><h1>Rendered</h1><script>alert(1)</script></body></html>"
PDF = b"%PDF-1.4\n% a tiny stand-in\n%%EOF\n"


def stored(db: Database, downloads: Path, page: str) -> dict[str, Snapshot]:
    folder = snapshot_folder(downloads)
    shots = {
        "png": store_snapshot(folder, "png", PNG),
        "html": store_snapshot(folder, "html", HTML),
        "pdf": store_snapshot(folder, "pdf", PDF),
    }
    links, records = snapshot_records(shots.values())
    db.run(store.store_items, engine_id=None, records=[ItemRecord(uri=page, links=links), *records])
    return shots


def test_snapshot_files_are_named_by_their_hash_and_stored_once(tmp_path: Path) -> None:
    folder = snapshot_folder(tmp_path)
    first = store_snapshot(folder, "png", PNG)
    again = store_snapshot(folder, "png", PNG)
    assert first.new
    assert not again.new
    assert first.path == again.path == folder / f"{hashlib.sha256(PNG).hexdigest()}.png"
    assert [p.name for p in folder.iterdir()] == [first.path.name]  # no part file left behind
    assert first.path.read_bytes() == PNG
    assert oct(first.path.stat().st_mode & 0o777) == "0o644"


def test_a_symlink_planted_at_a_snapshot_name_is_not_written_through(tmp_path: Path) -> None:
    folder = snapshot_folder(tmp_path)
    folder.mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me", encoding="utf-8")
    digest = hashlib.sha256(PNG).hexdigest()
    (folder / f"{digest}.png").symlink_to(victim)
    shot = store_snapshot(folder, "png", PNG)
    assert victim.read_text(encoding="utf-8") == "keep me"
    assert not shot.path.is_symlink()
    assert shot.path.read_bytes() == PNG


def test_snapshot_kinds_parse_from_the_command_line_form() -> None:
    assert parse_kinds("png, pdf,png") == ["png", "pdf"]
    assert parse_kinds(["HTML"]) == ["html"]
    assert parse_kinds("") == []
    with pytest.raises(ValueError, match="unknown snapshot kind 'gif': give html, png or pdf"):
        parse_kinds("png,gif")


def test_the_api_lists_an_items_snapshots_and_the_route_serves_each_by_hash(
    db: Database, tmp_path: Path
) -> None:
    page = "https://snap.test/results"
    shots = stored(db, tmp_path, page)
    page_id = db.run_read(store.find_item_id, uri=page)
    with api_for(db, downloads_dir=tmp_path) as api:
        listed = api.client.get(f"/api/items/{page_id}/snapshots")
        assert listed.status_code == 200
        by_kind = {row["kind"]: row for row in listed.json()}
        assert set(by_kind) == {"png", "html", "pdf"}
        for kind, shot in shots.items():
            assert by_kind[kind]["sha256"] == shot.sha256
            assert by_kind[kind]["url"] == f"/snapshots/{shot.sha256}"
            assert by_kind[kind]["size"] == shot.size

        png = api.client.get(f"/snapshots/{shots['png'].sha256}")
        assert png.status_code == 200
        assert png.headers["content-type"] == "image/png"
        assert png.headers["x-content-type-options"] == "nosniff"
        assert png.content == PNG
        pdf = api.client.get(f"/snapshots/{shots['pdf'].sha256}")
        assert pdf.headers["content-type"] == "application/pdf"
        assert pdf.content == PDF
        html = api.client.get(f"/snapshots/{shots['html'].sha256}")
        assert html.headers["content-type"] == "text/html; charset=utf-8"
        # The scraped markup runs nothing and loads nothing: a sandbox with no sources.
        policy = html.headers["content-security-policy"]
        assert policy.startswith("sandbox;")
        assert "default-src 'none'" in policy
        assert "script" not in policy
        assert html.content == HTML
        # An item without snapshots lists none.
        assert api.client.get("/api/items/999999/snapshots").json() == []


def test_the_route_serves_nothing_but_stored_snapshots(db: Database, tmp_path: Path) -> None:
    shots = stored(db, tmp_path, "https://snap.test/tricks")
    folder = snapshot_folder(tmp_path)
    digest = shots["png"].sha256
    # A file in the folder that no item records as a snapshot.
    stray = b"not recorded"
    stray_hash = hashlib.sha256(stray).hexdigest()
    (folder / f"{stray_hash}.png").write_bytes(stray)
    secret = tmp_path / "secret.txt"
    secret.write_text("secret", encoding="utf-8")
    with api_for(db, downloads_dir=tmp_path) as api:
        for path in (
            f"/snapshots/{digest}.png",
            f"/snapshots/{digest.upper()}",
            f"/snapshots/{digest[:-1]}",
            f"/snapshots/{digest}x",
            "/snapshots/..%2Fsecret.txt",
            "/snapshots/../secret.txt",
            "/snapshots/%2e%2e/secret.txt",
            f"/snapshots/{digest}/../../secret.txt",
            "/snapshots/" + "0" * 64,
            f"/snapshots/{stray_hash}",
        ):
            answer = api.client.get(path)
            assert answer.status_code in (404, 422), path
            assert b"secret" not in answer.content, path
            assert answer.content != stray, path

        # The recorded file swapped for a symlink to a secret is not followed.
        target = shots["html"].path
        os.unlink(target)
        target.symlink_to(secret)
        assert api.client.get(f"/snapshots/{shots['html'].sha256}").status_code == 404
        # A recorded snapshot whose file is gone is a 404, not an error.
        shots["pdf"].path.unlink()
        assert api.client.get(f"/snapshots/{shots['pdf'].sha256}").status_code == 404
        # The one still there is still served.
        assert api.client.get(f"/snapshots/{digest}").status_code == 200


def test_snapshots_need_read_access_like_every_read(db: Database, tmp_path: Path) -> None:
    shots = stored(db, tmp_path, "https://snap.test/private")
    with api_for(db, downloads_dir=tmp_path, api_read_access="token") as api:
        url = f"/snapshots/{shots['png'].sha256}"
        assert api.client.get(url).status_code == 401
        assert api.client.get(url, headers=api.auth).status_code == 200
