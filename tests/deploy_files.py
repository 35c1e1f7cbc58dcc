"""The deploy/ files, adjusted for a test: nginx's paths into a temporary
folder, the workers' ports to free ones, plain HTTP instead of TLS."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
NGINX_CONF = DEPLOY / "nginx.conf"


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (str(p) for p in (Path("/usr/sbin/nginx"), Path("/usr/local/sbin/nginx")) if p.exists()),
        None)


def _replace(text: str, pattern: str, replacement: str, count: int = 0) -> str:
    """Replace, insisting the pattern is there (the deploy file changed otherwise)."""
    new, found = re.subn(pattern, replacement, text, flags=re.MULTILINE)
    assert found and (count == 0 or found == count), \
        f"deploy/nginx.conf no longer has {pattern!r} ({found} found)"
    return new


def local_nginx_conf(folder: Path, *, webhook_ports: list[int] | None = None,
                     ops_ports: list[int] | None = None, listen: int | None = None,
                     certificate: tuple[Path, Path] | None = None) -> Path:
    """deploy/nginx.conf with its paths in ``folder``; optionally other ports
    for the workers and plain HTTP on ``listen`` (for the fake Bot API)."""
    text = NGINX_CONF.read_text()
    text = _replace(text, r"^user .*;\n", "", 1)
    text = _replace(text, r"^pid .*;", f"pid {folder}/nginx.pid;", 1)
    text = _replace(text, r"^error_log \S+", f"error_log {folder}/error.log", 1)
    text = _replace(text, r"access_log \S+;", f"access_log {folder}/access.log;", 1)
    text = _replace(text, r"^http \{", "http {\n"
                    f"    client_body_temp_path {folder}/body;\n"
                    f"    proxy_temp_path {folder}/proxy;\n"
                    f"    fastcgi_temp_path {folder}/fastcgi;\n"
                    f"    uwsgi_temp_path {folder}/uwsgi;\n"
                    f"    scgi_temp_path {folder}/scgi;", 1)
    text = _replace(text, r"^worker_processes .*;", "worker_processes 1;", 1)
    if webhook_ports is not None:
        text = _replace(text, r"(upstream participa_webhook \{\n)((?:\s+#.*\n)*)"
                              r"(?:\s+server 127\.0\.0\.1:\d+ .*\n)+",
                        lambda_lines(webhook_ports, " max_fails=3 fail_timeout=10s"), 1)
    if ops_ports is not None:
        text = _replace(text, r"(upstream participa_ops \{\n)((?:\s+#.*\n)*)"
                              r"(?:\s+server 127\.0\.0\.1:\d+;\n)+", lambda_lines(ops_ports, ""), 1)
    if listen is not None:
        text = _replace(text, r"^\s+listen 443 ssl;\n\s+listen \[::\]:443 ssl;",
                        f"        listen 127.0.0.1:{listen};", 1)
        text = _replace(text, r"^\s+ssl_\w+ .*;\n", "")
    elif certificate is not None:
        text = _replace(text, r"ssl_certificate \S+;", f"ssl_certificate {certificate[0]};", 1)
        text = _replace(text, r"ssl_certificate_key \S+;",
                        f"ssl_certificate_key {certificate[1]};", 1)
    path = folder / "nginx.conf"
    path.write_text(text)
    return path


def lambda_lines(ports: list[int], suffix: str) -> str:
    servers = "".join(f"        server 127.0.0.1:{port}{suffix};\n" for port in ports)
    return r"\1\2" + servers


def self_signed(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "fullchain.pem", folder / "privkey.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=bot.example.org", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key
