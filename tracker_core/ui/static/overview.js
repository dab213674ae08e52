// The run Overview: header, config, summary (how and at which step), tensors, charts; live
// refresh while the run is running; edit controls when the server allows edits.
import { editControls, summaryActions } from "./edits.js";
import {
  badge, duration, el, fmt, getJSON, isCurrent, poll, projectHref, refreshSeconds, runApi, setCrumbs, showError,
} from "./util.js";

function attributes(run) {
  const attrs = [["id", run.path], ["state", badge(run.state)], ["created", run.created_at],
    ["runtime", run.runtime === null || run.runtime === undefined ? null : duration(Number(run.runtime))],
    ["group", run.group], ["job type", run.job_type], ["host", run.host],
    ["tags", run.tags.length ? run.tags.map((t) => el("span", { class: "tag" }, t)) : null],
    ["notes", run.notes || null]];
  return el("dl", { class: "attrs", id: "attributes" }, attrs.filter(([, v]) => v !== null && v !== undefined && v !== "")
    .map(([k, v]) => [el("dt", {}, k), el("dd", { dataset: { attr: k } }, v)]));
}

function configSection(run) {
  return el("section", { id: "config-section" }, el("h2", {}, "Config"), run.config.length
    ? el("table", { id: "config" },
      el("thead", {}, el("tr", {}, el("th", {}, "key"), el("th", {}, "value"))),
      el("tbody", {}, run.config.map((c) => el("tr", { dataset: { key: c.key } }, el("td", {}, c.key),
        el("td", { class: "value" }, fmt(c.value))))))
    : el("p", { class: "muted" }, "(empty)"));
}

function summarySection(run, ctx) {
  const shown = (s) => {
    if (s.key === "_timestamp" && typeof s.value === "number") return new Date(s.value * 1000).toISOString();
    if (Number.isInteger(s.value) && !Number.isSafeInteger(s.value) && s.edit_text) return s.edit_text; // exact digits
    return fmt(s.value);
  };
  const head = [el("th", {}, "key"), el("th", {}, "value"), el("th", {}, "how"), run.editable ? el("th", {}, "") : null];
  const rows = run.summary.map((s) => el("tr", { dataset: { key: s.key } }, el("td", { class: "key" }, s.key),
    el("td", { class: "value" }, shown(s)), el("td", { class: "how muted" }, s.text),
    run.editable ? el("td", { class: "actions" }, summaryActions(run, s, ctx)) : null));
  return el("section", { id: "summary-section" }, el("h2", {}, "Summary"), run.summary.length
    ? el("table", { id: "summary" }, el("thead", {}, el("tr", {}, head)), el("tbody", {}, rows))
    : el("p", { class: "muted" }, "(empty)"));
}

function tensorsSection(run) {
  if (!run.tensors.length) return el("section", { id: "tensors-section" });
  const keys = [...new Set(run.tensors.flatMap((t) => Object.keys(t)))].filter((k) => k !== "key");
  return el("section", { id: "tensors-section" }, el("h2", {}, "Tensors"),
    el("p", { class: "muted" }, "The full tensor: tracker_core.Api().run(path).summary.load_tensor(key)"),
    el("table", { id: "tensors" }, el("thead", {}, el("tr", {}, el("th", {}, "key"), keys.map((k) => el("th", {}, k)))),
      el("tbody", {}, run.tensors.map((t) => el("tr", {}, el("td", {}, t.key), keys.map((k) => el("td", {}, fmt(t[k]))))))));
}

// plotly.js (from the plotly Python package, served by the app) is loaded by the first run
// page only: the runs table does not pay for its 4 MB.
let plotly = null;
function loadPlotly() {
  if (!plotly) {
    plotly = new Promise((resolve) => {
      const script = el("script", { src: "/static/vendor/plotly.min.js" });
      script.addEventListener("load", () => resolve(window.Plotly || null));
      script.addEventListener("error", () => resolve(null));
      document.head.append(script);
    });
  }
  return plotly;
}

// Draw (or update in place) one chart per numeric history key; user strings never reach
// Plotly (its titles accept markup): the key is the heading above each chart.
function drawCharts(charts, hist, Plotly) {
  if (!hist.keys.length) {
    if (!charts.querySelector(".chart-box")) charts.replaceChildren(el("p", { class: "muted" }, "No history."));
    return;
  }
  charts.querySelector(":scope > p.muted")?.remove();
  const boxes = new Map([...charts.querySelectorAll(".chart-box")].map((b) => [b.dataset.key, b]));
  for (const key of hist.keys) {
    const s = hist.series[key];
    let box = boxes.get(key);
    if (!box) {
      box = el("div", { class: "chart-box", dataset: { key, points: "0" } }, el("h3", { class: "chart-title" }, key),
        el("div", { class: "chart-plot" }));
      charts.append(box);
    }
    box.dataset.points = String(s.count);
    const plot = box.querySelector(".chart-plot");
    if (!Plotly) {
      if (!plot.textContent) plot.append(el("p", { class: "muted" }, "plotly.js is not available (pip install 'tracker-core[ui]')."));
      continue;
    }
    plot.classList.add("chart");
    Plotly.react(plot, [{ x: s.steps, y: s.values, type: "scatter",
      mode: s.steps.length <= 200 ? "lines+markers" : "lines", marker: { size: 4 }, connectgaps: false,
      hovertemplate: "step %{x}<br>%{y}<extra></extra>" }],
    { margin: { l: 50, r: 10, t: 10, b: 40 }, xaxis: { title: { text: "step" } }, showlegend: false },
    { displaylogo: false, responsive: true });
  }
}

export async function runPage(entity, project, runId, gen) {
  setCrumbs(el("a", { href: "/" }, "projects"), el("span", {}, entity), el("a", { href: projectHref(entity, project) }, project),
    el("span", {}, runId));
  const main = document.getElementById("main");
  main.replaceChildren();
  const url = runApi(entity, project, runId);
  let run;
  try { run = await getJSON(url); } catch (err) { if (isCurrent(gen)) showError(main, err); return; }
  if (!isCurrent(gen)) return; // a newer route took over

  const header = el("div", { id: "header" });
  const sections = el("div", { id: "sections" });
  const ctx = { url, render: null, busy: false };
  // Re-render everything but the charts from an overview (after an edit or a refresh).
  ctx.render = (data) => {
    run = data;
    document.title = `${run.name || run.id} · tracker-core`;
    header.replaceChildren(el("h1", { id: "run-name" }, run.name || run.id), attributes(run),
      run.editable ? editControls(run, ctx) : null);
    sections.replaceChildren(configSection(run), summarySection(run, ctx), tensorsSection(run));
  };
  ctx.render(run);
  const charts = el("div", { class: "charts", id: "charts" });
  main.append(header, sections, el("h2", {}, "Charts"), charts);
  try {
    const [hist, Plotly] = await Promise.all([getJSON(`${url}/history`), loadPlotly()]);
    drawCharts(charts, hist, Plotly);
  } catch (err) { showError(charts, err); }

  // live refresh while running; an edit in progress (ctx.busy) is never overwritten
  if (run.state !== "running") return;
  poll(async () => {
    const [fresh, hist] = await Promise.all([getJSON(url), getJSON(`${url}/history`)]);
    if (!ctx.busy && !header.contains(document.activeElement)) ctx.render(fresh);
    drawCharts(charts, hist, await loadPlotly());
    return fresh.state === "running";
  }, refreshSeconds(), gen);
}
