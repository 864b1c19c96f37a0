"""What the built-in engines take from Haystack's settings when their own settings are silent.

``downloads_dir`` is where ``fileDownloader`` puts files unless given a ``folder``;
``data_dir`` is the haystack folder: what ``haystack`` and ``fileScanner`` read unless given
folders, and where every relative folder in an engine's settings starts; ``web_scraper_depth``
is ``webScraper``'s (and ``haystack crawl``'s) ``max_depth`` unless given one.

A process that loaded its settings (the command line, ``haystack serve``) passes them to
``configure_defaults``, so options such as ``--config`` count; otherwise the environment's are read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from haystack_collector.errors import ConfigError
from haystack_collector.paths import PathRoots
from haystack_collector.settings import Settings, load_settings

__all__ = ["EngineDefaults", "configure_defaults", "engine_defaults"]


@dataclass(frozen=True, slots=True)
class EngineDefaults:
    """The folders and the crawl depth engines fall back on (see the module docstring)."""

    downloads_dir: Path = Path("downloads")
    data_dir: Path = Path(".")
    web_scraper_depth: int = 3
    api_path_roots: tuple[Path, ...] = ()

    @classmethod
    def of(cls, settings: Settings) -> EngineDefaults:
        return cls(
            settings.downloads_dir,
            settings.data_dir,
            settings.web_scraper_depth,
            tuple(settings.api_path_roots),
        )

    def api_roots(self) -> PathRoots:
        """The folders API work may use (see ``paths``): checked again as it runs."""
        return PathRoots.of_folders(self.downloads_dir, self.data_dir, self.api_path_roots)

    @property
    def downloads(self) -> Path:
        """The downloads folder as an absolute path (relative: to the working folder)."""
        return self.downloads_dir.expanduser().absolute()

    @property
    def data(self) -> Path:
        """The data (haystack) folder as an absolute path (relative: to the working folder)."""
        return self.data_dir.expanduser().absolute()

    def folder(self, given: str) -> Path:
        """A folder an engine's settings name, made absolute: a relative one is in the data
        folder."""
        path = Path(given).expanduser()
        return path if path.is_absolute() else self.data / path


_configured: EngineDefaults | None = None


def configure_defaults(defaults: EngineDefaults | None) -> None:
    """Use these from now on in this process (None: read the environment's each time)."""
    global _configured  # noqa: PLW0603 - one value per process, set where settings are loaded
    _configured = defaults


def engine_defaults() -> EngineDefaults:
    """The configured defaults, else the environment's (the built-in ones if it is broken)."""
    if _configured is not None:
        return _configured
    try:
        return EngineDefaults.of(load_settings())
    except ConfigError:
        return EngineDefaults()
