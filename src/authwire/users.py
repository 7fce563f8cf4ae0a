"""Users and their personal API tokens.

Passwords are hashed with Argon2. API tokens are 256-bit random values, so a
SHA-256 digest is enough to store them (a slow hash adds nothing against
guessing 2**256 values and would slow every API request); the plain token is
shown once, when it is created.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from authwire.db.models import ApiToken, User
from authwire.db.types import utcnow
from authwire.errors import ConflictError, InvalidInputError, NotFoundError

log = logging.getLogger(__name__)

TOKEN_PREFIX = "aw_"
_USERNAME = re.compile(r"[A-Za-z0-9_.@+-]{1,150}")
# Deliberately loose: one @, something on each side, no spaces or control
# characters (which could inject mail headers). The SMTP server judges the rest.
_EMAIL_PART = r"[^@\s\x00-\x1f\x7f]+"
_EMAIL = re.compile(rf"{_EMAIL_PART}@{_EMAIL_PART}")
MIN_PASSWORD_LENGTH = 12

_hasher = PasswordHasher()


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def count_users(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(User)) or 0)


async def get_user(session: AsyncSession, username: str) -> User:
    user = await session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFoundError(f"There is no user named {username!r}.")
    return user


async def create_user(
    session: AsyncSession,
    username: str,
    *,
    password: str | None,
    is_superuser: bool,
    email: str | None = None,
) -> User:
    """Create a user; `email` is where notifications about their applications go."""
    if not _USERNAME.fullmatch(username):
        raise InvalidInputError.for_field(
            "username",
            "may hold 1 to 150 letters, digits and . _ @ + - (no spaces).",
        )
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInputError.for_field(
            "password", f"must be at least {MIN_PASSWORD_LENGTH} characters long."
        )
    if email is not None and (len(email) > 320 or not _EMAIL.fullmatch(email)):
        raise InvalidInputError.for_field(
            "email", "must be one e-mail address, such as ann@example.edu."
        )
    if await session.scalar(select(User.id).where(User.username == username)):
        raise ConflictError(f"A user named {username!r} already exists.")
    user = User(
        username=username,
        password_hash=_hasher.hash(password) if password is not None else None,
        is_superuser=is_superuser,
        email=email,
    )
    session.add(user)
    await session.flush()
    log.info("user %s created (superuser: %s)", username, is_superuser)
    return user


def verify_password(user: User, password: str) -> bool:
    if user.password_hash is None:
        return False
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def create_api_token(session: AsyncSession, user: User, name: str) -> str:
    """Create a token for `user` and return it; this is its only appearance."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            user_id=user.id,
            name=name,
            token_digest=token_digest(token),
            prefix=token[:10],
        )
    )
    await session.flush()
    log.info("API token %r created for user %s", name, user.username)
    return token


async def user_for_token(session: AsyncSession, token: str) -> User | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = await session.scalar(
        select(ApiToken).where(ApiToken.token_digest == token_digest(token))
    )
    if row is None:
        return None
    now = utcnow()
    # Writing on every request would serialize readers on SQLite; a minute's
    # precision is enough to tell which tokens are still in use.
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        row.last_used_at = now
    return row.user
