"""login tickets: the one-time pass that lets a server route set the HttpOnly cookie

After a form login the page sends the browser to /_isv/session?ticket=...; the route, on
whichever replica, redeems the ticket here and answers with Set-Cookie (issue 18 #9).

Revision ID: 9b1f4d6e2a70
Revises: 7b4f0c2d9e61
Create Date: 2026-12-02 12:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import isv.types

revision: str = "9b1f4d6e2a70"
down_revision: str | None = "7b4f0c2d9e61"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_tickets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("ticket_hash", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("expires_at", isv.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"], ["user_sessions.id"],
            name=op.f("fk_login_tickets_session_id_user_sessions"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_tickets")),
        sa.UniqueConstraint("ticket_hash", name=op.f("uq_login_tickets_ticket_hash")),
    )
    op.create_index("ix_login_tickets_session_id", "login_tickets", ["session_id"])
    op.create_index("ix_login_tickets_expires_at", "login_tickets", ["expires_at"])


def downgrade() -> None:
    op.drop_table("login_tickets")
