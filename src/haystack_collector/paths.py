"""Server paths in engine settings: declared by the engines, confined to roots for the API.

The command line is trusted with the server's files; an API token holder is not. Engines mark
their path settings with ``ServerPath`` (or ``ServerPath`` in a list, or ``Optional``), which
also shows in their settings schema as ``"format": "path"``. For work that arrives through the
API, ``confine_settings`` checks every marked value and hands back the settings with each path
replaced by its resolved absolute form, so the run stores (and later runs with) exactly what
was checked:

* ``~`` (a home folder) and any ``..`` component are refused before anything is resolved;
* a relative path is taken relative to the data folder (``Settings.data_dir``);
* a switch marked ``EscapesRoots`` (the file scanner's ``follow_symlinks``) cannot be on;
* the path is resolved, symlinks included (``Path.resolve(strict=False)``: it need not exist
  yet), and must then lie inside one of the roots: the downloads folder, the data folder and
  the folders of ``Settings.api_path_roots``.

A refusal is a ``ConfigError`` naming the setting (``folders.1``), which the API answers 422.
Checking again when the run runs (``confine_settings`` once more) catches a symlink swapped in
since it was queued.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, Field

from haystack_collector.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from haystack_collector.engines.base import Engine
    from haystack_collector.settings import Settings

__all__ = [
    "PATH_FORMAT",
    "PATH_SCHEMA",
    "EscapesRoots",
    "PathRoots",
    "PathSetting",
    "ServerPath",
    "api_engine_settings",
    "confine_path",
    "confine_settings",
    "path_settings",
]

PATH_FORMAT = "path"
_PARENT = re.compile(r"(?:^|[/\\])\.\.(?:[/\\]|$)")


@dataclass(frozen=True, slots=True)
class PathSetting:
    """The marker on a path setting; ``applies`` says whether a value is a path at all (a
    ``site`` may name a shipped definition instead), ``default_root`` where an unset value
    goes (``"downloads"``: the downloads folder itself)."""

    applies: Callable[[str], bool] | None = None
    default_root: Literal["downloads"] | None = None

    def is_path(self, value: str) -> bool:
        return self.applies is None or self.applies(value)


@dataclass(frozen=True, slots=True)
class EscapesRoots:
    """The marker on a switch that, turned on, lets an engine leave its folders (following
    symlinks): the API refuses it on, since the check of the paths would not hold."""


# Shown in the settings schema, so the UI and API clients know a value is a server path.
PATH_SCHEMA = Field(json_schema_extra={"format": PATH_FORMAT})
ServerPath = Annotated[str, PathSetting(), PATH_SCHEMA]


@dataclass(frozen=True, slots=True)
class PathRoots:
    """The folders API paths must stay in, and the folder relative paths start from."""

    roots: tuple[Path, ...]
    base: Path
    downloads: Path

    @classmethod
    def of(cls, settings: Settings) -> PathRoots:
        """The roots ``settings`` allow: downloads and data folders, then ``api_path_roots``."""
        return cls.of_folders(settings.downloads_dir, settings.data_dir, settings.api_path_roots)

    @classmethod
    def of_folders(cls, downloads: Path, data: Path, extra: Sequence[Path] = ()) -> PathRoots:
        """The roots of these folders, resolved (relative ones from the working folder)."""
        downloads, base = downloads.expanduser().resolve(), data.expanduser().resolve()
        more = (root.expanduser().resolve() for root in extra)
        return cls(tuple(dict.fromkeys((downloads, base, *more))), base, downloads)


def confine_path(value: str, roots: PathRoots, *, setting: str) -> Path:
    """The resolved path ``value`` names inside the roots; ConfigError naming ``setting``."""
    given = value.strip()
    if "\x00" in given:
        raise ConfigError(f"{setting}: a path cannot hold a NUL character", setting=setting)
    if given.startswith("~"):
        raise ConfigError(
            f"{setting}: {value!r} names a home folder (~); give a path inside {_shown(roots)}",
            setting=setting,
        )
    if _PARENT.search(given):
        raise ConfigError(
            f"{setting}: {value!r} climbs out with '..'; give a path inside {_shown(roots)}",
            setting=setting,
        )
    path = Path(given)
    resolved = (path if path.is_absolute() else roots.base / path).resolve(strict=False)
    if not any(resolved.is_relative_to(root) for root in roots.roots):
        raise ConfigError(
            f"{setting}: {value!r} is outside the folders the API may use ({_shown(roots)});"
            " set HAYSTACK_API_PATH_ROOTS to allow more",
            setting=setting,
        )
    return resolved


def _shown(roots: PathRoots) -> str:
    return ", ".join(str(root) for root in roots.roots)


def path_settings(model: type[BaseModel]) -> dict[str, tuple[PathSetting, bool]]:
    """The model's path fields: name -> (marker, whether the field holds a list of paths)."""
    found: dict[str, tuple[PathSetting, bool]] = {}
    for name, info in model.model_fields.items():
        marker = next((m for m in info.metadata if isinstance(m, PathSetting)), None)
        if marker is not None:
            found[name] = (marker, False)
            continue
        nested = _marker_in(info.annotation)
        if nested is not None:
            found[name] = nested
    return found


def _marker_in(annotation: Any, in_list: bool = False) -> tuple[PathSetting, bool] | None:
    if typing.get_origin(annotation) is Annotated:
        base, *extras = typing.get_args(annotation)
        marker = next((m for m in extras if isinstance(m, PathSetting)), None)
        return (marker, in_list) if marker is not None else _marker_in(base, in_list)
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, Sequence):
        args = typing.get_args(annotation)
        return _marker_in(args[0], True) if args else None
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _marker_in(arg, in_list)
            if found is not None:
                return found
    return None


def confine_settings(settings: BaseModel, roots: PathRoots) -> BaseModel:
    """``settings`` with every declared path resolved inside ``roots``; ConfigError if not."""
    for name, info in type(settings).model_fields.items():
        if getattr(settings, name) and any(isinstance(m, EscapesRoots) for m in info.metadata):
            raise ConfigError(
                f"{name}: cannot be turned on through the API: it would leave the folders"
                " the API may use",
                setting=name,
            )
    update: dict[str, Any] = {}
    for name, (marker, is_list) in path_settings(type(settings)).items():
        value = getattr(settings, name)
        if is_list:
            update[name] = [
                _confined(item, marker, roots, f"{name}.{index}", unset=False)
                for index, item in enumerate(value or [])
            ]
        else:
            unset = name not in settings.model_fields_set
            update[name] = _confined(value, marker, roots, name, unset=unset)
    return settings.model_copy(update=update) if update else settings


def _confined(
    value: str | None, marker: PathSetting, roots: PathRoots, setting: str, *, unset: bool
) -> str | None:
    if unset and marker.default_root == "downloads":
        return str(roots.downloads)
    if value is None or not value.strip() or not marker.is_path(value):
        return value  # nothing given (the engine says so), or not a path (a shipped site)
    return str(confine_path(value, roots, setting=setting))


def api_engine_settings(
    engine: type[Engine], given: Mapping[str, Any] | None, settings: Settings
) -> dict[str, Any]:
    """Engine settings that came through the API, validated and with their paths confined
    (see the module docstring): what the run is queued with. ConfigError (422) otherwise."""
    validated = engine.validate_settings(given)
    return confine_settings(validated, PathRoots.of(settings)).model_dump(mode="json")
