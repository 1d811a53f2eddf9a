"""The graph of a project's money: the 专户's expense bills (counterparty masked, unmasked reads audited),
the contract chain, progress payments and output value — within the principal's jurisdiction."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from hub.db import make_engine
from hub.models import AuditLog

PROJECTS = """{ projects(first: 50) { edges { node { projectCode regionCode
    contractor { uscc } builder { uscc }
    contracts { role contractNo signedOn contractValue regionCode enterprise { uscc kind } parent { uscc } }
    progressPayments { paymentNo paidOn amount payer { uscc } }
    outputValues { month amount reportedOn }
    wageAccounts { allocations(first: 100) { nodes { billDate progressPayment } } } } } } }"""

EXPENSES = """{ wageAccounts(first: 100) { nodes { databaseId status
    expenses(first: 50) { totalCount nodes { databaseId batchNumber billDate amount action accountBalance
        counterpartyName counterpartyAccount purpose } } } } }"""


async def test_a_project_shows_its_contract_chain_from_the_builder_down(graph) -> None:
    # Given the seeded projects
    projects = [e["node"] for e in (await graph.data(PROJECTS))["projects"]["edges"]]
    for p in projects:
        general, *subs = p["contracts"]
        # Then the 总包 holds the construction contract from the 建设单位
        assert (general["role"], general["enterprise"]["uscc"], general["parent"]["uscc"]) == (
            "GENERAL",
            p["contractor"]["uscc"],
            p["builder"]["uscc"],
        ), p["projectCode"]
        # And each 分包 holds its contract from the 总包: 劳务分包 by a labour company, 专业分包 by a subcontractor
        for sub in subs:
            assert sub["parent"]["uscc"] == p["contractor"]["uscc"]
            assert (sub["role"], sub["enterprise"]["kind"]) in {
                ("LABOUR", "labour_service"),
                ("SPECIALIST", "subcontractor"),
            }
            assert sub["signedOn"] >= general["signedOn"] and sub["regionCode"] == p["regionCode"]
    assert sum(len(p["contracts"]) > 1 for p in projects) > len(projects) // 2, "most projects have 分包"


async def test_each_progress_payment_is_the_one_a_labour_cost_bill_came_with(graph) -> None:
    # Given the seeded projects, their progress payments and the labour-cost bills of their 专户
    projects = [e["node"] for e in (await graph.data(PROJECTS))["projects"]["edges"]]
    checked = 0
    for p in projects:
        bills = sorted(
            (a["billDate"], Decimal(a["progressPayment"]))
            for acc in p["wageAccounts"]
            for a in acc["allocations"]["nodes"]
        )
        payments = sorted((pp["paidOn"], Decimal(pp["amount"])) for pp in p["progressPayments"])
        # Then payments and bills pair up: same day, the progress payment the bill records (rule W04 agrees)
        assert payments == bills, p["projectCode"]
        assert all(pp["payer"]["uscc"] == p["builder"]["uscc"] for pp in p["progressPayments"])
        checked += len(bills)
    assert checked > 100


async def test_output_values_are_monthly_oldest_first_and_reported_after_their_month(graph) -> None:
    # Given the seeded projects' output values (their link to wages: tests/hub/test_seed.py)
    projects = [e["node"] for e in (await graph.data(PROJECTS))["projects"]["edges"]]
    assert sum(len(p["outputValues"]) for p in projects) > 100
    for p in projects:
        # Then one per month, oldest first, each reported once its month is over
        months = [v["month"] for v in p["outputValues"]]
        assert months == sorted(months) and len(set(months)) == len(months)
        assert all(v["reportedOn"] > f"{v['month']}-28" and Decimal(v["amount"]) > 0 for v in p["outputValues"])


async def test_expense_bills_are_the_paid_batches_with_the_counterparty_masked(graph) -> None:
    # Given the 专户 and their expense bills, read without reveal
    accounts = (await graph.data(EXPENSES))["wageAccounts"]["nodes"]
    bills = [b for a in accounts for b in a["expenses"]["nodes"]]
    # Then wages are paid out in 代发 batches, with no account to show
    wages = [b for b in bills if b["action"] == "WAGES"]
    assert wages and all(
        b["counterpartyAccount"] is None and b["counterpartyName"].startswith("农民工工资代发") for b in wages
    )
    # And transfers show the account paid into masked: a leaver's own card (退场结算) or, when a closed
    # account's remainder went back to the 总包, the contractor's account
    transfers = [b for b in bills if b["action"] == "TRANSFER"]
    assert transfers and all("*********" in b["counterpartyAccount"] for b in transfers)
    assert {b["purpose"] for b in transfers} == {"退场结算", "销户余额转出"}
    closed = {a["databaseId"] for a in accounts if a["status"] == "closed"}
    for a in accounts:
        for b in a["expenses"]["nodes"]:
            if b["purpose"] == "销户余额转出":
                assert a["databaseId"] in closed and Decimal(b["accountBalance"]) == 0


async def test_revealing_a_counterparty_account_needs_the_permission(graph) -> None:
    err = await graph.error(
        "{ wageAccounts(first: 50) { nodes { expenses(first: 50) { nodes { counterpartyAccount(reveal: true) } } } } }",
        as_="city",
    )
    assert err["extensions"]["code"] == "FORBIDDEN"
    assert err["message"] == "you may not read AccountExpense.counterpartyAccount unmasked"


async def test_a_revealed_counterparty_account_is_decrypted_and_audited(graph, demo) -> None:
    # Given a principal allowed to unmask, reading the transfers' accounts in clear
    data = await graph.data(
        "{ wageAccounts(first: 100) { nodes { expenses(first: 50) { nodes { databaseId action "
        "counterpartyAccount(reveal: true) } } } } }",
        as_="unmasker",
    )
    revealed = [b for a in data["wageAccounts"]["nodes"] for b in a["expenses"]["nodes"] if b["action"] == "TRANSFER"]
    # Then the accounts are whole (19 digits), and every read is in the audit log
    assert revealed and all(
        b["counterpartyAccount"].isdigit() and len(b["counterpartyAccount"]) == 19 for b in revealed
    )
    engine = make_engine(demo.url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(AuditLog.entity_type, AuditLog.entity_id, AuditLog.detail).where(
                AuditLog.principal == "apikey:unmasker", AuditLog.entity_type == "account_expense"
            )
        ).all()
    engine.dispose()
    assert {b["databaseId"] for b in revealed} <= {r.entity_id for r in rows}
    assert all(r.detail == {"field": "AccountExpense.counterpartyAccount"} for r in rows)


async def test_project_money_obeys_the_jurisdiction(graph, demo) -> None:
    county = demo.highlights["county_code"]
    # Given an enterprise (public) read by a county principal: its contracts elsewhere must not leak
    data = await graph.data(
        "{ enterprises(first: 200) { nodes { contracts { regionCode } } } "
        "wageAccounts(first: 100) { nodes { expenses(first: 50) { nodes { regionCode } } } } "
        "projects(first: 50) { nodes { progressPayments { regionCode } outputValues { regionCode } } } }",
        as_="county",
    )
    regions = [c["regionCode"] for e in data["enterprises"]["nodes"] for c in e["contracts"]]
    regions += [b["regionCode"] for a in data["wageAccounts"]["nodes"] for b in a["expenses"]["nodes"]]
    regions += [x["regionCode"] for p in data["projects"]["nodes"] for x in p["progressPayments"] + p["outputValues"]]
    assert regions and all(r.startswith(county) for r in regions)
    # And another province sees none of it
    other = await graph.data("{ enterprises(first: 200) { nodes { contracts { regionCode } } } }", as_="other-province")
    assert all(e["contracts"] == [] for e in other["enterprises"]["nodes"])
