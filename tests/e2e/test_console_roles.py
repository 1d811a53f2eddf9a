"""The demo's town handler, leader and 住建 sector user in the console (see conftest.py for the server).

Each signs in with the password ``hub serve`` printed and sees what its role allows and nothing more:
the menu offers only the pages the API would answer (``me.actions``), a leader is offered no action
and the API refuses one anyway, a town handler lists only its town's clues, and a sector user only its
sector's — and the dashboard's figure agrees with the list it links to.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import sign_in
from tests.e2e.test_admin_console import (  # noqa: F401 (console_for is a fixture)
    _sign_in_present,
    console_for,
    graphql,
    wait_for_dashboard,
)

pytestmark = pytest.mark.e2e

#: The menu of everyone who is not an admin: the connectors, write-backs and system pages are an
#: admin's (the API refuses their data to anyone else).
READER_MENU = ["dashboard", "clues", "warnings"]
CLUE = """query($n: String!) { clue(clueNo: $n) { handlingRegionCode project { sector } } }"""
CLUE_TOTAL = """query($f: ClueFilter) { clues(filter: $f, first: 1) { totalCount } }"""


def signed_in_on_the_dashboard(console: Any, username: str, password: str) -> Any:
    """Sign ``username`` in on the console's sign-in page; returns the page, on the drawn dashboard."""
    page = console.open()
    sign_in(page, username, password)
    page.wait_for_selector('[data-test="sign-out"]')
    wait_for_dashboard(page)
    return page


def menu(page: Any) -> list[str]:
    return page.locator('[data-test="nav"] [data-nav]').evaluate_all("els => els.map(e => e.dataset.nav)")


def listed_clues(console: Any, fragment: str = "#/clues") -> tuple[list[str], int]:
    """The clue numbers on the pool's first page and the total it shows."""
    page = console.open(fragment)
    page.wait_for_selector('[data-test="total"]')
    page.wait_for_function("() => !document.querySelector('[data-test=\"clue-table\"] .el-loading-mask')")
    numbers = page.locator('[data-test="clue-table"] [data-clue-no]').all_inner_texts()
    total = int(page.inner_text('[data-test="total"]').strip().removeprefix("共").removesuffix("条").strip())
    return [n.strip() for n in numbers], total


def figure_agrees_with_its_list(console: Any, name: str) -> int:
    """Click the dashboard's figure ``name``; assert the list it opens counts the same; return it."""
    page = console.open()
    wait_for_dashboard(page)
    shown = int(page.inner_text(f'[data-figure="{name}"] .value').strip())

    def is_pool(response: Any) -> bool:
        return response.url.endswith("/graphql") and "query CluePool(" in (response.request.post_data or "")

    with page.expect_response(is_pool) as info:
        page.click(f'[data-figure="{name}"]')
    listed = info.value.json()["data"]["clues"]["totalCount"]
    # (new complaints may arrive between the two requests, never leave)
    assert listed >= shown, (name, shown, listed)
    return shown


def mutate_in_the_page(page: Any, query: str, variables: dict) -> dict:
    """Send a GraphQL mutation as the console does (session cookie and the tab's CSRF token)."""
    return page.evaluate(
        """async ([query, variables]) => {
             const resp = await fetch("/graphql", {method: "POST", credentials: "same-origin",
               headers: {"content-type": "application/json", "x-csrf-token": sessionStorage.getItem("hub.console.csrf")},
               body: JSON.stringify({query, variables})});
             return await resp.json();
           }""",
        [query, variables],
    )


def test_the_leader_reads_everything_of_the_city_and_is_offered_no_action(
    hub_server,
    console_for,  # noqa: F811
    demo_password,
) -> None:
    base_url, key = hub_server
    _sign_in_present(base_url)
    console = console_for(None)
    # When the demo's leader signs in with its printed password
    page = signed_in_on_the_dashboard(console, "demo-leader", demo_password("demo-leader"))
    # Then it lands on the city's dashboard, its menu has no admin page
    assert page.inner_text('[data-test="user"]').startswith("演示领导 · 领导 · 370800")
    assert menu(page) == READER_MENU
    assert page.locator('[data-test="connector-health"]').count() == 0
    console.shot("leader-dashboard")
    # and a reload keeps it signed in (the session stands)
    page.reload()
    wait_for_dashboard(page)
    assert menu(page) == READER_MENU

    # When it opens the clue pool and a clue: the city's clues, and no action button on the clue
    numbers, total = listed_clues(console)
    city_total = graphql(base_url, key, CLUE_TOTAL, {"f": {"regionCode": "370800"}})["clues"]["totalCount"]
    assert numbers and total <= city_total  # (only new arrivals in between can make the admin's larger)
    page = console.open(f"#/clue/{numbers[0]}")
    page.wait_for_selector('[data-test="actions"]')
    assert page.locator('[data-test="actions"] [data-action]').count() == 0
    assert page.inner_text('[data-test="actions"]').strip() == "当前状态或角色下没有可执行的操作。"
    console.shot("leader-clue")

    # When it opens a warning: its evidence, and no button to handle it
    page = console.open("#/warnings")
    page.locator('[data-test="warning-table"] .el-table__row').first.wait_for()
    page.locator('[data-test="warning-table"] .el-table__row').first.click()
    page.wait_for_selector('[data-test="facts"]')
    assert page.locator('[data-test="warning-detail"] [data-action]').count() == 0
    console.shot("leader-warning")

    # When it opens an admin page by its address anyway, the API refuses it, in Chinese
    page = console.open("#/connectors")
    page.wait_for_selector('[data-test="connectors"] [data-test="error"]')
    assert page.inner_text('[data-test="connectors"] [data-test="error"]').startswith("无权执行此操作")

    # And the API refuses a leader's mutation sent with its session, whatever the console offers
    answer = mutate_in_the_page(page, "mutation($n: String!) { acceptClue(clueNo: $n) { status } }", {"n": numbers[0]})
    assert answer["errors"][0]["extensions"]["code"] == "FORBIDDEN", answer
    assert answer.get("data") is None
    assert console.errors == [], console.errors


def test_the_town_handler_sees_only_its_towns_clues(hub_server, console_for, demo_password) -> None:  # noqa: F811
    base_url, key = hub_server
    _sign_in_present(base_url)
    console = console_for(None)
    page = signed_in_on_the_dashboard(console, "demo-town", demo_password("demo-town"))
    town = page.inner_text('[data-test="user"]').split(" · ")[2].strip()
    assert len(town) == 9, town  # a town (街道) code
    assert menu(page) == READER_MENU
    console.shot("town-dashboard")

    # When it opens the clue pool: only the clues its town handles, as many as the admin counts there
    numbers, total = listed_clues(console)
    assert numbers, "the demo dispatched no clue to the town"
    for clue_no in numbers:
        clue = graphql(base_url, key, CLUE, {"n": clue_no})["clue"]
        assert clue["handlingRegionCode"].startswith(town), (clue_no, clue)
    admins = graphql(base_url, key, CLUE_TOTAL, {"f": {"handlingRegionCode": town}})["clues"]["totalCount"]
    assert total == admins
    console.shot("town-clues")
    # and a clue of its county that the town does not handle is not there
    county = graphql(base_url, key, CLUE_TOTAL, {"f": {"regionCode": town[:6]}})["clues"]["totalCount"]
    assert county > total
    # The dashboard's figure counts what the list it opens holds
    figure_agrees_with_its_list(console, "received")
    assert console.errors == [], console.errors


def test_the_sector_user_sees_only_its_sectors_clues_and_warnings(
    hub_server,
    console_for,  # noqa: F811
    demo_password,
) -> None:
    base_url, key = hub_server
    _sign_in_present(base_url)
    console = console_for(None)
    page = signed_in_on_the_dashboard(console, "demo-zhujian", demo_password("demo-zhujian"))
    assert menu(page) == READER_MENU
    console.shot("sector-dashboard")

    # When it opens the clue pool: only clues of 住建 projects, fewer than the city holds
    numbers, total = listed_clues(console)
    assert numbers
    for clue_no in numbers:
        clue = graphql(base_url, key, CLUE, {"n": clue_no})["clue"]
        assert clue["project"] and clue["project"]["sector"] == "住建", (clue_no, clue)
    city = graphql(base_url, key, CLUE_TOTAL, {"f": {"regionCode": "370800"}})["clues"]["totalCount"]
    assert 0 < total < city
    console.shot("sector-clues")
    # and the dashboard's figures count the same clues as the lists they open
    figure_agrees_with_its_list(console, "received")

    # When it opens a warning: a 住建 project's, which it may handle but not turn into a clue
    page = console.open("#/warnings")
    page.locator('[data-test="warning-table"] .el-table__row').first.wait_for()
    page.locator('[data-test="warning-table"] .el-table__row').first.click()
    page.wait_for_selector('[data-test="facts"]')
    offered = page.locator('[data-test="warning-detail"] [data-action]').evaluate_all(
        "els => els.map(e => e.dataset.action)"
    )
    assert offered == ["acknowledge", "note", "resolve", "falsePositive"]
    console.shot("sector-warning")
    assert console.errors == [], console.errors
