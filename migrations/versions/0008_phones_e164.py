"""Phones in E.164: stored complainant and worker phones, the matcher's phone keys and features.

Until now the hub accepted mobiles only and stored them as their 11 digits ('13800138000'); it now
accepts landlines too and stores every number in E.164 ('+8613800138000', '+865937856234'), and the
clue matcher's phone blocking key is the E.164 form (``p:+8613800138000``). This revision rewrites
what is stored, set-based, so that a new record finds the old ones with the same number:

- ``clues.complainant_phone``, ``channel_records.complainant_phone``, ``workers.phone``;
- ``clue_match_keys.key`` of kind ``p:`` (what ``find_candidates`` looks up);
- ``channel_records.match_features['phone']`` (what the matcher and ``hub clues rematch`` compare).

Every value stored before was an 11-digit mobile (the old validator refused anything else), so E.164
is '+86' followed by it. The downgrade turns mobiles back into 11 digits; a landline stored since
then stays in E.164 (the old code reads it as an opaque string).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: (table, column) of the stored phones.
_COLUMNS = (("clues", "complainant_phone"), ("channel_records", "complainant_phone"), ("workers", "phone"))


def upgrade() -> None:
    for table, column in _COLUMNS:
        op.execute(
            f"UPDATE {table} SET {column} = '+86' || {column} WHERE length({column}) = 11 AND {column} LIKE '1%'"
        )
    op.execute("UPDATE clue_match_keys SET key = 'p:+86' || substr(key, 3) WHERE key LIKE 'p:1%'")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "UPDATE channel_records "
            "SET match_features = jsonb_set(match_features, '{phone}', to_jsonb('+86' || (match_features->>'phone'))) "
            "WHERE match_features->>'phone' LIKE '1%'"
        )
    else:
        op.execute(
            "UPDATE channel_records "
            "SET match_features = json_set(match_features, '$.phone', '+86' || json_extract(match_features, '$.phone')) "
            "WHERE json_extract(match_features, '$.phone') LIKE '1%'"
        )


def downgrade() -> None:
    for table, column in _COLUMNS:
        op.execute(
            f"UPDATE {table} SET {column} = substr({column}, 4) WHERE length({column}) = 14 AND {column} LIKE '+861%'"
        )
    op.execute("UPDATE clue_match_keys SET key = 'p:' || substr(key, 6) WHERE key LIKE 'p:+861%'")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "UPDATE channel_records "
            "SET match_features = jsonb_set(match_features, '{phone}', to_jsonb(substr(match_features->>'phone', 4))) "
            "WHERE match_features->>'phone' LIKE '+861%'"
        )
    else:
        op.execute(
            "UPDATE channel_records "
            "SET match_features = json_set(match_features, '$.phone', substr(json_extract(match_features, '$.phone'), 4)) "
            "WHERE json_extract(match_features, '$.phone') LIKE '+861%'"
        )
