// Shared helpers. Every user string goes into the DOM as text (textContent / text nodes /
// setAttribute / input.value): never innerHTML with data from the store.

export const enc = encodeURIComponent;
export const projectHref = (e, p) => `/${enc(e)}/${enc(p)}`;
export const runHref = (e, p, id) => `/${enc(e)}/${enc(p)}/runs/${enc(id)}`;
export const runApi = (e, p, id) => `/api/runs/${enc(e)}/${enc(p)}/${enc(id)}`;

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k === "value") node.value = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

const SPECIAL_NUMBERS = new Set(["NaN", "Infinity", "-Infinity"]); // how the server sends them

// An int beyond 2^53 comes from /api/runs as {"$int": "digits"}: a JS number would round it.
const isBigInt = (v) => v !== null && typeof v === "object" && typeof v.$int === "string" && Object.keys(v).length === 1;

export const isNumeric = (v) => typeof v === "number" || SPECIAL_NUMBERS.has(v) || isBigInt(v);

export function fmt(v) {
  if (v === null || v === undefined) return "";
  if (isBigInt(v)) return v.$int;
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

// A tensor stats dict (or histogram) in one short line: kind, shape, dtype, mean.
export function tensorText(v) {
  if (v._type === "histogram") return `histogram (${(v.values || []).length} bins)`;
  const parts = [String(v._type || "tensor").split(".").pop()];
  if (Array.isArray(v.shape)) parts.push(`(${v.shape.join("×")})`);
  if (v.dtype) parts.push(String(v.dtype));
  if (v.mean !== undefined) parts.push(`mean=${fmt(v.mean)}`);
  return parts.join(" ");
}

// A table cell for any value: numbers right-aligned and exact, tensors compact, the rest as text.
export function valueCell(v, attrs = {}) {
  if (v && typeof v === "object" && !Array.isArray(v) && "_type" in v) {
    return el("td", { ...attrs, class: "tensor", title: JSON.stringify(v) }, tensorText(v));
  }
  return el("td", { ...attrs, class: isNumeric(v) ? "num" : null }, fmt(v));
}

export function duration(s) {
  if (s === null || s === undefined || typeof s !== "number") return "";
  if (s < 60) return `${s.toFixed(1)} s`;
  const t = Math.round(s), h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), sec = t % 60;
  const two = (n) => String(n).padStart(2, "0");
  return h ? `${h}h ${two(m)}m ${two(sec)}s` : `${m}m ${two(sec)}s`;
}

async function parse(res) {
  let body = null;
  try { body = await res.json(); } catch (_) { /* not JSON */ }
  if (!res.ok) throw new Error((body && body.detail) || `${res.status} ${res.statusText}`);
  return body;
}

export async function getJSON(url) {
  return parse(await fetch(url, { headers: { Accept: "application/json" } }));
}

export async function sendJSON(method, url, body) {
  return parse(await fetch(url, { method, headers: { Accept: "application/json", "Content-Type": "application/json" },
    body: JSON.stringify(body) }));
}

export function showError(where, err) {
  where.append(el("p", { class: "error", role: "alert" }, err.message || String(err)));
}

export function setCrumbs(...parts) {
  const crumbs = document.getElementById("crumbs");
  crumbs.replaceChildren(...parts.flatMap((p, i) => (i ? [el("span", { class: "muted" }, "/"), p] : [p])));
}

export function badge(state) {
  const known = /^[a-z]+$/.test(state) ? state : "";
  return el("span", { class: `badge ${known}`, title: state === "running" ? "running: refreshed live" : null },
    state === "running" ? el("span", { class: "live-dot", "aria-hidden": "true" }) : null, state);
}

// -- live refresh -----------------------------------------------------------------------------
// Every route() starts a new generation; pollers of an older page stop by themselves.
let generation = 0;
export const nextGeneration = () => ++generation;
export const isCurrent = (gen) => gen === generation;

// Seconds between refreshes: ?refresh=N on the page URL (0 turns refresh off), default 5.
export function refreshSeconds() {
  const raw = new URLSearchParams(location.search).get("refresh");
  const n = raw === null ? 5 : Number(raw);
  return Number.isFinite(n) && n >= 0 ? Math.max(n, n === 0 ? 0 : 0.2) : 5;
}

// Call `fn` every `seconds` while it resolves true and the page is current; waits while the
// tab is hidden and resumes when it is shown again. body[data-polls] counts the calls,
// body[data-polling] is "1" while one is in flight.
export function poll(fn, seconds, gen) {
  if (!seconds) return;
  const tick = async () => {
    if (!isCurrent(gen)) return;
    if (document.hidden) {
      document.addEventListener("visibilitychange", tick, { once: true });
      return;
    }
    document.body.dataset.polls = String(Number(document.body.dataset.polls || 0) + 1);
    document.body.dataset.polling = "1";
    let again = true;
    try { again = await fn(); } catch (_) { again = true; } // a failed refresh is retried
    document.body.dataset.polling = "0";
    if (again && isCurrent(gen)) setTimeout(tick, seconds * 1000);
  };
  setTimeout(tick, seconds * 1000);
}
