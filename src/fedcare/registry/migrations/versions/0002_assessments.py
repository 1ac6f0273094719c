"""Assessments of the health-management assistant, and the registry's own secrets.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assessments",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("person_key", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assessed_on", sa.String(10), nullable=False),
        sa.Column("api_key_id", sa.Integer(), sa.ForeignKey("api_keys.id"), nullable=True),
        sa.Column("tier", sa.String(16), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
    )
    op.create_index("ix_assessments_person_key", "assessments", ["person_key"])
    secrets_table = op.create_table(
        "registry_secrets",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.String(128), nullable=False),
    )
    # the key of person pseudonyms: drawn once per registry, never leaves the database
    op.bulk_insert(secrets_table, [{"name": "person_key", "value": secrets.token_hex(32)}])


def downgrade() -> None:
    op.drop_table("registry_secrets")
    op.drop_index("ix_assessments_person_key", "assessments")
    op.drop_table("assessments")
