"""Issue 5, point 1: the runs table's column picker in headless Chromium: columns of all
matching runs, search, show/hide, pin (sticky at the left), all kept in the URL (reload,
a shared link and the back button give the same view)."""

from __future__ import annotations

import os
from urllib.parse import parse_qs, urlparse

from .test_ui_api import XSS_KEY
from .test_ui_browser import ARTIFACTS, browser, load, run_ids, start_ui, ui, wait_until  # noqa: F401 - fixtures

HEADERS = "ths => ths.map(t => t.dataset.key)"


def headers(page) -> list[str]:
    return page.eval_on_selector_all("#runs thead th", HEADERS)


def shown_in_picker(page) -> list[str]:
    return page.eval_on_selector_all("#column-list li:not([hidden])", "lis => lis.map(li => li.dataset.key)")


def query(page) -> dict:
    return parse_qs(urlparse(page.url).query)


def act(page, fn) -> None:
    """Do something that re-renders the page (a new view), and wait for the render."""
    page.evaluate('document.body.dataset.ready = "0"')
    fn()
    load(page)


def catalog(page, url: str) -> list[dict]:
    return page.evaluate("url => fetch(url).then(r => r.json())", url)["columns"]


def test_picker_lists_all_columns_searches_hides_pins_and_keeps_the_view_in_the_url(ui):
    page, base = ui
    page.set_viewport_size({"width": 800, "height": 800})
    load(page, base + "/team/ui?limit=1")
    assert run_ids(page) == ["ra"]
    # columns of all matching runs, not only the page's (ra has no loss.max, no tensor, no XSS_KEY)
    columns = catalog(page, "/api/columns?project=team/ui")
    defaults = [c["key"] for c in columns if c["default"]]
    assert headers(page) == defaults
    assert {"summary.loss.max", "summary.w", f"config.{XSS_KEY}", "summary.val/acc.best"} <= set(defaults)
    assert "id" not in defaults and "summary.w.mean" not in defaults
    assert page.text_content('#runs tr[data-id="ra"] td[data-key="summary.loss.max"]') == ""

    page.click("#columns-button")
    assert page.is_visible("#column-picker")
    assert shown_in_picker(page) == [c["key"] for c in columns]
    assert page.text_content("#columns-button") == f"Columns ({len(defaults)}/{len(columns)})"

    page.fill("#column-search", "loss")  # substring, case-insensitive
    assert shown_in_picker(page) == ["summary.loss.max", "summary.loss.min"]
    assert query(page)["colq"] == ["loss"]  # in the URL, without a history entry per keystroke
    page.fill("#column-search", r"/^config\./")
    assert shown_in_picker(page) == [c["key"] for c in columns if c["key"].startswith("config.")]
    page.fill("#column-search", "/(/")
    assert "invalid regular expression" in page.text_content("#column-search-error")
    assert page.is_visible("#column-search-error")
    page.fill("#column-search", "")

    act(page, lambda: page.uncheck('#column-list li[data-key="config.opt"] input.col-visible'))  # hide
    assert "config.opt" not in headers(page) and query(page)["hide"] == ["config.opt"]
    assert page.is_visible("#column-picker")  # the picker stays open
    act(page, lambda: page.click('#column-list li[data-key="summary.loss.min"] .col-pin'))  # pin
    pinned_view = [h for h in defaults if h != "config.opt"]
    pinned_view.remove("summary.loss.min")
    pinned_view.insert(0, "summary.loss.min")
    assert headers(page) == pinned_view and query(page)["pin"] == ["summary.loss.min"]
    assert page.get_attribute('#column-list li[data-key="summary.loss.min"] .col-pin', "aria-pressed") == "true"

    # the pinned column stays at the left when the table scrolls sideways
    first = '#runs th[data-key="summary.loss.min"]'
    other = '#runs th[data-key="config.lr"]'
    assert page.eval_on_selector(first, "th => getComputedStyle(th).position") == "sticky"
    before = page.eval_on_selector_all(f"{first}, {other}", "ths => ths.map(t => t.getBoundingClientRect().left)")
    page.eval_on_selector(".table-wrap", "w => { w.scrollLeft = 300; }")
    wait_until(page, "document.querySelector('.table-wrap').scrollLeft > 0")
    after = page.eval_on_selector_all(f"{first}, {other}", "ths => ths.map(t => t.getBoundingClientRect().left)")
    assert after[0] == before[0] and after[1] < before[1]
    page.eval_on_selector(".table-wrap", "w => { w.scrollLeft = 0; }")

    act(page, lambda: page.check('#column-list li[data-key="id"] input.col-visible'))  # a column hidden by default
    q = query(page)
    assert "hide" not in q and "id" in q["col"] and "config.opt" not in q["col"] and q["pin"] == ["summary.loss.min"]
    shared_view = headers(page)
    assert "id" in shared_view and shared_view[0] == "summary.loss.min"
    assert page.text_content('#runs tr[data-id="ra"] td[data-key="id"]') == "ra"
    assert page.text_content('#runs tr[data-id="ra"] td[data-key="summary.loss.min"]') == "0.2"
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, "ui-column-picker.png"), full_page=True)

    page.reload()  # reload: the same view
    load(page)
    assert headers(page) == shared_view
    other_page = page.context.new_page()  # a shared link: the same view
    other_page.goto(page.url)
    load(other_page)
    assert headers(other_page) == shared_view
    other_page.close()

    act(page, page.go_back)  # back: before "id" was shown
    assert headers(page) == pinned_view
    act(page, page.go_back)  # back: before the pin
    assert headers(page) == [h for h in defaults if h != "config.opt"]
    act(page, page.go_forward)
    assert headers(page) == pinned_view

    page.click("#columns-button") if not page.is_visible("#column-picker") else None
    act(page, lambda: page.click("#columns-reset"))
    assert headers(page) == defaults and not {"col", "hide", "pin"} & set(query(page))
    assert page.errors == [] and page.outside == []


def test_picker_follows_the_filter_and_hides_matching(ui):
    page, base = ui
    flt = '{"state": "failed"}'  # rb only: no val/acc.best, no tensor
    load(page, base + "/team/ui?filters=" + flt)
    assert run_ids(page) == ["rb"]
    assert headers(page) == ["name", "state", "created_at", "runtime", "tags", "notes", "config.layers.n",
                             "config.lr", "config.opt", "summary.loss.min", "summary._step"]
    page.click("#columns-button")
    page.fill("#column-search", "config.")
    act(page, lambda: page.click("#columns-hide-all"))
    assert headers(page) == ["name", "state", "created_at", "runtime", "tags", "notes", "summary.loss.min",
                             "summary._step"]
    assert query(page)["hide"] == ["config.layers.n", "config.lr", "config.opt"]
    assert query(page)["filters"] == [flt]
    act(page, lambda: page.click("#columns-show-all"))
    assert "config.lr" in headers(page)
    assert page.errors == [] and page.outside == []


def test_rows_are_drawn_before_the_catalogue_arrives(ui):
    """The page's rows do not wait for the columns of all matching runs (slow on a cold
    cache at 10,000 runs); the table is redrawn with them when they come."""
    page, base = ui
    held = []
    page.route("**/api/columns?*", lambda route: held.append(route))  # hold the catalogue request
    page.goto(base + "/team/ui?limit=1")
    wait_until(page, "document.querySelectorAll('#runs tbody tr').length === 1 || null")
    assert run_ids(page) == ["ra"] and page.is_disabled("#columns-button")
    first = headers(page)  # ra's own columns
    assert "summary.loss.min" in first and "summary.loss.max" not in first and "summary.w" not in first
    assert page.get_attribute("body", "data-ready") == "0"
    assert len(held) == 1
    held[0].continue_()
    load(page)
    assert {"summary.loss.max", "summary.w"} <= set(headers(page)) and not page.is_disabled("#columns-button")
    assert headers(page) == [c["key"] for c in catalog(page, "/api/columns?project=team/ui") if c["default"]]
    assert page.errors == [] and page.outside == []


def test_ints_beyond_2_53_show_every_digit_in_the_table(ui):
    """A JS number would round 2**70 + 1; /api/runs sends such ints as {"$int": digits}."""
    import tracker_core as tc

    page, base = ui
    run = tc.init(project="ui", entity="team", id="rbig", name="big", config={"seed": 2**70 + 1, "small": 2**53 - 1})
    run.summary["count"] = -(2**63) - 7
    run.finish()
    load(page, base + "/team/ui?col=config.seed&col=config.small&col=summary.count&filters="
         + '{"id":"rbig"}')
    assert run_ids(page) == ["rbig"]
    cell = '#runs tr[data-id="rbig"] td[data-key="{}"]'
    assert page.text_content(cell.format("config.seed")) == str(2**70 + 1)
    assert page.text_content(cell.format("config.small")) == str(2**53 - 1)  # still a plain JSON number
    assert page.text_content(cell.format("summary.count")) == str(-(2**63) - 7)
    assert "num" in page.get_attribute(cell.format("summary.count"), "class")
    rows = page.evaluate("url => fetch(url).then(r => r.json())", "/api/runs?project=team/ui&col=config.seed")["runs"]
    assert [r["config"] for r in rows if r["id"] == "rbig"] == [{"seed": {"$int": str(2**70 + 1)}}]
    assert not page.errors
