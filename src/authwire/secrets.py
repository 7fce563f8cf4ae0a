"""Encryption of secret values at rest, and the keys that do it.

Secrets (client secrets, passwords, API keys, tokens, PKCE verifiers) are
stored as Fernet tokens. Several keys may be configured, newest first: the
newest encrypts, all of them decrypt, so that a key can be rotated without
downtime. `authwire rotate-keys` re-encrypts every stored value with the
newest key, after which older keys can be dropped.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from authwire.data_dir import ensure_data_dir, warn_if_others_can_read
from authwire.errors import ConfigurationError

log = logging.getLogger(__name__)

KEY_FILE_NAME = "secret.keys"


class Secret:
    """A secret value in memory, whose repr and str never show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class Keyring:
    """Fernet keys, newest first; encrypts with the newest, decrypts with any."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ConfigurationError("At least one secret key is needed.")
        try:
            self._fernets = [Fernet(key) for key in keys]
        except ValueError as exc:
            raise ConfigurationError(
                "A secret key is not a valid Fernet key (32 url-safe base64-encoded "
                "bytes). Generate one with `authwire generate-key`."
            ) from exc
        self._multi = MultiFernet(self._fernets)

    @property
    def key_count(self) -> int:
        return len(self._fernets)

    def encrypt(self, plaintext: str) -> str:
        return self._multi.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._multi.decrypt(ciphertext.encode("ascii")).decode()
        except InvalidToken as exc:
            raise ConfigurationError(
                "A stored secret cannot be decrypted with the configured keys. "
                "Was a key removed before `authwire rotate-keys` re-encrypted "
                "everything with the newest one?"
            ) from exc

    def rotate(self, ciphertext: str) -> str:
        """Re-encrypt a value with the newest key."""
        try:
            return self._multi.rotate(ciphertext.encode("ascii")).decode("ascii")
        except InvalidToken as exc:
            raise ConfigurationError(
                "A stored secret cannot be decrypted with the configured keys, "
                "so it cannot be re-encrypted."
            ) from exc

    def is_current(self, ciphertext: str) -> bool:
        """Whether the newest key encrypted this value."""
        try:
            self._fernets[0].decrypt(ciphertext.encode("ascii"))
        except InvalidToken:
            return False
        return True


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


def parse_keys(text: str) -> list[bytes]:
    """Keys from a comma- or newline-separated list; blank entries ignored."""
    parts = text.replace(",", "\n").splitlines()
    return [part.strip().encode("ascii") for part in parts if part.strip()]


def key_file_path(data_dir: Path) -> Path:
    return data_dir / KEY_FILE_NAME


def load_or_create_key_file(data_dir: Path) -> list[bytes]:
    """Read the key file, creating it (mode 0600) on first start."""
    path = key_file_path(data_dir)
    if path.exists():
        warn_if_others_can_read(path, "key file", "600")
        return parse_keys(path.read_text())

    ensure_data_dir(data_dir)
    # O_EXCL: two processes starting at once must not both write a key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return parse_keys(path.read_text())
    with os.fdopen(fd, "w") as handle:
        handle.write(generate_key() + "\n")
    log.info("created key file %s (mode 600); back it up with the database", path)
    return parse_keys(path.read_text())


def write_key_file(data_dir: Path, keys: list[bytes]) -> None:
    """Replace the key file atomically, keeping mode 0600."""
    path = key_file_path(data_dir)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("".join(key.decode("ascii") + "\n" for key in keys))
    os.replace(tmp, path)
