"""deploy/: the nginx configuration passes `nginx -t`, compose.yaml has what
a production start needs, the systemd unit passes `systemd-analyze verify`.

Each tool is used where it is installed; without it that check is skipped
(saying so), the others still run.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml

from tests.deploy_files import DEPLOY, NGINX_CONF, local_nginx_conf, nginx_binary, self_signed

WORKERS = 3


@pytest.fixture
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_compose_runs_migrations_once_then_the_workers_behind_nginx(compose):  # type: ignore[no-untyped-def]
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "migrate", "bot", "nginx"}
    # Workers never migrate: a one-shot service does, and the workers wait for it.
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert services["migrate"]["restart"] == "no"
    bot = services["bot"]
    assert bot["command"] == ["run", "--workers", str(WORKERS)]
    assert bot["depends_on"] == {"migrate": {"condition": "service_completed_successfully"},
                                 "postgres": {"condition": "service_healthy"},
                                 "redis": {"condition": "service_healthy"}}
    assert services["nginx"]["depends_on"] == {"bot": {"condition": "service_healthy"}}


def test_compose_gives_the_workers_postgresql_redis_and_their_ports(compose):  # type: ignore[no-untyped-def]
    for name in ("migrate", "bot"):
        env = compose["services"][name]["environment"]
        assert env["DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert "@postgres:5432/" in env["DATABASE_URL"]
        assert env["REDIS_URL"] == "redis://redis:6379/0"
        assert compose["services"][name]["env_file"] == "participa.env"
    env = compose["services"]["bot"]["environment"]
    assert (env["WEBHOOK_LISTEN"], env["OPS_LISTEN"]) == ("127.0.0.1:8100", "127.0.0.1:9100")
    assert env["PROMETHEUS_MULTIPROC_DIR"]
    # nginx in the bot's network namespace reaches the workers on 127.0.0.1.
    nginx = compose["services"]["nginx"]
    assert nginx["network_mode"] == "service:bot"
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in nginx["volumes"]


def test_every_long_running_service_has_a_healthcheck(compose):  # type: ignore[no-untyped-def]
    for name in ("postgres", "redis", "bot", "nginx"):
        check = compose["services"][name]["healthcheck"]
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name
        assert check["interval"] and check["retries"] >= 3, name
    assert "/readyz" in " ".join(compose["services"]["bot"]["healthcheck"]["test"])
    assert "pg_isready" in compose["services"]["postgres"]["healthcheck"]["test"][1]


def test_docker_compose_accepts_the_file(tmp_path):  # type: ignore[no-untyped-def]
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"],
                                        capture_output=True).returncode != 0:
        pytest.skip("docker compose is not installed here")
    folder = tmp_path / "deploy"
    shutil.copytree(DEPLOY, folder)
    (folder / "participa.env").write_text("BOT_TOKEN=\n")
    found = subprocess.run([docker, "compose", "-f", str(folder / "compose.yaml"), "config",
                            "-q"], capture_output=True, text=True)
    assert found.returncode == 0, found.stderr


def test_nginx_balances_the_workers_named_in_the_other_files():  # type: ignore[no-untyped-def]
    text = NGINX_CONF.read_text()
    webhook = re.findall(r"server 127\.0\.0\.1:(\d+) max_fails", text)
    ops = re.findall(r"server 127\.0\.0\.1:(\d+);", text)
    assert webhook == [str(8100 + i) for i in range(WORKERS)]
    assert ops == [str(9100 + i) for i in range(WORKERS)]
    assert "location = /tg" in text and "location = /healthz" in text
    assert "X-Telegram-Bot-Api-Secret-Token $http_x_telegram_bot_api_secret_token" in text
    unit = (DEPLOY / "participa.service").read_text()
    assert f"participa run --workers {WORKERS}" in unit
    assert "WEBHOOK_LISTEN=127.0.0.1:8100" in unit and "OPS_LISTEN=127.0.0.1:9100" in unit


def test_nginx_accepts_the_configuration(tmp_path):  # type: ignore[no-untyped-def]
    nginx = nginx_binary()
    if nginx is None:
        pytest.skip("nginx is not installed here (apt-get install nginx-light)")
    conf = local_nginx_conf(tmp_path, certificate=self_signed(tmp_path))
    found = subprocess.run([nginx, "-t", "-c", str(conf), "-p", str(tmp_path),
                            "-e", str(tmp_path / "error.log")], capture_output=True, text=True)
    assert found.returncode == 0, found.stderr
    assert "syntax is ok" in found.stderr


def test_systemd_accepts_the_unit(tmp_path):  # type: ignore[no-untyped-def]
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here")
    # The unit names the production path of the executable; verify wants one that exists.
    unit = (DEPLOY / "participa.service").read_text().replace(
        "/opt/participa/.venv/bin/participa", shutil.which("true") or "/bin/true")
    path = tmp_path / "participa.service"
    path.write_text(unit)
    found = subprocess.run([analyze, "verify", str(path)], capture_output=True, text=True,
                           timeout=60)
    assert found.returncode == 0, found.stderr
    assert found.stderr.strip() == "", found.stderr
