"""A new user's first minutes: open the printed GraphiQL link, run the example query, see data.

Drives Debian's chromium against a real ``hub serve`` (see conftest.py). GraphiQL 3 renders the
editors with CodeMirror 5, which only puts the lines in view into the DOM, so the result pane's
full text is read from its CodeMirror instance (``.graphiql-response .CodeMirror``).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

SCREENSHOT_COPY = Path("/tmp/e2e-graphiql.png")

QUERY_EDITOR = ".graphiql-query-editor .CodeMirror"
HEADERS_TAB = '.graphiql-editor-tools button[data-name="headers"]'
# The variables and headers editors share one section; the one not hidden is the active tab's.
HEADERS_EDITOR = ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror"
EXECUTE_BUTTON = "button.graphiql-execute-button"
RESULT_PANE = ".graphiql-response"
RESULT_EDITOR = ".graphiql-response .result-window .CodeMirror"

#: The whole text of the result pane (CodeMirror's value; the DOM holds only the visible lines).
_RESULT_TEXT_JS = """() => {
  const el = document.querySelector(%r);
  if (el && el.CodeMirror) return el.CodeMirror.getValue();
  const pane = document.querySelector(%r);
  return pane ? pane.innerText : null;
}""" % (RESULT_EDITOR, RESULT_PANE)


def result_text(page: Any) -> str:
    return page.evaluate(_RESULT_TEXT_JS) or ""


def wait_for_result(page: Any, expected: dict, timeout: float = 30_000) -> dict:
    """Wait until the result pane shows ``expected`` (a response body), and return the pane parsed."""
    page.wait_for_function(
        """(expected) => {
          const text = (%s)();
          if (!text) return false;
          try { return JSON.stringify(JSON.parse(text)) === JSON.stringify(expected); } catch (e) { return false; }
        }"""
        % _RESULT_TEXT_JS,
        arg=expected,
        timeout=timeout,
    )
    return json.loads(result_text(page))


def open_graphiql(page: Any, url: str) -> None:
    """Open GraphiQL and wait until the query editor shows the example query and the run button is there."""
    from playwright.sync_api import expect

    page.goto(url, wait_until="domcontentloaded")
    expect(page.locator(QUERY_EDITOR)).to_be_visible()
    expect(page.locator(QUERY_EDITOR)).to_contain_text("query MultiChannelClues")
    expect(page.locator(EXECUTE_BUTTON)).to_be_enabled()


def run_example_query(page: Any, base_url: str) -> dict:
    """Click the run button; return the JSON body of the POST /graphql it sent."""
    from playwright.sync_api import expect

    def is_run(response: Any) -> bool:
        req = response.request
        return (
            response.url == f"{base_url}/graphql"
            and req.method == "POST"
            and '"operationName":"MultiChannelClues"' in (req.post_data or "").replace(" ", "")
        )

    with page.expect_response(is_run) as info:
        page.locator(EXECUTE_BUTTON).click()
    response = info.value
    assert response.status == 200, f"POST /graphql answered {response.status}: {response.text()[:500]}"
    expect(page.locator(RESULT_PANE)).to_be_visible()
    return response.json()


def multi_channel_clue_with_payroll(body: dict) -> dict | None:
    for edge in ((body.get("data") or {}).get("clues") or {}).get("edges") or []:
        node = edge["node"]
        channels = {r["channel"] for r in node.get("channelRecords") or []}
        payroll = (((node.get("project") or {}).get("payroll") or {}).get("edges")) or []
        if {"HOTLINE12345", "NATIONAL_PLATFORM"} <= channels and payroll:
            return node
    return None


def test_new_user_runs_the_example_query_from_the_printed_link(hub_server, page, tmp_path: Path) -> None:
    base_url, key = hub_server
    from playwright.sync_api import expect

    # Given the link `hub serve` printed, with the demo admin key in the fragment
    open_graphiql(page, f"{base_url}/graphql#key={key}")

    # Then the key is gone from the address bar (and the history entry), and sits in the headers editor
    assert page.url == f"{base_url}/graphql", page.url
    assert key not in page.evaluate("() => window.location.href + '|' + JSON.stringify(history.state)")
    expect(page.locator(HEADERS_TAB)).to_have_class(re.compile(r"\bactive\b"))
    headers = page.locator(HEADERS_EDITOR)
    expect(headers).to_be_visible()
    expect(headers).to_contain_text("X-API-Key")
    expect(headers).to_contain_text(key)

    # When the user clicks the run button
    body = run_example_query(page, base_url)
    assert not body.get("errors"), json.dumps(body.get("errors"), ensure_ascii=False, indent=2)

    # Then the result pane shows the clues, one of them reported through 12345 and the national
    # platform, with its project's payroll
    shown = wait_for_result(page, body)
    clue = multi_channel_clue_with_payroll(shown)
    assert clue is not None, (
        "no clue with HOTLINE12345 + NATIONAL_PLATFORM records and payroll in:\n"
        + json.dumps(shown, ensure_ascii=False, indent=2)[:4000]
    )
    text = result_text(page)
    for needle in ('"HOTLINE12345"', '"NATIONAL_PLATFORM"', '"payroll"', '"actualAmount"', clue["clueNo"]):
        assert needle in text, needle
    # and the visible part of the pane really is the response (not only the editor's model)
    expect(page.locator(RESULT_PANE)).to_contain_text('"clues"')

    shot = tmp_path / "graphiql-example-query.png"
    page.screenshot(path=str(shot))
    shutil.copyfile(shot, SCREENSHOT_COPY)
    print(f"screenshot: {shot} (copied to {SCREENSHOT_COPY})")


def test_without_a_key_running_a_query_says_to_send_x_api_key(hub_server, page) -> None:
    base_url, _ = hub_server
    from playwright.sync_api import expect

    # Given GraphiQL opened without a key
    open_graphiql(page, f"{base_url}/graphql")

    # GraphiQL's introspection already failed with the same error and shows it in the result pane;
    # empty the pane so that what it shows next can only come from running the query.
    page.wait_for_load_state("networkidle")
    page.evaluate("() => document.querySelector(%r).CodeMirror.setValue('')" % RESULT_EDITOR)
    assert result_text(page) == ""

    # When the user runs the example query
    body = run_example_query(page, base_url)

    # Then the result pane shows UNAUTHENTICATED with a message that says what to do
    assert body.get("data") is None, body
    errors = body.get("errors") or []
    assert errors and errors[0]["extensions"]["code"] == "UNAUTHENTICATED", body
    assert "X-API-Key" in errors[0]["message"], body
    shown = wait_for_result(page, body)
    assert shown["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "X-API-Key" in shown["errors"][0]["message"]
    expect(page.locator(RESULT_PANE)).to_contain_text("UNAUTHENTICATED")
    expect(page.locator(RESULT_PANE)).to_contain_text("X-API-Key")


def test_graphiql_fetches_nothing_from_any_other_host(hub_server, page) -> None:
    base_url, key = hub_server
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("websocket", lambda ws: requested.append(ws.url))

    # A full session: load the page (scripts, styles, fonts, introspection) and run the query
    open_graphiql(page, f"{base_url}/graphql#key={key}")
    body = run_example_query(page, base_url)
    wait_for_result(page, body)
    page.wait_for_load_state("networkidle")

    ws_base = "ws://" + base_url.removeprefix("http://")
    foreign = [
        u for u in requested if not (u.startswith((f"{base_url}/", "data:", "blob:", f"{ws_base}/")) or u == base_url)
    ]
    assert requested, "no request was seen at all"
    assert f"{base_url}/static/graphiql/graphiql.min.js" in requested
    assert not foreign, "GraphiQL requested other hosts:\n" + "\n".join(foreign)


def test_graphiql_runs_under_its_content_security_policy_without_a_violation(hub_server, page) -> None:
    base_url, key = hub_server
    from playwright.sync_api import expect

    # Record every CSP violation the page reports, and every console error
    page.add_init_script(
        "window.__cspViolations = [];"
        "document.addEventListener('securitypolicyviolation',"
        " e => window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # Given GraphiQL served with its policy
    response = page.goto(f"{base_url}/graphql#key={key}", wait_until="domcontentloaded")
    assert response is not None
    assert "script-src 'self';" in response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    expect(page.locator(QUERY_EDITOR)).to_contain_text("query MultiChannelClues")
    # When the schema loads (introspection), the query runs and a dialog opens (it injects a <style>)
    body = run_example_query(page, base_url)
    assert not body.get("errors"), body.get("errors")
    wait_for_result(page, body)
    page.locator('button[aria-label="Open settings dialog"]').click()
    expect(page.locator(".graphiql-dialog")).to_be_visible()
    page.keyboard.press("Escape")
    page.wait_for_load_state("networkidle")
    # Then nothing was blocked and nothing failed
    assert page.evaluate("() => window.__cspViolations") == []
    # The dialog's scroll lock warns that the page's body has overflow:hidden (GraphiQL's own layout);
    # that warning is the only console error expected.
    assert [e for e in errors if not e.startswith("react-remove-scroll-bar: cannot calculate scrollbar size")] == []


def test_the_registered_operations_are_offered_as_tabs(hub_server, page) -> None:
    import httpx
    from playwright.sync_api import expect

    base_url, key = hub_server
    document = "query HubE2EScreen { me { name role } }"

    def graphql(query: str, variables: dict) -> dict:
        resp = httpx.post(
            f"{base_url}/graphql", json={"query": query, "variables": variables}, headers={"X-API-Key": key}, timeout=60
        )
        body = resp.json()
        assert "errors" not in body, body
        return body

    # Given an operation a front-end team registered
    graphql(
        "mutation($n: String!, $d: String!) { registerOperation(name: $n, document: $d) { name } }",
        {"n": "HubE2EScreen", "d": document},
    )
    try:
        # When GraphiQL opens with a key
        open_graphiql(page, f"{base_url}/graphql#key={key}")
        # Then the operation has its own tab beside the example query, holding its exact text
        tab = page.locator(".graphiql-tab", has_text="HubE2EScreen")
        expect(tab).to_be_visible()
        tab.locator("button").first.click()
        expect(page.locator(QUERY_EDITOR)).to_contain_text("query HubE2EScreen")
    finally:
        # (retired, so that the other tests of this server see GraphiQL as before)
        graphql("mutation($n: String!) { retireOperation(name: $n) { name } }", {"n": "HubE2EScreen"})
