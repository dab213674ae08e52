// tracker-core UI: vanilla JS, no build step. Every user string goes into the DOM as text
// (textContent / text nodes / setAttribute): never innerHTML with data from the store.

const main = document.getElementById("main");
const crumbs = document.getElementById("crumbs");

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function fmt(v) {
  if (v === null || v === undefined) return "";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

const enc = encodeURIComponent;
const projectHref = (e, p) => `/${enc(e)}/${enc(p)}`;
const runHref = (e, p, id) => `/${enc(e)}/${enc(p)}/runs/${enc(id)}`;

async function getJSON(url) {
  const res = await fetch(url, { headers: { Accept: "application/json" } });
  let body = null;
  try { body = await res.json(); } catch (_) { /* not JSON */ }
  if (!res.ok) throw new Error((body && body.detail) || `${res.status} ${res.statusText}`);
  return body;
}

function showError(where, err) {
  where.append(el("p", { class: "error", role: "alert" }, err.message || String(err)));
}

function setCrumbs(...parts) {
  crumbs.replaceChildren(...parts.flatMap((p, i) => (i ? [el("span", { class: "muted" }, "/"), p] : [p])));
}

function badge(state) {
  return el("span", { class: `badge ${/^[a-z]+$/.test(state) ? state : ""}` }, state);
}

// -- project list ---------------------------------------------------------------------------
async function projectsPage() {
  document.title = "Projects · tracker-core";
  setCrumbs();
  main.replaceChildren(el("h1", {}, "Projects"));
  try {
    const data = await getJSON("/api/projects");
    if (!data.projects.length) { main.append(el("p", { class: "muted" }, "No runs in this store yet.")); return; }
    const body = data.projects.map((p) => el("tr", {},
      el("td", {}, p.entity), el("td", {}, el("a", { href: projectHref(p.entity, p.project) }, p.project)),
      el("td", { class: "num" }, p.runs)));
    main.append(el("table", { id: "projects" },
      el("thead", {}, el("tr", {}, el("th", {}, "entity"), el("th", {}, "project"), el("th", {}, "runs"))),
      el("tbody", {}, body)));
  } catch (err) { showError(main, err); }
}

// -- runs table -----------------------------------------------------------------------------
async function runsPage(entity, project) {
  const params = new URLSearchParams(location.search);
  const state = {
    filters: params.get("filters") || "",
    order: params.get("order") || "",
    offset: Math.max(0, parseInt(params.get("offset") || "0", 10) || 0),
    limit: Math.min(500, Math.max(1, parseInt(params.get("limit") || "50", 10) || 50)),
  };
  document.title = `${project} · tracker-core`;
  setCrumbs(el("a", { href: "/" }, "projects"), el("span", {}, entity), el("a", { href: projectHref(entity, project) }, project));

  const input = el("input", { type: "text", id: "filter", placeholder: '{"state": "finished", "summary_metrics.acc": {"$gt": 0.9}}',
    "aria-label": "filter (JSON)" });
  input.value = state.filters;
  const apply = () => navigate({ ...state, filters: input.value.trim(), offset: 0 });
  input.addEventListener("keydown", (e) => { if (e.key === "Enter") apply(); });
  const toolbar = el("div", { class: "toolbar" }, el("label", { for: "filter" }, "Filter"), input,
    el("button", { id: "apply-filter", type: "button", onclick: apply }, "Apply"),
    el("button", { type: "button", onclick: () => navigate({ ...state, filters: "", offset: 0 }) }, "Clear"));
  const status = el("div", { id: "runs-status" });
  const wrap = el("div", { class: "table-wrap" });
  const pager = el("div", { class: "pager" });
  main.replaceChildren(el("h1", {}, project), toolbar, status, wrap, pager);

  function navigate(next) {
    const q = new URLSearchParams();
    if (next.filters) q.set("filters", next.filters);
    if (next.order) q.set("order", next.order);
    if (next.offset) q.set("offset", String(next.offset));
    if (next.limit !== 50) q.set("limit", String(next.limit));
    history.pushState(null, "", `${projectHref(entity, project)}${q.toString() ? "?" + q : ""}`);
    route();
  }

  const q = new URLSearchParams({ project: `${entity}/${project}`, offset: state.offset, limit: state.limit });
  if (state.filters) q.set("filters", state.filters);
  if (state.order) q.set("order", state.order);
  let data;
  try { data = await getJSON(`/api/runs?${q}`); } catch (err) { showError(status, err); return; }

  const fixed = [
    { key: "name", order: "name" }, { key: "state", order: "state" }, { key: "created_at", order: "created_at" },
    { key: "tags", order: null },
  ];
  const columns = [...fixed, ...data.columns];
  const current = state.order.replace(/^[+-]/, "");
  const desc = state.order.startsWith("-");
  const head = el("tr", {}, columns.map((c) => {
    const sorted = c.order && c.order === current;
    const th = el("th", { class: [c.order ? "sortable" : "", sorted ? (desc ? "sorted-desc" : "sorted-asc") : ""].join(" ").trim(),
      dataset: { key: c.key }, title: c.order ? `sort by ${c.order}` : null }, c.key);
    if (c.order) th.addEventListener("click", () =>
      navigate({ ...state, order: sorted && !desc ? `-${c.order}` : c.order, offset: 0 }));
    return th;
  }));
  const rows = data.runs.map((r) => el("tr", { dataset: { id: r.id } }, columns.map((c) => {
    if (c.key === "name") return el("td", {}, el("a", { href: runHref(r.entity, r.project, r.id), class: "run-link" }, r.name || r.id));
    if (c.key === "state") return el("td", {}, badge(r.state));
    if (c.key === "created_at") return el("td", {}, r.created_at);
    if (c.key === "tags") return el("td", {}, r.tags.map((t) => el("span", { class: "tag" }, t)));
    const [src, ...rest] = c.key.split(".");
    const v = (src === "config" ? r.config : r.summary)[rest.join(".")];
    return el("td", { class: typeof v === "number" ? "num" : null, dataset: { key: c.key } }, fmt(v));
  })));
  wrap.append(el("table", { id: "runs" }, el("thead", {}, head), el("tbody", {}, rows)));
  const last = Math.min(data.total, state.offset + data.runs.length);
  status.append(el("p", { class: "muted" }, data.total ? `${state.offset + 1}–${last} of ${data.total} runs` : "No runs match."));
  pager.append(
    el("button", { type: "button", id: "prev", disabled: state.offset <= 0 ? "" : null,
      onclick: () => navigate({ ...state, offset: Math.max(0, state.offset - state.limit) }) }, "← Previous"),
    el("button", { type: "button", id: "next", disabled: last >= data.total ? "" : null,
      onclick: () => navigate({ ...state, offset: state.offset + state.limit }) }, "Next →"));
}

// -- run overview ---------------------------------------------------------------------------
async function runPage(entity, project, runId) {
  setCrumbs(el("a", { href: "/" }, "projects"), el("span", {}, entity), el("a", { href: projectHref(entity, project) }, project),
    el("span", {}, runId));
  main.replaceChildren();
  let run;
  try {
    run = await getJSON(`/api/runs/${enc(entity)}/${enc(project)}/${enc(runId)}`);
  } catch (err) { showError(main, err); return; }
  document.title = `${run.name || run.id} · tracker-core`;
  const attrs = [["id", run.path], ["state", badge(run.state)], ["created", run.created_at],
    ["runtime", run.runtime === null || run.runtime === undefined ? null : `${Number(run.runtime).toFixed(1)} s`],
    ["group", run.group], ["job type", run.job_type], ["host", run.host],
    ["tags", run.tags.length ? run.tags.map((t) => el("span", { class: "tag" }, t)) : null], ["notes", run.notes || null]];
  main.append(el("h1", { id: "run-name" }, run.name || run.id),
    el("dl", { class: "attrs", id: "attributes" }, attrs.filter(([, v]) => v !== null && v !== undefined && v !== "")
      .map(([k, v]) => [el("dt", {}, k), el("dd", { dataset: { attr: k } }, v)])));

  main.append(el("h2", {}, "Config"));
  main.append(run.config.length ? el("table", { id: "config" },
    el("thead", {}, el("tr", {}, el("th", {}, "key"), el("th", {}, "value"))),
    el("tbody", {}, run.config.map((c) => el("tr", { dataset: { key: c.key } }, el("td", {}, c.key), el("td", { class: "value" }, fmt(c.value))))))
    : el("p", { class: "muted" }, "(empty)"));

  main.append(el("h2", {}, "Summary"));
  main.append(run.summary.length ? el("table", { id: "summary" },
    el("thead", {}, el("tr", {}, el("th", {}, "key"), el("th", {}, "value"), el("th", {}, "how"))),
    el("tbody", {}, run.summary.map((s) => el("tr", { dataset: { key: s.key } }, el("td", { class: "key" }, s.key),
      el("td", { class: "value" }, s.key === "_timestamp" && typeof s.value === "number" ? new Date(s.value * 1000).toISOString() : fmt(s.value)),
      el("td", { class: "how muted" }, s.text)))))
    : el("p", { class: "muted" }, "(empty)"));

  if (run.tensors.length) {
    main.append(el("h2", {}, "Tensors"));
    const keys = [...new Set(run.tensors.flatMap((t) => Object.keys(t)))].filter((k) => k !== "key");
    main.append(el("table", { id: "tensors" }, el("thead", {}, el("tr", {}, el("th", {}, "key"), keys.map((k) => el("th", {}, k)))),
      el("tbody", {}, run.tensors.map((t) => el("tr", {}, el("td", {}, t.key), keys.map((k) => el("td", {}, fmt(t[k]))))))));
  }

  const charts = el("div", { class: "charts", id: "charts" });
  main.append(el("h2", {}, "Charts"), charts);
  try {
    const hist = await getJSON(`/api/runs/${enc(entity)}/${enc(project)}/${enc(runId)}/history`);
    if (!hist.keys.length) { charts.append(el("p", { class: "muted" }, "No history.")); return; }
    for (const key of hist.keys) {
      const s = hist.series[key];
      const plot = el("div", { class: "chart-plot" });
      charts.append(el("div", { class: "chart-box", dataset: { key } }, el("h3", { class: "chart-title" }, key), plot));
      if (window.Plotly) {
        plot.classList.add("chart");
        // user strings never reach Plotly (its titles accept markup): the key is the heading above
        window.Plotly.newPlot(plot, [{ x: s.steps, y: s.values, type: "scatter",
          mode: s.steps.length <= 200 ? "lines+markers" : "lines", marker: { size: 4 }, connectgaps: false,
          hovertemplate: "step %{x}<br>%{y}<extra></extra>" }],
          { margin: { l: 50, r: 10, t: 10, b: 40 }, xaxis: { title: { text: "step" } }, showlegend: false },
          { displaylogo: false, responsive: true });
      } else {
        plot.append(el("p", { class: "muted" }, "plotly.js is not available (pip install 'tracker-core[ui]')."));
      }
    }
  } catch (err) { showError(charts, err); }
}

// -- routing --------------------------------------------------------------------------------
function route() {
  document.body.dataset.ready = "0";
  return render().finally(() => { document.body.dataset.ready = "1"; });
}

function render() {
  const parts = location.pathname.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts.length === 2) return runsPage(parts[0], parts[1]);
  if (parts.length === 4 && parts[2] === "runs") return runPage(parts[0], parts[1], parts[3]);
  return projectsPage();
}

window.addEventListener("popstate", route);
route();
