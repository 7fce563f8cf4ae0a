"""What `authwire serve` says when it starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_the_start_line_names_the_database_without_its_password(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHWIRE_")}
    env.update(
        AUTHWIRE_DATA_DIR=str(tmp_path / "data"),
        # Nothing listens on port 1: serve announces itself, then fails.
        AUTHWIRE_DATABASE_URL="postgresql://authwire:pw-SECRET@127.0.0.1:1/desk",
    )
    result = subprocess.run(
        [sys.executable, "-m", "authwire", "serve", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    output = result.stdout + result.stderr
    assert "database postgresql://authwire:***@127.0.0.1:1/desk" in output, output
    assert "pw-SECRET" not in output
    assert result.returncode != 0
