// The runs table: server-side filter, sort and paging; column picker; CSV export of the
// view; live refresh of running rows.
import { columnPicker, readView, visibleKeys, writeView } from "./columns.js";
import {
  badge, duration, el, fmt, getJSON, isCurrent, poll, projectHref, refreshSeconds, runHref, setCrumbs, showError,
  valueCell,
} from "./util.js";

const FIXED_ORDER = { name: "name", state: "state", created_at: "created_at", runtime: "summary_metrics._runtime",
  tags: null, notes: "notes", group: "group", id: "id", job_type: "job_type", host: "host" };

const FIXED_DEFAULT = new Set(["name", "state", "created_at", "runtime", "tags", "notes"]);
const FIXED_COLUMNS = Object.entries(FIXED_ORDER).map(([key, order]) =>
  ({ key, kind: "run", order, default: FIXED_DEFAULT.has(key) }));

function orderOf(key) {
  if (key in FIXED_ORDER) return FIXED_ORDER[key];
  if (key.startsWith("config.")) return key;
  if (key.startsWith("summary.")) return `summary_metrics.${key.slice("summary.".length)}`;
  return null;
}

function valueOf(r, key) {
  if (key.startsWith("config.")) return r.config[key.slice("config.".length)];
  if (key.startsWith("summary.")) return r.summary[key.slice("summary.".length)];
  return r[key];
}

function cellFor(key, r) {
  const data = { dataset: { key } };
  switch (key) {
    case "name":
      return el("td", data, el("a", { href: runHref(r.entity, r.project, r.id), class: "run-link" }, r.name || r.id));
    case "state": return el("td", data, badge(r.state));
    case "runtime": return el("td", { ...data, class: "num", title: fmt(r.runtime) }, duration(r.runtime));
    case "tags": return el("td", data, (r.tags || []).map((t) => el("span", { class: "tag" }, t)));
    case "notes": return el("td", { ...data, class: "notes", title: r.notes || null }, r.notes);
    case "created_at": case "group": case "id": case "job_type": case "host": return el("td", data, r[key]);
    default: return valueCell(valueOf(r, key), data);
  }
}

// Pinned columns stick to the left: each one's offset is the width of those before it.
function applyPins(table, pinned) {
  let left = 0;
  const head = table.tHead.rows[0];
  for (let i = 0; i < pinned; i += 1) {
    const width = head.cells[i].getBoundingClientRect().width;
    for (const row of table.rows) {
      const cell = row.cells[i];
      if (!cell) continue;
      cell.classList.add("pinned");
      cell.style.left = `${left}px`;
    }
    left += width;
  }
}

function readState() {
  const params = new URLSearchParams(location.search);
  return {
    params,
    filters: params.get("filters") || "",
    order: params.get("order") || "",
    offset: Math.max(0, parseInt(params.get("offset") || "0", 10) || 0),
    limit: Math.min(500, Math.max(1, parseInt(params.get("limit") || "50", 10) || 50)),
    view: readView(params),
  };
}

export async function runsPage(entity, project, gen, route) {
  const state = readState();
  const base = projectHref(entity, project);
  document.title = `${project} · tracker-core`;
  setCrumbs(el("a", { href: "/" }, "projects"), el("span", {}, entity), el("a", { href: base }, project));

  // Change the URL (a history entry when push) and render it again.
  function go(change, push = true) {
    const q = new URLSearchParams(location.search);
    for (const [k, v] of Object.entries(change)) {
      if (v === "" || v === null || v === 0 || (k === "limit" && v === 50)) q.delete(k); else q.set(k, String(v));
    }
    history[push ? "pushState" : "replaceState"](null, "", `${base}${q.toString() ? "?" + q : ""}`);
    return route();
  }

  const input = el("input", { type: "text", id: "filter", value: state.filters, "aria-label": "filter (JSON)",
    placeholder: '{"state": "finished", "summary_metrics.acc": {"$gt": 0.9}}' });
  const apply = () => go({ filters: input.value.trim(), offset: 0 });
  input.addEventListener("keydown", (e) => { if (e.key === "Enter") apply(); });
  const toolbar = el("div", { class: "toolbar" }, el("label", { for: "filter" }, "Filter"), input,
    el("button", { id: "apply-filter", type: "button", onclick: apply }, "Apply"),
    el("button", { type: "button", id: "clear-filter", onclick: () => go({ filters: "", offset: 0 }) }, "Clear"));
  const status = el("div", { id: "runs-status" });
  const wrap = el("div", { class: "table-wrap" });
  const pager = el("div", { class: "pager" });
  main().replaceChildren(el("h1", {}, project), toolbar, status, wrap, pager);

  const scope = new URLSearchParams({ project: `${entity}/${project}` });
  if (state.filters) scope.set("filters", state.filters);
  const q = new URLSearchParams(scope);
  q.set("offset", state.offset);
  q.set("limit", state.limit);
  if (state.order) q.set("order", state.order);
  for (const c of state.view.col || []) q.append("col", c); // only the chosen columns travel
  // The page's rows come first and are drawn at once (with the page's own columns); the
  // catalogue of all matching runs' columns may take longer and redraws the table. It is
  // asked for after the rows, which it would otherwise hold up (one store connection).
  let data;
  try { data = await getJSON(`/api/runs?${q}`); } catch (err) { if (isCurrent(gen)) showError(status, err); return; }
  if (!isCurrent(gen)) return; // a newer route took over
  const catalogRequest = getJSON(`/api/columns?${scope}`);

  const last = Math.min(data.total, state.offset + data.runs.length);
  status.append(el("p", { class: "muted" }, data.total ? `${state.offset + 1}–${last} of ${data.total} runs`
    : "No runs match."));
  pager.append(
    el("button", { type: "button", id: "prev", disabled: state.offset <= 0 ? "" : null,
      onclick: () => go({ offset: Math.max(0, state.offset - state.limit) }) }, "← Previous"),
    el("button", { type: "button", id: "next", disabled: last >= data.total ? "" : null,
      onclick: () => go({ offset: state.offset + state.limit }) }, "Next →"));
  const csv = new URLSearchParams(scope);
  if (state.order) csv.set("order", state.order);
  for (const name of ["col", "hide", "pin"]) for (const v of state.params.getAll(name)) csv.append(name, v);
  const pickerButton = el("button", { type: "button", id: "columns-button", disabled: "" }, "Columns…");
  toolbar.append(pickerButton, el("a", { id: "csv-link", class: "button", href: `/api/runs.csv?${csv}`, download: "",
    title: "all matching runs, these columns, this order" }, "Download CSV"));

  const current = state.order.replace(/^[+-]/, "");
  const desc = state.order.startsWith("-");
  let keys = [];
  let pinnedCount = 0;
  const renderRow = (r) => el("tr", { dataset: { id: r.id, state: r.state } }, keys.map((k) => cellFor(k, r)));
  const table = el("table", { id: "runs" });
  wrap.append(table);
  const draw = (catalog) => {
    const known = new Map([...catalog, ...data.columns].map((c) => [c.key, c]));
    keys = visibleKeys(catalog, state.view);
    pinnedCount = keys.filter((k) => state.view.pin.includes(k)).length;
    const head = el("tr", {}, keys.map((key) => {
      const order = known.has(key) ? known.get(key).order : orderOf(key);
      const sorted = order && order === current;
      const th = el("th", { class: [order ? "sortable" : "", sorted ? (desc ? "sorted-desc" : "sorted-asc") : ""]
        .join(" ").trim() || null, dataset: { key }, title: order ? `sort by ${order}` : null }, key);
      if (order) th.addEventListener("click", () => go({ order: sorted && !desc ? `-${order}` : order, offset: 0 }));
      return th;
    }));
    table.replaceChildren(el("thead", {}, head), el("tbody", {}, data.runs.map(renderRow)));
    applyPins(table, pinnedCount);
  };
  draw([...FIXED_COLUMNS, ...data.columns]);

  let catalog;
  try { catalog = (await catalogRequest).columns; } catch (err) { if (isCurrent(gen)) showError(status, err); return; }
  if (!isCurrent(gen)) return;
  draw(catalog);
  // the picker: a new view goes into the URL (a history entry), then the page renders it
  const { toggle, panel } = columnPicker(catalog, state.view, keys, (visible, pinned, colq, push, reset) => {
    const params = new URLSearchParams(location.search);
    if (reset) writeView(params, catalog, catalog.filter((c) => c.default).map((c) => c.key), [], "");
    else if (visible === null) { if (colq) params.set("colq", colq); else params.delete("colq"); }
    else writeView(params, catalog, visible, pinned, colq);
    history[push ? "pushState" : "replaceState"](null, "", `${base}${params.toString() ? "?" + params : ""}`);
    if (push) route();
  });
  pickerButton.replaceWith(toggle);
  toolbar.after(panel);

  // live refresh: only the running rows, in place, until none is running
  const running = new Set(data.runs.filter((r) => r.state === "running").map((r) => r.id));
  poll(async () => {
    const rq = new URLSearchParams({ project: `${entity}/${project}`, limit: String(running.size),
      filters: JSON.stringify({ id: { $in: [...running] } }) });
    for (const c of state.view.col || []) rq.append("col", c);
    const fresh = await getJSON(`/api/runs?${rq}`);
    const seen = new Set();
    for (const r of fresh.runs) {
      seen.add(r.id);
      const row = [...table.tBodies[0].rows].find((tr) => tr.dataset.id === r.id);
      if (row) row.replaceWith(renderRow(r));
      if (r.state !== "running") running.delete(r.id);
    }
    for (const id of [...running]) if (!seen.has(id)) running.delete(id);
    applyPins(table, pinnedCount);
    return running.size > 0;
  }, running.size ? refreshSeconds() : 0, gen);
}

const main = () => document.getElementById("main");
