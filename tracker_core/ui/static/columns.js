// The runs table's view (visible and pinned columns) and the column picker.
//
// URL parameters (docs/ui.md): col=K (repeated: exactly these columns, in this order) or
// hide=K (repeated: the default columns but these); pin=K (repeated: pinned, shown first and
// sticky at the left); colq=TEXT (the picker's search: a substring, or /regex/).
import { el } from "./util.js";

export function readView(params) {
  const col = params.getAll("col");
  return { col: col.length ? col : null, hide: params.getAll("hide"), pin: params.getAll("pin"),
    colq: params.get("colq") || "" };
}

// Visible keys in display order: pinned first (in their column order), then the others.
export function visibleKeys(catalog, view) {
  let keys;
  if (view.col) keys = [...new Set(view.col)];
  else {
    const hidden = new Set(view.hide);
    keys = catalog.filter((c) => c.default && !hidden.has(c.key)).map((c) => c.key);
  }
  const pinned = new Set(view.pin);
  return [...keys.filter((k) => pinned.has(k)), ...keys.filter((k) => !pinned.has(k))];
}

// The shortest URL form of a view: nothing when it is the default, hide=... when it is the
// default minus some columns, col=... otherwise. Pins only name visible columns.
export function writeView(params, catalog, visible, pinned, colq) {
  for (const name of ["col", "hide", "pin", "colq"]) params.delete(name);
  const shown = new Set(visible);
  const defaults = catalog.filter((c) => c.default).map((c) => c.key);
  const inCatalog = new Set(catalog.map((c) => c.key));
  const onlyDefaults = visible.every((k) => defaults.includes(k));
  const naturalOrder = visible.every((k, i) => i === 0 || defaults.indexOf(visible[i - 1]) < defaults.indexOf(k));
  if (!(onlyDefaults && naturalOrder && visible.every((k) => inCatalog.has(k)))) {
    for (const k of visible) params.append("col", k);
  } else {
    for (const k of defaults) if (!shown.has(k)) params.append("hide", k);
  }
  for (const k of pinned) if (shown.has(k)) params.append("pin", k);
  if (colq) params.set("colq", colq);
}

// A search that is /.../ is a regular expression (case-insensitive), anything else a substring.
export function matcher(query) {
  const q = query.trim();
  if (!q) return { test: () => true, error: null };
  const rx = /^\/(.*)\/$/.exec(q);
  if (rx) {
    try { const re = new RegExp(rx[1], "i"); return { test: (k) => re.test(k), error: null }; }
    catch (err) { return { test: () => true, error: `invalid regular expression: ${err.message}` }; }
  }
  const low = q.toLowerCase();
  return { test: (k) => k.toLowerCase().includes(low), error: null };
}

const picker = { open: false, scroll: 0 }; // survives re-rendering the table

// The picker panel. `apply(visible, pinned, colq, push)` records a new view (push: a history
// entry; otherwise the URL is replaced) and re-renders.
export function columnPicker(catalog, view, visible, apply) {
  const shown = new Set(visible);
  const pinned = new Set(view.pin.filter((k) => shown.has(k)));
  const search = el("input", { type: "search", id: "column-search", placeholder: "search columns (text or /regex/)",
    "aria-label": "search columns", value: view.colq, autocomplete: "off" });
  const message = el("p", { class: "error", id: "column-search-error", hidden: "" });
  const list = el("ul", { id: "column-list", class: "column-list" });
  const order = (keys) => catalog.map((c) => c.key).filter((k) => keys.has(k))
    .concat([...keys].filter((k) => !catalog.some((c) => c.key === k)));
  const commit = (nextShown, nextPinned) => {
    const keys = order(nextShown);
    const vis = view.col ? [...view.col.filter((k) => nextShown.has(k)), ...keys.filter((k) => !view.col.includes(k))]
      : keys;
    picker.scroll = list.scrollTop;
    apply(vis, [...nextPinned].filter((k) => nextShown.has(k)), search.value, true);
  };
  const matching = () => [...list.children].filter((li) => !li.hidden).map((li) => li.dataset.key);

  for (const c of catalog) {
    const id = `col-${catalog.indexOf(c)}`;
    const box = el("input", { type: "checkbox", class: "col-visible", id, checked: shown.has(c.key) ? "" : null });
    box.addEventListener("change", () => {
      const next = new Set(shown);
      if (box.checked) next.add(c.key); else next.delete(c.key);
      commit(next, pinned);
    });
    const pin = el("button", { type: "button", class: "col-pin", "aria-pressed": pinned.has(c.key) ? "true" : "false",
      title: pinned.has(c.key) ? "unpin" : "pin to the left" }, pinned.has(c.key) ? "unpin" : "pin");
    pin.addEventListener("click", () => {
      const next = new Set(pinned);
      const nextShown = new Set(shown);
      if (next.has(c.key)) next.delete(c.key); else { next.add(c.key); nextShown.add(c.key); }
      commit(nextShown, next);
    });
    list.append(el("li", { dataset: { key: c.key, kind: c.kind } }, box,
      el("label", { for: id, class: "col-name" }, c.key), el("span", { class: "muted kind" }, c.kind), pin));
  }
  const filterList = () => {
    const m = matcher(search.value);
    message.hidden = !m.error;
    message.textContent = m.error || "";
    for (const li of list.children) li.hidden = !m.test(li.dataset.key);
  };
  search.addEventListener("input", () => {
    filterList();
    apply(null, null, search.value, false); // remembered in the URL, no history entry per keystroke
  });
  filterList();

  const bulk = (show) => () => {
    const next = new Set(shown);
    for (const k of matching()) if (show) next.add(k); else next.delete(k);
    commit(next, pinned);
  };
  const panel = el("div", { id: "column-picker", class: "picker", hidden: picker.open ? null : "" },
    el("div", { class: "toolbar" }, search,
      el("button", { type: "button", id: "columns-show-all", onclick: bulk(true) }, "Show matching"),
      el("button", { type: "button", id: "columns-hide-all", onclick: bulk(false) }, "Hide matching"),
      el("button", { type: "button", id: "columns-reset", onclick: () => apply([], [], "", true, true) }, "Defaults")),
    message, list);
  const toggle = el("button", { type: "button", id: "columns-button", "aria-expanded": String(picker.open),
    "aria-controls": "column-picker" }, `Columns (${visible.length}/${catalog.length})`);
  toggle.addEventListener("click", () => {
    picker.open = panel.hidden;
    panel.hidden = !picker.open;
    toggle.setAttribute("aria-expanded", String(picker.open));
    if (picker.open) search.focus();
  });
  requestAnimationFrame(() => { list.scrollTop = picker.scroll; });
  return { toggle, panel };
}
