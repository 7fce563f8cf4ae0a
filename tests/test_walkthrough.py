"""The README's walkthrough, as a new user does it: a real `authwire serve`
process on SQLite, the CLI for the admin and token, HTTP for everything else,
and a real authorization server for login and consent.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx2
import pytest

from tests.authorization_server.harness import AuthorizationServer, authorize_as_browser


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHWIRE_")}
    return {**env, "AUTHWIRE_DATA_DIR": str(data_dir), **extra}


def cli(data_dir: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "authwire", *args],
        env=clean_env(data_dir),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path, Path]]:
    """`authwire serve` in a subprocess; yields its URL, data dir and log."""
    data_dir = tmp_path / "data"
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "authwire", "serve", "--port", str(port)],
            env=clean_env(data_dir, AUTHWIRE_BASE_URL=base_url),
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx2.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "authwire serve did not start"
            time.sleep(0.2)
        yield base_url, data_dir, log_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_a_new_user_generates_tokens_with_the_cli_and_http_only(
    served: tuple[str, Path, Path], authorization_server: AuthorizationServer
) -> None:
    base_url, data_dir, log_path = served
    first_lines = log_path.read_text().splitlines()
    assert any("authwire users create" in line for line in first_lines), first_lines

    cli(data_dir, "users", "create", "admin", "--superuser", "--no-password")
    token = cli(data_dir, "tokens", "create", "admin").strip().splitlines()[-1]
    http = httpx2.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=15
    )

    application = http.post("/api/v1/applications", json={"name": "IT Desk"}).json()
    authorization_server.create_user("walker", "walker-password-1")
    client = authorization_server.create_client([f"{base_url}/oauth/callback"])
    created = http.post(
        f"/api/v1/applications/{application['id']}/auth-accounts",
        json={
            "name": "Vendor API",
            "kind": "oauth2_generic",
            "client_id": client.client_id,
            "client_secret": client.client_secret,
            "authorization_endpoint": authorization_server.authorization_endpoint,
            "token_endpoint": authorization_server.token_endpoint,
            "scope": "read",
        },
    )
    assert created.status_code == 201, created.text
    account = created.json()
    assert account["redirect_uri"] == f"{base_url}/oauth/callback"
    path = f"/api/v1/applications/{application['id']}/auth-accounts/{account['id']}"

    started = http.post(f"{path}/authorization").json()
    location = authorize_as_browser(
        started["authorization_url"], "walker", "walker-password-1"
    )
    assert urlsplit(location).netloc == urlsplit(base_url).netloc
    page = httpx2.get(location, timeout=15)
    assert page.status_code == 200, page.text
    assert "The access token was generated successfully" in page.text

    shown = http.get(path).json()
    assert shown["status"] == "authorized"
    assert shown["token"]["has_refresh_token"] is True
    assert shown["token"]["authorized_by"] == "admin"
    assert shown["token"]["expires_at"]
    activated = http.patch(path, json={"active": True})
    assert activated.json()["active"] is True

    database = (data_dir / "authwire.db").read_bytes()
    wal = data_dir / "authwire.db-wal"
    if wal.exists():
        database += wal.read_bytes()
    assert client.client_secret.encode() not in database
    assert token.encode() not in database
    assert data_dir.stat().st_mode & 0o777 == 0o700

    # The access log shows the callback, without its code and state.
    code = dict(parse_qsl(urlsplit(location).query))["code"]
    server_log = log_path.read_text()
    assert '"GET /oauth/callback?[redacted] HTTP/1.1" 200' in server_log
    assert code not in server_log
