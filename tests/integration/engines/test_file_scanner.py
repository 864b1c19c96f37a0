"""``fileScanner`` on real folders: hashes, exclusions, symlink loops, unreadable files, rescans."""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from haystack_collector import store
from haystack_collector.db import Database
from haystack_collector.engines import run_start_actions
from haystack_collector.engines.file_scanner import FileScanner
from tests.integration.crawl.helpers import stored_data

_CAP_VERSION_3 = 0x20080522
_DAC_CAPS = (1 << 1) | (1 << 2)  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
# capget/capset syscall numbers by architecture (the generic table is arm64's and others').
_SYSCALLS = {"x86_64": (125, 126), "aarch64": (90, 91), "arm64": (90, 91)}
_SYS_CAPGET, _SYS_CAPSET = _SYSCALLS.get(platform.machine(), (90, 91))


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


@contextmanager
def permissions_enforced() -> Iterator[None]:
    """Make file permissions apply to this thread even as root (drop the DAC override caps).

    Root reads a mode-000 file anyway; clearing the two capabilities from the calling thread's
    effective set (they stay permitted, so they come back after) makes "permission denied" real.
    """
    if os.geteuid() != 0:
        yield
        return
    libc = ctypes.CDLL(None, use_errno=True)
    header, data = _CapHeader(_CAP_VERSION_3, 0), (_CapData * 2)()
    assert libc.syscall(_SYS_CAPGET, ctypes.byref(header), data) == 0, ctypes.get_errno()
    saved = data[0].effective
    data[0].effective = saved & ~_DAC_CAPS
    assert libc.syscall(_SYS_CAPSET, ctypes.byref(header), data) == 0, ctypes.get_errno()
    try:
        yield
    finally:
        data[0].effective = saved
        assert libc.syscall(_SYS_CAPSET, ctypes.byref(header), data) == 0, ctypes.get_errno()


def digests(data: bytes) -> tuple[str, str]:
    return hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest()


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A folder with files, an excluded folder, a symlink loop and an unreadable file."""
    root = tmp_path / "docs"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "node_modules" / "pkg").mkdir(parents=True)
    (root / "a.txt").write_bytes(b"alpha\n")
    (root / "Report.PDF").write_bytes(b"%PDF-1.4\n%%EOF\n")
    (root / "sub" / "b.csv").write_bytes(b"x,y\n1,2\n")
    (root / "sub" / "deeper" / "c").write_bytes(b"no extension")
    (root / "sub" / "skip.tmp").write_bytes(b"temporary")
    (root / "node_modules" / "pkg" / "index.js").write_bytes(b"module.exports = 1;\n")
    (root / "sub" / "deeper" / "loop").symlink_to(root, target_is_directory=True)
    (root / "link-to-a.txt").symlink_to(root / "a.txt")
    secret = root / "secret.key"
    secret.write_bytes(b"top secret")
    secret.chmod(0)
    return root


def scan(db: Database, root: Path, **settings: Any) -> None:
    options = {"folders": [str(root)], "exclude": ["node_modules", "*.tmp"], **settings}
    with permissions_enforced():
        [result] = run_start_actions(FileScanner, db, options)
    assert result.ok, result.error


def files(db: Database) -> dict[str, dict[str, list[Any]]]:
    return {uri: data for uri, data in stored_data(db).items() if uri.startswith("file://")}


def uri(path: Path) -> str:
    return path.as_uri()


def last_count_line(db: Database) -> str:
    registered = FileScanner.register(db)
    rows = db.run_read(store.recent_status, engine_id=registered.engine_id)
    return next(row.message for row in rows if row.message.startswith("scan "))


def test_a_first_scan_records_every_file_with_its_hashes(db: Database, tree: Path) -> None:
    scan(db, tree)
    found = files(db)
    assert set(found) == {
        uri(tree / "a.txt"),
        uri(tree / "Report.PDF"),
        uri(tree / "secret.key"),
        uri(tree / "sub" / "b.csv"),
        uri(tree / "sub" / "deeper" / "c"),
    }
    a = found[uri(tree / "a.txt")]
    md5, sha = digests(b"alpha\n")
    stat = (tree / "a.txt").stat()
    assert a["FileName"] == ["a.txt"]
    assert a["FileExt"] == ["txt"]
    assert a["FileSize"] == [6]
    assert (a["MD5"], a["SHA256"]) == ([md5], [sha])
    assert a["FileDate"][0].timestamp() == pytest.approx(stat.st_mtime, abs=1e-3)
    assert a["FileMtimeNs"] == [stat.st_mtime_ns]
    assert (a["FileState"], a["Error"]) == (["new"], [None])
    assert found[uri(tree / "Report.PDF")]["FileExt"] == ["pdf"]
    assert found[uri(tree / "sub" / "deeper" / "c")]["FileExt"] == [None]

    secret = found[uri(tree / "secret.key")]
    assert secret["Error"] == ["cannot read: Permission denied"]
    assert (secret["MD5"], secret["SHA256"], secret["FileSize"]) == ([None], [None], [10])
    assert last_count_line(db) == (
        f"scan {tree}: new 5, changed 0, unchanged 0, deleted 0, unreadable files 1,"
        " symlinks skipped 2"
    )


def test_a_rescan_hashes_only_what_changed_and_marks_deleted_files(
    db: Database, tree: Path
) -> None:
    scan(db, tree)
    before = files(db)
    (tree / "a.txt").write_bytes(b"alpha, edited\n")
    os.utime(tree / "a.txt", ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    (tree / "sub" / "b.csv").unlink()
    (tree / "new.md").write_bytes(b"# new\n")
    # Same size and mtime but other bytes: by the rule (size + mtime) this is unchanged, and
    # not being re-read is exactly what proves the rescan did not hash it.
    c = tree / "sub" / "deeper" / "c"
    mtime = c.stat().st_mtime_ns
    c.write_bytes(b"NO EXTENSION")
    os.utime(c, ns=(mtime, mtime))

    scan(db, tree)
    after = files(db)
    assert after[uri(tree / "a.txt")]["FileState"] == ["changed"]
    assert after[uri(tree / "a.txt")]["SHA256"] == [digests(b"alpha, edited\n")[1]]
    assert after[uri(tree / "a.txt")]["FileSize"] == [14]
    assert after[uri(tree / "new.md")]["FileState"] == ["new"]
    assert after[uri(tree / "new.md")]["MD5"] == [digests(b"# new\n")[0]]
    deleted = after[uri(tree / "sub" / "b.csv")]
    assert deleted["FileState"] == ["deleted"]
    assert deleted["SHA256"] == before[uri(tree / "sub" / "b.csv")]["SHA256"]  # history kept
    unchanged = after[uri(c)]
    assert unchanged["FileState"] == ["unchanged"]
    assert unchanged["SHA256"] == before[uri(c)]["SHA256"] == [digests(b"no extension")[1]]
    assert after[uri(tree / "Report.PDF")]["FileState"] == ["unchanged"]
    # The unreadable file is tried again (it failed before), and still fails.
    assert after[uri(tree / "secret.key")]["FileState"] == ["changed"]
    assert after[uri(tree / "secret.key")]["Error"] == ["cannot read: Permission denied"]
    assert last_count_line(db) == (
        f"scan {tree}: new 1, changed 2, unchanged 2, deleted 1, unreadable files 1,"
        " symlinks skipped 2"
    )

    (tree / "sub" / "b.csv").write_bytes(b"x,y\n1,2\n")  # it comes back
    scan(db, tree)
    again = files(db)
    assert again[uri(tree / "sub" / "b.csv")]["FileState"] == ["new"]
    assert again[uri(tree / "a.txt")]["FileState"] == ["unchanged"]
    assert last_count_line(db).startswith(f"scan {tree}: new 1, changed 1, unchanged 4, deleted 0")


def test_following_symlinks_ends_the_loop_and_visits_each_folder_once(
    db: Database, tree: Path
) -> None:
    scan(db, tree, follow_symlinks=True)
    found = set(files(db))
    # The linked file is recorded under its own path; the loop back to the root is not walked.
    assert uri(tree / "link-to-a.txt") in found
    assert not any("/loop/" in one for one in found)
    assert len(found) == 6
    assert "symlinks skipped 0" in last_count_line(db)


def test_unreadable_folders_are_reported_and_the_scan_goes_on(db: Database, tree: Path) -> None:
    locked = tree / "locked"
    locked.mkdir()
    (locked / "inside.txt").write_bytes(b"hidden")
    locked.chmod(0)
    try:
        scan(db, tree)
    finally:
        locked.chmod(0o755)
    assert uri(locked / "inside.txt") not in files(db)
    assert uri(tree / "a.txt") in files(db)
    assert last_count_line(db).endswith(f"; unreadable folders: {locked} (Permission denied)")


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        (
            {"folders": ["/nonexistent/haystack-test"]},
            "ConfigError: not folders: /nonexistent/haystack-test",
        ),
        ({"folders": ["/tmp"], "follow": True}, "follow"),
    ],
)
def test_bad_settings_fail_with_a_clear_error(
    db: Database, settings: dict[str, Any], error: str
) -> None:
    [result] = run_start_actions(FileScanner, db, settings)
    assert not result.ok
    assert error in (result.error or "")


def test_the_data_folder_is_scanned_by_default_and_relative_folders_start_there(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HAYSTACK_DATA_DIR is the haystack folder, as ``[Paths] haystack`` was originally."""
    data = tmp_path / "data"
    (data / "inbox").mkdir(parents=True)
    (data / "top.txt").write_bytes(b"top")
    (data / "inbox" / "in.txt").write_bytes(b"in")
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "inbox").mkdir(parents=True)
    (elsewhere / "inbox" / "not-this.txt").write_bytes(b"no")
    monkeypatch.setenv("HAYSTACK_DATA_DIR", str(data))
    monkeypatch.chdir(elsewhere)

    [relative] = run_start_actions(FileScanner, db, {"folders": ["inbox"]})
    assert relative.ok, relative.error
    assert set(files(db)) == {uri(data / "inbox" / "in.txt")}

    [default] = run_start_actions(FileScanner, db, {})
    assert default.ok, default.error
    assert set(files(db)) == {uri(data / "top.txt"), uri(data / "inbox" / "in.txt")}
