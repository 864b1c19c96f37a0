"""The browser's processes, read from ``/proc``: which one it is, its tree, their memory.

Playwright does not say which process is the browser; each launch passes a marker switch
(``--haystack-browser=ID``) that Chromium ignores and ``/proc/PID/cmdline`` shows.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["find_marked", "tree", "tree_pss", "tree_rss"]

_PROC = Path("/proc")


def _pids() -> list[int]:
    try:
        return [int(p.name) for p in _PROC.iterdir() if p.name.isdigit()]
    except OSError:
        return []


def _ppid(pid: int) -> int | None:
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    return int(stat.rsplit(")", 1)[1].split()[1])


def find_marked(marker: str) -> int | None:
    """The process whose command line holds ``marker`` and whose parent's does not."""
    needle = marker.encode()
    marked: set[int] = set()
    for pid in _pids():
        try:
            if needle in (_PROC / str(pid) / "cmdline").read_bytes():
                marked.add(pid)
        except OSError:
            continue
    for pid in marked:
        if _ppid(pid) not in marked:
            return pid
    return None


def tree(root: int) -> list[int]:
    """``root`` and all its descendants alive now."""
    children: dict[int, list[int]] = {}
    for pid in _pids():
        parent = _ppid(pid)
        if parent is not None:
            children.setdefault(parent, []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def tree_rss(root: int) -> int:
    """Resident memory of ``root``'s process tree, in bytes (shared pages counted per process,
    as ``ps`` does: an upper bound)."""
    page = os.sysconf("SC_PAGE_SIZE")
    total = 0
    for pid in tree(root):
        try:
            total += int((_PROC / str(pid) / "statm").read_text().split()[1]) * page
        except (OSError, IndexError, ValueError):
            continue
    return total


def _pss(pid: int) -> int | None:
    try:
        text = (_PROC / str(pid) / "smaps_rollup").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return None


def tree_pss(root: int) -> int:
    """Proportional memory of ``root``'s process tree, in bytes: each shared page counted
    once across the processes sharing it (what the tree really costs); RSS where the kernel
    does not say."""
    total = 0
    page = os.sysconf("SC_PAGE_SIZE")
    for pid in tree(root):
        pss = _pss(pid)
        if pss is None:
            try:
                pss = int((_PROC / str(pid) / "statm").read_text().split()[1]) * page
            except (OSError, IndexError, ValueError):
                continue
        total += pss
    return total
