"""referrals: marketing consent kept apart (with its own events), promotional texts marked,
a referral code per customer, friends attached to who sent them, and the referral settings

Revision ID: 0007_referrals
Revises: 0006_search
Create Date: 2026-12-02 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
import sqlmodel.sql.sqltypes
from alembic import op

import app.models

revision: str = "0007_referrals"
down_revision: str | None = "0006_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

String = sqlmodel.sql.sqltypes.AutoString
UTC = app.models.UTCDateTime


def upgrade() -> None:
    # Columns only, with constant defaults: SQLite adds them in place (a rebuild of a table
    # that others point at would fail with rows in it).
    op.add_column("business", sa.Column("referral_asks", sa.Boolean(), nullable=False,
                                        server_default="1"))  # fmt: skip
    for name, default in (("referral_ask_days", "7"), ("referral_cooldown_days", "90"),
                          ("referral_hourly_limit", "30")):  # fmt: skip
        op.add_column("business", sa.Column(name, sa.Integer(), nullable=False,
                                            server_default=default))  # fmt: skip
    op.add_column("business", sa.Column("referral_offer", String(length=160)))
    op.add_column("business", sa.Column("referral_reward", String(length=160)))
    op.add_column("customer", sa.Column("marketing_consent", String(length=10), nullable=False,
                                        server_default="unknown"))  # fmt: skip
    op.add_column("customer", sa.Column("marketing_consent_source", String(length=40)))
    op.add_column("customer", sa.Column("marketing_consent_at", UTC(timezone=True)))
    op.add_column("customer", sa.Column("referral_code", String(length=12)))
    op.add_column("customer", sa.Column("referred_by", sa.Integer()))
    # STOP ended both consents: whoever opted out before is opted out of offers too.
    op.execute("UPDATE customer SET marketing_consent = 'opted_out' WHERE consent = 'opted_out'")
    connection = op.get_bind()
    taken: set[str] = set()
    updates = []
    for (customer_id,) in connection.execute(sa.text("SELECT id FROM customer")).all():
        code = app.models.new_referral_code()
        while code in taken:
            code = app.models.new_referral_code()
        taken.add(code)
        updates.append({"code": code, "id": customer_id})
    if updates:  # one statement, many rows
        connection.execute(sa.text("UPDATE customer SET referral_code = :code WHERE id = :id"),
                           updates)  # fmt: skip
    op.create_index("uq_customer_referral_code", "customer", ["referral_code"], unique=True)
    op.add_column("consent_event", sa.Column("kind", String(length=10), nullable=False,
                                             server_default="texts"))  # fmt: skip
    op.add_column("message", sa.Column("promotional", sa.Boolean(), nullable=False,
                                       server_default="0"))  # fmt: skip
    op.create_table(
        "referral",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("referrer_id", sa.Integer(), nullable=False),
        sa.Column("friend_id", sa.Integer(), nullable=False),
        sa.Column("state", app.models.StrEnumType(app.models.ReferralState, 10), nullable=False),
        sa.Column("source", String(length=10), nullable=False),
        sa.Column("wants_marketing", sa.Boolean(), nullable=False),
        sa.Column("confirmed_at", UTC(timezone=True)),
        sa.Column("converted_at", UTC(timezone=True)),
        sa.Column("visit_id", sa.Integer()),
        sa.Column("rewarded_at", UTC(timezone=True)),
        sa.Column("rewarded_by", sa.Integer()),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["business_id"], ["business.id"]),
        sa.ForeignKeyConstraint(["referrer_id"], ["customer.id"]),
        sa.ForeignKeyConstraint(["friend_id"], ["customer.id"]),
        sa.ForeignKeyConstraint(["visit_id"], ["visit.id"]),
        sa.ForeignKeyConstraint(["rewarded_by"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("business_id", "friend_id", name="uq_referral_friend"),
    )
    op.create_index("ix_referral_referrer_id", "referral", ["referrer_id"])
    op.create_index("ix_referral_business_time", "referral", ["business_id", "created_at"])


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+ too): nothing is rebuilt under the rows pointing here.
    op.drop_index("ix_referral_business_time", table_name="referral")
    op.drop_index("ix_referral_referrer_id", table_name="referral")
    op.drop_table("referral")
    op.drop_column("message", "promotional")
    op.drop_column("consent_event", "kind")
    op.drop_index("uq_customer_referral_code", table_name="customer")
    for name in ("referred_by", "referral_code", "marketing_consent_at",
                 "marketing_consent_source", "marketing_consent"):  # fmt: skip
        op.drop_column("customer", name)
    for name in ("referral_hourly_limit", "referral_reward", "referral_offer",
                 "referral_cooldown_days", "referral_ask_days", "referral_asks"):  # fmt: skip
        op.drop_column("business", name)
