"""createClue's bad input over GraphQL: BAD_USER_INPUT naming the field and the limit, never INTERNAL.

The limits themselves are tested against the service with an injected clock (tests/hub/test_clue_entry.py);
here the answers travel through the scalars (Decimal, Date, DateTime) and the error formatting.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.schema.conftest import GraphClient

CREATE = "mutation($i: ManualClueInput!) { createClue(input: $i) { clueNo amount headcount arrearsFrom arrearsTo } }"
BASE = {
    "channel": "WALK_IN",
    "sourceId": "LF-INPUT-0001",
    "regionCode": "370811",
    "title": "来访反映欠薪",
    "content": "来访人反映工资未付",
    "respondentName": "输入测试商贸有限公司",
    "complainantPhone": "13800009999",
}


EXTRA_KEYS = (("rencheng", "370811"), ("jiaxiang", "370829"))


@pytest.fixture
def graph(writable_graph: GraphClient) -> GraphClient:
    """The writable demo's client, with the inspector keys of ``EXTRA_KEYS`` too."""
    return writable_graph


@pytest.mark.parametrize(
    ("changes", "field", "message"),  # message: a pattern (the upper bound of a date is today's)
    [
        ({"title": "欠" * 301}, "title", "title is 301 characters long: at most 300"),
        ({"complainantName": "张" * 51}, "complainantName", "complainantName is 51 characters long: at most 50"),
        ({"respondentName": "公" * 201}, "respondentName", "respondentName is 201 characters long: at most 200"),
        ({"amount": "1e30"}, "amount", re.escape("amount 1E+30 is out of range: from 0 to 9,999,999,999,999.99 yuan")),
        ({"amount": "-5"}, "amount", re.escape("amount -5 is out of range: from 0 to 9,999,999,999,999.99 yuan")),
        ({"amount": "NaN"}, "amount", "amount NaN is not a number of yuan"),
        ({"headcount": -3}, "headcount", "headcount -3 is out of range: from 1 to 100,000 workers"),
        (
            {"arrearsFrom": "0001-01-01"},
            "arrearsFrom",
            r"arrearsFrom 0001-01-01 is out of range: from 2000-01-01 to \d{4}-\d\d-\d\d",
        ),
        (
            {"arrearsTo": "9999-12-31"},
            "arrearsTo",
            r"arrearsTo 9999-12-31 is out of range: from 2000-01-01 to \d{4}-\d\d-\d\d",
        ),
        (
            {"receivedAt": "9999-01-01T00:00:00+08:00"},
            "receivedAt",
            r"receivedAt 9999-01-01T00:00:00\+08:00 is out of range: from 2000-01-01 to today \(\d{4}-\d\d-\d\d, China time\)",
        ),
    ],
    ids=[
        "title",
        "complainant",
        "respondent",
        "amount-1e30",
        "amount-negative",
        "amount-nan",
        "headcount",
        "arrears-year-1",
        "arrears-year-9999",
        "received-9999",
    ],
)
async def test_bad_input_is_a_user_error_naming_the_field(graph, changes, field, message) -> None:  # type: ignore[no-untyped-def]
    err = await graph.error(CREATE, {"i": {**BASE, **changes}}, as_="rencheng")
    assert (err["extensions"]["code"], err["extensions"]["field"]) == ("BAD_USER_INPUT", field)
    assert re.fullmatch(message, err["message"]), err["message"]


async def test_a_good_entry_keeps_amount_and_dates(graph) -> None:  # type: ignore[no-untyped-def]
    data = await graph.data(
        CREATE,
        {
            "i": {
                **BASE,
                "sourceId": "LF-INPUT-GOOD",
                "amount": "18000.50",
                "headcount": 2,
                "arrearsFrom": "2026-08-01",
                "arrearsTo": "2026-10-31",
            }
        },
        as_="rencheng",
    )
    created = data["createClue"]
    assert (created["amount"], created["headcount"], created["arrearsFrom"], created["arrearsTo"]) == (
        "18000.50",
        2,
        "2026-08-01",
        "2026-10-31",
    )


async def test_another_countys_register_number_gets_the_same_answer_as_ones_own(graph) -> None:  # type: ignore[no-untyped-def]
    entry: dict[str, Any] = {
        **BASE,
        "sourceId": "LF-INPUT-DUP",
        "respondentName": "重号测试有限公司",
        "complainantPhone": None,
    }
    await graph.data(CREATE, {"i": entry}, as_="rencheng")
    mine = await graph.error(CREATE, {"i": {**entry, "respondentName": "另一家"}}, as_="rencheng")
    theirs = await graph.error(
        CREATE, {"i": {**entry, "regionCode": "370829", "respondentName": "另一家"}}, as_="jiaxiang"
    )
    assert (
        mine["message"]
        == theirs["message"]
        == ("来访 register number LF-INPUT-DUP is already in the clue pool: a source record is entered once")
    )
    assert mine["extensions"] == theirs["extensions"]
    assert (mine["extensions"]["code"], mine["extensions"]["field"]) == ("DUPLICATE_SOURCE", "sourceId")
