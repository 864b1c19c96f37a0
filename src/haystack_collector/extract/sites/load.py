"""Reading site definitions from YAML and TOML files, with errors that name the file and field."""

from __future__ import annotations

import functools
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from haystack_collector.errors import ConfigError
from haystack_collector.extract.sites.model import SiteDefinition

__all__ = [
    "SUFFIXES",
    "SiteDefinitionError",
    "builtin_sites",
    "builtin_sites_folder",
    "load_site",
    "load_sites",
]

SUFFIXES = (".yaml", ".yml", ".toml")


class SiteDefinitionError(ConfigError):
    """A site definition file cannot be read or says something invalid."""

    def __init__(self, path: str | Path, problem: str) -> None:
        super().__init__(f"site definition {path}: {problem}")
        self.path = str(path)
        self.problem = problem


def load_site(path: str | Path) -> SiteDefinition:
    """The definition in one .yaml/.yml/.toml file; SiteDefinitionError naming what is wrong."""
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise SiteDefinitionError(path, f"not a .yaml, .yml or .toml file ({path.suffix!r})")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SiteDefinitionError(path, f"cannot read: {error}") from error
    raw = _parse(path, text)
    if not isinstance(raw, dict):
        raise SiteDefinitionError(path, "the top level must be a mapping of settings")
    try:
        definition = SiteDefinition.model_validate(raw)
    except ValidationError as error:
        raise SiteDefinitionError(path, _problems(error)) from error
    return definition.with_source(str(path))


def load_sites(folder: str | Path) -> dict[str, SiteDefinition]:
    """Every definition in ``folder`` (not recursive) by name; two with one name is an error."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SiteDefinitionError(folder, "not a folder")
    found: dict[str, SiteDefinition] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in SUFFIXES or not path.is_file():
            continue
        definition = load_site(path)
        other = found.get(definition.name)
        if other is not None:
            raise SiteDefinitionError(
                path, f"site {definition.name!r} is also defined in {other.source}"
            )
        found[definition.name] = definition
    return found


def builtin_sites_folder() -> Path:
    """Where the shipped definitions are (package data ``haystack_collector/sites``)."""
    return Path(str(resources.files("haystack_collector") / "sites"))


@functools.cache
def _builtin() -> dict[str, SiteDefinition]:
    return load_sites(builtin_sites_folder())


def builtin_sites() -> dict[str, SiteDefinition]:
    """The shipped definitions by name (read once per process)."""
    return dict(_builtin())


def _parse(path: Path, text: str) -> Any:
    if path.suffix.lower() == ".toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise SiteDefinitionError(path, f"invalid TOML: {error}") from error
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise SiteDefinitionError(path, f"invalid YAML: {error}") from error


def _problems(error: ValidationError) -> str:
    """``listing.fields.title.css: invalid CSS selector ...; name: Field required``."""
    parts = []
    for issue in error.errors():
        # pydantic names the union/validator branch in the location; keep only the path.
        where = ".".join(str(p) for p in issue["loc"] if not _is_branch(p)) or "(top level)"
        message = str(issue["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def _is_branch(part: int | str) -> bool:
    return isinstance(part, str) and ("[" in part or part.startswith("function-"))
