"""The matcher's quality on the generated evaluation set (bench/match_eval.py): a regression guard."""

from __future__ import annotations

import pytest

from bench import match_eval

MATTERS = 200


@pytest.fixture(scope="module")
def result() -> match_eval.EvalResult:
    return match_eval.run(MATTERS, seed=20261121)


def test_generator_is_deterministic_and_labelled() -> None:
    # Given the same seed twice
    a, b = match_eval.generate(50, seed=7), match_eval.generate(50, seed=7)
    # Then the same records, in received order, each labelled with its matter and kinds
    assert [(r.clue, r.matter, r.kinds) for r in a] == [(r.clue, r.matter, r.kinds) for r in b]
    assert [r.clue.received_at for r in a] == sorted(r.clue.received_at for r in a)
    assert {r.kinds[0] for r in a if r.role == "negative"} == set(match_eval.NEGATIVE_KINDS)
    assert all(r.decoy_of for r in a if r.role == "negative")


def test_every_record_is_taken(result: match_eval.EvalResult) -> None:
    assert result.rejected == []


def test_precision_meets_the_goal(result: match_eval.EvalResult) -> None:
    assert result.precision >= match_eval.GOAL_PRECISION, result.wrong_merges[:5]


def test_no_hard_negative_is_merged(result: match_eval.EvalResult) -> None:
    assert {k: v["false_merges"] for k, v in result.negatives.items() if v["false_merges"]} == {}


def test_same_complainant_duplicates_are_found(result: match_eval.EvalResult) -> None:
    # The complaint of the same person (same phone or ID number) through another channel.
    assert result.duplicates["same_phone"]["recall"] >= match_eval.GOAL_RECALL


@pytest.mark.xfail(
    strict=True,
    reason=(
        "recall is ~0.87-0.92 at this size (0.92 at 1,000 matters): another worker of the same group case who "
        "names no project (or a project the permit registry does not know) shares only the company with the "
        "first record, and joining on the company alone merges the company's other projects (a hard negative; "
        "tried: precision fell to 0.91-0.95). See bench/README.md."
    ),
)
def test_recall_meets_the_goal(result: match_eval.EvalResult) -> None:
    assert result.recall >= match_eval.GOAL_RECALL


def test_recall_floor(result: match_eval.EvalResult) -> None:
    # Until the goal is met, recall must not fall below what the matcher reaches today.
    assert result.recall >= 0.88
