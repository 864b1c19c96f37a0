"""The deployment files: .env.example lists every setting, the compose file is valid.

No Docker engine runs on these machines; Debian's docker-compose (installed by
``scripts/ensure-tools.sh``) validates the compose file, and the commands the services run are
tested outside Docker elsewhere (serve, worker, db upgrade).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml

from haystack_collector.settings import Settings

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
