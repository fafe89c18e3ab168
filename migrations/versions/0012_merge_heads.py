"""Merge the feature heads of this round (what-ifs, accounts, province speed, journeys).

Revision ID: 0012
Revises: 0006, 0009c, 0010b, 0011c
"""

from __future__ import annotations

revision = '0012'
down_revision = ('0006', '0009c', '0010b', '0011c')
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
