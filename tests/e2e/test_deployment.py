"""The deployment files: .env.example lists every setting, the compose file is valid.

No Docker engine runs on these machines; Debian's docker-compose (installed by
``scripts/ensure-tools.sh``) validates the compose file, and the commands the services run are
tested outside Docker elsewhere (serve, worker, db upgrade).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from haystack_collector.settings import Settings
from tests.databases import recreate_server_database, selected_backends, server_url

ROOT = Path(__file__).resolve().parents[2]


def _env_names(example: str) -> set[str]:
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", example, re.MULTILINE))


def test_env_example_lists_every_setting() -> None:
    listed = _env_names((ROOT / ".env.example").read_text(encoding="utf-8"))
    missing = []
    for name, field in Settings.model_fields.items():
        choices = [str(c) for c in getattr(field.validation_alias, "choices", [name])]
        if not listed & set(choices):
            missing.append(f"{name} ({' or '.join(choices)})")
    assert missing == []


def test_env_example_is_read_by_the_settings(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text((ROOT / ".env.example").read_text(encoding="utf-8"))
    settings = Settings(_env_file=tmp_path / ".env")  # type: ignore[call-arg]
    assert settings.db_host == "mariadb"
    assert settings.api_host == "0.0.0.0"
    assert settings.api_read_access == "token"
    assert settings.url.get_backend_name() == "mysql"


def test_the_compose_file_is_valid_and_scales_workers(tmp_path: Path) -> None:
    compose = shutil.which("docker-compose")
    assert compose is not None, "docker-compose is missing: run scripts/ensure-tools.sh"
    shutil.copy(ROOT / "docker-compose.yml", tmp_path / "docker-compose.yml")
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    result = subprocess.run(
        [compose, "config"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    services = config["services"]
    assert set(services) == {"mariadb", "migrate", "haystack", "worker"}
    assert services["mariadb"]["healthcheck"]["test"][0] == "CMD"
    assert services["mariadb"]["command"] == ["--innodb-buffer-pool-size=1G"]  # from .env
    assert any(
        v.startswith("mariadb-data") or "mariadb-data" in str(v)
        for v in map(str, services["mariadb"]["volumes"])
    )
    assert services["haystack"]["command"][0] == "serve"
    assert services["worker"]["command"] == ["worker"]
    # A scaled service must not pin a container name or a host port.
    assert "container_name" not in services["worker"]
    assert "ports" not in services["worker"]


def test_the_image_runs_the_haystack_command() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert 'ENTRYPOINT ["haystack"]' in dockerfile
    assert 'CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]' in dockerfile


def _compose_commands() -> dict[str, list[str]]:
    config = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    return {
        name: [str(part) for part in service["command"]]
        for name, service in config["services"].items()
        if "command" in service
    }


def _service_environment(database: str) -> dict[str, str]:
    """.env.example as compose passes it, pointed at this machine's MariaDB instead."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HAYSTACK_", "DB_"))}
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            env[key] = value
    server = server_url("mariadb")
    env |= {
        "DB_HOST": server.host or "127.0.0.1",
        "DB_PORT": str(server.port or 3306),
        "DB_USER": server.username or "root",
        "DB_PASSWORD": server.password or "",
        "DB_NAME": database,
        "HAYSTACK_DATA_DIR": ".",
        "HAYSTACK_DOWNLOADS_DIR": "downloads",
        "HAYSTACK_LOG_LEVEL": "WARNING",
    }
    return env


def _haystack(*args: str) -> list[str]:
    return [sys.executable, "-m", "haystack_collector", *args]


@pytest.mark.skipif("mariadb" not in selected_backends(), reason="HAYSTACK_TEST_BACKENDS")
def test_the_services_commands_run_outside_docker(tmp_path: Path) -> None:
    commands = _compose_commands()
    database = recreate_server_database("mariadb", "haystack_compose").database
    assert database is not None
    env = _service_environment(database)
    port = _free_port()

    migrate = subprocess.run(
        _haystack(*commands["migrate"]),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stderr
    # .env.example has reads need a token, and /health shows its details only to readers.
    minted = subprocess.run(
        _haystack("token", "create", "compose-test"),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    auth = {"Authorization": f"Bearer {minted.stdout.split()[-1]}"}

    serve = [*commands["haystack"]]
    serve[serve.index("--port") + 1] = str(port)
    serve[serve.index("--host") + 1] = "127.0.0.1"
    processes = [
        subprocess.Popen(
            _haystack(*serve),
            cwd=tmp_path,
            env=env,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        ),
        subprocess.Popen(
            _haystack(*commands["worker"]),
            cwd=tmp_path,
            env=env,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        ),
    ]
    try:
        health = _wait_for_health(f"http://127.0.0.1:{port}/health", processes, auth)
        assert health["database"]["dialect"] == "mysql"
        # The worker service registers itself with a heartbeat the API reports.
        deadline = time.monotonic() + 30
        while not health["workers"]:
            assert time.monotonic() < deadline, "the worker never reported in"
            time.sleep(0.5)
            health = httpx.get(f"http://127.0.0.1:{port}/health", headers=auth, timeout=5).json()
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        results = [(p.wait(timeout=30), p.stderr.read() if p.stderr else "") for p in processes]
    assert [code for code, _ in results] == [0, 0], results


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_health(
    url: str, processes: list[subprocess.Popen[str]], headers: dict[str, str]
) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        for process in processes:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            answer = httpx.get(url, headers=headers, timeout=5)
            if answer.status_code == 200:
                return dict(answer.json())
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"{url} never answered"
        time.sleep(0.3)
