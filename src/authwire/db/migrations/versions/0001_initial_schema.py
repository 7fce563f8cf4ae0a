"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-12-03 19:08:34.817878
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import authwire.db.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "applications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "created_at", authwire.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_applications")),
        sa.UniqueConstraint("name", name=op.f("uq_applications_name")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=150), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("is_superuser", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at", authwire.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column(
            "created_at", authwire.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "last_used_at", authwire.db.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_api_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_api_tokens_token_digest")),
    )
    op.create_table(
        "application_admins",
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_application_admins_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_application_admins_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "application_id", "user_id", name=op.f("pk_application_admins")
        ),
    )
    op.create_table(
        "auth_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column(
            "status_changed_at",
            authwire.db.types.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column("client_id", sa.String(length=500), nullable=True),
        sa.Column("issuer", sa.String(length=2000), nullable=True),
        sa.Column("authorization_endpoint", sa.String(length=2000), nullable=True),
        sa.Column("token_endpoint", sa.String(length=2000), nullable=True),
        sa.Column("revocation_endpoint", sa.String(length=2000), nullable=True),
        sa.Column("scope", sa.Text(), nullable=True),
        sa.Column("tenant", sa.String(length=200), nullable=True),
        sa.Column("token_endpoint_auth_method", sa.String(length=40), nullable=True),
        sa.Column("username", sa.String(length=500), nullable=True),
        sa.Column("api_key_name", sa.String(length=200), nullable=True),
        sa.Column("api_key_location", sa.String(length=10), nullable=True),
        sa.Column("secrets_enc", sa.Text(), nullable=True),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", authwire.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", authwire.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_auth_accounts_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_accounts")),
        sa.UniqueConstraint(
            "application_id", "name", name=op.f("uq_auth_accounts_application_id")
        ),
    )
    with op.batch_alter_table("auth_accounts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_auth_accounts_application_id"),
            ["application_id"],
            unique=False,
        )

    op.create_table(
        "authorizations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("state_digest", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("account_generation", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("code_verifier_enc", sa.Text(), nullable=False),
        sa.Column("issuer", sa.String(length=2000), nullable=True),
        sa.Column("authorization_endpoint", sa.String(length=2000), nullable=False),
        sa.Column("redirect_uri", sa.String(length=2000), nullable=False),
        sa.Column(
            "created_at", authwire.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "expires_at", authwire.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "used_at", authwire.db.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["auth_accounts.id"],
            name=op.f("fk_authorizations_account_id_auth_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_authorizations_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authorizations")),
        sa.UniqueConstraint(
            "state_digest", name=op.f("uq_authorizations_state_digest")
        ),
    )
    with op.batch_alter_table("authorizations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_authorizations_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            "ix_authorizations_expires_at", ["expires_at"], unique=False
        )

    op.create_table(
        "token_sets",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("access_token_enc", sa.Text(), nullable=False),
        sa.Column("refresh_token_enc", sa.Text(), nullable=True),
        sa.Column("token_type", sa.String(length=40), nullable=False),
        sa.Column(
            "expires_at", authwire.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("scope", sa.Text(), nullable=True),
        sa.Column(
            "obtained_at", authwire.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("authorized_by_id", sa.Integer(), nullable=True),
        sa.Column(
            "authorized_at",
            authwire.db.types.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("refresh_count", sa.Integer(), nullable=False),
        sa.Column(
            "last_refresh_at",
            authwire.db.types.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column("last_refresh_error", sa.Text(), nullable=True),
        sa.Column(
            "last_refresh_error_at",
            authwire.db.types.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["auth_accounts.id"],
            name=op.f("fk_token_sets_account_id_auth_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["authorized_by_id"],
            ["users.id"],
            name=op.f("fk_token_sets_authorized_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_token_sets")),
    )


def downgrade() -> None:
    op.drop_table("token_sets")
    with op.batch_alter_table("authorizations", schema=None) as batch_op:
        batch_op.drop_index("ix_authorizations_expires_at")
        batch_op.drop_index(batch_op.f("ix_authorizations_account_id"))

    op.drop_table("authorizations")
    with op.batch_alter_table("auth_accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auth_accounts_application_id"))

    op.drop_table("auth_accounts")
    op.drop_table("application_admins")
    op.drop_table("api_tokens")
    op.drop_table("users")
    op.drop_table("applications")
