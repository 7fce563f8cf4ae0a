"""Re-encrypting with the newest key, and what old keys can still read."""

from __future__ import annotations

import httpx2
import pytest
from sqlalchemy import select

from authwire.db.models import AuthAccount
from authwire.db.rekey import reencrypt_all
from authwire.errors import ConfigurationError
from authwire.runtime import Runtime
from authwire.secrets import Keyring, generate_key, parse_keys
from tests.helpers import create_account


async def test_rotation_rewrites_every_value_for_the_newest_key(
    api: httpx2.AsyncClient, application_id: int, runtime: Runtime
) -> None:
    await create_account(api, application_id)
    await create_account(
        api,
        application_id,
        name="Static",
        kind="bearer",
        bearer_token="static-1",
        client_id=None,
        client_secret=None,
        authorization_endpoint=None,
        token_endpoint=None,
        scope=None,
    )
    old_keyring = runtime.keyring
    new_key = generate_key().encode()
    old_key = parse_keys(runtime.settings.secret_keys.get_secret_value())[0]  # type: ignore[union-attr]
    rotated = Keyring([new_key, old_key])

    async with runtime.sessions() as session:
        assert await reencrypt_all(session, rotated) == 2
        await session.commit()
    async with runtime.sessions() as session:
        assert await reencrypt_all(session, rotated) == 0
        values = list(await session.scalars(select(AuthAccount.secrets_enc)))

    only_new = Keyring([new_key])
    for value in values:
        assert value is not None
        assert "client_secret" in only_new.decrypt(
            value
        ) or "static-1" in only_new.decrypt(value)
        with pytest.raises(ConfigurationError, match="cannot be decrypted"):
            old_keyring.decrypt(value)


def test_a_key_that_is_not_a_fernet_key_is_refused_with_advice() -> None:
    with pytest.raises(ConfigurationError, match="authwire generate-key"):
        Keyring([b"too-short"])
