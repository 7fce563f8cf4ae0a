"""The data directory: the SQLite database, its WAL files and the key file.

The database holds more than ciphertext: users, the web service logs with
their request and response bodies, who authorized what. So the directory is
created readable by its owner alone (0700), which covers every file SQLite
makes in it whatever their own mode; a directory that others can read is
reported at start, not changed: the operator may have reasons.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)


def ensure_data_dir(path: Path) -> None:
    """Create `path` with mode 0700 if it is missing; warn if others may
    enter an existing one."""
    if not path.exists():
        path.mkdir(mode=0o700, parents=True)
        path.chmod(0o700)  # mkdir's mode is narrowed by the umask, never widened
        return
    warn_if_others_can_read(path, "data directory", "700")


def warn_if_others_can_read(path: Path, what: str, private_mode: str) -> None:
    """Log a warning, with the chmod to run, when users other than the owner
    have any access to `path`."""
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        log.warning(
            "%s %s can be read by other users (mode %o); run: chmod %s %s",
            what,
            path,
            mode,
            private_mode,
            path,
        )
