"""Errors carry a stable extensions.code and a message a user can act on; never a stack trace."""

from __future__ import annotations

import pytest


async def test_no_key_is_unauthenticated(graph) -> None:
    err = await graph.error("{ me { name } }", as_=None)
    assert err["extensions"]["code"] == "UNAUTHENTICATED"
    assert err["message"] == "no API key: send it in the X-API-Key header"


async def test_unknown_key_is_unauthenticated(graph) -> None:
    graph.keys["bogus"] = "hub_not-a-real-key"
    err = await graph.error("{ me { name } }", as_="bogus")
    assert err["extensions"]["code"] == "UNAUTHENTICATED"
    assert err["message"].startswith("unknown or revoked API key hub_not-")


async def test_me_reports_the_principal(graph) -> None:
    assert (await graph.data("{ me { role regionCode canUnmask } }", as_="city"))["me"] == {
        "role": "inspector",
        "regionCode": "370800",
        "canUnmask": False,
    }


@pytest.mark.parametrize(
    ("query", "code", "message"),
    [
        ("{ clues(first: 501) { totalCount } }", "QUERY_TOO_COMPLEX", "first=501 exceeds the maximum page size 500"),
        (
            '{ clues(after: "not-a-cursor!") { totalCount } }',
            "INVALID_CURSOR",
            "cursor 'not-a-cursor!' is not one this API issued",
        ),
        (
            '{ projects(filter: {regionCode: "3708"}) { totalCount } }',
            "INVALID_IDENTIFIER",
            "invalid regionCode '3708': expected 6, 9 or 12 characters, got 4",
        ),
        ('{ clues(filter: {respondentUscc: "91370811MA3C00000A"}) { totalCount } }', "INVALID_IDENTIFIER", None),
        ('{ node(id: "bm9wZQ==") { id } }', "BAD_USER_INPUT", "id 'bm9wZQ==' is not a global ID of this API"),
        ("{ clues { ", "GRAPHQL_PARSE_FAILED", "Syntax Error: Expected Name, found <EOF>."),
        (
            "{ clues { nope } }",
            "GRAPHQL_VALIDATION_FAILED",
            "Cannot query field 'nope' on type 'ClueConnection'. Did you mean 'nodes'?",
        ),
    ],
    ids=["page-size", "cursor", "region-code", "uscc-check-char", "global-id", "syntax", "unknown-field"],
)
async def test_bad_input_gets_a_coded_actionable_error(graph, query, code, message) -> None:
    err = await graph.error(query)
    assert err["extensions"]["code"] == code
    if message is not None:
        assert err["message"] == message
    assert "Traceback" not in str(err)


async def test_invalid_identifier_names_field_and_value(graph) -> None:
    err = await graph.error('{ clues(filter: {respondentUscc: "91370811MA3C00000A"}) { totalCount } }')
    assert err["extensions"]["field"] == "respondentUscc"
    assert err["extensions"]["value"] == "91370811MA3C00000A"
    assert "check character" in err["message"]


async def test_too_deep_a_query_is_refused_before_it_runs(graph) -> None:
    # Three hops project → contractor → projects: connections cost two levels each (edges, node)
    inner = "name"
    for _ in range(3):
        inner = f"contractor {{ projects {{ edges {{ node {{ {inner} }} }} }} }}"
    deep = f"{{ clues {{ edges {{ node {{ project {{ {inner} }} }} }} }} }}"
    err = await graph.error(deep)
    assert err["extensions"]["code"] == "QUERY_TOO_COMPLEX"
