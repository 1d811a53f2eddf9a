"""Each vocabulary exists once (hub.vocab): the database, the services and the GraphQL enums agree on it."""

from __future__ import annotations

from enum import StrEnum

import pytest
from graphql import GraphQLEnumType
from sqlalchemy import select

from hub import models as m
from hub import workflow
from hub.db import make_engine, session_scope
from hub.vocab import (
    VOCABULARIES,
    BlacklistStatus,
    Channel,
    ClueStatus,
    Colour,
    ContractRole,
    CreditLevel,
    ExpenseAction,
    PenaltyKind,
    PenaltySource,
    Satisfaction,
    SupervisionLevel,
    WarningStatus,
)
from schema.build import build_schema

#: Every column that holds a vocabulary's terms.
COLUMNS = [
    (m.Clue.status, ClueStatus),
    (m.Clue.colour, Colour),
    (m.Clue.supervision, SupervisionLevel),
    (m.Clue.satisfaction, Satisfaction),
    (m.ChannelRecord.channel, Channel),
    (m.CaseAction.from_status, ClueStatus),
    (m.CaseAction.to_status, ClueStatus),
    (m.Warning.level, Colour),
    (m.CreditRating.level, CreditLevel),
    (m.Penalty.kind, PenaltyKind),
    (m.Penalty.source, PenaltySource),
    (m.BlacklistEntry.status, BlacklistStatus),
    (m.Warning.status, WarningStatus),
    (m.WarningAction.to_level, Colour),
    (m.ProjectContract.role, ContractRole),
    (m.AccountExpense.action, ExpenseAction),
]


@pytest.mark.parametrize("vocabulary", VOCABULARIES, ids=lambda v: v.__name__)
def test_the_graphql_enum_has_the_vocabularys_names_and_stored_values(vocabulary: type[StrEnum]) -> None:
    # Given the built schema
    enum = build_schema()._schema.get_type(vocabulary.__name__)

    # Then its enum of that name shows each term by name and stands for the stored value
    assert isinstance(enum, GraphQLEnumType), f"no GraphQL enum {vocabulary.__name__}"
    assert {name: value.value for name, value in enum.values.items()} == {t.name: t.value for t in vocabulary}


@pytest.mark.parametrize(("column", "vocabulary"), COLUMNS, ids=lambda c: getattr(c, "key", getattr(c, "__name__", "")))
def test_the_demo_stores_only_terms_of_the_vocabulary(demo, column, vocabulary: type[StrEnum]) -> None:  # type: ignore[no-untyped-def]
    # Given the seeded demo
    engine = make_engine(demo.url)
    with session_scope(engine) as s:
        stored = set(s.scalars(select(column).distinct()).all()) - {None}
    engine.dispose()

    # Then the column holds terms of its vocabulary, and the demo uses some of them (the check can fail)
    assert stored, f"the demo stores no {column}"
    assert stored <= {t.value for t in vocabulary}, (
        f"{column} holds {sorted(stored - set(vocabulary))}, not in {vocabulary.__name__}"
    )


def test_the_workflows_states_and_satisfactions_are_terms_of_the_vocabularies() -> None:
    states = set(workflow.OPEN_STATES) | set(workflow.CLOSED_STATES)
    for starts, ends in workflow.TRANSITIONS.values():
        states |= set(starts) | ({ends} if ends else set())

    assert states <= set(ClueStatus)
    assert set(workflow.SATISFACTION) == set(Satisfaction)


def test_the_chinese_names_come_from_the_vocabularies() -> None:
    assert m.CHANNELS == {t.value: t.label for t in Channel}
    assert m.CLUE_STATUSES == {t.value: t.label for t in ClueStatus}
    assert m.SUPERVISION_LEVELS == {t.value: t.label for t in SupervisionLevel}
    assert all(t.label for v in (Channel, ClueStatus, SupervisionLevel) for t in v)
