"""Declarative site definitions: job boards and form searches described in YAML or TOML.

``load_site``/``load_sites``/``builtin_sites`` read definitions; ``extract_listing``,
``extract_detail`` and ``find_form`` apply one to a page (pure: bytes in, records out). The
``read_*`` variants return the warnings a changed site causes instead of emitting them.
"""

from __future__ import annotations

from haystack_collector.extract.sites.apply import (
    detail_gone,
    extract_detail,
    extract_listing,
    merge_fields,
    posting_values,
    read_detail,
    read_listing,
)
from haystack_collector.extract.sites.forms import FormRequest, find_form
from haystack_collector.extract.sites.load import (
    SiteDefinitionError,
    builtin_sites,
    builtin_sites_folder,
    load_site,
    load_sites,
)
from haystack_collector.extract.sites.model import (
    SNAPSHOT_KINDS,
    BrowserForm,
    DetailSpec,
    FieldSpec,
    FormPagination,
    FormWait,
    ListingSpec,
    Locator,
    SearchForm,
    SiteDefinition,
)
from haystack_collector.extract.sites.results import (
    DetailPage,
    ListingPage,
    SiteChanged,
    SiteChangedError,
    SiteRecord,
    SiteWarning,
)

__all__ = [
    "SNAPSHOT_KINDS",
    "BrowserForm",
    "DetailPage",
    "DetailSpec",
    "FieldSpec",
    "FormPagination",
    "FormRequest",
    "FormWait",
    "ListingPage",
    "ListingSpec",
    "Locator",
    "SearchForm",
    "SiteChanged",
    "SiteChangedError",
    "SiteDefinition",
    "SiteDefinitionError",
    "SiteRecord",
    "SiteWarning",
    "builtin_sites",
    "builtin_sites_folder",
    "detail_gone",
    "extract_detail",
    "extract_listing",
    "find_form",
    "load_site",
    "load_sites",
    "merge_fields",
    "posting_values",
    "read_detail",
    "read_listing",
]
