// tracker-core UI: vanilla JS modules, no build step. app.js routes; runs.js (runs table),
// columns.js (column picker), overview.js (run page), edits.js (edit controls), util.js.
import { runPage } from "./overview.js";
import { runsPage } from "./runs.js";
import { el, getJSON, isCurrent, nextGeneration, projectHref, setCrumbs, showError } from "./util.js";

async function projectsPage() {
  document.title = "Projects · tracker-core";
  setCrumbs();
  const main = document.getElementById("main");
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

function render(gen) {
  const parts = location.pathname.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts.length === 2) return runsPage(parts[0], parts[1], gen, route);
  if (parts.length === 4 && parts[2] === "runs") return runPage(parts[0], parts[1], parts[3], gen);
  return projectsPage();
}

// body[data-ready] is "1" once the current route is rendered (the browser tests wait on it).
function route() {
  document.body.dataset.ready = "0";
  const gen = nextGeneration();
  return render(gen).finally(() => { if (isCurrent(gen)) document.body.dataset.ready = "1"; });
}

window.addEventListener("popstate", route);
route();
