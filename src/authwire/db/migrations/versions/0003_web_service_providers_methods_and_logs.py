"""web service providers methods and logs

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 19:42:07.429069
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import authwire.db.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_service_providers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("base_url", sa.String(length=2000), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at", authwire.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", authwire.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_web_service_providers_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_service_providers")),
        sa.UniqueConstraint(
            "application_id",
            "name",
            name=op.f("uq_web_service_providers_application_id"),
        ),
    )
    with op.batch_alter_table("web_service_providers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_web_service_providers_application_id"),
            ["application_id"],
            unique=False,
        )

    op.create_table(
        "web_service_methods",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("auth_account_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("http_method", sa.String(length=10), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("headers", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("content_type", sa.String(length=10), nullable=False),
        sa.Column("timeout_seconds", sa.Double(), nullable=False),
        sa.Column("retry_enabled", sa.Boolean(), nullable=True),
        sa.Column("max_retries", sa.Integer(), nullable=False),
        sa.Column("sample_parameters", sa.Text(), nullable=False),
        sa.Column("secrets_enc", sa.Text(), nullable=True),
        sa.Column(
            "created_at", authwire.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", authwire.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_web_service_methods_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["auth_account_id"],
            ["auth_accounts.id"],
            name=op.f("fk_web_service_methods_auth_account_id_auth_accounts"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["web_service_providers.id"],
            name=op.f("fk_web_service_methods_provider_id_web_service_providers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_service_methods")),
        sa.UniqueConstraint(
            "application_id", "name", name=op.f("uq_web_service_methods_application_id")
        ),
    )
    with op.batch_alter_table("web_service_methods", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_web_service_methods_application_id"),
            ["application_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_web_service_methods_auth_account_id"),
            ["auth_account_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_web_service_methods_provider_id"),
            ["provider_id"],
            unique=False,
        )

    op.create_table(
        "web_service_logs",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "created_at", authwire.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("method_id", sa.Integer(), nullable=True),
        sa.Column("method_name", sa.String(length=200), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("account_name", sa.String(length=200), nullable=True),
        sa.Column("workflow_id", sa.Integer(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("step_key", sa.String(length=200), nullable=True),
        sa.Column("request_method", sa.String(length=10), nullable=False),
        sa.Column("request_url", sa.Text(), nullable=False),
        sa.Column("request_headers", sa.Text(), nullable=False),
        sa.Column("request_body", sa.Text(), nullable=True),
        sa.Column("request_body_size", sa.Integer(), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_headers", sa.Text(), nullable=False),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("response_body_size", sa.Integer(), nullable=False),
        sa.Column("response_body_truncated", sa.Boolean(), nullable=False),
        sa.Column("duration_ms", sa.Double(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("token_refreshed", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["auth_accounts.id"],
            name=op.f("fk_web_service_logs_account_id_auth_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_web_service_logs_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["method_id"],
            ["web_service_methods.id"],
            name=op.f("fk_web_service_logs_method_id_web_service_methods"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_service_logs")),
    )
    with op.batch_alter_table("web_service_logs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_web_service_logs_app_account",
            ["application_id", "account_id", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_web_service_logs_app_id", ["application_id", "id"], unique=False
        )
        batch_op.create_index(
            "ix_web_service_logs_app_method",
            ["application_id", "method_id", "success", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_web_service_logs_app_run",
            ["application_id", "run_id", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_web_service_logs_app_success",
            ["application_id", "success", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_web_service_logs_created_at", ["created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("web_service_logs", schema=None) as batch_op:
        batch_op.drop_index("ix_web_service_logs_created_at")
        batch_op.drop_index("ix_web_service_logs_app_success")
        batch_op.drop_index("ix_web_service_logs_app_run")
        batch_op.drop_index("ix_web_service_logs_app_method")
        batch_op.drop_index("ix_web_service_logs_app_id")
        batch_op.drop_index("ix_web_service_logs_app_account")

    op.drop_table("web_service_logs")
    with op.batch_alter_table("web_service_methods", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_service_methods_provider_id"))
        batch_op.drop_index(batch_op.f("ix_web_service_methods_auth_account_id"))
        batch_op.drop_index(batch_op.f("ix_web_service_methods_application_id"))

    op.drop_table("web_service_methods")
    with op.batch_alter_table("web_service_providers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_service_providers_application_id"))

    op.drop_table("web_service_providers")
