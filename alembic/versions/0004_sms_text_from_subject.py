"""Fill message.text from the subject for older SMS/Pager rows.

Since download_text_parts defaults to false, SMS/Pager text comes from the subject (which
RingCentral fills with the message text). Rows pulled earlier with attachment downloads
off have NULL text until listed again; this backfills them once.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "UPDATE message SET text = subject"
        " WHERE text IS NULL AND subject IS NOT NULL AND type IN ('SMS', 'Pager')"
    )


def downgrade() -> None:
    # Data only: text equal to the subject is what the current code writes too.
    pass
