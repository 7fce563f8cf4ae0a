"""Password hasher tuned for a test server that checks a client secret per request."""

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class FastPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """PBKDF2-SHA256 with few rounds.

    Django's default round count makes every token request cost a quarter of a second
    on the test machine; the hashing code path is unchanged, only cheaper.
    """

    iterations = 1_000
