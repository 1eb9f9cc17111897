// The co-composer page: settings -> Generate/Continue/Regenerate-span jobs -> a tree of candidates, each with a
// piano roll, the server's audio and downloads. It talks only to /api (see /docs); every error is shown, none
// swallowed. On the current node's roll a drag selects a span of time to regenerate (infilling).
"use strict";

const COLOURS = {
  piano: "#4e79a7", violin: "#e15759", cello: "#b07aa1", bass: "#9c755f", guitar: "#f28e2b",
  flute: "#59a14f", clarinet: "#76b7b2", trumpet: "#d4a017", harp: "#ff7f9f", drums: "#555555",
};
const OTHER = "#bab0ac";
const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f"];
const POLL_MS = 400;
const SESSION_KEY = "musenet.session";

const state = { info: null, session: null, nodes: new Map(), current: null, job: null, notes: new Map(), span: null };
const $ = (id) => document.getElementById(id);

// ---- errors: shown in the page, never swallowed ---------------------------------------------------------------

function showError(message) {
  $("error-text").textContent = String(message);
  $("error").hidden = false;
}
function clearError() { $("error").hidden = true; }
function notice(message) {
  $("notice").textContent = message;
  $("notice").hidden = !message;
}
window.addEventListener("error", (e) => showError(`page error: ${e.message}`));
window.addEventListener("unhandledrejection", (e) => showError(e.reason && e.reason.message ? e.reason.message : e.reason));

class ApiError extends Error {
  constructor(status, message, retryAfter) { super(message); this.status = status; this.retryAfter = retryAfter; }
}

async function api(method, path, body) {
  const opts = { method, headers: {} };
  if (body instanceof FormData) opts.body = body;
  else if (body !== undefined) { opts.body = JSON.stringify(body); opts.headers["Content-Type"] = "application/json"; }
  let res;
  try { res = await fetch(path, opts); } catch (e) { throw new ApiError(0, "cannot reach the server; is `musenet serve` still running?"); }
  let data = null;
  try { data = await res.json(); } catch (e) { /* a non-JSON body: described below by its status */ }
  if (!res.ok) {
    const detail = data && typeof data.detail === "string" ? data.detail : `${res.status} ${res.statusText}`;
    const retry = res.headers.get("Retry-After");
    throw new ApiError(res.status, retry ? `${detail} (retry in about ${retry} s)` : detail, retry);
  }
  return data;
}

// ---- colours and the piano roll ------------------------------------------------------------------------------

function colour(index) {
  if (index < 0) return OTHER;
  const name = state.info.instruments[index];
  return COLOURS[name] || PALETTE[index % PALETTE.length];
}
function colourOf(name) {
  const i = state.info.instruments.indexOf(name);
  return i < 0 ? OTHER : colour(i);
}
function swatch(col) {
  const s = document.createElement("span");
  s.className = "swatch";
  s.style.background = col;
  return s;
}

async function notesOf(id) {
  if (!state.notes.has(id)) state.notes.set(id, api("GET", nodeUrl(id)));
  return state.notes.get(id);
}

function drawRoll(canvas, data, playhead) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * dpr)) { canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr); }
  const g = canvas.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  const drums = state.info.instruments.indexOf("drums");
  const pitched = data.notes.filter((n) => n[4] !== drums), hits = data.notes.filter((n) => n[4] === drums);
  const dur = Math.max(data.seconds || 0, 0.5);
  let lo = 127, hi = 0;
  for (const n of pitched) { lo = Math.min(lo, n[2]); hi = Math.max(hi, n[2]); }
  if (!pitched.length) { lo = 48; hi = 72; }
  lo = Math.max(0, lo - 2); hi = Math.min(127, hi + 2);
  const lane = hits.length ? Math.max(14, h * 0.15) : 0;  // drums get a lane of their own at the bottom
  const top = h - lane;
  const x = (t) => (t / dur) * w;
  const rowH = top / (hi - lo + 1);
  if (data.primer_seconds > 0) {  // the part this node continued, kept verbatim
    g.fillStyle = "rgba(0,0,0,0.06)";
    g.fillRect(0, 0, x(data.primer_seconds), h);
    g.strokeStyle = "rgba(0,0,0,0.35)";
    g.setLineDash([4, 3]);
    g.beginPath(); g.moveTo(x(data.primer_seconds), 0); g.lineTo(x(data.primer_seconds), h); g.stroke();
    g.setLineDash([]);
  }
  if (data.span) {  // the span this node redid (an infill): everything outside it is its parent's, verbatim
    const [a, b] = data.span;
    g.fillStyle = "rgba(250,176,5,0.22)";
    g.fillRect(x(a), 0, x(b) - x(a), h);
    g.strokeStyle = "rgba(230,119,0,0.9)"; g.lineWidth = 1.5;
    g.beginPath(); g.moveTo(x(a), 0); g.lineTo(x(a), h); g.moveTo(x(b), 0); g.lineTo(x(b), h); g.stroke();
    canvas.dataset.span = `${a.toFixed(2)}-${b.toFixed(2)}`;
  }
  const sel = canvas.classList.contains("pick") && state.span && state.span.node === data.id ? state.span : null;
  if (sel) {  // the span being selected for Regenerate span
    g.fillStyle = "rgba(59,91,219,0.16)";
    g.fillRect(x(sel.start), 0, Math.max(1, x(sel.end) - x(sel.start)), h);
    g.strokeStyle = "#3b5bdb"; g.lineWidth = 1;
    g.strokeRect(x(sel.start) + 0.5, 0.5, Math.max(1, x(sel.end) - x(sel.start)) - 1, h - 1);
  }
  if (lane) {
    g.fillStyle = "rgba(0,0,0,0.04)"; g.fillRect(0, top, w, lane);
    g.fillStyle = colour(drums);
    for (const [start, , pitch, velocity] of hits) {
      g.globalAlpha = 0.45 + 0.55 * (velocity / 127);
      const y = top + 2 + (1 - (Math.min(Math.max(pitch, 35), 81) - 35) / 46) * (lane - 6);
      g.fillRect(x(start), y, 2, 3);
    }
  }
  for (const [start, end, pitch, velocity, inst] of pitched) {
    g.globalAlpha = 0.45 + 0.55 * (velocity / 127);
    g.fillStyle = colour(inst);
    g.fillRect(x(start), top - (pitch - lo + 1) * rowH, Math.max(1.5, x(end) - x(start)), Math.max(1.5, rowH - 0.5));
  }
  g.globalAlpha = 1;
  if (playhead !== undefined) {
    g.strokeStyle = "#c92a2a"; g.lineWidth = 1.5;
    g.beginPath(); g.moveTo(x(playhead), 0); g.lineTo(x(playhead), h); g.stroke();
  }
}

// A roll canvas that follows its audio player with a playhead; `pick`: a drag on it selects a span.
function rollFor(node, audio, pick = false) {
  const canvas = document.createElement("canvas");
  canvas.className = pick ? "roll pick" : "roll";
  canvas.setAttribute("aria-label", `piano roll of ${node.label}`);
  notesOf(node.id).then((data) => {
    canvas.redraw = () => drawRoll(canvas, data, audio.paused && !audio.currentTime ? undefined : audio.currentTime);
    if (pick) pickSpan(canvas, data);
    canvas.dataset.notes = String(data.notes.length);
    requestAnimationFrame(() => drawRoll(canvas, data));
    let raf = 0;
    const tick = () => { drawRoll(canvas, data, audio.currentTime); if (!audio.paused) raf = requestAnimationFrame(tick); };
    audio.addEventListener("play", () => { cancelAnimationFrame(raf); tick(); });
    audio.addEventListener("pause", () => { cancelAnimationFrame(raf); drawRoll(canvas, data, audio.currentTime); });
    audio.addEventListener("seeked", () => drawRoll(canvas, data, audio.currentTime));
  }).catch((e) => showError(`piano roll of ${node.label}: ${e.message}`));
  return canvas;
}

// ---- span selection (Regenerate span) -------------------------------------------------------------------------

const SNAP_S = 0.1;  // a dragged span snaps to tenths of a second

// A drag across the roll selects [start, end] in seconds; a click without a drag clears the selection.
function pickSpan(canvas, data) {
  const dur = Math.max(data.seconds || 0, 0.5);  // the roll's time axis, as drawRoll draws it
  const at = (e) => {
    const r = canvas.getBoundingClientRect();
    const t = Math.min(Math.max((e.clientX - r.left) / r.width, 0), 1) * dur;
    return Math.min(Math.round(t / SNAP_S) * SNAP_S, data.seconds);
  };
  let from = null;
  canvas.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    from = at(e);
    canvas.setPointerCapture(e.pointerId);
    setSpan(data.id, from, from);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (from !== null) { const t = at(e); setSpan(data.id, Math.min(from, t), Math.max(from, t)); }
  });
  const done = () => {
    if (from === null) return;
    from = null;
    if (state.span && state.span.end - state.span.start < SNAP_S / 2) setSpan(data.id, null, null);
  };
  canvas.addEventListener("pointerup", done);
  canvas.addEventListener("pointercancel", done);
}

// The selected span of the current node (null, null: none): redrawn on the roll, written in the span tools
// (unless it was typed there: `typed`).
function setSpan(node, start, end, typed = false) {
  state.span = start === null ? null : { node, start: round2(start), end: round2(end) };
  const canvas = document.querySelector("#current canvas.pick");
  if (canvas && canvas.redraw) canvas.redraw();
  const tools = document.querySelector("#current .span-tools");
  if (!tools) return;
  if (!typed) {
    tools.querySelector(".span-start").value = state.span ? state.span.start.toFixed(1) : "";
    tools.querySelector(".span-end").value = state.span ? state.span.end.toFixed(1) : "";
  }
  updateSpanButton();
}
const round2 = (t) => Math.round(t * 100) / 100;

function updateSpanButton() {
  const button = document.querySelector("#current button.regen");
  if (!button) return;
  const infill = state.info.infill;
  const ok = infill.available && state.span && state.span.node === state.current && state.span.end > state.span.start;
  button.disabled = state.job !== null || !ok;
  button.textContent = state.span && ok ? `Regenerate span ${state.span.start}–${state.span.end} s` : "Regenerate span";
}

// Under the current node's roll: the span (typed or dragged), the instruments to redo, the button, and why the
// button is unavailable when the model never learned infilling.
function spanTools(node) {
  const infill = state.info.infill;
  const num = (cls, label) => {
    const input = el("input", { type: "number", class: cls, min: "0", max: String(node.seconds), step: "0.1", "aria-label": label });
    input.addEventListener("change", () => {
      const a = Number(box.querySelector(".span-start").value), b = Number(box.querySelector(".span-end").value);
      if (box.querySelector(".span-start").value !== "" && box.querySelector(".span-end").value !== "") setSpan(node.id, a, b, true);
    });
    return input;
  };
  const ticks = el("fieldset", { class: "span-instruments" }, el("legend", {}, "Redo only (none ticked: all)"));
  for (const name of state.info.instruments) {
    const input = el("input", { type: "checkbox", value: name, name: "span-instrument" });
    ticks.append(el("label", {}, input, swatch(colourOf(name)), name));
  }
  const button = el("button", { type: "button", class: "primary regen", onclick: () => startJob(node.id, true) }, "Regenerate span");
  const box = el("div", { class: "span-tools" },
    el("div", { class: "row" }, "Span", num("span-start", "span start (s)"), "to", num("span-end", "span end (s)"), "s", button),
    ticks);
  if (!infill.available) {  // say why instead of offering what would fail
    ticks.remove();
    for (const input of box.querySelectorAll("input")) input.disabled = true;
    box.append(el("p", { class: "why" }, `Regenerate span is unavailable: ${infill.reason}`));
    button.title = infill.reason;
  } else {
    box.prepend(el("p", { class: "hint" }, "Drag across the piano roll to select a span to regenerate."));
  }
  return box;
}

// ---- building blocks ---------------------------------------------------------------------------------------------

const nodeUrl = (id) => `/api/sessions/${state.session}/nodes/${id}`;

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

function player(node) {
  const audio = el("audio", { controls: "", preload: "none", src: `${nodeUrl(node.id)}/wav` });
  audio.addEventListener("error", () => showError(`the audio of ${node.label} could not be loaded`));
  audio.addEventListener("play", () => {  // one player at a time
    for (const other of document.querySelectorAll("audio")) if (other !== audio) other.pause();
  });
  return audio;
}

function chips(node) {
  const box = el("div", { class: "chips" });
  for (const name of node.instruments) box.append(el("span", { class: "chip" }, swatch(colourOf(name)), name));
  if (node.other_programs) box.append(el("span", { class: "chip" }, swatch(OTHER), "other"));
  return box;
}

function describe(node) {
  const parts = [`${node.seconds.toFixed(1)} s`, `${node.notes} notes`];
  if (node.kind !== "primer") parts.push(node.style, `T ${node.temperature}`, `seed ${node.seed}`);
  if (node.guidance && node.guidance !== 1) parts.push(`style ×${node.guidance}`);
  if (node.primer_seconds > 0) parts.push(`new music from ${node.primer_seconds.toFixed(1)} s`);
  if (node.span) {
    const which = node.span_instruments ? ` (${node.span_instruments.join(", ")})` : "";
    parts.push(`redid ${node.span[0].toFixed(1)}–${node.span[1].toFixed(1)} s${which}`);
  }
  return parts.join(" · ");
}

function actions(node, withOpen) {
  const box = el("div", { class: "actions" });
  box.append(el("button", { type: "button", class: "primary continue", onclick: () => startJob(node.id) }, "Continue"));
  if (withOpen) box.append(el("button", { type: "button", class: "open", onclick: () => go(node.id) }, "Open"));
  box.append(el("a", { href: `${nodeUrl(node.id)}/midi`, download: "", class: "midi" }, "MIDI"));
  box.append(el("a", { href: `${nodeUrl(node.id)}/wav?download=true`, download: "", class: "wav" }, "WAV"));
  return box;
}

function card(node) {
  const audio = player(node);
  return el("div", { class: "card", "data-node": node.id },
    el("h3", {}, node.label), el("div", { class: "meta" }, describe(node)),
    rollFor(node, audio), audio, chips(node), actions(node, true));
}

// ---- the tree --------------------------------------------------------------------------------------------------

function childrenOf(id) {
  const kids = [...state.nodes.values()].filter((n) => n.parent === id);
  // newest batch first; inside a batch, candidate 1, 2, 3…
  const batchTime = new Map();
  for (const n of kids) batchTime.set(n.batch, Math.max(batchTime.get(n.batch) || 0, n.created));
  return kids.sort((a, b) => (batchTime.get(b.batch) - batchTime.get(a.batch)) || ((a.candidate || 0) - (b.candidate || 0)));
}

function ancestors(id) {
  const path = [];
  for (let n = state.nodes.get(id); n; n = state.nodes.get(n.parent)) path.unshift(n);
  return path;
}

function renderTree() {
  const build = (parent) => {
    const ul = el("ul");
    for (const n of childrenOf(parent)) {
      const b = el("button", { type: "button", "data-node": n.id, onclick: () => go(n.id) },
        { primer: "⤒ ", infill: "✎ " }[n.kind] || "♪ ", `${n.label} `, el("span", { class: "meta" }, `${n.seconds.toFixed(0)} s`));
      b.setAttribute("aria-current", String(n.id === state.current));
      const li = el("li", {}, b);
      if (childrenOf(n.id).length) li.append(build(n.id));
      ul.append(li);
    }
    return ul;
  };
  const root = el("button", { type: "button", "data-node": "", onclick: () => go(null) }, "Start");
  root.setAttribute("aria-current", String(state.current === null));
  const tree = $("tree");
  tree.replaceChildren(el("li", {}, root, build(null)));
}

function renderPath() {
  const nav = $("path");
  nav.replaceChildren(el("button", { type: "button", onclick: () => go(null) }, "Start"));
  for (const n of ancestors(state.current)) {
    nav.append(el("span", { class: "sep" }, " › "), el("button", { type: "button", onclick: () => go(n.id) }, n.label));
  }
}

function renderCurrent() {
  const box = $("current");
  const node = state.nodes.get(state.current);
  if (!node) {
    box.replaceChildren(el("h3", {}, "Compose together"), el("p", { class: "intro" },
      "Choose a style, instruments and a length, then Generate: you get several candidates. Listen, pick one and " +
      "press Continue to hear where it could go next. Every choice stays in the tree on the left, so you can go " +
      "back to any node and branch from it, and download any node as MIDI or WAV."));
  } else {
    const audio = player(node);
    const parts = [el("h3", {}, node.label), el("div", { class: "meta" }, describe(node)), rollFor(node, audio, state.info.infill.available), audio, chips(node),
      spanTools(node), actions(node, false)];
    box.replaceChildren(...parts);
    if (state.span && state.span.node === node.id) setSpan(node.id, state.span.start, state.span.end);
  }
  const kids = childrenOf(state.current);
  const redone = kids.filter((n) => n.kind === "infill").length;
  const title = !redone ? "Continuations of" : redone === kids.length ? "Spans redone in" : "Continuations and redone spans of";
  $("children-title").textContent = node ? (kids.length ? `${title} ${node.label}` : "") : (kids.length ? "Your starts" : "");
  const cards = $("children");
  if (!kids.length && node) cards.replaceChildren(el("p", { class: "empty" }, "No continuations yet: press Continue to generate some, or select a span and regenerate it."));
  else cards.replaceChildren(...kids.map(card));
}

function render() {
  renderTree(); renderPath(); renderCurrent();
  setBusy(state.job !== null);
}

// While a job runs, the buttons that would start another are disabled (the server allows only a few per session).
function setBusy(busy) {
  for (const b of document.querySelectorAll("#generate, #upload, button.continue")) b.disabled = busy;
  updateSpanButton();
}

function go(id, push = true) {
  state.current = id && state.nodes.has(id) ? id : null;
  if (state.span && state.span.node !== state.current) state.span = null;
  if (push) history.pushState({ node: state.current }, "", state.current ? `#${state.current}` : "#");
  render();
}
window.addEventListener("popstate", (e) => go(e.state ? e.state.node : null, false));

function addNodes(nodes) { for (const n of nodes) state.nodes.set(n.id, n); }

// ---- settings --------------------------------------------------------------------------------------------------

function settings() {
  const instruments = [...document.querySelectorAll("#instruments input:checked")].map((i) => i.value);
  const seed = $("seed").value.trim();
  return {
    style: $("style").value || null,
    instruments,
    seconds: Number($("seconds").value),
    candidates: Number($("candidates").value),
    temperature: Number($("temperature").value),
    guidance: state.info.guidance.available ? Number($("guidance").value) : null,
    seed: seed === "" ? null : Number(seed),
  };
}

function fillSettings(info) {
  $("model").textContent = `model: ${info.model} · ${info.styles.length} styles · ${info.instruments.length} instruments`;
  $("style").replaceChildren(...info.styles.map((s) => el("option", { value: s }, s)));
  const box = $("instruments");
  for (const name of info.instruments) {
    const input = el("input", { type: "checkbox", value: name, name: "instrument" });
    input.checked = info.defaults.instruments.includes(name);
    box.append(el("label", {}, input, swatch(colourOf(name)), name));
  }
  $("seconds").max = info.limits.max_seconds;
  $("seconds").value = info.defaults.seconds;
  $("candidates").max = info.limits.max_candidates;
  $("candidates").value = info.defaults.candidates;
  $("primer-seconds").max = info.limits.max_primer_seconds;
  const t = $("temperature");
  t.value = info.defaults.temperature;
  const show = () => { $("temperature-out").textContent = Number(t.value).toFixed(2); };
  t.addEventListener("input", show); show();
  const g = $("guidance");  // style guidance: only for a model trained with style dropout
  $("guidance-box").hidden = !info.guidance.available;
  g.value = info.defaults.guidance;
  const showG = () => { $("guidance-out").textContent = Number(g.value).toFixed(2); };
  g.addEventListener("input", showG); showG();
}

// ---- jobs ------------------------------------------------------------------------------------------------------

// Generate (parent null), Continue a node, or regenerate the selected span of a node (`span` true).
async function startJob(parent, span = false) {
  clearError();
  let body = settings(), url = parent ? `${nodeUrl(parent)}/continue` : `/api/sessions/${state.session}/generate`;
  let what = parent ? "continuations" : "candidates";
  if (span) {
    const redo = [...document.querySelectorAll("#current .span-instruments input:checked")].map((i) => i.value);
    body = { start: state.span.start, end: state.span.end, instruments: redo.length ? redo : null,
      candidates: body.candidates, temperature: body.temperature, guidance: body.guidance, seed: body.seed };
    url = `${nodeUrl(parent)}/infill`;
    what = "the span";
  }
  try {
    const job = await api("POST", url, body);
    state.job = { id: job.job, parent, what };
    setBusy(true);
    await follow(job);
  } catch (e) {
    showError(e.message);
    if (e.status === 404 && /session/.test(e.message)) await newSession("Your session expired; a new one was started.");
  } finally {
    state.job = null;
    $("job").hidden = true;
    setBusy(false);
  }
}

async function follow(job) {
  $("job").hidden = false;
  const what = state.job.what;
  for (;;) {
    const bar = $("job-progress"), text = $("job-text");
    bar.value = job.progress;
    if (job.status === "queued") text.textContent = job.ahead ? `Queued: ${job.ahead} request(s) ahead of yours…` : "Starting…";
    else if (job.status === "running") text.textContent = `${what === "the span" ? "Regenerating" : "Generating"} ${what}… ${Math.round(job.progress * 100)}%`;
    if (job.status === "done") break;
    if (job.status === "error") throw new Error(job.error);
    if (job.status === "cancelled") { notice("Cancelled."); return; }
    await new Promise((r) => setTimeout(r, POLL_MS));
    job = await api("GET", `/api/sessions/${state.session}/jobs/${job.job}`);
  }
  addNodes(job.nodes);
  notice("");
  go(state.job.parent);  // show the parent with its new candidates
  const first = document.querySelector(`#children [data-node="${job.nodes[0].id}"]`);
  if (first) first.scrollIntoView({ behavior: "smooth", block: "nearest" });
}

$("job-cancel").addEventListener("click", () => {
  if (state.job) api("DELETE", `/api/sessions/${state.session}/jobs/${state.job.id}`).catch((e) => showError(e.message));
});
$("generate").addEventListener("click", () => startJob(null));
$("error-close").addEventListener("click", clearError);

// ---- uploads ---------------------------------------------------------------------------------------------------

$("upload").addEventListener("click", async () => {
  clearError();
  const file = $("primer-file").files[0];
  if (!file) { showError("choose a MIDI file first"); return; }
  const limit = state.info.limits.max_upload_bytes;
  if (file.size > limit) {
    showError(`${file.name} is ${(file.size / 2 ** 20).toFixed(1)} MB, over the server's limit of ${(limit / 2 ** 20).toFixed(1)} MB`);
    return;
  }
  const form = new FormData();
  form.append("file", file, file.name);
  form.append("seconds", $("primer-seconds").value);
  $("upload").disabled = true;
  try {
    const node = await api("POST", `/api/sessions/${state.session}/primer`, form);
    addNodes([node]);
    notice(`${node.label}: ${node.notes} notes, ${node.seconds.toFixed(1)} s. Press Continue to generate from it.`);
    go(node.id);
  } catch (e) {
    showError(e.message);
  } finally {
    setBusy(state.job !== null);
  }
});

// ---- start -----------------------------------------------------------------------------------------------------

async function newSession(message) {
  const s = await api("POST", "/api/sessions");
  state.session = s.session;
  state.nodes.clear(); state.notes.clear();
  localStorage.setItem(SESSION_KEY, s.session);
  notice(message || "");
  go(null, false);
}

async function main() {
  state.info = await api("GET", "/api/info");
  fillSettings(state.info);
  const saved = localStorage.getItem(SESSION_KEY);
  if (saved) {
    try {
      const tree = await api("GET", `/api/sessions/${saved}`);
      state.session = saved;
      addNodes(tree.nodes);
    } catch (e) {
      if (e.status !== 404) throw e;
      await newSession("Your previous session has expired (the server was restarted or cleaned up); a new one was started.");
      return;
    }
  } else {
    await newSession();
    return;
  }
  const id = location.hash.slice(1);
  go(state.nodes.has(id) ? id : null, false);
}

main().catch((e) => showError(e.message));
