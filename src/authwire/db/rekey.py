"""Re-encrypting every stored secret with the newest key (`authwire rotate-keys`)."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from authwire.db.models import ENCRYPTED_COLUMNS
from authwire.secrets import Keyring


async def reencrypt_all(session: AsyncSession, keyring: Keyring) -> int:
    """Rewrite each value that an older key encrypted; return how many.

    Runs in the caller's transaction: either every value is rewritten or, on
    an error, none is, so no value is left that only a dropped key can read.
    """
    count = 0
    for model, key_name, column_name in ENCRYPTED_COLUMNS:
        key = getattr(model, key_name)
        column = getattr(model, column_name)
        rows = await session.execute(select(key, column).where(column.is_not(None)))
        for row_id, ciphertext in rows.all():
            if keyring.is_current(ciphertext):
                continue
            await session.execute(
                update(model)
                .where(key == row_id)
                .values({column_name: keyring.rotate(ciphertext)})
                .execution_options(synchronize_session=False)
            )
            count += 1
    return count
