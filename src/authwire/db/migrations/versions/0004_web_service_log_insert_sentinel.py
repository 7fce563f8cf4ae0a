"""web service log insert sentinel

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 05:30:00.000000

A nullable integer that SQLAlchemy fills with each row's position in a
multi-row INSERT, so that the ids RETURNING gives back can be matched to the
entries that asked for them. Without it SQLite writes a batch of log entries
one INSERT at a time (it promises no order for RETURNING rows).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("web_service_logs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("insert_sentinel", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("web_service_logs", schema=None) as batch_op:
        batch_op.drop_column("insert_sentinel")
