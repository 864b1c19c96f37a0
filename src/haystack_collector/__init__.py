"""Haystack: a self-hosted web collector that harvests the web into a database you own."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
