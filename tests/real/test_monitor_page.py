"""The live monitor page in a real headless Chromium (Debian's), while real calls go through the
sandbox Asterisk: the caller's words as they are heard, the routed call, the grammar's to-do."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from ivr.monitoring.mermaid_asset import fetch_mermaid, mermaid_script
from ivr.sandbox import CallLab, SandboxInfo
from ivr.sandbox.prompts import SWITCHBOARD_KO_CALLERS, confirming, script
from ivr.telephony.app import SpeechIvrApp

pytestmark = pytest.mark.real

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("SPEECH_IVR_TEST_ARTIFACTS", "test-artifacts"))
"""Where the page's screenshot is saved (CI keeps it)."""

# Every change to an active call's words, with its verdict at that moment: the page may show
# a partial result for less than a frame, so the page itself notes each one as it happens.
WATCH_PARTIALS = """
window.partialsSeen = [];
new MutationObserver(() => {
  for (const row of document.querySelectorAll("tr[data-call-id]")) {
    const partial = row.querySelector(".partial")?.textContent ?? "";
    const verdict = row.querySelector(".verdict")?.textContent ?? "";
    window.partialsSeen.push({call: row.dataset.callId, partial, verdict});
  }
}).observe(document.body, {subtree: true, childList: true, characterData: true});
"""


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    if not mermaid_script().is_file():
        await fetch_mermaid()  # the flow graphs are drawn with it (from the npm registry, once)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        await browser.close()


@pytest.fixture
async def page(browser: Browser, ivr_app: SpeechIvrApp) -> AsyncIterator[Page]:
    assert ivr_app.monitoring is not None and ivr_app.monitoring.url is not None
    context = await browser.new_context(viewport={"width": 1280, "height": 1400})
    page = await context.new_page()
    origin = ivr_app.monitoring.url
    errors: list[str] = []
    elsewhere: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", lambda request: None if request.url.startswith(origin) else elsewhere.append(request.url))
    await page.goto(origin + "monitor/")
    await page.evaluate(WATCH_PARTIALS)
    yield page
    await context.close()
    assert not errors, errors
    assert not elsewhere, elsewhere  # it works offline: nothing from anywhere but the app


async def test_the_page_shows_calls_as_they_are_heard_and_where_they_went(
    page: Page, ivr_app: SpeechIvrApp, lab: CallLab, sandbox: SandboxInfo
) -> None:
    # A caller who says 영업 (sales), and one whose 환불 twice has no route in ivr-test.
    sales = await lab.call(speech=confirming(sandbox.sounds_dir, SWITCHBOARD_KO_CALLERS["sales"]), flow="switchboard-ko")
    support = SWITCHBOARD_KO_CALLERS["support"]
    unmatched = await lab.call(speech=script(sandbox.sounds_dir, support, 2.0, support), flow="ivr-test")
    await sales.arrival(timeout=30)
    await unmatched.arrival(timeout=40)

    # While the caller spoke, the page showed the words heard so far, before any verdict.
    seen = await page.evaluate("window.partialsSeen")
    heard = [s for s in seen if s["call"] == sales.other_id and s["partial"].strip() and not s["verdict"].strip()]
    assert heard, [s for s in seen if s["call"] == sales.other_id]
    # Then the routed call with its destination, and 환불 on the grammar's to-do list.
    routed = page.locator(f'.recent-call[data-destination^="ivr-dest,sales"]')
    await routed.first.wait_for(timeout=10_000)
    todo = page.locator('#todo .todo-item[data-kind="no-match"]', has_text="환불")
    await todo.first.wait_for(timeout=10_000)
    # Each loaded flow's graph, drawn by Mermaid (served by the app, not fetched elsewhere).
    await page.locator("#flows svg").first.wait_for(timeout=10_000)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "monitor.png"), full_page=True)
    await sales.gone()
    await unmatched.gone()
