"""The runs of a workflow and two runs compared, in the browser, on real junjo SDK runs: the
list (status, duration, nodes, started), ticking two to compare, which nodes ran in each and
for how long, the final state diff, and the diff at a chosen step."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.support.web import WebServer
from tests.web.axe import assert_accessible
from tests.web.workflow_seed import SERVICE, run_path, seed_workflows

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def runs(web: WebServer) -> dict[str, Any]:
    web.extra["runs"] = seed_workflows(web)
    return web.extra["runs"]


def test_the_runs_of_a_workflow_and_two_compared(signed_in: Page, web, runs):
    page = signed_in
    older, newer = runs["triage"]
    page.goto(web.url + run_path(SERVICE, newer))
    page.get_by_role("link", name="All runs").click()
    expect(page.get_by_role("heading", name="Runs of Support Ticket Triage")).to_be_visible()
    rows = page.locator("table.wf-run-list tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("OK")
    listed = web.get("/api/v1/workflow-runs", service=SERVICE, name="Support Ticket Triage")
    count = str(listed["runs"][0]["node_count"])  # junjo.workflow.node.count, as the SDK says
    expect(rows.first.locator("td.num").last).to_have_text(count)
    assert_accessible(page)
    for row in (0, 1):
        rows.nth(row).get_by_role("checkbox").check()
    page.get_by_role("link", name="Compare the two ticked").click()
    expect(
        page.get_by_role("heading", name="Compare runs of Support Ticket Triage")
    ).to_be_visible()
    compared = web.get(
        "/api/v1/workflow-runs/compare",
        a_trace=older["trace_id"], a_span=older["span_id"],
        b_trace=newer["trace_id"], b_span=newer["span_id"],
    )  # fmt: skip
    # Which nodes ran in each: the conditional EscalateNode ran for one ticket only.
    escalate = page.locator("table.cmp-nodes tr", has_text="EscalateNode")
    expect(escalate).to_have_class(re.compile("cmp-differs"))
    expect(escalate).to_contain_text("did not run")
    expect(escalate).to_contain_text("ran")
    # The final states differ where the server says, with both values.
    diff = page.locator("table.cmp-diff tbody tr")
    expect(diff).to_have_count(len(compared["state_diff"]))
    ticket = page.locator("table.cmp-diff tr[data-path='/ticket_id']")
    expect(ticket).to_contain_text('"T-0"')
    expect(ticket).to_contain_text('"T-1"')
    assert_accessible(page)
    # Any step: A after its first change against B at its end.
    page.get_by_label("State of A").select_option(label="after change 1")
    expect(page).to_have_url(re.compile(r"a_index=0"))
    expect(page.locator(".cmp-runs + h2 + table + h2 + p")).to_contain_text("A after change 1")
    at_step = web.get(
        "/api/v1/workflow-runs/compare",
        a_trace=older["trace_id"], a_span=older["span_id"],
        b_trace=newer["trace_id"], b_span=newer["span_id"], a_index="0",
    )  # fmt: skip
    expect(diff).to_have_count(len(at_step["state_diff"]))


def test_the_workflows_page_lists_each_workflow_and_opens_its_runs(signed_in: Page, web, runs):
    page = signed_in
    page.goto(web.url + "/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Workflows").click()
    expect(page.get_by_role("heading", name="Workflows")).to_be_visible()
    order = page.locator("table.wf-workflows tr", has_text="Order Enrichment")
    expect(order.locator("td").nth(2)).to_have_text("2")  # runs
    expect(order.locator("td").nth(3)).to_have_text("2")  # both failed
    assert_accessible(page)
    # The same workflow name in two services is two workflows.
    triage = page.locator("table.wf-workflows tr", has_text="Support Ticket Triage")
    expect(triage).to_have_count(3)  # wf-app, wf-app-legacy, wf-app-loop
    triage.filter(has=page.get_by_role("cell", name="wf-app", exact=True)).get_by_role(
        "link"
    ).first.click()
    expect(page.get_by_role("heading", name="Runs of Support Ticket Triage")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/runs\?service=wf-app&name=Support"))
    expect(page.locator("table.wf-run-list tbody tr")).to_have_count(2)


def test_compare_from_a_run_with_its_previous(signed_in: Page, web, runs):
    page = signed_in
    newer = runs["order"][-1]
    page.goto(web.url + run_path(SERVICE, newer))
    page.get_by_role("link", name="Compare with previous").click()
    expect(page.get_by_role("heading", name="Compare runs of Order Enrichment")).to_be_visible()
    check = page.locator("table.cmp-nodes tr", has_text="CheckInventoryNode")
    expect(check.locator("td").nth(1)).to_have_text("failed")
    expect(check.locator("td").nth(3)).to_have_text("failed")
