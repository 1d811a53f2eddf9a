"""The admin console (/admin) in Debian's chromium against a real ``hub serve`` (see conftest.py).

Until user sign-in lands, a browser signs in to the console the way a system's kiosk does: it sends
an ``X-API-Key`` header (``context.set_extra_http_headers``), and the console learns who it is from
``{ me }``. The sign-in page's tests run once the hub answers ``/admin/api/session`` (they skip with
"sign-in API not present" before that, and fail under CI). Each test saves screenshots of the pages
it visits under its tmp dir.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import DATA_DIRS, sign_in, unavailable

pytestmark = pytest.mark.e2e

#: A laptop screen: the console must work at 1366×768.
VIEWPORT = {"width": 1366, "height": 768}
CITY = "370800"  # 济宁市, the demo's city
CHARTS = ("channel", "colour", "region", "trend", "rule", "level")
#: The statuses `stats` counts (merged clues are not): the dashboard's links ask for these.
COUNTED = ["RECEIVED", "DISPATCHED", "IN_PROGRESS", "RETURNED", "ESCALATED", "CLOSED", "CALLED_BACK"]


class Console:
    """A browser context on the console with a key, recording what the page asks for and what goes wrong."""

    def __init__(self, browser: Any, base_url: str, key: str | None, shots: Path) -> None:
        self.base_url = base_url
        self.shots = shots
        self.context = browser.new_context(viewport=VIEWPORT, locale="zh-CN", service_workers="block")
        self.context.set_default_timeout(30_000)
        if key:
            self.context.set_extra_http_headers({"X-API-Key": key})
        self.requests: list[str] = []
        self.finished: list[Any] = []
        self.errors: list[str] = []
        self.context.add_init_script(
            "window.__cspViolations = [];"
            "document.addEventListener('securitypolicyviolation',"
            " e => window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));"
        )
        self.page = self.new_page()

    def new_page(self) -> Any:
        page = self.context.new_page()
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("websocket", lambda ws: self.requests.append(ws.url))
        page.on("requestfinished", lambda r: self.finished.append(r))
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))

        def on_console(msg: Any) -> None:
            # The 404 of /admin/api/session is the console asking whether user sign-in exists (not yet)
            if msg.type == "error" and not (msg.location or {}).get("url", "").endswith("/admin/api/session"):
                self.errors.append(f"console: {msg.text}")

        page.on("console", on_console)
        return page

    def open(self, fragment: str = "", page: Any = None) -> Any:
        page = page or self.page
        page.goto(f"{self.base_url}/admin{fragment}")
        return page

    def shot(self, name: str, page: Any = None) -> Path:
        path = self.shots / f"{name}.png"
        (page or self.page).screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
        return path

    def csp_violations(self, page: Any = None) -> list[str]:
        return (page or self.page).evaluate("() => window.__cspViolations")

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def console_for(browser, hub_server, tmp_path: Path) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """``console_for(key)``: a Console on the running hub; closed after the test."""
    base_url, _ = hub_server
    made: list[Console] = []

    def make(key: str | None) -> Console:
        console = Console(browser, base_url, key, tmp_path)
        made.append(console)
        return console

    yield make
    for console in made:
        console.close()


def graphql(base_url: str, key: str, query: str, variables: dict | None = None) -> dict:
    resp = httpx.post(
        f"{base_url}/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"X-API-Key": key},
        timeout=30,
    )
    body = resp.json()
    assert not body.get("errors"), body["errors"]
    return body["data"]


def wait_for_dashboard(page: Any) -> None:
    page.wait_for_function(f"document.body.dataset.dashboardDrawn === '{len(CHARTS)}'", timeout=60_000)


def dashboard_answer(console: Console) -> tuple[dict, dict]:
    """Open the dashboard; return the variables of its ``Dashboard`` query and the API's answer to it."""
    page = console.page

    def is_dashboard(response: Any) -> bool:
        return response.url.endswith("/graphql") and "query Dashboard(" in (response.request.post_data or "")

    with page.expect_response(is_dashboard) as info:
        console.open()
    response = info.value
    body = response.json()
    assert not body.get("errors"), body
    wait_for_dashboard(page)
    return response.request.post_data_json["variables"], body["data"]["stats"]


def drawn(page: Any, chart: str) -> list:
    return json.loads(page.get_attribute(f'[data-chart="{chart}"]', "data-drawn"))


def figure(page: Any, name: str) -> str:
    return page.inner_text(f'[data-figure="{name}"] .value').strip()


def money(value: float) -> str:
    return f"{value:,.2f}"


def test_the_console_loads_from_the_hub_alone_gzipped_and_within_its_policy(hub_server, console_for) -> None:
    base_url, key = hub_server
    console = console_for(key)

    # When the admin opens /admin and the dashboard is drawn
    started = time.perf_counter()
    console.open()
    wait_for_dashboard(console.page)
    drawn_after = time.perf_counter() - started
    console.page.wait_for_load_state("networkidle")
    console.shot("first-load-dashboard")

    # Then nothing was requested from any host but the hub
    ws_base = "ws://" + base_url.removeprefix("http://")
    foreign = [u for u in console.requests if not u.startswith((f"{base_url}/", "data:", "blob:", f"{ws_base}/"))]
    assert f"{base_url}/admin/static/vendor/vue.esm-browser.prod.js" in console.requests
    assert f"{base_url}/admin/static/vendor/echarts.esm.min.mjs" in console.requests
    assert not foreign, "the console requested other hosts:\n" + "\n".join(foreign)
    # no font was fetched at all (the system's Noto CJK), and the page ran within its CSP without an error
    assert not [u for u in console.requests if re.search(r"\.(woff2?|ttf|otf|eot)(\?|$)", u)]
    assert console.csp_violations() == []
    assert console.errors == []
    # and every script and stylesheet came gzip-compressed
    assets = [r for r in console.finished if r.resource_type in ("script", "stylesheet")]
    assert len(assets) >= 10, [r.url for r in assets]
    plain = [r.url for r in assets if (r.response().headers.get("content-encoding") != "gzip")]
    assert plain == [], plain

    # The first load's figures, for the note (measured, not asserted)
    sizes = [r.sizes() for r in console.finished]
    figures = {
        "requests": len(console.finished),
        "transferred_bytes": sum(s["responseBodySize"] + s["responseHeadersSize"] for s in sizes),
        "body_bytes": sum(s["responseBodySize"] for s in sizes),
        "graphql_requests": sum(1 for r in console.finished if r.url == f"{base_url}/graphql"),
        "seconds_to_dashboard_drawn": round(drawn_after, 2),
    }
    (console.shots / "first-load.json").write_text(json.dumps(figures, indent=2))
    print(f"first load of /admin: {json.dumps(figures)}")


def test_the_printed_console_link_signs_the_tab_in_and_takes_the_key_off_the_address(hub_server, console_for) -> None:
    base_url, key = hub_server
    # Given the console link `hub serve` printed, with the demo admin key in the fragment
    data_dir = DATA_DIRS[base_url]
    printed = (data_dir.parent / f"{data_dir.name}-serve.log").read_text(errors="replace")
    link = f"{base_url}/admin#key={key}"
    assert f"Console    {link}" in printed
    # When a browser with no key of its own opens it
    console = console_for(None)
    page = console.page
    page.goto(link)
    wait_for_dashboard(page)
    # Then the console works as the demo admin, and the key is gone from the address and the history
    assert page.inner_text('[data-test="user"]').startswith("apikey:demo-admin · 管理员")
    assert key not in page.evaluate("() => window.location.href + '|' + JSON.stringify(history.state)")
    assert page.url == f"{base_url}/admin#/"
    # and is sent with every GraphQL request of this tab, until the user signs out
    page.click('[data-test="sign-out"]')
    page.wait_for_selector('[data-test="signin"]')
    assert page.evaluate("() => sessionStorage.length") == 0
    console.shot("signed-out")


def test_the_dashboard_draws_the_apis_numbers_for_a_city_inspector(hub_server, console_for, make_key) -> None:
    base_url, _ = hub_server
    key = make_key("e2e 济宁市督查员", "inspector", CITY)
    console = console_for(key)

    # When the city's inspector opens the console
    variables, stats = dashboard_answer(console)
    page = console.page
    console.shot("dashboard-city")

    # Then the page asked for this month (China time) and the twelve months up to it
    assert variables["from"][:7] == variables["to"][:7] and variables["from"].endswith("-01")
    assert variables["trendFrom"].endswith("-01") and variables["trendFrom"] < variables["from"]
    # and it shows, figure by figure, what the API answered for its jurisdiction
    received, closed, every = stats["received"], stats["closed"], stats["all"]
    assert figure(page, "received") == str(sum(g["count"] for g in received))
    assert figure(page, "closed") == str(sum(g["count"] for g in closed))
    assert figure(page, "overdue") == str(sum(g["overdue"] for g in every))
    assert figure(page, "amount") == money(sum(float(g["amount"]) for g in received))
    assert figure(page, "recovered") == money(sum(float(g["recoveredAmount"]) for g in closed))
    assert drawn(page, "channel") == [[g["channel"], g["count"]] for g in stats["byChannel"]]
    assert drawn(page, "colour") == [[g["colour"], g["count"]] for g in stats["byColour"]]
    assert drawn(page, "region") == [[g["regionCode"], g["count"]] for g in stats["byRegion"]]
    assert drawn(page, "rule") == [[g["ruleCode"], g["count"]] for g in stats["warningsByRule"]]
    assert drawn(page, "level") == [[g["level"], g["count"]] for g in stats["warningsByLevel"]]
    trend = {row[0]: row[1] for row in drawn(page, "trend")}
    assert len(trend) == 12 and all(trend[g["month"]] == g["count"] for g in stats["trend"])
    # and every chart is drawn on a canvas
    for chart in CHARTS:
        assert page.locator(f'[data-chart="{chart}"] canvas').count() >= 1, chart
    # The regions are the city's counties (never its own code, never outside it)
    codes = [g["regionCode"] for g in stats["byRegion"]]
    assert codes and all(c.startswith("3708") and c != CITY for c in codes), codes
    # The connectors are an admin's business: the API refuses the inspector, the card is not shown
    assert page.locator('[data-test="connector-health"]').count() == 0

    # When the inspector clicks a county's figure, the clue pool opens filtered to it for this month
    county = stats["byRegion"][0]

    def is_pool(response: Any) -> bool:
        return response.url.endswith("/graphql") and "query CluePool(" in (response.request.post_data or "")

    with page.expect_response(is_pool) as info:
        page.click(f'a[data-region="{county["regionCode"]}"]')
    asked = info.value.request.post_data_json["variables"]
    assert asked["filter"] == {
        "regionCode": county["regionCode"],
        "receivedFrom": variables["from"],
        "receivedTo": variables["to"],
        "status": COUNTED,
    }
    total = info.value.json()["data"]["clues"]["totalCount"]
    # (the county's figure counted the same clues, unless new ones arrived in between)
    assert total >= county["count"]
    page.wait_for_function(
        "(t) => document.querySelector('[data-test=\"total\"]')?.innerText.trim() === t", arg=f"共 {total} 条"
    )
    assert f"regionCode={county['regionCode']}" in page.url
    console.shot("clues-from-dashboard-city")

    # When the inspector goes back and clicks this month's closed figure
    page.go_back()
    wait_for_dashboard(page)
    with page.expect_response(is_pool) as info:
        page.click('[data-figure="closed"]')
    # Then the list holds exactly the clues the figure counted: closed this month (China days)
    asked = info.value.request.post_data_json["variables"]["filter"]
    assert asked == {"closedFrom": variables["from"], "closedTo": variables["to"], "status": COUNTED}
    assert info.value.json()["data"]["clues"]["totalCount"] == sum(g["count"] for g in closed)


SIBLING_CLUE = """query($r: String!) { clues(filter: {regionCode: $r}, first: 1) { nodes { clueNo } } }"""
COUNTY_RECEIVED = """query($from: Date!, $to: Date!) { stats {
  mine: clues(groupBy: [], from: $from, to: $to) { count }
  byRegion: clues(groupBy: [REGION], from: $from, to: $to) { regionCode count } } }"""


def test_a_county_inspector_never_sees_a_sibling_countys_clue_or_count(hub_server, console_for, make_key) -> None:
    base_url, _ = hub_server
    city_key = make_key("e2e 济宁市督查员", "inspector", CITY)
    counties = [r["code"] for r in graphql(base_url, city_key, '{ regions(parentCode: "370800") { code } }')["regions"]]
    assert len(counties) >= 2, counties
    mine, sibling = counties[0], counties[1]
    key = make_key(f"e2e 区县督查员 {mine}", "inspector", mine)
    console = console_for(key)

    # When the county's inspector opens the dashboard
    variables, stats = dashboard_answer(console)
    page = console.page
    console.shot("dashboard-county")

    # Then no figure names another county, and this month's count is the county's own: the same
    # number the city sees for this county (read while nothing new arrived in between)
    assert all(code.startswith(mine) for code, _ in drawn(page, "region"))
    assert sibling not in page.content()
    bounds = {"from": variables["from"], "to": variables["to"]}
    for _ in range(5):
        before = graphql(base_url, city_key, COUNTY_RECEIVED, bounds)["stats"]["byRegion"]
        own = graphql(base_url, key, COUNTY_RECEIVED, bounds)["stats"]["mine"]
        after = graphql(base_url, city_key, COUNTY_RECEIVED, bounds)["stats"]["byRegion"]
        if before == after:
            break
        time.sleep(1)
    city_view = {g["regionCode"]: g["count"] for g in after}
    assert own == [{"count": city_view.get(mine, 0)}]
    shown = int(figure(page, "received"))
    assert shown == sum(g["count"] for g in stats["received"])
    assert shown <= city_view.get(mine, 0)  # only new arrivals in between can make the city's larger

    # When it opens a sibling county's clue by its number
    other = graphql(base_url, city_key, SIBLING_CLUE, {"r": sibling})["clues"]["nodes"]
    assert other, f"the demo has no clue in {sibling}"
    console.open(f"#/clue/{other[0]['clueNo']}")
    # Then the console says there is no such clue in its jurisdiction, and shows nothing of it
    page.wait_for_selector('[data-test="clue"] .el-empty')
    assert "没有这条线索，或不在您的管辖范围内。" in page.inner_text('[data-test="clue"]')
    console.shot("clue-of-a-sibling-county")

    # When it filters the clue pool by the sibling county
    console.open(f"#/clues?regionCode={sibling}")
    page.wait_for_selector('[data-test="total"]')
    page.wait_for_function("() => !document.querySelector('[data-test=\"clue-table\"] .el-loading-mask')")
    # Then it lists none of them (the API keeps the filter within the jurisdiction)
    assert page.locator('[data-test="clue-table"] [data-clue-no]').count() == 0
    console.shot("clues-filtered-by-a-sibling-county")
    assert console.errors == []


CANDIDATE = """query { clues(filter: {status: [RECEIVED, RETURNED, ESCALATED], multiChannel: true}, first: 50) {
  nodes { clueNo status handlingRegionCode channelRecords { channel } } } }"""


def _two_channel_clue(base_url: str, key: str) -> dict:
    """A clue not yet dispatched that came through the 12345 hotline and the national platform, handled
    by the city or one of its counties. The demo's sandboxes send new complaints as it runs: wait for one (≤ 90 s)."""
    deadline = time.monotonic() + 90
    while True:
        clues = graphql(base_url, key, CANDIDATE)["clues"]["nodes"]
        both = [
            c
            for c in clues
            if {"HOTLINE12345", "NATIONAL_PLATFORM"} <= {r["channel"] for r in c["channelRecords"]}
            and c["handlingRegionCode"].startswith("3708")
            and len(c["handlingRegionCode"]) == 6
        ]
        if both or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert both, "no two-channel clue to dispatch in the demo after 90 s"
    return both[0]


def _open_action(page: Any, action: str) -> Any:
    page.click(f'[data-test="actions"] [data-action="{action}"]')
    dialog = page.locator(".el-dialog:visible")
    dialog.wait_for()
    return dialog


def _type_region(page: Any, dialog: Any, code: str) -> None:
    """Type a code into the dispatch form's region picker (it takes a town code not in the list)."""
    dialog.locator('[data-input="toRegionCode"]').click()
    page.keyboard.type(code)
    page.wait_for_selector(f'.el-select-dropdown__item:visible:has-text("{code}")')
    page.keyboard.press("Enter")


def _writebacks(page: Any) -> list[tuple[str, str]]:
    """(channel, write-back status) of each channel record on the clue's page."""
    return [
        (el.get_attribute("data-writeback"), el.get_attribute("data-writeback-status"))
        for el in page.locator("[data-writeback]").element_handles()
    ]


def _submit(page: Any) -> None:
    page.click('.el-dialog:visible [data-test="action-submit"]')


def _status(page: Any, expected: str) -> None:
    page.wait_for_selector(f'[data-test="clue-status"][data-status="{expected}"]')


def test_an_inspector_dispatches_then_closes_a_clue_and_the_write_back_shows(hub_server, console_for, make_key) -> None:
    base_url, _ = hub_server
    key = make_key("e2e 济宁市督查员", "inspector", CITY)
    # Given a complaint received through the 12345 hotline and the national platform, handled by a county
    clue = _two_channel_clue(base_url, key)
    clue_no, county = clue["clueNo"], clue["handlingRegionCode"]
    console = console_for(key)
    page = console.open(f"#/clue/{clue_no}")
    _status(page, clue["status"])
    console.shot("clue-received")

    # When the inspector dispatches it to a malformed region code
    dialog = _open_action(page, "dispatch")
    _type_region(page, dialog, f"{county}0")
    _submit(page)
    # Then the API's refusal shows in Chinese beside the field, naming the value, and nothing changed
    error = dialog.locator('[data-field="toRegionCode"] .el-form-item__error')
    error.wait_for()
    assert error.inner_text().startswith("编码格式有误：")
    assert f"'{county}0'" in error.inner_text()
    console.shot("dispatch-bad-region-code")

    # When it dispatches one level down: a county of the city picked from the list, or a town of the county
    if county.endswith("00"):
        dialog.locator('[data-input="toRegionCode"]').click()
        option = page.locator(".el-select-dropdown__item:visible").first
        target = option.inner_text().split()[-1]
        option.click()
    else:
        # a real town of the county (dispatch refuses a region the list does not hold)
        towns = graphql(base_url, key, "query($c: String!) { regions(parentCode: $c) { code } }", {"c": county})
        target = towns["regions"][0]["code"]
        _type_region(page, dialog, target)
    _submit(page)
    # Then the clue is dispatched and handled by the town
    _status(page, "DISPATCHED")
    assert page.get_attribute('[data-test="clue-handling"]', "data-region") == target
    assert "已分办" in page.inner_text('[data-test="action-done"]')

    # Given a second tab on the same clue, opened before anyone accepts it
    stale = console.open(f"#/clue/{clue_no}", page=console.new_page())
    _status(stale, "DISPATCHED")
    # When the first tab accepts it
    _open_action(page, "accept")
    _submit(page)
    _status(page, "IN_PROGRESS")
    # Then the second tab's accept does not act twice: the API refuses it, in Chinese
    _open_action(stale, "accept")
    _submit(stale)
    refusal = stale.locator('.el-dialog:visible [data-test="action-error"]')
    refusal.wait_for()
    assert refusal.inner_text().startswith("当前状态不允许此操作：")
    console.shot("accept-twice-refused", page=stale)
    accepted = graphql(base_url, key, "query($n: String!) { clue(clueNo: $n) { actions { action } } }", {"n": clue_no})
    assert [a["action"] for a in accepted["clue"]["actions"]].count("accept") == 1

    # When the inspector closes it with the conclusion, the amount recovered and the workers paid
    dialog = _open_action(page, "close")
    _submit(page)
    # (the form checks the required conclusion before sending)
    dialog.locator('[data-field="conclusion"] .el-form-item__error').wait_for()
    assert "必填" in dialog.locator('[data-field="conclusion"] .el-form-item__error').inner_text()
    dialog.locator('[data-input="conclusion"]').fill("经查，欠薪属实，已督促企业足额支付")
    dialog.locator('[data-input="recoveredAmount"]').fill("12000.50")
    dialog.locator('[data-input="workersPaid"]').fill("3")
    _submit(page)
    _status(page, "CLOSED")
    assert "经查，欠薪属实" in page.inner_text('[data-test="clue-conclusion"]')
    assert "12,000.50" in page.inner_text('[data-test="clue-conclusion"]')

    # Then the outcome goes back to both channels: the write-back shows, and is acknowledged by both
    # sandboxes once the hub's scheduler has delivered it (a bound, not a goal: the embedded worker's
    # four threads may still be busy with the demo's first syncs, which take minutes on PostgreSQL on a
    # loaded machine, and the delivery queues behind them)
    deadline = time.monotonic() + 300
    shown: list[tuple[str, str]] = []
    while time.monotonic() < deadline:
        shown = _writebacks(page)
        if {"HOTLINE12345", "NATIONAL_PLATFORM"} <= {ch for ch, status in shown if status == "acknowledged"}:
            break
        time.sleep(3)
        page.click('[data-test="reload"]')
        page.wait_for_selector('[data-test="channel-records"]')
    acknowledged = {ch for ch, status in shown if status == "acknowledged"}
    assert {"HOTLINE12345", "NATIONAL_PLATFORM"} <= acknowledged, shown
    assert not [s for _, s in shown if s == "failing"], shown
    assert "已确认" in page.inner_text('[data-test="channel-records"]')
    steps = [
        el.get_attribute("data-timeline-action") for el in page.locator("[data-timeline-action]").element_handles()
    ]
    assert steps[-3:] == ["dispatch", "accept", "close"], steps
    assert "签收办理" in page.inner_text('[data-test="timeline"]')
    console.shot("clue-closed-written-back")
    assert console.errors == []


def test_the_console_speaks_chinese_first_and_english_on_request(hub_server, console_for) -> None:
    _, key = hub_server
    console = console_for(key)
    page = console.open()
    wait_for_dashboard(page)

    # Then the console is in Chinese: the page's language, the menu, the figures
    nav = page.locator('[data-test="nav"]')
    assert page.get_attribute("html", "lang") == "zh-CN"
    assert nav.inner_text().split() == ["驾驶舱", "线索池", "预警", "数据接入", "写回", "系统"]
    assert page.inner_text('[data-figure="received"] .label') == "本月受理"
    console.shot("dashboard-zh-CN")

    # When the user switches to English
    page.click('[data-test="locale"]')
    # Then the menu, the figures and the charts' page speak English
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    assert nav.inner_text().split("\n") == ["Dashboard", "Clue pool", "Warnings", "Connectors", "Write-backs", "System"]
    wait_for_dashboard(page)
    page.wait_for_selector('[data-figure="received"]')
    assert page.inner_text('[data-figure="received"] .label') == "Received"
    console.shot("dashboard-en")
    # and the choice survives a reload, on every page
    console.open("#/clues")
    page.reload()
    page.wait_for_selector('[data-test="clue-table"]')
    assert page.inner_text('[data-test="apply"]') == "Search"
    console.shot("clues-en")
    # and switching back gives Chinese again
    page.click('[data-test="locale"]')
    page.wait_for_function("() => document.documentElement.lang === 'zh-CN'")
    assert page.inner_text('[data-test="apply"]') == "查询"


PAGES = {
    "dashboard": ("", "dashboard"),
    "clues": ("#/clues", "clue-table"),
    "warnings": ("#/warnings", "warning-table"),
    "connectors": ("#/connectors", "connector-table"),
    "writebacks": ("#/writebacks", "writeback-table"),
    "system": ("#/system", "system"),
}


def test_every_page_opens_for_an_admin_and_is_saved_as_a_screenshot(hub_server, console_for) -> None:
    base_url, key = hub_server
    console = console_for(key)
    page = console.page
    for name, (fragment, root) in PAGES.items():
        # When the admin opens the page
        console.open(fragment)
        page.wait_for_selector(f'[data-test="{root}"]')
        page.wait_for_load_state("networkidle")
        # Then it shows its data, not an error
        assert page.locator(".el-alert--error").count() == 0, page.inner_text(".el-alert--error")
        console.shot(f"page-{name}")
    # The clue pool's rows open their clue's page
    console.open("#/clues")
    first = page.locator("[data-clue-no]").first
    clue_no = first.inner_text().strip()
    first.click()
    page.wait_for_selector('[data-test="clue-title"]')
    assert clue_no in page.inner_text('[data-test="clue-title"]')
    page.wait_for_selector('[data-test="channel-records"]')
    console.shot("page-clue")
    # A warning's evidence
    console.open("#/warnings")
    page.locator('[data-test="warning-table"] .el-table__row').first.click()
    page.wait_for_selector('[data-test="facts"]')
    console.shot("page-warning")
    assert console.errors == []
    assert console.csp_violations() == []


def _sign_in_present(base_url: str) -> None:
    if httpx.get(f"{base_url}/admin/api/session", timeout=10).status_code == 404:
        unavailable("sign-in API not present")


def test_without_a_key_or_a_session_the_sign_in_page_shows(hub_server, console_for) -> None:
    base_url, _ = hub_server
    _sign_in_present(base_url)
    console = console_for(None)
    page = console.open()
    page.wait_for_selector('[data-test="signin"]')
    assert "登录" in page.inner_text('[data-test="signin"]')
    console.shot("sign-in")


def test_a_wrong_password_shows_the_apis_refusal_in_chinese(hub_server, console_for) -> None:
    base_url, _ = hub_server
    _sign_in_present(base_url)
    console = console_for(None)
    page = console.open()
    sign_in(page, "admin", "not-the-password-1")
    error = page.locator('[data-test="signin-error"]')
    error.wait_for()
    assert error.inner_text().startswith("用户名或密码错误：")
    console.shot("sign-in-refused")


def test_a_demo_user_signs_in_with_the_printed_password_works_and_signs_out(
    hub_server, console_for, demo_password
) -> None:
    base_url, _ = hub_server
    _sign_in_present(base_url)
    console = console_for(None)
    page = console.open()
    # Given the inspector's password that hub serve printed once, When it signs in
    sign_in(page, "demo-inspector", demo_password("demo-inspector"))
    # Then the console opens on the dashboard, as that user, with the session cookie (HttpOnly: not in JS)
    page.wait_for_selector('[data-test="sign-out"]')
    assert page.inner_text('[data-test="user"]').startswith("演示督查员 · ")
    assert "370811" in page.inner_text('[data-test="user"]')
    assert page.evaluate("document.cookie") == ""
    console.shot("signed-in-inspector")
    # And its GraphQL requests carry the CSRF token: the clue pool loads
    page.goto(f"{base_url}/admin#/clues")
    page.wait_for_selector('[data-test="clue-table"] .el-table__row')
    # When it signs out, the sign-in page is back and the session is gone
    page.click('[data-test="sign-out"]')
    page.wait_for_selector('[data-test="signin"]')
    assert page.request.get(f"{base_url}/admin/api/session").status == 401
    assert console.errors == []


def test_an_admin_adds_a_connector_through_its_generated_form_and_fixes_a_wrong_secret(hub_server, console_for) -> None:
    base_url, key = hub_server
    console = console_for(key)
    page = console.open("#/connectors")
    page.click('[data-test="add-connector"]')
    form = page.locator('.el-dialog:visible[data-test="connector-form"]')
    form.wait_for()

    # Given the form generated from the bank REST connector's JSON Schema
    form.locator('[data-input="kind"]').click()
    page.locator('.el-select-dropdown__item:visible:has-text("(bank_rest)")').click()
    form.locator('[data-field="client_secret"]').wait_for()
    assert form.locator('[data-input="client_secret"]').get_attribute("type") == "password"
    assert form.locator('[data-input="page_size"]').input_value() == "1000"  # the schema's default

    # When the admin sends it with a page size over the schema's maximum and no secret
    form.locator('[data-input="name"]').fill("e2e 银行开放接口")
    form.locator('[data-input="base_url"]').fill(f"{base_url}/sandbox/bank_rest/")
    form.locator('[data-input="client_id"]').fill("wage-hub")
    form.locator('[data-input="page_size"]').fill("5000")
    form.locator('[data-test="form-submit"]').click()
    # Then the form says what is wrong beside each field, before anything is sent
    form.locator('[data-field="page_size"] .el-form-item__error').wait_for()
    assert form.locator('[data-field="page_size"] .el-form-item__error').inner_text() == (
        "Page Size：不能大于 1000，得到 5000"
    )
    assert form.locator('[data-field="client_secret"] .el-form-item__error').inner_text() == "Client Secret：必填"
    console.shot("connector-form-checked")

    # When it is fixed but for a wrong secret, and saved
    form.locator('[data-input="page_size"]').fill("500")
    form.locator('[data-input="client_secret"]').fill("not-the-secret")
    form.locator('[data-test="form-submit"]').click()
    form.wait_for(state="hidden")
    row = page.locator('[data-test="connector-table"] .el-table__row', has_text="e2e 银行开放接口")
    row.wait_for()
    # and its connection tested: the bank's refusal shows
    row.locator("button", has_text="测试连接").click()
    message = page.locator('[data-test="message"]')
    message.wait_for()
    assert "the bank refused client_id 'wage-hub'" in message.inner_text()
    console.shot("connector-refused")

    # When the admin edits it: the stored secret is not shown, only that one is set
    row.locator("button", has_text="编辑").click()
    form.wait_for()
    secret = form.locator('[data-input="client_secret"]')
    assert secret.input_value() == ""
    assert secret.get_attribute("placeholder") == "已设置（留空则不修改）"
    secret.fill("sandbox-client-secret")
    form.locator('[data-test="form-submit"]').click()
    form.wait_for(state="hidden")
    # Then the connection test passes
    row.locator("button", has_text="测试连接").click()
    page.wait_for_function(
        "() => (document.querySelector('[data-test=\"message\"]') || {}).innerText?.startsWith('e2e 银行开放接口：OK')"
    )
    console.shot("connector-fixed")
    # and the API never returned the secret
    stored = graphql(base_url, key, "{ connectorInstances(first: 50) { nodes { name config hasSecrets } } }")
    mine = [n for n in stored["connectorInstances"]["nodes"] if n["name"] == "e2e 银行开放接口"]
    assert mine and mine[0]["hasSecrets"] and "client_secret" not in mine[0]["config"]
    assert mine[0]["config"]["page_size"] == 500

    # When the admin disables it, it says so, and the API has it disabled
    row.locator("button", has_text="停用").click()
    page.locator('[data-test="message"]', has_text="e2e 银行开放接口：停用 ✓").wait_for()
    row.locator("button", has_text="启用").wait_for()
    stored = graphql(base_url, key, "{ connectorInstances(first: 50) { nodes { name enabled } } }")
    assert {n["name"]: n["enabled"] for n in stored["connectorInstances"]["nodes"]}["e2e 银行开放接口"] is False
    assert console.errors == []


def key_dialog(console: Console) -> tuple[Any, Any]:
    """Open the 系统 page and its 新建密钥 dialog; the page and the dialog."""
    page = console.open("#/system")
    page.wait_for_selector('[data-test="key-table"] .el-table__row')
    page.click('[data-test="add-key"]')
    form = page.locator('.el-dialog:visible[data-test="key-form"]')
    form.wait_for()
    return page, form


def test_an_admin_makes_a_key_seen_once_revokes_it_and_finds_both_in_the_audit_log(hub_server, console_for) -> None:
    base_url, key = hub_server
    console = console_for(key)
    # When the admin creates a viewer's key for the city in the console
    page, form = key_dialog(console)
    form.locator('[data-input="name"]').fill("e2e 大屏")
    form.locator('[data-input="regionCode"]').fill("3708")
    form.locator('[data-test="key-submit"]').click()
    # (a malformed region code is caught before sending)
    region_error = form.locator('[data-field="regionCode"] .el-form-item__error')
    region_error.wait_for()
    assert region_error.inner_text() == "地区：应为 6、9 或 12 位地区编码，得到 3708"
    form.locator('[data-input="regionCode"]').fill(CITY)
    form.locator('[data-test="key-submit"]').click()
    # Then the key is shown, this once, and it works
    new_key = form.locator('[data-test="new-key"]').input_value()
    assert new_key.startswith("hub_")
    me = graphql(base_url, new_key, "{ me { name role regionCode } }")["me"]
    assert me == {"name": "apikey:e2e 大屏", "role": "viewer", "regionCode": CITY}
    console.shot("api-key-shown-once")
    form.locator('[data-test="key-done"]').click()
    form.wait_for(state="hidden")
    assert new_key not in page.content()

    # When the admin revokes it
    page.click('[data-revoke="e2e 大屏"]')
    page.locator('[data-test="message"]', has_text="e2e 大屏：已吊销").wait_for()
    # Then it signs nothing in any more
    resp = httpx.post(f"{base_url}/graphql", json={"query": "{ me { name } }"}, headers={"X-API-Key": new_key})
    assert resp.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    # And the audit log, filtered by what was done, shows both, newest first
    page.fill('[data-filter="action"]', "api_key.revoke")
    page.click('[data-test="audit-search"]')
    page.wait_for_function(
        """() => {
          const rows = [...document.querySelectorAll('[data-test="audit-table"] .el-table__row')];
          return rows.length > 0 && rows.every(r => r.innerText.includes('api_key.revoke'));
        }"""
    )
    rows = page.locator('[data-test="audit-table"] .el-table__row')
    assert "e2e 大屏" in rows.first.inner_text()
    console.shot("audit-log-filtered")
    assert console.errors == []


def test_an_admin_makes_a_sector_key_with_the_sector_picked_and_the_list_shows_its_sector(
    hub_server, console_for
) -> None:
    base_url, key = hub_server
    console = console_for(key)
    # When the admin makes a key of the sector role (a 行业主管部门's system) without picking its sector
    page, form = key_dialog(console)
    form.locator('[data-input="name"]').fill("e2e 住建局")
    form.locator('[data-input="regionCode"]').fill(CITY)
    assert form.locator('[data-field="sector"]').count() == 0  # (a viewer's key has no sector to pick)
    form.locator('[data-input="role"]').click()
    page.locator(".el-select-dropdown__item:visible", has_text="行业主管部门 sector").click()
    form.locator('[data-test="key-submit"]').click()
    # Then the dialog asks for the sector beside its picker, before anything is sent
    sector_error = form.locator('[data-field="sector"] .el-form-item__error')
    sector_error.wait_for()
    assert sector_error.inner_text() == "行业：行业主管部门密钥须选择行业（住建、交通、水利）"
    console.shot("api-key-sector-needed")
    # When the admin picks 住建
    form.locator('[data-input="sector"]').click()
    page.locator(".el-select-dropdown__item:visible", has_text="住建").click()
    form.locator('[data-test="key-submit"]').click()
    # Then the key made stands for that sector
    new_key = form.locator('[data-test="new-key"]').input_value()
    me = graphql(base_url, new_key, "{ me { role regionCode sector } }")["me"]
    assert me == {"role": "sector", "regionCode": CITY, "sector": "住建"}
    form.locator('[data-test="key-done"]').click()
    form.wait_for(state="hidden")
    # And the list shows its sector, and every other key's as all sectors
    row = page.locator('[data-test="key-table"] .el-table__row', has_text="e2e 住建局")
    assert row.locator("[data-sector]").inner_text() == "住建"
    demo_row = page.locator('[data-test="key-table"] .el-table__row', has_text="demo-admin").first
    assert demo_row.locator("[data-sector]").inner_text() == "全部行业"
    console.shot("api-key-sector-listed")
    assert console.errors == []


MAKE_KEY = """mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { apiKey { id } } }"""


def test_the_pager_walks_a_list_forward_and_back_and_a_new_search_starts_again(hub_server, console_for) -> None:
    base_url, key = hub_server
    console = console_for(key)
    page = console.open("#/clues")
    pager = page.locator('[data-test="pager"]')
    pager.locator('[data-test="next"]:not([disabled])').wait_for()
    assert pager.locator('[data-test="previous"]').is_disabled()

    def asked(operation: str, click: Any) -> dict:
        """Click; the variables of the ``operation`` query the click sent, once its answer is drawn."""

        def is_it(response: Any) -> bool:
            return response.url.endswith("/graphql") and f"query {operation}(" in (response.request.post_data or "")

        with page.expect_response(is_it) as info:
            click()
        page.wait_for_load_state("networkidle")
        return {"sent": info.value.request.post_data_json["variables"], "answer": info.value.json()["data"]}

    # When the clue pool's next page is asked for
    first = asked("CluePool", lambda: page.reload())["answer"]["clues"]["pageInfo"]["endCursor"]
    second = asked("CluePool", lambda: pager.locator('[data-test="next"]').click())
    # Then the page after the first one's last cursor comes, and 上一页 is offered
    assert second["sent"]["after"] == first
    assert pager.locator('[data-test="previous"]').is_enabled()
    # When it goes on, then back twice, Then it asks for the second page again, then the first (no cursor)
    third = asked("CluePool", lambda: pager.locator('[data-test="next"]').click())
    assert third["sent"]["after"] == second["answer"]["clues"]["pageInfo"]["endCursor"]
    assert asked("CluePool", lambda: pager.locator('[data-test="previous"]').click())["sent"]["after"] == first
    assert asked("CluePool", lambda: pager.locator('[data-test="previous"]').click())["sent"]["after"] is None
    assert pager.locator('[data-test="previous"]').is_disabled()

    # And on the audit log (more than a page of it: keys made for it if the hub has not done that much yet),
    # a new search after a page forward starts from the first page again
    logged = graphql(base_url, key, "{ auditLog(first: 1) { totalCount } }")["auditLog"]["totalCount"]
    for n in range(max(0, 21 - logged)):
        graphql(base_url, key, MAKE_KEY, {"i": {"name": f"e2e pager {n}", "role": "viewer", "regionCode": CITY}})
    console.open("#/system")
    audit_pager = page.locator('.hub-pager:has([data-test="audit-total"])')
    audit_pager.locator("button").nth(1).and_(page.locator("button:not([disabled])")).wait_for()
    ahead = asked("System", lambda: audit_pager.locator("button").nth(1).click())
    assert ahead["sent"]["after"] is not None
    assert audit_pager.locator("button").first.is_enabled()
    again = asked("System", lambda: page.click('[data-test="audit-search"]'))
    assert again["sent"]["after"] is None
    assert audit_pager.locator("button").first.is_disabled()
    console.shot("pager-audit-first-page")
    assert console.errors == []


WARNINGS = """query($f: WarningFilter) { warnings(filter: $f, first: 50) {
  nodes { id ruleCode regionCode status acknowledgedBy } } }"""


def test_an_inspector_works_a_warning_from_its_evidence_to_a_clue(hub_server, console_for, make_key) -> None:
    base_url, _ = hub_server
    key = make_key("e2e 济宁市督查员", "inspector", CITY)
    active = graphql(base_url, key, WARNINGS, {"f": {"status": "ACTIVE"}})["warnings"]["nodes"]
    assert active, "the demo has no active warning"
    rule = active[0]["ruleCode"]
    console = console_for(key)

    # When the inspector lists the active warnings of one rule (as the dashboard's figure links them)
    page = console.open(f"#/warnings?ruleCode={rule}&status=ACTIVE")
    page.locator('[data-test="warning-table"] .el-table__row').first.wait_for()
    rows = page.locator('[data-test="warning-table"] .el-table__row')
    # Then every row is of that rule, within the city
    texts = [rows.nth(i).inner_text() for i in range(rows.count())]
    assert texts and all(rule in t for t in texts)
    # When it opens the first: its evidence (the facts the rule found) shows
    rows.first.click()
    page.wait_for_selector('[data-test="facts"]')
    facts = json.loads(page.inner_text('[data-test="facts"]'))
    assert isinstance(facts, dict) and facts
    console.shot("warning-evidence")

    # When it acknowledges it with a note
    page.click('[data-test="warning-detail"] [data-action="acknowledge"]')
    dialog = page.locator(".el-dialog:visible")
    dialog.locator("textarea").fill("已电话联系项目部核实")
    dialog.locator("button", has_text="确定").click()
    page.locator(".el-alert--success", has_text="已签收").wait_for()
    # Then the API has it acknowledged by the inspector
    seen = graphql(base_url, key, WARNINGS, {"f": {"ruleCode": rule}})["warnings"]["nodes"]
    assert any(w["acknowledgedBy"] == "apikey:e2e 济宁市督查员" for w in seen)

    # When it escalates the warning to a clue
    page.locator('[data-test="warning-table"] .el-table__row').first.click()
    page.click('[data-test="warning-detail"] [data-action="escalate"]')
    page.locator(".el-dialog:visible").locator("button", has_text="确定").click()
    done = page.locator(".el-alert--success", has_text="转线索：")
    done.wait_for()
    # Then the clue's number shows, and the clue is in the pool
    clue_no = done.inner_text().split("：", 1)[1].strip()
    assert graphql(base_url, key, "query($n: String!) { clue(clueNo: $n) { clueNo } }", {"n": clue_no})["clue"]
    console.shot("warning-escalated")
    assert console.errors == []


def test_a_county_inspector_sees_only_its_own_warnings(hub_server, console_for, make_key) -> None:
    base_url, _ = hub_server
    city_key = make_key("e2e 济宁市督查员", "inspector", CITY)
    counties = [r["code"] for r in graphql(base_url, city_key, '{ regions(parentCode: "370800") { code } }')["regions"]]
    mine = counties[0]
    key = make_key(f"e2e 区县督查员 {mine}", "inspector", mine)
    console = console_for(key)
    page = console.open("#/warnings")
    page.wait_for_selector('[data-test="warning-table"]')
    page.wait_for_function("() => !document.querySelector('[data-test=\"warning-table\"] .el-loading-mask')")
    # Then each warning listed is in the county (the region column), and the city sees more
    rows = page.locator('[data-test="warning-table"] .el-table__row')
    regions = [rows.nth(i).locator("td").nth(4).inner_text().strip() for i in range(rows.count())]
    assert all(r.startswith(mine) for r in regions), regions
    city_regions = {w["regionCode"] for w in graphql(base_url, city_key, WARNINGS, {"f": None})["warnings"]["nodes"]}
    assert any(not r.startswith(mine) for r in city_regions), "the city's warnings are all in one county"
    console.shot("warnings-county")


STATE = "{ connectorInstances(first: 50) { nodes { name state } } }"


def test_resetting_a_stream_asks_first_and_then_forgets_its_bookmark(hub_server, console_for) -> None:
    base_url, key = hub_server
    # Given the demo permits connector, which has synced its enterprises stream
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        states = {n["name"]: n["state"] for n in graphql(base_url, key, STATE)["connectorInstances"]["nodes"]}
        if "enterprises" in (states.get("demo-permits") or {}):
            break
        time.sleep(2)
    assert "enterprises" in states["demo-permits"], states.get("demo-permits")
    console = console_for(key)
    page = console.open("#/connectors")
    row = page.locator('[data-test="connector-table"] .el-table__row', has_text="demo-permits")
    row.locator(".el-table__expand-icon").click()
    reset = page.locator('[data-reset-stream="enterprises"]:visible')

    # When the admin asks to reset the stream and cancels
    reset.click()
    box = page.locator(".el-message-box:visible")
    assert "清除 demo-permits 的 enterprises 同步位置？" in box.inner_text()
    box.locator("button", has_text="取消").click()
    box.wait_for(state="hidden")
    # Then nothing was sent (no message)
    assert page.locator('[data-test="message"]').count() == 0

    # When it confirms
    reset.click()
    page.locator(".el-message-box:visible button", has_text="确定").click()
    page.locator('[data-test="message"]', has_text="demo-permits / enterprises：重置 ✓").wait_for()
    console.shot("stream-reset")
    # Then the audit log has the reset, by the admin
    log = graphql(
        base_url, key, '{ auditLog(action: "connector.reset_stream", first: 5) { nodes { principal detail } } }'
    )["auditLog"]["nodes"]
    assert log and log[0]["principal"] == "apikey:demo-admin", log
    assert console.errors == []
