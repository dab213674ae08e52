"""The UI in a real headless Chromium (Debian's /usr/bin/chromium, driven by playwright).

Skipped only when /usr/bin/chromium is absent (CI installs it). Screenshots go to
test-artifacts/ (gitignored)."""

import os
import socket
import threading
import time

import pytest

CHROMIUM = "/usr/bin/chromium"
if not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)

import uvicorn
from playwright.sync_api import sync_playwright

from tracker_core.ui.app import create_app

from .conftest import ROOT
from .test_ui_api import XSS_NAME, XSS_NOTES, make_runs

ARTIFACTS = os.path.join(ROOT, "test-artifacts")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def start_ui(store_dir, browser):
    """``start_ui(allow_edits=False)``: the UI server on a free 127.0.0.1 port (in a thread)
    over the test store (``make_runs()``), and a fresh page that records page errors and any
    request leaving the server (aborted). Returns ``(page, base_url)``."""
    make_runs()
    started = []

    def start(allow_edits: bool = False):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        app = create_app(str(store_dir), allow_edits=allow_edits, trusted_hosts=["127.0.0.1"])
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "the UI server did not start"
            time.sleep(0.02)
        base = f"http://127.0.0.1:{port}"
        context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(5_000)
        page.errors, page.outside = [], []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))

        def guard(route):
            if route.request.url.startswith(base + "/"):
                route.continue_()
            else:
                page.outside.append(route.request.url)
                route.abort()

        page.route("**/*", guard)
        started.append((context, server, thread, sock))
        return page, base

    yield start
    for context, server, thread, sock in started:
        context.close()
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def ui(start_ui):
    """A read-only UI server and a page: ``(page, base_url)``."""
    return start_ui()


def load(page, url=None):
    if url:
        page.goto(url)
    page.wait_for_selector('body[data-ready="1"]', timeout=10_000)


def wait_until(page, expression: str, timeout: float = 10.0):
    """Poll a JS expression until it is truthy (``page.wait_for_function`` needs eval, which
    the page's Content-Security-Policy forbids); returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(expression)
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for: {expression}"
        time.sleep(0.05)


def run_ids(page):
    return page.eval_on_selector_all("#runs tbody tr", "rows => rows.map(r => r.dataset.id)")


def click_and_wait(page, selector):
    page.evaluate('document.body.dataset.ready = "0"')
    page.click(selector)
    load(page)


def test_table_sort_filter_and_overview(ui, api):
    page, base = ui
    load(page, base + "/")
    assert page.text_content("#projects tbody") .count("ui") == 1
    click_and_wait(page, "#projects a >> text=ui")
    assert page.url == base + "/team/ui"
    assert run_ids(page) == ["ra", "rb", "rc"]
    headers = page.eval_on_selector_all("#runs thead th", "ths => ths.map(t => t.dataset.key)")
    assert headers[:6] == ["name", "state", "created_at", "runtime", "tags", "notes"]
    assert "summary.loss.min" in headers
    assert page.text_content('#runs tr[data-id="rb"] .badge') == "failed"

    click_and_wait(page, 'th[data-key="summary.loss.min"]')  # ascending, missing values last
    assert run_ids(page) == [r.id for r in api.runs("team/ui", order="+summary_metrics.loss.min")] == ["rb", "ra", "rc"]
    assert page.text_content('#runs tr[data-id="rb"] td[data-key="summary.loss.min"]') == "0.05"
    click_and_wait(page, 'th[data-key="summary.loss.min"]')  # descending
    assert run_ids(page) == [r.id for r in api.runs("team/ui", order="-summary_metrics.loss.min")] == ["ra", "rb", "rc"]

    page.fill("#filter", '{"state": "finished"}')
    click_and_wait(page, "#apply-filter")
    expected = [r.id for r in api.runs("team/ui", filters={"state": "finished"}, order="-summary_metrics.loss.min")]
    assert run_ids(page) == expected == ["ra", "rc"]
    assert "1–2 of 2 runs" in page.text_content("#runs-status")

    page.fill("#filter", '{"bogus.field": 1}')
    click_and_wait(page, "#apply-filter")
    assert "unknown filter field 'bogus.field'" in page.text_content("#runs-status .error")

    load(page, base + "/team/ui?order=-summary_metrics.loss.min&limit=2")  # pagination
    assert run_ids(page) == ["ra", "rb"] and page.is_disabled("#prev")
    click_and_wait(page, "#next")
    assert run_ids(page) == ["rc"] and page.is_disabled("#next")
    assert "3–3 of 3 runs" in page.text_content("#runs-status")
    click_and_wait(page, "#prev")
    assert run_ids(page) == ["ra", "rb"]

    load(page, base + "/team/ui?order=-summary_metrics.loss.min")
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, "ui-runs-table.png"), full_page=True)
    click_and_wait(page, '#runs tr[data-id="ra"] a.run-link')
    assert page.url == base + "/team/ui/runs/ra"
    assert page.text_content("#run-name") == "alpha"
    assert page.text_content('dd[data-attr="state"]') == "finished"
    assert page.text_content('dd[data-attr="notes"]') == "first try"
    assert page.text_content('dd[data-attr="created"]') == api.run("team/ui/ra").created_at

    run = api.run("team/ui/ra")
    shown = {r["key"]: (r["value"], r["how"]) for r in page.eval_on_selector_all(
        "#summary tbody tr", "rows => rows.map(r => ({key: r.dataset.key, value: r.querySelector('.value').textContent,"
                             " how: r.querySelector('.how').textContent}))")}
    loss, acc = run.summary.details("loss"), run.summary.details("val/acc")
    assert shown["loss.min"] == (repr(loss["min"]["value"]), f"min @ step {loss['min']['step']} (4 values, 1 NaN)")
    assert shown["loss.min"] == ("0.2", "min @ step 100 (4 values, 1 NaN)")
    assert shown["val/acc.best"] == (repr(acc["best"]["value"]),
                                     f"best, maximize @ step {acc['best']['step']} (4 values)")
    assert shown["ratio"] == (repr(run.summary["ratio"]), "set explicitly")
    assert shown["_step"][0] == "300"
    assert page.text_content('#config tr[data-key="layers.n"] .value') == "2"

    page.wait_for_selector(".chart-box .js-plotly-plot", timeout=10_000)  # plotly.js served locally drew them
    assert page.eval_on_selector_all(".chart-box", "b => b.map(x => x.dataset.key)") == ["loss", "val/acc"]
    page.screenshot(path=os.path.join(ARTIFACTS, "ui-run-overview.png"), full_page=True)
    assert page.errors == [] and page.outside == []


def test_hostile_strings_are_shown_as_text(ui):
    page, base = ui
    load(page, base + "/team/ui")
    cell = page.text_content('#runs tr[data-id="rc"] a.run-link')
    assert cell == XSS_NAME
    assert page.text_content('#runs tr[data-id="rc"] td[data-key="config.opt"]') == XSS_NOTES
    assert page.evaluate("typeof window.__xss") == "undefined"
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, "ui-runs-table-hostile.png"), full_page=True)

    click_and_wait(page, '#runs tr[data-id="rc"] a.run-link')
    assert page.text_content("#run-name") == XSS_NAME
    assert page.text_content('dd[data-attr="notes"]') == XSS_NOTES
    assert page.text_content('#config tr[data-key="opt"] .value') == XSS_NOTES
    assert page.text_content('#summary tr[data-key="html"] .value') == XSS_NAME
    assert page.title() == f"{XSS_NAME} · tracker-core"
    # nothing was parsed as markup: no injected elements, no handler ran
    assert page.evaluate("document.querySelectorAll('img[src=\"x\"], main script, #crumbs script').length") == 0
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator("#tensors").count() == 1
    page.screenshot(path=os.path.join(ARTIFACTS, "ui-run-overview-hostile.png"), full_page=True)
    assert page.errors == [] and page.outside == []
