"""What every command-line test starts from: a new user's shell."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from haystack_collector.logs import reset_logging


@pytest.fixture
def user_shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A fresh working folder and no Haystack settings in the environment, like a new user."""
    for name in list(os.environ):
        if (name.startswith("HAYSTACK_") and not name.startswith("HAYSTACK_TEST_")) or (
            name.startswith("DB_")
        ):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield
    reset_logging()  # the CLI's console handler wrote to the runner's (now closed) stderr
