"""Pure extractors: parsed records from fetched documents, no I/O."""

from __future__ import annotations

from haystack_collector.extract.page import Field, Form, Image, Link, Page, extract_page

__all__ = ["Field", "Form", "Image", "Link", "Page", "extract_page"]
