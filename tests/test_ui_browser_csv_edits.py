"""Issue 5, points 2, 4 and 5 in headless Chromium: the CSV download is the view on screen
with the Api's values; edits of tags, notes and summary with ``--allow-edits`` land in the
store (read through ``tracker_core.Api``); without the flag there are no controls and the
endpoint refuses; hostile strings stay text in the picker, the CSV link and the controls."""

from __future__ import annotations

import math
import os
from urllib.parse import parse_qs, urlparse

from tracker_core.ui.csv_export import export_cell

from .test_ui_api import XSS_KEY, XSS_NAME, XSS_NOTES
from .test_ui_api_views import make_csv_runs, read_csv, tc_flat
from .test_ui_browser import ARTIFACTS, browser, load, run_ids, start_ui, ui, wait_until  # noqa: F401 - fixtures
from .test_ui_browser_columns import headers


def test_csv_download_is_the_view_with_the_api_values(ui, api):
    page, base = ui
    make_csv_runs()
    load(page, base + "/team/csv?order=-config.neg&limit=1&hide=created_at&hide=runtime&pin=summary.loss.min")
    assert run_ids(page) == ["c2"]  # one run on the page, three match
    shown = headers(page)
    assert shown[0] == "summary.loss.min" and "created_at" not in shown and "config.eq" in shown
    with page.expect_download() as info:
        page.click("#csv-link")
    download = info.value
    assert download.suggested_filename == "csv-runs.csv"
    with open(download.path(), newline="", encoding="utf-8") as f:
        rows = read_csv(f.read())
    assert rows[0] == shown  # the same columns, pinned first
    runs = list(api.runs("team/csv", order="-config.neg"))
    assert len(rows) == 1 + len(runs) == 4  # every matching run, not only the page
    for line, run in zip(rows[1:], runs):  # in the same order, with the Api's values
        cells = dict(zip(rows[0], line))
        assert (cells["state"], cells["notes"]) == (run.state, run.notes if not run.notes.startswith("=") else "")
        assert cells["name"] == ("'" + run.name if run.name.startswith("=") else run.name)
        config, summary = tc_flat(run.config), tc_flat(run.summary.to_dict())
        for key in rows[0]:
            if key.startswith("config."):
                assert cells[key] == export_cell(config.get(key[7:])), key
            elif key.startswith("summary."):
                assert cells[key] == export_cell(summary.get(key[8:])), key
    c1 = dict(zip(rows[0], rows[3]))
    assert (c1["config.neg"], c1["summary.loss.min"], c1["summary.ninf"], c1["summary.nan"]) == (
        "-3", "-0.25", "-Infinity", "NaN")
    assert c1["config.eq"] == "'=1+2" and c1["config.dash"] == "'-2+3" and c1["config.numstr"] == "-5"
    assert float(c1["summary.pi"]) == math.pi and c1["notes"] == 'a,b"c\nd'
    assert page.errors == [] and page.outside == []


def test_edits_in_the_page_reach_the_store(start_ui, api):
    page, base = start_ui(allow_edits=True)
    load(page, base + "/team/ui/runs/ra")
    assert page.is_visible("#edit-controls")

    def saved(fn):
        page.evaluate('document.getElementById("edit-status").textContent = ""')
        fn()
        wait_until(page, 'document.getElementById("edit-status").textContent === "Saved."')

    saved(lambda: (page.fill("#tag-input", "golden"), page.click("#tag-add")))
    assert api.run("team/ui/ra").tags == ["base", "golden"]
    assert page.text_content('dd[data-attr="tags"]') == "basegolden"
    saved(lambda: page.click('button.tag-remove[aria-label="remove tag base"]'))
    assert api.run("team/ui/ra").tags == ["golden"]

    saved(lambda: (page.fill("#notes-input", "second try\nwith a newline"), page.click("#notes-save")))
    assert api.run("team/ui/ra").notes == "second try\nwith a newline"

    page.click('#summary tr[data-key="ratio"] .summary-edit')  # edit a value in place
    assert page.input_value('#summary tr[data-key="ratio"] .summary-input') == "0.123456789"
    saved(lambda: (page.fill('#summary tr[data-key="ratio"] .summary-input', "0.5"),
                   page.press('#summary tr[data-key="ratio"] .summary-input', "Enter")))
    assert api.run("team/ui/ra").summary["ratio"] == 0.5
    assert page.text_content('#summary tr[data-key="ratio"] .how') == "set explicitly"

    for key, text, expected in (("test/acc", "0.93", 0.93), ("opt", "adam", "adam"), ("big", "12345678901234567890",
                                                                                      12345678901234567890)):
        saved(lambda: (page.fill("#summary-key", key), page.fill("#summary-value", text), page.click("#summary-set")))
        assert api.run("team/ui/ra").summary[key] == expected
    saved(lambda: (page.fill("#summary-key", "bad"), page.fill("#summary-value", "NaN"), page.click("#summary-set")))
    assert math.isnan(api.run("team/ui/ra").summary["bad"])
    assert page.text_content('#summary tr[data-key="test/acc"] .value') == "0.93"
    assert page.text_content('#summary tr[data-key="big"] .value') == "12345678901234567890"  # exact digits
    page.click('#summary tr[data-key="big"] .summary-edit')  # and saved unchanged, it stays exact
    assert page.input_value('#summary tr[data-key="big"] .summary-input') == "12345678901234567890"
    saved(lambda: page.click('#summary tr[data-key="big"] .summary-save'))
    assert api.run("team/ui/ra").summary["big"] == 12345678901234567890

    page.click('#summary tr[data-key="ratio"] .summary-delete')
    assert page.text_content('#summary tr[data-key="ratio"] .summary-delete') == "confirm delete"
    assert "ratio" in api.run("team/ui/ra").summary  # one click does not delete
    saved(lambda: page.click('#summary tr[data-key="ratio"] .summary-delete'))
    assert "ratio" not in api.run("team/ui/ra").summary and page.locator('#summary tr[data-key="ratio"]').count() == 0
    # aggregates are not edited one by one (set the whole key instead)
    assert page.locator('#summary tr[data-key="loss.min"] .summary-edit').count() == 0

    page.fill("#summary-key", "_step")  # refused with the server's message, nothing written
    page.fill("#summary-value", "5")
    page.click("#summary-set")
    wait_until(page, 'document.getElementById("edit-status").textContent.includes("cannot be edited")')
    assert api.run("team/ui/ra").summary["_step"] == 300
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, "ui-run-overview-edit.png"), full_page=True)
    assert page.errors == [] and page.outside == []


def test_read_only_page_has_no_controls_and_the_server_refuses(ui, api):
    page, base = ui
    load(page, base + "/team/ui/runs/ra")
    assert page.locator("#edit-controls, .summary-edit, .summary-delete, .tag-remove, #notes-input").count() == 0
    res = page.evaluate("""() => fetch('/api/runs/team/ui/ra', {method: 'PATCH',
        headers: {'Content-Type': 'application/json'}, body: JSON.stringify({notes: 'hacked', tags: ['x']})})
        .then(async r => [r.status, (await r.json()).detail])""")
    assert res[0] == 403 and "--allow-edits" in res[1]
    run = api.run("team/ui/ra")
    assert (run.notes, run.tags) == ("first try", ["base"])
    assert page.errors == [] and page.outside == []


def test_hostile_strings_stay_text_in_picker_csv_link_and_edit_controls(start_ui):
    page, base = start_ui(allow_edits=True)
    flt = '{"name": "' + XSS_NAME + '"}'
    load(page, base + "/team/ui?filters=" + flt.replace("#", "%23") + "&pin=config." + XSS_KEY)
    assert run_ids(page) == ["rc"]
    page.click("#columns-button")
    assert page.text_content(f'#column-list li[data-key="config.{XSS_KEY}"] .col-name') == f"config.{XSS_KEY}"
    assert headers(page)[0] == f"config.{XSS_KEY}"
    assert page.text_content(f'#runs th[data-key="config.{XSS_KEY}"]') == f"config.{XSS_KEY}"
    assert page.text_content(f'#runs tr[data-id="rc"] td[data-key="config.{XSS_KEY}"]') == XSS_NAME
    href = page.get_attribute("#csv-link", "href")
    q = parse_qs(urlparse(href).query)
    assert q["filters"] == [flt] and q["pin"] == [f"config.{XSS_KEY}"] and "<" not in href
    page.fill("#column-search", XSS_NOTES)
    assert page.input_value("#column-search") == XSS_NOTES

    load(page, base + "/team/ui/runs/rc")
    assert page.text_content('#tags-editor .tag[data-tag]') == XSS_NAME + "×"
    assert page.input_value("#notes-input") == XSS_NOTES
    page.click('#summary tr[data-key="html"] .summary-edit')
    assert page.input_value('#summary tr[data-key="html"] .summary-input') == XSS_NAME
    page.fill("#tag-input", XSS_NOTES)
    page.click("#tag-add")
    wait_until(page, 'document.querySelectorAll("#tags-editor .tag[data-tag]").length === 2')
    assert page.eval_on_selector_all("#tags-editor .tag[data-tag]", "ts => ts.map(t => t.dataset.tag)") == [
        XSS_NAME, XSS_NOTES]
    assert page.evaluate("document.querySelectorAll('img[src=\"x\"], svg[onload], [onerror], main script').length") == 0
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.errors == [] and page.outside == []
