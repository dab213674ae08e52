// Edit controls of the Overview: tags, notes, summary values. Only rendered when the server
// allows edits (run.editable, `tracker ui --allow-edits`); each change is one PATCH that the
// server applies through PublicRun.update(), and the page re-renders from its answer.
import { el, sendJSON } from "./util.js";

const SPECIAL_NUMBERS = ["NaN", "Infinity", "-Infinity"];

// The text that reads back as `v` (values are read as JSON when they parse, else as text).
export function editText(v) {
  if (typeof v === "string") {
    if (SPECIAL_NUMBERS.includes(v)) return v;
    try { JSON.parse(v); return JSON.stringify(v); } catch (_) { return v; }
  }
  return JSON.stringify(v);
}

async function save(ctx, body, status) {
  ctx.busy = true;
  try {
    const fresh = await sendJSON("PATCH", ctx.url, body);
    ctx.busy = false;
    ctx.message = "Saved.";
    ctx.render(fresh);
  } catch (err) {
    if (status) {
      status.textContent = err.message || String(err);
      status.className = "error";
    }
  }
}

export function editControls(run, ctx) {
  const status = el("p", { id: "edit-status", role: "status", class: "muted" }, ctx.message || "");
  ctx.message = "";

  const tagInput = el("input", { type: "text", id: "tag-input", placeholder: "new tag", "aria-label": "new tag" });
  const addTag = () => {
    const tag = tagInput.value.trim();
    if (!tag) return;
    save(ctx, { tags: [...run.tags.filter((t) => t !== tag), tag] }, status);
  };
  tagInput.addEventListener("keydown", (e) => { if (e.key === "Enter") addTag(); });
  const chips = run.tags.map((t) => el("span", { class: "tag", dataset: { tag: t } }, t,
    el("button", { type: "button", class: "tag-remove", "aria-label": `remove tag ${t}`, title: "remove",
      onclick: () => save(ctx, { tags: run.tags.filter((x) => x !== t) }, status) }, "×")));

  const notes = el("textarea", { id: "notes-input", rows: "3", "aria-label": "notes", value: run.notes || "" });
  notes.addEventListener("input", () => { ctx.busy = notes.value !== (run.notes || ""); });

  const key = el("input", { type: "text", id: "summary-key", placeholder: "summary key", "aria-label": "summary key" });
  const value = el("input", { type: "text", id: "summary-value", placeholder: "value (JSON or text)",
    "aria-label": "summary value" });
  const setKey = () => {
    if (!key.value) { status.textContent = "name the summary key to set"; status.className = "error"; return; }
    save(ctx, { summary_text: { [key.value]: value.value } }, status);
  };
  value.addEventListener("keydown", (e) => { if (e.key === "Enter") setKey(); });

  return el("section", { id: "edit-controls", class: "edit-controls" },
    el("h2", {}, "Edit"),
    el("div", { class: "toolbar", id: "tags-editor" }, el("span", { class: "muted" }, "tags"), chips, tagInput,
      el("button", { type: "button", id: "tag-add", onclick: addTag }, "Add tag")),
    el("div", { class: "toolbar" }, el("label", { for: "notes-input", class: "muted" }, "notes"), notes,
      el("button", { type: "button", id: "notes-save", onclick: () => save(ctx, { notes: notes.value }, status) },
        "Save notes")),
    el("div", { class: "toolbar" }, el("span", { class: "muted" }, "summary"), key, value,
      el("button", { type: "button", id: "summary-set", onclick: setKey }, "Set")),
    status);
}

// Edit / delete buttons of one summary row (a top-level key; aggregates and nested keys are
// set as a whole through the "summary" form above).
export function summaryActions(run, s, ctx) {
  if (!s.editable) return null;
  const key = s.path[0];
  const edit = el("button", { type: "button", class: "summary-edit" }, "edit");
  const del = el("button", { type: "button", class: "summary-delete" }, "delete");
  edit.addEventListener("click", () => {
    const row = edit.closest("tr");
    const cell = row.querySelector("td.value");
    const input = el("input", { type: "text", class: "summary-input", "aria-label": `new value of ${key}`,
      value: s.edit_text ?? editText(s.value) });
    const status = el("span", { class: "error summary-error" });
    const commit = () => save(ctx, { summary_text: { [key]: input.value } }, status);
    const cancel = () => { ctx.busy = false; ctx.render(run); };
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") commit();
      if (e.key === "Escape") cancel();
    });
    ctx.busy = true;
    cell.replaceChildren(input, el("button", { type: "button", class: "summary-save", onclick: commit }, "save"),
      el("button", { type: "button", class: "summary-cancel", onclick: cancel }, "cancel"), status);
    input.focus();
  });
  del.addEventListener("click", () => {
    if (del.dataset.confirm !== "1") { // a second click deletes
      del.dataset.confirm = "1";
      del.textContent = "confirm delete";
      return;
    }
    save(ctx, { delete_summary: [key] }, del.parentElement);
  });
  return [edit, del];
}
