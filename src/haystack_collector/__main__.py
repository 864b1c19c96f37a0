"""Allow ``python -m haystack_collector``."""

from __future__ import annotations

from haystack_collector.cli import main

main()
