"""The `authwire` command as an operator runs it (a real process each time)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.upstream import Upstream


def authwire(
    data_dir: Path,
    *args: str,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the command with a clean AUTHWIRE_* environment of its own."""
    clean = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AUTHWIRE_")
    }
    env = {**clean, "AUTHWIRE_DATA_DIR": str(data_dir), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "authwire", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def test_first_use_creates_the_key_file_readable_only_by_its_owner(
    data_dir: Path,
) -> None:
    result = authwire(
        data_dir, "users", "create", "admin", "--superuser", "--no-password"
    )
    assert result.returncode == 0, result.stderr
    key_file = data_dir / "secret.keys"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert (data_dir / "authwire.db").exists()


def test_token_is_printed_alone_on_the_last_line(data_dir: Path) -> None:
    authwire(data_dir, "users", "create", "admin", "--superuser", "--no-password")
    result = authwire(data_dir, "tokens", "create", "admin", "--name", "scripts")
    assert result.returncode == 0, result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("aw_") and " " not in last
    database = (data_dir / "authwire.db").read_bytes()
    assert last.encode() not in database


def test_password_is_hashed_with_argon2(data_dir: Path) -> None:
    result = authwire(
        data_dir,
        "users",
        "create",
        "ann",
        "--password-stdin",
        stdin="correct horse battery\n",
    )
    assert result.returncode == 0, result.stderr
    database = (data_dir / "authwire.db").read_bytes()
    assert b"correct horse battery" not in database
    assert b"$argon2id$" in database


def test_short_password_is_refused_with_the_rule(data_dir: Path) -> None:
    result = authwire(
        data_dir, "users", "create", "ann", "--password-stdin", stdin="short\n"
    )
    assert result.returncode == 1
    assert "at least 12 characters" in result.stderr


def test_accounts_are_created_from_json_and_shown_without_secrets(
    data_dir: Path,
) -> None:
    authwire(data_dir, "applications", "create", "IT Desk")
    definition = {
        "name": "Vendor",
        "kind": "oauth2_generic",
        "client_id": "cid",
        "client_secret": "cli-secret-value",
        "authorization_endpoint": "https://idp.example/authorize",
        "token_endpoint": "https://idp.example/token",
        "scope": "read",
    }
    created = authwire(
        data_dir, "accounts", "create", "IT Desk", "-", stdin=json.dumps(definition)
    )
    assert created.returncode == 0, created.stderr
    assert "cli-secret-value" not in created.stdout
    shown = json.loads(
        authwire(data_dir, "accounts", "show", "IT Desk", "Vendor").stdout
    )
    assert shown["has_client_secret"] is True
    assert shown["redirect_uri"] == "http://127.0.0.1:8080/oauth/callback"


def test_invalid_account_definition_names_the_field(data_dir: Path) -> None:
    authwire(data_dir, "applications", "create", "IT Desk")
    result = authwire(
        data_dir,
        "accounts",
        "create",
        "IT Desk",
        "-",
        stdin=json.dumps({"name": "G", "kind": "oauth2_google", "client_id": "c"}),
    )
    assert result.returncode == 1
    assert "client_secret: is required" in result.stderr
    assert "scope: is required" in result.stderr


def test_invalid_method_definition_is_called_a_method_definition(
    data_dir: Path,
) -> None:
    authwire(data_dir, "applications", "create", "IT Desk")
    result = authwire(
        data_dir, "methods", "create", "IT Desk", "-", stdin=json.dumps({"name": "M"})
    )
    assert result.returncode == 1
    assert "error: the method definition is not valid: " in result.stderr
    assert "provider_id: " in result.stderr
    assert "account definition" not in result.stderr


def test_invalid_provider_is_refused_in_one_line_naming_the_provider(
    data_dir: Path,
) -> None:
    authwire(data_dir, "applications", "create", "IT Desk")
    result = authwire(
        data_dir, "providers", "create", "IT Desk", "", "https://api.example.com"
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: the web service provider is not valid: ")
    assert "name: " in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("command", "kind"),
    [
        (("accounts", "create", "IT Desk"), "account definition"),
        (("accounts", "update", "IT Desk", "Static"), "account update"),
        (("methods", "create", "IT Desk"), "method definition"),
    ],
)
def test_a_missing_definition_file_is_one_line_naming_the_file_and_reason(
    data_dir: Path, tmp_path: Path, command: tuple[str, ...], kind: str
) -> None:
    missing = tmp_path / "nofile.json"
    result = authwire(data_dir, *command, str(missing))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: cannot read the {kind} from {missing}: no such file or directory"
    ]


def test_a_directory_given_as_the_definition_is_refused_in_one_line(
    data_dir: Path, tmp_path: Path
) -> None:
    result = authwire(data_dir, "accounts", "create", "IT Desk", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: cannot read the account definition from {tmp_path}: is a directory"
    ]


def test_invalid_json_in_a_definition_file_names_the_line_and_column(
    data_dir: Path, tmp_path: Path
) -> None:
    definition = tmp_path / "method.json"
    definition.write_text('{\n  "name": "X",\n}\n')
    result = authwire(data_dir, "methods", "create", "IT Desk", str(definition))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        f"error: the method definition in {definition} is not valid JSON: "
    )
    assert lines[0].endswith("(line 3, column 1)")


@pytest.mark.parametrize(
    ("stdin", "problem"),
    [
        ('{"name": "X",}', "is not valid JSON: "),
        ("", "is empty; give a JSON object"),
        ("[1, 2]", "must be a JSON object ({...}), not an array"),
    ],
)
def test_a_bad_definition_on_standard_input_is_one_line(
    data_dir: Path, stdin: str, problem: str
) -> None:
    result = authwire(data_dir, "accounts", "create", "IT Desk", "-", stdin=stdin)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: the account definition on standard input ")
    assert problem in lines[0]


def test_authorizing_a_bearer_account_says_why_once(data_dir: Path) -> None:
    authwire(data_dir, "applications", "create", "IT Desk")
    authwire(data_dir, "users", "create", "admin", "--superuser", "--no-password")
    definition = {"name": "Static", "kind": "bearer", "bearer_token": "static-token-1"}
    authwire(
        data_dir, "accounts", "create", "IT Desk", "-", stdin=json.dumps(definition)
    )
    result = authwire(
        data_dir, "accounts", "authorize", "IT Desk", "Static", "--as", "admin"
    )
    assert result.returncode == 1
    assert result.stderr.count("have no authorization step") == 1
    assert result.stderr.startswith(
        "error: kind: bearer accounts have no authorization step;"
    )


def test_rotate_keys_re_encrypts_and_drops_the_old_key(data_dir: Path) -> None:
    authwire(data_dir, "applications", "create", "IT Desk")
    definition = {"name": "Static", "kind": "bearer", "bearer_token": "static-token-1"}
    authwire(
        data_dir, "accounts", "create", "IT Desk", "-", stdin=json.dumps(definition)
    )
    old_key = (data_dir / "secret.keys").read_text().strip()

    result = authwire(data_dir, "rotate-keys", "--drop-old")
    assert result.returncode == 0, result.stderr
    assert "re-encrypted 1 values" in result.stdout
    new_keys = (data_dir / "secret.keys").read_text().split()
    assert new_keys != [old_key] and len(new_keys) == 1
    assert stat.S_IMODE((data_dir / "secret.keys").stat().st_mode) == 0o600
    shown = authwire(data_dir, "accounts", "show", "IT Desk", "Static")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["has_bearer_token"] is True


def test_postgres_without_migrations_tells_the_operator_to_migrate(
    tmp_path: Path,
) -> None:
    server = os.environ.get("AUTHWIRE_TEST_POSTGRES_URL")
    if not server:
        pytest.skip("AUTHWIRE_TEST_POSTGRES_URL is not set")
    name = f"authwire_cli_{uuid.uuid4().hex[:10]}"
    libpq = make_url(server).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(libpq, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(server).set(database=name).render_as_string(False)
        env = {"AUTHWIRE_DATABASE_URL": url}
        refused = authwire(tmp_path, "applications", "list", env=env)
        assert refused.returncode == 1
        assert "Run `authwire migrate`" in refused.stderr
        migrated = authwire(tmp_path, "migrate", env=env)
        assert migrated.returncode == 0, migrated.stderr
        listed = authwire(tmp_path, "applications", "list", env=env)
        assert listed.returncode == 0, listed.stderr
        assert json.loads(listed.stdout) == []
    finally:
        with psycopg.connect(libpq, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_method_is_created_and_tested_from_the_command_line(
    data_dir: Path, upstream: Upstream
) -> None:
    authwire(data_dir, "applications", "create", "IT Desk")
    created = authwire(
        data_dir, "providers", "create", "IT Desk", "Echo", upstream.base_url
    )
    assert created.returncode == 0, created.stderr
    provider_id = json.loads(created.stdout)["id"]
    definition = {
        "name": "Ping",
        "provider_id": provider_id,
        "http_method": "GET",
        "url": "/echo/ping/{{ n }}",
        "sample_parameters": {"n": 1},
    }
    made = authwire(
        data_dir, "methods", "create", "IT Desk", "-", stdin=json.dumps(definition)
    )
    assert made.returncode == 0, made.stderr

    tested = authwire(
        data_dir, "methods", "test", "IT Desk", "Ping", "--parameters", '{"n": 7}'
    )
    assert tested.returncode == 0, tested.stderr
    result = json.loads(tested.stdout)
    assert result["success"] is True and result["status"] == 200
    assert json.loads(result["body"])["path"] == "/echo/ping/7"

    missing = authwire(
        data_dir, "methods", "test", "IT Desk", "Ping", "--parameters", "{}"
    )
    assert missing.returncode == 2
    assert "'n' is undefined" in json.loads(missing.stdout)["error"]


def test_deleting_an_account_from_the_command_line_reports_the_revocation(
    data_dir: Path,
) -> None:
    authwire(data_dir, "applications", "create", "IT Desk")
    definition = {"name": "Static", "kind": "bearer", "bearer_token": "static-token-1"}
    authwire(
        data_dir, "accounts", "create", "IT Desk", "-", stdin=json.dumps(definition)
    )
    deleted = authwire(data_dir, "accounts", "delete", "IT Desk", "Static")
    assert deleted.returncode == 0, deleted.stderr
    assert json.loads(deleted.stdout)["revocation"]["revoked"] is False
    assert json.loads(authwire(data_dir, "accounts", "list", "IT Desk").stdout) == []
