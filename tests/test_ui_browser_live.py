"""Issue 5, point 3 in headless Chromium: running runs refresh without a reload (the table's
running rows and a running run's Overview), polling pauses while the tab is hidden and
stops once the run is no longer running. The run logs from this process (a live
``tracker_core.Run``, its background writer flushing to the store the server reads)."""

from __future__ import annotations

import time

import tracker_core as tc

from .test_ui_browser import browser, load, run_ids, start_ui, ui, wait_until  # noqa: F401 - fixtures

CELL = "document.querySelector('#runs tr[data-id=\"live\"] td[data-key=\"summary.loss\"]').textContent"
POLLS = "Number(document.body.dataset.polls || 0)"


def set_hidden(page, hidden: bool) -> None:
    """What the browser does when the tab goes to the background (or comes back)."""
    page.evaluate("""hidden => {
        Object.defineProperty(document, "hidden", {configurable: true, get: () => hidden});
        document.dispatchEvent(new Event("visibilitychange"));
    }""", hidden)


def log(run, **values) -> None:
    run.log(values)
    run.flush()


def test_running_rows_refresh_in_place_pause_when_hidden_and_stop(ui):
    page, base = ui
    live = tc.init(project="ui", entity="team", id="live", name="live one")
    log(live, loss=0.9)
    load(page, base + "/team/ui?refresh=0.3")
    assert run_ids(page) == ["ra", "rb", "rc", "live"]
    assert page.text_content('#runs tr[data-id="live"] .badge') == "running"
    assert page.locator('#runs tr[data-id="live"] .badge .live-dot').count() == 1
    assert page.evaluate(CELL) == "0.9"
    page.evaluate("""() => { window.__sameDocument = 1;
        document.querySelector('#runs tr[data-id="ra"]').__untouched = 1; }""")

    log(live, loss=0.25)
    wait_until(page, f"{CELL} === '0.25'")  # no reload: the same document, other rows untouched
    assert page.evaluate("window.__sameDocument") == 1
    assert page.evaluate("document.querySelector('#runs tr[data-id=\"ra\"]').__untouched") == 1
    assert page.evaluate("document.querySelector('#runs tr[data-id=\"live\"] td[data-key=\"summary._step\"]')"
                         ".textContent") == "1"

    set_hidden(page, True)  # a hidden tab does not poll
    wait_until(page, "document.body.dataset.polling !== '1'")  # a refresh already on its way lands first
    polls = page.evaluate(POLLS)
    log(live, loss=0.125)
    time.sleep(1.2)
    assert page.evaluate(POLLS) == polls and page.evaluate(CELL) == "0.25"
    set_hidden(page, False)
    wait_until(page, f"{CELL} === '0.125'")

    live.finish()
    wait_until(page, "document.querySelector('#runs tr[data-id=\"live\"] .badge').textContent === 'finished'")
    polls = page.evaluate(POLLS)
    time.sleep(1.2)  # four refresh periods: nothing is running any more, nothing is polled
    assert page.evaluate(POLLS) == polls
    assert page.evaluate("window.__sameDocument") == 1
    assert page.errors == [] and page.outside == []


def test_overview_of_a_running_run_refreshes_summary_and_charts(ui):
    page, base = ui
    live = tc.init(project="ui", entity="team", id="live2", name="live two")
    live.define_metric("loss", summary="min")
    log(live, loss=0.9)
    load(page, base + "/team/ui/runs/live2?refresh=0.3")
    assert page.text_content('dd[data-attr="state"]') == "running"
    assert page.text_content('#summary tr[data-key="loss.min"] .value') == "0.9"
    wait_until(page, "document.querySelector('.chart-box[data-key=\"loss\"] .js-plotly-plot')")
    page.evaluate("window.__sameDocument = 1")

    log(live, loss=0.5, acc=0.7)
    wait_until(page, "document.querySelector('#summary tr[data-key=\"loss.min\"] .value').textContent === '0.5'")
    assert page.text_content('#summary tr[data-key="loss.min"] .how') == "min @ step 1 (2 values)"
    wait_until(page, "document.querySelector('.chart-box[data-key=\"acc\"] .js-plotly-plot')")  # a new key
    assert page.get_attribute('.chart-box[data-key="loss"]', "data-points") == "2"
    assert page.evaluate("document.querySelector('.chart-box[data-key=\"loss\"] .js-plotly-plot').data[0].y") == [
        0.9, 0.5]

    live.finish()
    wait_until(page, "document.querySelector('dd[data-attr=\"state\"]').textContent === 'finished'")
    polls = page.evaluate(POLLS)
    time.sleep(1.2)
    assert page.evaluate(POLLS) == polls and page.evaluate("window.__sameDocument") == 1
    assert page.errors == [] and page.outside == []


def test_no_polling_without_running_runs_or_with_refresh_off(ui):
    page, base = ui
    load(page, base + "/team/ui?refresh=0.2")
    time.sleep(0.8)
    assert page.evaluate(POLLS) == 0
    live = tc.init(project="ui", entity="team", id="live3")
    log(live, loss=1)
    load(page, base + "/team/ui?refresh=0")
    time.sleep(0.8)
    assert page.evaluate(POLLS) == 0
    live.finish()
    assert page.errors == [] and page.outside == []


def test_refresh_does_not_overwrite_an_edit_in_progress(start_ui, api):
    page, base = start_ui(allow_edits=True)
    live = tc.init(project="ui", entity="team", id="live4")
    live.summary["note"] = "first"
    log(live, loss=0.9)
    load(page, base + "/team/ui/runs/live4?refresh=0.3")
    page.click('#summary tr[data-key="note"] .summary-edit')
    page.fill('#summary tr[data-key="note"] .summary-input', "typing…")
    polls = page.evaluate(POLLS)
    log(live, loss=0.1)
    wait_until(page, f"{POLLS} >= {polls + 2} && document.body.dataset.polling !== '1'")
    assert page.input_value('#summary tr[data-key="note"] .summary-input') == "typing…"
    page.press('#summary tr[data-key="note"] .summary-input', "Enter")
    wait_until(page, "document.getElementById('edit-status').textContent === 'Saved.'")
    assert api.run("team/ui/live4").summary["note"] == "typing…"
    wait_until(page, "document.querySelector('#summary tr[data-key=\"loss\"] .value').textContent === '0.1'")
    live.finish()
    assert page.errors == [] and page.outside == []
