"""Meetings: who attended, when it started and who signed it off, as append-only events.

One row per event ("start", "attendees", "sign_off") of the meeting held on a
date; the latest attendee list is in force; a meeting with a sign-off is closed.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meeting_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("meeting_date", sa.Date, nullable=False, index=True),
        sa.Column("event", sa.String(20), nullable=False),
        sa.Column("attendees", sa.Text, nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("the workflow database is append-only: no downgrade")
