"""Applying and inspecting schema migrations (Alembic, shipped in the package)."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from authwire.db.engine import install_sqlite_pragmas, sync_url

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(url: str) -> str | None:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def upgrade(url: str) -> None:
    """Bring the schema to the newest revision; safe to run repeatedly."""
    engine = create_engine(sync_url(url))
    if engine.dialect.name == "sqlite":
        install_sqlite_pragmas(engine)
    config = alembic_config(url)
    try:
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                # One migrator at a time when several processes start together.
                connection.exec_driver_sql("SELECT pg_advisory_xact_lock(727001)")
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        engine.dispose()
    log.info("database schema is at revision %s", head_revision())
