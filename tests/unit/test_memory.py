"""The process caps glibc's malloc arenas, unless the operator already chose a number."""

from __future__ import annotations

import subprocess
import sys

import pytest

from haystack_collector.memory import HeapTrimmer, limit_malloc_arenas

PROBE = "from haystack_collector.memory import limit_malloc_arenas; print(limit_malloc_arenas())"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux-only")
def test_the_arena_cap_applies_on_glibc() -> None:
    # In a fresh interpreter, so the test process's own allocator is left alone.
    env = {"PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=True
    )
    assert result.stdout.strip() == "True"


def test_an_operator_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_malloc_arenas() is False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_the_heap_is_trimmed_at_most_once_per_interval() -> None:
    trim = HeapTrimmer(every=1.0)
    junk = [bytes(1000) for _ in range(10_000)]  # freed heap for malloc_trim to hand back
    del junk
    assert trim(100.0)
    assert not trim(100.5)
    assert trim(101.0)
