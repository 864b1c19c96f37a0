"""Start-up: the command line loads what a command needs when it runs, nothing before.

`haystack --version` and `--help` answer without the database layer, the engines or the API
stack; each check runs in a fresh interpreter, whose modules are what a user's shell gets.
"""

from __future__ import annotations

import json
import subprocess
import sys

# The API stack: only `haystack serve` (and `token`, through the store) needs any of it.
API_STACK = ("fastapi", "starlette", "uvicorn", "haystack_collector.api.app")
# Nor does --version or --help need these.
HEAVY = (
    "sqlalchemy",
    "httpx",
    "pydantic",  # typer 0.29 imports it for every command's parameters: about 0.1 s
    "haystack_collector.engines",
    "haystack_collector.settings",
)


def loaded_after(code: str) -> set[str]:
    """The modules of ``API_STACK + HEAVY`` a fresh interpreter holds after running ``code``."""
    probe = (
        "import json, sys\n"
        f"{code}\n"
        f"print(json.dumps(sorted(m for m in {list(API_STACK + HEAVY)!r} if m in sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_importing_the_command_line_loads_no_api_and_no_database() -> None:
    assert loaded_after("import haystack_collector.cli") == set()


def test_version_and_help_load_no_api_and_no_database() -> None:
    for args in (["--version"], ["crawl", "--help"], ["worker", "--help"], ["--help"]):
        code = (
            "from haystack_collector.cli import app\n"
            "try:\n"
            f"    app({args!r}, prog_name='haystack')\n"
            "except SystemExit:\n"
            "    pass"
        )
        assert loaded_after(code) == set(), args
