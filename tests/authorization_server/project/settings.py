"""Django settings of the test authorization server.

Everything that differs between runs comes from environment variables set by
``harness.AuthorizationServer``; the values here aim at behaving like a careful
production deployment of django-oauth-toolkit, except where noted for speed.
"""

import os
import secrets
from pathlib import Path

from . import state

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ["AUTHZ_SERVER_DATA_DIR"])

# A fresh key per run: sessions and CSRF tokens only need to outlive one process.
SECRET_KEY = secrets.token_urlsafe(50)
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "oauth2_provider",
]

MIDDLEWARE = [
    # First, so that requests are counted (and delayed) even when a later layer
    # rejects them: the tests count what the client sent.
    f"{__package__}.middleware.TokenEndpointObserver",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

ROOT_URLCONF = f"{__package__}.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        # django-oauth-toolkit's own consent page comes from its app templates.
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATA_DIR / "authorization_server.sqlite3",
        "OPTIONS": {
            # Concurrent token requests run in separate threads. IMMEDIATE takes the
            # write lock when a transaction begins, so two refreshes of the same
            # token queue up instead of failing with "database is locked" mid-way;
            # WAL lets readers proceed meanwhile.
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        },
    }
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "static/"

LOGIN_URL = "/accounts/login/"

# Django's default PBKDF2 costs about 0.25 s per check on the test machine, and DOT
# checks the client secret hash on every token request. Same algorithm, fewer
# rounds: the code paths stay those of a real deployment.
PASSWORD_HASHERS = [f"{__package__}.hashers.FastPBKDF2PasswordHasher"]

OAUTH2_PROVIDER = {
    "SCOPES": {
        "read": "Read your data",
        "write": "Change your data",
        "profile": "See your profile",
        "offline_access": "Keep access while you are away",
    },
    "DEFAULT_SCOPES": ["read"],
    # Both are DOT defaults, spelled out because the tests depend on them.
    "PKCE_REQUIRED": True,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": (
        os.environ.get("AUTHZ_SERVER_REFRESH_TOKEN_REUSE_PROTECTION") == "1"
    ),
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": int(
        os.environ.get("AUTHZ_SERVER_REFRESH_TOKEN_GRACE_SECONDS", "0")
    ),
    # oauthlib evaluates a callable lifetime per token, so the control API can
    # change it while the server runs (ACCESS_TOKEN_EXPIRE_SECONDS is read once).
    "EXTRA_SERVER_KWARGS": {"token_expires_in": state.access_token_lifetime},
    # RFC 9700 behaviour that DOT 4.0 will make the default: S256-only PKCE, no
    # implicit or password grant, no access token in query strings, and the
    # RFC 9207 "iss" parameter on authorization responses.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    # Not hashing tokens at rest (the 3.x default): with hashing on, DOT 3.4.1 answers
    # 500 to a refresh that races another refresh of the same token, because it
    # tries to hand back the winner's token from the now blank "token" column.
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": False,
    # What the metadata document advertises: only what this server is set up for.
    "OAUTH2_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OAUTH2_GRANT_TYPES_SUPPORTED": [
        "authorization_code",
        "refresh_token",
        "client_credentials",
    ],
}

# Tokens, codes and secrets must never reach the log: DOT and oauthlib log request
# details at DEBUG, so nothing below WARNING is emitted. Server errors still show
# up (path and traceback only) for whoever reads the harness log.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["stderr"], "level": "WARNING"},
    "loggers": {
        "django": {"handlers": [], "level": "WARNING", "propagate": True},
    },
}
