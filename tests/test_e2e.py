"""End to end: `streamlit run app.py` on a free local port, driven in headless Chromium.

Waits follow the app's own state (script finished, no skeletons, charts drawn), never sleeps.
Screenshots of every page go to test-artifacts/e2e/ for a person to look at.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.serve import CHROMIUM_FLAGS, PIDS, running_app
from bench.serve import wait_ready as app_ready
from lib import saved

from .conftest import ROOT

pytestmark = pytest.mark.browser
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PROJECTION_TABS = ["Both sides' risk", "Partners and money flow", "Outcomes", "Cost bridge", "Money"]
RISK_TABS = ["Over time and partners", "Stress tests", "UnitingCare replay", "What would make it fail", "Distribution"]
PAGES = {
    "": "Care Models Lab", "design": "Design the deal", "projections": "Projections", "risk": "Risk", "evidence": "Evidence",
    "data": "Data",
}  # fmt: skip


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with running_app(ROOT / "test-artifacts" / "streamlit-e2e.log") as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed: run the README's test command (bash scripts/test.sh)")
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield instance
        instance.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    context.close()
    assert not errors, errors


def wait_ready(page) -> None:
    """The app has finished running (see tests/serve.py), with no exception and no dialog."""
    app_ready(page)
    assert page.locator("[data-testid='stException']").count() == 0, page.locator(
        "[data-testid='stException']"
    ).first.inner_text()
    assert page.locator("[role='dialog']").count() == 0, page.locator("[role='dialog']").first.inner_text()


def tiles(page) -> dict[str, str]:
    labels = page.locator("[data-testid='stMetricLabel']").all_inner_texts()
    values = page.locator("[data-testid='stMetricValue']").all_inner_texts()
    return {label.strip(): value.strip() for label, value in zip(labels, values, strict=True)}


def go(page, base: str, path: str) -> None:
    page.goto(f"{base}/{path}")
    wait_ready(page)


def nav(page, title: str, path: str) -> None:
    page.locator("[data-testid='stSidebarNav']").get_by_text(title, exact=True).click()
    page.wait_for_url(re.compile(rf"/{path}(\?|$)"), timeout=90_000)
    wait_ready(page)


def wait_for_new_tiles(page, before: list[str]) -> None:
    """Wait until the tiles show something other than `before` (the rerun has arrived)."""
    page.wait_for_function(
        """before => [...document.querySelectorAll('[data-testid="stMetricValue"]')]
                       .map(e => e.innerText).join('|') !== before.join('|')""",
        arg=before,
        timeout=90_000,
    )
    wait_ready(page)


def move_loss_share(page, key: str) -> None:
    """On Design's risk tab, press `key` on the loss share's slider and wait for the new tiles."""
    page.get_by_role("tab", name="4 · Risk split", exact=True).click()
    wait_ready(page)
    before = page.locator("[data-testid='stMetricValue']").all_inner_texts()
    loss = slider(page, "loss share")
    loss.focus()
    loss.press(key)
    wait_for_new_tiles(page, before)


def save_design(page, name: str, group: str = "") -> None:
    """Save the design open on Design under `name` (and `group`), and wait for the acknowledgement."""
    page.get_by_role("button", name="Save").first.click()
    page.get_by_label("Name").fill(name)
    if group:
        page.get_by_label("Group (optional)").fill(group)
    page.get_by_role("button", name="Save the design").click()
    page.wait_for_selector("[data-testid='stAlertContentSuccess']", timeout=90_000)


def open_saved(page, base: str, name: str) -> None:
    """Find a saved design on the Saved and compared page and open it on Design."""
    go(page, base, "compare")
    page.locator("[data-testid='stSelectbox']").filter(has_text="Saved design").click()
    page.keyboard.type(name)
    page.keyboard.press("Enter")
    wait_ready(page)
    page.get_by_role("button", name="Open it").click()
    page.wait_for_url(re.compile(r"/design(\?|$)"), timeout=90_000)
    wait_ready(page)


def slider(page, text: str):
    """The slider whose widget (label) contains `text`."""
    return page.locator("[data-testid='stSlider']").filter(has_text=text).get_by_role("slider").first


def test_every_page_renders_without_exception(page, server):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for path, heading in PAGES.items():
        go(page, server, path)
        assert heading in page.locator("h1").first.inner_text()
        page.screenshot(path=str(ARTIFACTS / f"{path or 'home'}.png"), full_page=True)
    go(page, server, "projections")
    for tab in ["Both sides' risk", "Partners and money flow", "Outcomes", "Cost bridge", "Money"]:
        page.get_by_role("tab", name=tab, exact=True).click()
        wait_ready(page)
        assert page.locator("[data-testid='stPlotlyChart']").count() >= 1
        page.screenshot(path=str(ARTIFACTS / f"projections-{tab.split()[0].lower()}.png"), full_page=True)


def test_start_from_dudley_change_loss_share_and_projections_redraw(page, server):
    go(page, server, "")
    page.get_by_role("button", name="Start from Dudley").click()
    page.wait_for_url(re.compile(r"/design(\?|$)"), timeout=90_000)  # the click reruns Home, which switches page
    wait_ready(page)
    assert "Design the deal: Dudley" in page.locator("h1").first.inner_text()

    nav(page, "Projections", "projections")
    before = tiles(page)
    assert before["Provider fails"] != "0%"

    nav(page, "Design the deal", "design")
    page.get_by_role("tab", name="4 · Risk split", exact=True).click()
    wait_ready(page)
    loss = slider(page, "loss share")
    summary = page.locator("[data-testid='stMetricValue']").all_inner_texts()
    loss.focus()
    loss.press("Home")  # to 0%
    wait_for_new_tiles(page, summary)  # the Design summary shows the new loss share
    assert loss.input_value() == "0"

    nav(page, "Projections", "projections")
    after = tiles(page)
    assert after != before
    assert after["Provider fails"] == "0%"
    detail = page.locator("[data-testid='stCaptionContainer']").filter(has_text="cumulative after year 15").first.inner_text()
    assert "P10 −" not in detail
    page.screenshot(path=str(ARTIFACTS / "dudley-loss-share-zero.png"), full_page=True)


def test_salford_pool_social_care_out_then_move_loss_share(page, server):
    go(page, server, "")
    page.get_by_role("button", name="Start from Salford").click()
    page.wait_for_url(re.compile(r"/design(\?|$)"), timeout=90_000)
    wait_ready(page)
    before = page.locator("[data-testid='stMetricValue']").all_inner_texts()
    row = page.locator("[data-testid='stHorizontalBlock']").filter(has_text="Adult social care").last  # its own row
    social = row.get_by_role("slider").first
    social.focus()
    social.press("Home")
    wait_for_new_tiles(page, before)
    assert page.locator("[data-testid='stMetricValue']").first.inner_text() != before[0]  # pooled budget fell

    nav(page, "Projections", "projections")
    first = tiles(page)
    loss = slider(page, "Loss share")  # the median provider position is a loss: its share moves it
    loss.focus()
    for _ in range(4):
        loss.press("ArrowLeft")
    wait_for_new_tiles(page, list(first.values()))
    assert loss.input_value() != "50"
    second = tiles(page)
    assert second["Provider side"] != first["Provider side"]
    page.screenshot(path=str(ARTIFACTS / "salford-loss-share.png"), full_page=True)


def test_a_first_visit_straight_to_a_page_is_drawn_inside_the_frame(browser):
    """On a freshly started server the first request may run a page file alone; the page hands
    itself to the frame, so it still has its navigation and sidebar."""
    with running_app(ROOT / "test-artifacts" / "streamlit-e2e-first-visit.log") as base:
        context = browser.new_context(viewport={"width": 1440, "height": 1000})
        tab = context.new_page()
        try:
            go(tab, base, "projections")
            assert "Projections: Salford" in tab.locator("h1").first.inner_text()
            sidebar = tab.locator("[data-testid='stSidebar']").inner_text()
            assert "Template:" in sidebar and "pooled" in sidebar
            links = tab.locator("[data-testid='stSidebarNav'] a").all_inner_texts()
            expected = ["Home", "Design the deal", "Projections", "Risk", "Saved and compared", "Evidence", "Data"]
            assert [link.strip().splitlines()[-1] for link in links] == expected
            tab.screenshot(path=str(ARTIFACTS / "first-visit-projections.png"), full_page=True)
        finally:
            context.close()


def lower_the_loss_share(page, server, presses: int) -> dict[str, str]:
    """On Projections, lower the loss share by `presses` steps; the tiles once the link holds it."""
    go(page, server, "projections")
    first = tiles(page)
    loss = slider(page, "Loss share")
    loss.focus()
    for _ in range(presses):
        loss.press("ArrowLeft")
    wait_for_new_tiles(page, list(first.values()))
    page.wait_for_function("() => location.search.includes('s=')", timeout=30_000)
    return tiles(page)


def test_a_reload_or_a_copied_link_keeps_the_design(page, server, browser):
    designed = lower_the_loss_share(page, server, 3)
    link = page.url
    page.reload()
    wait_ready(page)
    assert tiles(page) == designed
    other = browser.new_context(viewport={"width": 1440, "height": 1000})  # someone else opens the link
    try:
        tab = other.new_page()
        tab.goto(link)
        wait_ready(tab)
        assert tiles(tab) == designed
    finally:
        other.close()


def back_to(page, path: str) -> None:
    """Press back until the browser shows `path` again. Streamlit's frontend sometimes records a
    page switch twice in the history (when the page's first run is slow), so allow a second press."""
    for _ in range(2):
        page.go_back()
        try:
            page.wait_for_url(re.compile(rf"/{path}\?s="), timeout=10_000)
            break
        except Exception:  # still on the switch's duplicate entry
            continue
    wait_ready(page)
    assert re.search(rf"/{path}\?s=", page.url), page.url


def test_back_and_forward_keep_the_design(page, server):
    designed = lower_the_loss_share(page, server, 2)
    nav(page, "Design the deal", "design")
    back_to(page, "projections")
    assert tiles(page) == designed
    page.reload()  # the page that back returned to still holds the design in its link
    wait_ready(page)
    assert tiles(page) == designed
    page.go_forward()
    page.wait_for_url(re.compile(r"/design\?s="), timeout=90_000)
    wait_ready(page)
    nav(page, "Projections", "projections")
    assert tiles(page) == designed


WCAG_21_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


def accessibility_violations(page) -> list[str]:
    """Every WCAG 2.1 A and AA rule axe-core finds broken on the page as drawn."""
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(page, options=WCAG_21_AA).response["violations"]
    return [f"{v['id']} ({len(v['nodes'])}): {v['nodes'][0].get('failureSummary', '')[:200]}" for v in found]


@pytest.mark.parametrize("path", ["", "design", "projections", "risk", "compare", "evidence", "data"])
def test_every_page_meets_wcag_21_aa(page, server, path):
    go(page, server, path)
    assert accessibility_violations(page) == []


def test_presentation_mode_steps_through_every_chart_with_the_arrow_keys_and_stays_accessible(page, server):
    go(page, server, "projections?present=1")
    assert page.locator("[data-testid='stSidebar']").count() == 0
    assert page.locator("[data-testid='stSlider']").count() == 0
    headings = [page.locator("h3").first.inner_text()]
    assert headings[0].startswith("1 of 8") and accessibility_violations(page) == []
    for n in range(2, 9):
        page.keyboard.press("ArrowRight")
        page.wait_for_function("n => document.querySelector('h3')?.innerText.startsWith(n + ' of 8')", arg=n, timeout=90_000)
        wait_ready(page)
        assert page.locator("[data-testid='stPlotlyChart']").count() == 1
        headings.append(page.locator("h3").first.inner_text())
        assert accessibility_violations(page) == [], headings[-1]
    page.keyboard.press("ArrowLeft")
    page.wait_for_function("() => document.querySelector('h3')?.innerText.startsWith('7 of 8')", timeout=90_000)
    assert len(set(headings)) == 8


def download(page, label: str, folder: Path) -> Path:
    page.locator("[data-testid='stSidebar']").get_by_role("button", name="Download").click()
    page.get_by_role("button", name=label).wait_for(timeout=90_000)
    with page.expect_download(timeout=120_000) as started:
        page.get_by_role("button", name=label).click()
    target = folder / started.value.suggested_filename
    started.value.save_as(target)
    page.keyboard.press("Escape")
    return target


def test_the_board_pack_and_the_excel_file_leave_the_app_whole(page, server, browser, tmp_path):
    import pandas as pd

    go(page, server, "projections")
    designed = tiles(page)
    workbook = pd.read_excel(download(page, "Projections and assumptions (Excel)", tmp_path), sheet_name=None)
    assert set(workbook) == {"about", "headline", "yearly", "outcomes", "partners", "failure_by_year", "assumptions"}
    assert workbook["assumptions"]["source"].str.len().min() > 0 and len(workbook["yearly"]) > 50
    pack = download(page, "Board pack (HTML, opens offline)", tmp_path)
    asked: list[str] = []  # every address the pack asks for, at any size
    for width, height in ((1400, 1000), (1280, 720), (1024, 768)):  # a wide screen, a laptop, a projector
        offline = browser.new_context(viewport={"width": width, "height": height}, offline=True)
        offline.route("**/*", lambda route: (asked.append(route.request.url), route.continue_()))
        try:
            view = offline.new_page()
            view.goto(pack.as_uri())
            view.wait_for_function("() => document.querySelectorAll('.js-plotly-plot .main-svg').length >= 14", timeout=60_000)
            assert [url for url in asked if not url.startswith("file:")] == []  # nothing fetched
            text = view.locator("body").inner_text()
            assert designed["Provider fails"] in text and designed["Commissioners short"] in text
            assert "Assumptions and their sources" in text
            assert "Stress tests" in text and "What would make it fail" in text and "Evidence check" in text
            raw = [w for w in RAW_WORDS if w in text] + re.findall(r"(?<![\d.])0\.\d{3,}(?![\d%])", text)
            assert raw == [], (width, raw)  # no ids, no bare probabilities
            assert view.evaluate(CHART_CLASHES) == [], width  # no legend over an axis title, no clipped title
            assert view.evaluate(WIDE_TABLES) == 0, width  # every table fits the page
        finally:
            offline.close()


def test_home_opens_at_its_own_path(page, server):
    go(page, server, "home")
    assert "Care Models Lab" in page.locator("h1").first.inner_text()
    marked = page.locator("[data-testid='stSidebarNav'] a[aria-current='page']")
    assert marked.count() == 1 and "Home" in marked.inner_text()  # the sidebar says where the person is


def test_save_in_one_browser_and_open_it_in_another_on_a_second_replica(page, server, browser):
    go(page, server, "design")
    move_loss_share(page, "Home")
    designed = page.locator("[data-testid='stMetricValue']").all_inner_texts()
    save_design(page, "Browser table 7", "Browsers")

    # Someone else, on a second replica of the app (its own process, the same saved scenarios):
    other = browser.new_context(viewport={"width": 1440, "height": 1000})
    try:
        with running_app(ROOT / "test-artifacts" / "streamlit-e2e-replica.log") as second:
            tab = other.new_page()
            open_saved(tab, second, "Browser table 7")
            assert tab.locator("[data-testid='stMetricValue']").all_inner_texts() == designed
    finally:
        other.close()


def test_an_acknowledged_save_survives_the_server_killed(browser):
    """Save in the browser, kill -9 the server the moment the save is acknowledged, read the file."""
    with running_app(ROOT / "test-artifacts" / "streamlit-e2e-kill.log") as base:
        context = browser.new_context(viewport={"width": 1440, "height": 1000})
        try:
            tab = context.new_page()
            go(tab, base, "design")
            save_design(tab, "Saved before the crash")
            os.kill(PIDS[base], signal.SIGKILL)
        finally:
            context.close()
    opened, _ = saved.load("Saved before the crash")
    assert opened.scenario.template == "salford"


CUT_TEXT = """() => [...document.querySelectorAll('.stMarkdownEllipsis')]
    .filter(e => e.offsetParent !== null && e.scrollWidth > e.clientWidth + 1).map(e => e.innerText.trim().slice(0, 40))
  .concat([...document.querySelectorAll('[role="tab"]')].filter(t => {
    const list = t.closest('[role="tablist"]').getBoundingClientRect(), r = t.getBoundingClientRect();
    return r.right > list.right + 1 || r.left < list.left - 1; }).map(t => 'tab hidden: ' + t.innerText.trim()))
  .concat([...document.querySelectorAll('h1, h2, h3')].filter(h => h.offsetParent !== null && h.scrollWidth > h.clientWidth + 1)
    .map(h => 'heading wider than its box: ' + h.innerText.trim().slice(0, 40)))"""


WIDE_TABLES = "() => [...document.querySelectorAll('table')].filter(t => t.scrollWidth > document.body.clientWidth + 1).length"
RAW_WORDS = ("_gbp_", "full_risk", "gain_share", "_chance", "p_over_capacity", "provider_p50", "contract.route")
FITS = """() => [...document.querySelectorAll('.js-plotly-plot, [data-testid="stMetric"]')]
    .every(e => e.getBoundingClientRect().bottom <= window.innerHeight + 1)"""
SLIDE_SHOWN = "n => document.querySelector('h3')?.innerText.startsWith(n + ' of 8')"
CHART_CLASHES = """() => [...document.querySelectorAll('.js-plotly-plot')].map(g => {
  const box = s => { const e = g.querySelector(s); return e ? e.getBoundingClientRect() : null; };
  const hit = (a, b) => a && b && a.width && b.width
    && !(a.right < b.left || b.right < a.left || a.bottom < b.top || b.bottom < a.top);
  const legend = box('.legend'), title = g.querySelector('.gtitle'), out = [];
  if (hit(legend, box('.xtitle'))) out.push('legend over the x-axis title');
  if (hit(legend, box('.nsewdrag'))) out.push('legend over the plot');
  if (hit(legend, title && title.getBoundingClientRect())) out.push('legend over the title');
  if (title && title.getBoundingClientRect().right > g.getBoundingClientRect().right + 1) out.push('title clipped');
  return out.length ? (title ? title.textContent.slice(0, 40) : 'a chart') + ': ' + out.join(', ') : null;
}).filter(Boolean)"""


def test_no_tile_or_button_is_cut_on_a_projector_a_laptop_or_a_wide_screen_and_nothing_is_fetched(page, server):
    """Every page at 1024x768 (projectors), 1280x720 (laptops) and 1400x1000, in one page session:
    no tile's label or value and no button's label is wider than its box, no raw identifier or bare
    probability (0.888) is on screen, axe-core finds no WCAG 2.1 AA fault, no chart's legend covers
    its axis title, plot or title and no chart title is clipped, no tab is scrolled out of
    sight, no heading is wider than its box, and no request leaves the
    app (offline rooms exist: the icon is served by the app)."""
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((server, "data:", "blob:")) else None)
    cut: dict[str, list[str]] = {}
    for width, height in ((1024, 768), (1280, 720), (1400, 1000)):
        page.set_viewport_size({"width": width, "height": height})
        for path in ("", "design", "projections", "risk", "compare", "evidence", "data"):
            go(page, server, path)
            shown = page.locator("[data-testid='stMain']").inner_text()
            raw = [w for w in RAW_WORDS if w in shown] + re.findall(r"(?<![\d.])0\.\d{3,}(?![\d%])", shown)
            found = page.evaluate(CUT_TEXT) + page.evaluate(CHART_CLASHES) + raw + accessibility_violations(page)
            if found:
                cut[f"{width}x{height} /{path}"] = found
        go(page, server, "?present=1")  # presentation mode, every slide
        for slide in range(1, 9):
            if slide > 1:
                page.keyboard.press("ArrowRight")
                page.wait_for_function(SLIDE_SHOWN, arg=slide, timeout=90_000)
                wait_ready(page)
            found = page.evaluate(CUT_TEXT) + page.evaluate(CHART_CLASHES)
            if not page.evaluate(FITS):
                found.append("the chart or the tiles run below the screen")
            if found:
                cut[f"{width}x{height} presentation slide {slide}"] = found
    page.set_viewport_size({"width": 1024, "height": 768})  # presenting from the sidebar's button
    go(page, server, "design")
    page.get_by_role("button", name="Present to the room").click()
    page.wait_for_function(SLIDE_SHOWN, arg=1, timeout=90_000)
    wait_ready(page)
    assert not page.locator("[data-testid='stSidebar']").is_visible()  # the empty sidebar does not squeeze slide 1
    if found := page.evaluate(CUT_TEXT):
        cut["1024x768 presentation from the sidebar button"] = found
    design_tabs = ["2 · Who holds the budget", "3 · Contract", "4 · Risk split", "5 · Levers", "6 · Uncertainty"]
    for path, tabs in {"projections": PROJECTION_TABS, "risk": RISK_TABS, "design": design_tabs}.items():  # on a projector
        page.set_viewport_size({"width": 1024, "height": 768})
        go(page, server, path)
        for tab in tabs:
            page.get_by_role("tab", name=tab, exact=True).click()
            wait_ready(page)
            if found := page.evaluate(CHART_CLASHES) + page.evaluate(CUT_TEXT):
                cut[f"1024x768 /{path} {tab}"] = found
    assert not cut, cut
    assert not outside, outside[:5]


def test_a_reload_keeps_the_open_tab(page, server):
    go(page, server, "risk")
    page.get_by_role("tab", name="Stress tests", exact=True).click()
    page.wait_for_url(re.compile(r"tab=Stress"), timeout=90_000)
    wait_ready(page)
    page.reload()
    wait_ready(page)
    assert page.get_by_role("tab", name="Stress tests", exact=True).get_attribute("aria-selected") == "true"
    nav(page, "Projections", "projections")  # to another page and back: the tab is as it was left
    wait_ready(page)
    nav(page, "Risk", "risk")
    wait_ready(page)
    assert page.get_by_role("tab", name="Stress tests", exact=True).get_attribute("aria-selected") == "true"


def test_a_template_started_from_far_down_home_opens_its_design_at_the_top(page, server):
    go(page, server, "")
    start = page.get_by_role("button", name="Start from Better Care Fund section 75 pool (a typical area)")
    start.scroll_into_view_if_needed()
    scrolled = "() => document.querySelector('[data-testid=\"stMain\"]').scrollTop"
    assert page.evaluate(scrolled) > 500  # the card is far down Home
    start.click()
    page.wait_for_url(re.compile(r"/design(\?|$)"), timeout=90_000)
    wait_ready(page)
    page.wait_for_function(f"({scrolled})() === 0", timeout=5_000)
    assert page.get_by_role("heading", level=1).first.is_visible()
