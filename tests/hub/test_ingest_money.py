"""hub.ingest for project money: a 专户's expense bills, the contract chain, progress payments and
output value — validated, resolved by natural keys, upserted, and refused with the field named; and a
worker's pay identifiers (ID number, card, phone), refused with the value masked."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.base import (
    ContractIn,
    EnterpriseIn,
    ExpenseIn,
    OutputValueIn,
    ProgressPaymentIn,
    ProjectIn,
    WageAccountIn,
    WorkerIn,
)
from hub import models as m
from hub.crypto import Cipher
from hub.db import make_engine, session_scope
from hub.identifiers import id_check_char, make_id_number, make_uscc
from hub.ingest import Ingestor, Item, Problem

CIPHER = Cipher("test-ingest-money")
RNG = random.Random(11)
BUILDER, GENERAL, LABOUR, STRANGER = (make_uscc(RNG, region_code="370811") for _ in range(4))
PROJECT = "2025-370811-47-01-000123"
ACCOUNT = "3700000000123456789"
CARD = "6222021234567890128"  # a worker's card (Luhn-valid)
IDN = make_id_number(random.Random(12), region_code="370811", birth=dt.date(1990, 1, 1))
#: The worker's ID number with a wrong check character.
BAD_IDN = IDN[:17] + next(c for c in "0123456789X" if c != id_check_char(IDN[:17]))


@pytest.fixture
def session(empty_db_url: str) -> Iterator[Session]:
    """A session on a database holding one project with its builder, 总包, a labour company and a 专户."""
    engine = make_engine(empty_db_url)
    with session_scope(engine) as s:
        ingest(
            s,
            EnterpriseIn(uscc=BUILDER, name="济宁市城建投资有限公司", kind="builder"),
            EnterpriseIn(uscc=GENERAL, name="济宁市永成建设工程有限公司", kind="general_contractor"),
            EnterpriseIn(uscc=LABOUR, name="济宁市鑫泰劳务有限公司", kind="labour_service"),
            ProjectIn(
                project_code=PROJECT,
                name="任城区安置房项目",
                region_code="370811",
                sector="住建",
                status="in_progress",
                contractor_uscc=GENERAL,
                builder_uscc=BUILDER,
            ),
            WageAccountIn(
                salary_account=ACCOUNT,
                project_code=PROJECT,
                contractor_uscc=GENERAL,
                bank_name="中国工商银行济宁市任城区支行",
                salary_account_name="专户",
            ),
        )
    with session_scope(engine) as s:
        yield s
    engine.dispose()


def ingest(session: Session, *entities: Any) -> Any:
    return Ingestor(session, cipher=CIPHER, source="test").apply([Item(e, i) for i, e in enumerate(entities, 1)])


def expense(**changes: Any) -> ExpenseIn:
    values: dict[str, Any] = {
        "salary_account": ACCOUNT,
        "batch_number": "ZZ202611020000000001",
        "bill_date": dt.date(2026, 11, 2),
        "amount": Decimal("8000.00"),
        "action": "transfer",
        "account_balance": Decimal("1200.00"),
        "counterparty_name": "张三",
        "counterparty_account": CARD,
        "purpose": "退场结算",
    }
    return ExpenseIn(**{**values, **changes})


def test_an_expense_bill_is_stored_with_the_counterparty_card_encrypted_and_masked(session: Session) -> None:
    # Given a transfer out of the 专户 to a worker's card
    result = ingest(session, expense())
    # Then it is stored once, the card encrypted and shown masked
    assert (result.created, result.problems) == (1, [])
    row = session.execute(select(m.AccountExpense)).scalar_one()
    assert (row.action, row.amount, row.bill_date, row.region_code) == (
        "transfer",
        Decimal("8000.00"),
        dt.date(2026, 11, 2),
        "370811",
    )
    assert CARD not in (row.counterparty_account_enc or "") and CIPHER.decrypt(row.counterparty_account_enc) == CARD
    assert row.counterparty_account_masked == "622202*********0128"
    # When the same bill arrives again (a re-sync): unchanged, though the ciphertext is never compared
    again = ingest(session, expense())
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"amount": Decimal("-8000.00")}, "billAmount", "expense amount must not be negative, got -8000.00"),
        ({"action": "cash"}, "actionType", "expense action must be one of transfer, wages, got 'cash'"),
        (
            {"salary_account": "3799999999999999999"},
            "salaryAccount",
            "unknown wage account '3799999999999999999': the account must arrive first",
        ),
    ],
    ids=["negative-amount", "unknown-action", "unknown-account"],
)
def test_a_bad_expense_bill_is_a_problem_naming_the_field(
    session: Session, changes: dict[str, Any], field: str, reason: str
) -> None:
    # Given an expense bill the hub cannot store, When ingested, Then it is refused with the field named
    result = ingest(session, expense(**changes))
    assert (result.created, result.problems) == (0, [Problem(1, reason, field)])


def test_the_contract_chain_links_each_holder_to_the_party_above(session: Session) -> None:
    # Given the 总包's contract from the builder and a 劳务分包 from the 总包
    chain = [
        ContractIn(PROJECT, GENERAL, "general", BUILDER, "SGZB-1", Decimal("13391000.00"), dt.date(2025, 1, 3)),
        ContractIn(PROJECT, LABOUR, "labour", GENERAL, "LWFB-1", Decimal("1578799"), dt.date(2025, 1, 11)),
    ]
    # When ingested twice
    first, second = ingest(session, *chain), ingest(session, *chain)
    # Then each link is stored once, pointing at its parent
    assert (first.created, second.unchanged, first.problems) == (2, 2, [])
    ents = dict(session.execute(select(m.Enterprise.id, m.Enterprise.uscc)).all())
    rows = session.execute(select(m.ProjectContract).order_by(m.ProjectContract.id)).scalars().all()
    assert [(ents[r.enterprise_id], r.role, ents[r.parent_enterprise_id], r.contract_no) for r in rows] == [
        (GENERAL, "general", BUILDER, "SGZB-1"),
        (LABOUR, "labour", GENERAL, "LWFB-1"),
    ]


@pytest.mark.parametrize(
    ("contract", "field", "reason"),
    [
        (
            ContractIn(PROJECT, LABOUR, "labour", STRANGER, "LWFB-2"),
            "parentCorpCode",
            f"unknown parent USCC {STRANGER!r}: the enterprise must arrive first",
        ),
        (
            ContractIn(PROJECT, LABOUR, "labour", GENERAL[:-1] + ("1" if GENERAL[-1] != "1" else "2"), "LWFB-3"),
            "parentCorpCode",
            "invalid parentCorpCode",
        ),
        (ContractIn(PROJECT, LABOUR, "boss", GENERAL, "X"), "contractType", "contract role must be one of"),
        (
            ContractIn("2025-370811-47-01-999999", LABOUR, "labour", GENERAL, "LWFB-4"),
            "projectCode",
            "unknown project code '2025-370811-47-01-999999'",
        ),
    ],
    ids=["unknown-parent", "parent-check-character", "unknown-role", "unknown-project"],
)
def test_a_bad_contract_is_a_problem_naming_the_field(
    session: Session, contract: ContractIn, field: str, reason: str
) -> None:
    [problem] = ingest(session, contract).problems
    assert problem.field == field and problem.reason.startswith(reason), problem


def test_progress_payments_and_output_values_are_upserted_by_their_natural_keys(session: Session) -> None:
    # Given a progress payment and a month's output value, then the output value corrected
    pay = ProgressPaymentIn(PROJECT, "GCK2025120200000001", dt.date(2025, 12, 2), Decimal("691358.02"), BUILDER)
    first = ingest(session, pay, OutputValueIn(PROJECT, "2025-11", Decimal("642946"), dt.date(2025, 12, 8)))
    second = ingest(session, pay, OutputValueIn(PROJECT, "2025-11", Decimal("650000"), dt.date(2025, 12, 9)))
    # Then one row each, the correction updating the month's value
    assert (first.created, second.unchanged, second.updated) == (2, 1, 1)
    payment = session.execute(select(m.ProgressPayment)).scalar_one()
    builder = session.execute(select(m.Enterprise.id).where(m.Enterprise.uscc == BUILDER)).scalar_one()
    assert (payment.amount, payment.paid_on, payment.payer_id) == (Decimal("691358.02"), dt.date(2025, 12, 2), builder)
    value = session.execute(select(m.OutputValue)).scalar_one()
    assert (value.month, value.amount, value.reported_on) == ("2025-11", Decimal("650000"), dt.date(2025, 12, 9))


@pytest.mark.parametrize(
    ("entity", "field", "reason"),
    [
        (
            ProgressPaymentIn(PROJECT, "GCK1", dt.date(2025, 12, 2), Decimal("-1.00")),
            "paymentAmount",
            "progress payment amount must not be negative, got -1.00",
        ),
        (
            ProgressPaymentIn(PROJECT, "GCK2", dt.date(2025, 12, 2), Decimal("1.00"), STRANGER),
            "payerCorpCode",
            f"unknown payer USCC {STRANGER!r}: the enterprise must arrive first",
        ),
        (OutputValueIn(PROJECT, "2025-13", Decimal("1")), "statMonth", "month must be YYYY-MM, got '2025-13'"),
        (
            OutputValueIn(PROJECT, "2025-11", Decimal("-5")),
            "outputValue",
            "output value must not be negative, got -5",
        ),
    ],
    ids=["negative-payment", "unknown-payer", "month-13", "negative-output"],
)
def test_a_bad_progress_payment_or_output_value_is_a_problem_naming_the_field(
    session: Session, entity: Any, field: str, reason: str
) -> None:
    assert ingest(session, entity).problems == [Problem(1, reason, field)]


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        (
            {"id_number": BAD_IDN},
            "idCardNumber",
            "invalid idCardNumber: the check character does not match the other 17 characters: one is mistyped",
        ),
        (
            # Typed with spaces around: still no part of the number in the reason
            {"id_number": f" {BAD_IDN} "},
            "idCardNumber",
            "invalid idCardNumber: the check character does not match the other 17 characters: one is mistyped",
        ),
        (
            {"bank_card": " 6222021234567890127 "},
            "payRollBankCardNumber",
            "invalid payRollBankCardNumber: the check digit (Luhn) does not match the others: a digit is mistyped",
        ),
        (
            {"phone": "1380013800"},
            "phone",
            "invalid phone: a mobile number has 11 digits, got 10",
        ),
    ],
    ids=["id-number", "id-number-padded", "card-padded", "phone"],
)
def test_a_worker_with_a_bad_identifier_is_refused_with_the_value_masked(
    session: Session, changes: dict[str, Any], field: str, reason: str
) -> None:
    # Given a worker of the project whose ID number, card or phone is invalid
    values: dict[str, Any] = {"project_code": PROJECT, "corp_uscc": LABOUR, "id_number": IDN, "name": "张三"}
    worker = WorkerIn(**{**values, **changes})
    # When ingested
    result = ingest(session, worker)
    # Then it is refused naming the field and what is wrong, no part of the value
    assert (result.created, result.problems) == (0, [Problem(1, reason, field)])
    assert BAD_IDN[6:14] not in reason and "1234567890" not in reason
