"""Who typed a decision, beside who is named as deciding it (the scribe and the clinician).

"decided by" is what the scribe types; ``recorded_by`` is the signed-in person,
set by the app and never typed. Decisions saved before this revision have none.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("decisions", sa.Column("recorded_by", sa.String(200)))


def downgrade() -> None:
    raise NotImplementedError("the workflow database is append-only: no downgrade")
