"""The repository carries everything its tests, benchmarks and scripts read.

A clone in an empty folder must pass its own tests: nothing may read a folder beside the
checkout (the developers' machines once had one, ``shared``, next to it), climb out of the
repository, or skip because such a folder is missing. The real captures live in
``tests/fixtures`` and their MANIFESTs name every file with its hash.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures import FIXTURES, REAL, REDUCED

ROOT = Path(__file__).resolve().parents[2]
# Where code that runs lives; the captures under tests/fixtures are data, checked by hash below.
SCANNED = ("tests", "bench", "scripts", ".ci")
SCANNED_FILES = ("Makefile", "pyproject.toml", "docker-compose.yml", "Dockerfile")
TEXT_SUFFIXES = {".py", ".sh", ".md", ".toml", ".yml", ".yaml", ".cfg", ".ini", ".conf", ".lua"}

# Written so that none matches its own source text: the guard never flags itself.
OUTSIDE = {
    "the folder beside the checkout": re.compile(r"\.\./shared\b"),
    "the shared harness or fixtures": re.compile(r"/shared/(?:fixtures|bench)\b"),
    "a 'shared' path component": re.compile(r"""(?:/\s*["']shared["']|["']shared["']\s*/)"""),
    "the variable that pointed there": re.compile(r"\bHAYSTACK_SHARE[D]\b"),
    "the repository root's parent": re.compile(r"\bROOT\.paren(?:t\b|ts\[)"),
}
CLIMB = re.compile(r"Path\(__file__\)(?:\.resolve\(\))?((?:\.parent\b|\.parents\[\d+\])+)")
SKIP_ON_MISSING_FOLDER = re.compile(
    r"skipif\(\s*not\s[^)]*\.(?:is_dir|is_file|exists)\(\)|skip\([^)]*\b(?:missing|not present)\b"
)
MANIFEST_ENTRY = re.compile(r"^### `([^`]+)`$(.*?)sha256\[:16\] `([0-9a-f]{16})`", re.M | re.S)


def scanned_files() -> Iterator[Path]:
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*")):
            if not path.is_file() or "__pycache__" in path.parts:
                continue
            if path.is_relative_to(FIXTURES) and path.suffix != ".py":
                continue
            if path.suffix in TEXT_SUFFIXES or path.suffix == "" or path.name == "run":
                yield path
    for name in SCANNED_FILES:
        if (ROOT / name).is_file():
            yield ROOT / name


def names_outside(text: str) -> list[str]:
    """What in ``text`` points outside the repository, by kind."""
    return [kind for kind, pattern in OUTSIDE.items() if pattern.search(text)]


def climbs_out(relative: Path, text: str) -> list[str]:
    """``Path(__file__)`` parent chains in a file at ``relative`` that end above the repository."""
    found = []
    for match in CLIMB.finditer(text):
        chain = match.group(1)
        levels = chain.count(".parent") - chain.count(".parents[")
        levels += sum(int(n) + 1 for n in re.findall(r"\.parents\[(\d+)\]", chain))
        if levels > len(relative.parts):
            found.append(match.group(0))
    return found


def manifest(folder: Path) -> dict[str, str]:
    """File path -> sha256 prefix, as the folder's MANIFEST.md records them."""
    text = (folder / "MANIFEST.md").read_text(encoding="utf-8")
    return {match.group(1): match.group(3) for match in MANIFEST_ENTRY.finditer(text)}


def captures(folder: Path) -> set[str]:
    return {
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file() and path.name != "MANIFEST.md"
    }


def test_the_scan_sees_the_tests_benchmarks_and_scripts() -> None:
    seen = {path.relative_to(ROOT).as_posix() for path in scanned_files()}
    assert {
        "tests/conftest.py",
        "tests/fixtures/__init__.py",
        "tests/unit/test_repository.py",
        "bench/crawl_bench.py",
        "bench/crawl_bench.md",
        "bench/site/serve-site.sh",
        "bench/peers/wget_crawl.sh",
        "scripts/bench-setup.sh",
        "Makefile",
    } <= seen
    assert not any(name.startswith("tests/fixtures/real/") for name in seen)


def test_nothing_names_a_folder_outside_the_repository() -> None:
    offenders = {
        path.relative_to(ROOT).as_posix(): kinds
        for path in scanned_files()
        if (kinds := names_outside(path.read_text(encoding="utf-8", errors="replace")))
    }
    assert offenders == {}


def test_no_python_file_climbs_above_the_repository_root() -> None:
    offenders = {
        path.relative_to(ROOT).as_posix(): chains
        for path in scanned_files()
        if path.suffix == ".py"
        and (chains := climbs_out(path.relative_to(ROOT), path.read_text(encoding="utf-8")))
    }
    assert offenders == {}


def test_no_test_skips_itself_because_a_folder_is_missing() -> None:
    offenders = [
        path.relative_to(ROOT).as_posix()
        for path in scanned_files()
        if path.suffix == ".py" and SKIP_ON_MISSING_FOLDER.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


# The guard's own patterns, shown on what they must and must not catch. The strings are put
# together here so that this file's source never holds them whole.
DOTS, SHARED = "..", "shared"


@pytest.mark.parametrize(
    "text",
    [
        f'REAL = "{DOTS}/{SHARED}/fixtures/real"',
        f"{DOTS}/{SHARED}/bench/serve-site.sh start",
        f"/work/{SHARED}/fixtures/real/MANIFEST.md",
        f'HERE.parents[4] / "{SHARED}" / "fixtures" / "real"',
        f'SHARED_BENCH = Path(os.environ.get("HAYSTACK_{SHARED.upper()}", "/srv"))',
        "SITE = ROOT" + ".parent / 'site'",
    ],
)
def test_the_guard_catches_the_old_ways_out(text: str) -> None:
    assert names_outside(text)


@pytest.mark.parametrize(
    "text",
    [
        "SHARED_URIS = ('sqlite:///file::memory:?cache=shared',)",
        "the shared socket; the database is shared by the whole run",
        "from tests.fixtures import REAL",
        'Path(__file__).resolve().parents[2] / "tests"',
    ],
)
def test_the_guard_lets_ordinary_words_through(text: str) -> None:
    assert names_outside(text) == []


def test_parent_chains_are_counted_from_the_files_place() -> None:
    here = Path("tests/unit/extract/test_x.py")
    reach = "Path(__file__).resolve()"
    assert climbs_out(here, reach + ".parents[3]") == []  # the repository root
    assert climbs_out(here, reach + ".parents[4]") == [reach + ".parents[4]"]
    assert climbs_out(here, reach + ".parents[3].parent") == [reach + ".parents[3].parent"]
    assert climbs_out(Path("bench/x.py"), reach + ".parent.parent") == []
    assert climbs_out(Path("bench/x.py"), reach + ".parent.parent.parent") != []


@pytest.mark.parametrize("folder", [REAL, REDUCED], ids=["real", "reduced"])
def test_every_capture_is_in_its_manifest_and_pristine(folder: Path) -> None:
    recorded = manifest(folder)
    assert recorded, f"{folder}/MANIFEST.md lists no file"
    assert captures(folder) == set(recorded)
    for name, prefix in recorded.items():
        digest = hashlib.sha256((folder / name).read_bytes()).hexdigest()
        assert digest.startswith(prefix), f"{name}: sha256 {digest[:16]}, MANIFEST says {prefix}"
