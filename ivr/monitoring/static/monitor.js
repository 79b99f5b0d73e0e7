"use strict";
// The live call monitor: follows the server-sent events of /monitor/events and draws the
// board. Every string from the server (caller speech included) goes in as text, never markup.

const RECENT_MAX = 300;
const SVG_NS = "http://www.w3.org/2000/svg";
const COLOURS = {
  matched: "#2e7d32", dtmf: "#1565c0", "no-input": "#9e9e9e", "no-match": "#ef6c00",
  error: "#c62828", hangup: "#6a1b9a", none: "#cfcfcf",
};
const SPARE_COLOURS = ["#00838f", "#ad1457", "#827717", "#5d4037", "#283593"];

const state = {
  offset: 0, // server clock minus this clock (ms): elapsed times follow the server's clock
  active: new Map(), // call_id -> {call, row}
  recent: [], // [{rec, row}], newest first
  flows: new Map(), // flow name -> {text, node, graph}
};

const $ = (id) => document.getElementById(id);

// An element with attributes (null/undefined ones left out) and children (strings become text).
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value !== null && value !== undefined) node.setAttribute(name, value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined).map((c) => (c instanceof Node ? c : String(c))));
  return node;
}

function svgEl(tag, attrs, parent, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
  if (text !== undefined) node.textContent = text;
  if (parent) parent.append(node);
  return node;
}

// -- formatting -------------------------------------------------------------------------------

const pad = (n) => String(n).padStart(2, "0");

function clockTime(epoch, seconds = true) {
  const d = new Date(epoch * 1000);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}` + (seconds ? `:${pad(d.getSeconds())}` : "");
}

function elapsed(started) {
  const s = Math.max(0, Math.floor((Date.now() + state.offset) / 1000 - started));
  return `${Math.floor(s / 60)}:${pad(s % 60)}`;
}

function verdictText(j) {
  if (!j) return "";
  const words = [j.verdict, j.intent].filter(Boolean).join(" ");
  return j.score === null || j.score === undefined ? words : `${words} (${Math.round(j.score)})`;
}

// The call record has {context, extension, priority}; a string is taken as it is.
function destinationText(d) {
  if (!d) return "";
  if (typeof d === "string") return d;
  return [d.context, d.extension, d.priority].join(",");
}

const resultOf = (rec) => rec.result || "none";

// Links come from the server; still, only relative or http(s) ones are followed.
function safeUrl(url) {
  return typeof url === "string" && url !== "" && (/^https?:/i.test(url) || !/^\s*[a-z][a-z0-9+.-]*:/i.test(url));
}

const colourMap = new Map();
function colour(result) {
  if (COLOURS[result]) return COLOURS[result];
  if (!colourMap.has(result)) colourMap.set(result, SPARE_COLOURS[colourMap.size % SPARE_COLOURS.length]);
  return colourMap.get(result);
}

// -- active calls -----------------------------------------------------------------------------

function activeRow(call) {
  const j = call.judgement;
  return el("tr", { "data-call-id": call.call_id },
    el("td", {}, call.caller ?? ""),
    el("td", {}, call.flow ?? ""),
    el("td", {}, call.menu ?? ""),
    el("td", { class: "elapsed" }, elapsed(call.started)),
    el("td", { class: "partial" }, call.partial || ""),
    el("td", { class: "verdict", "data-verdict": j ? j.verdict : null }, verdictText(j)));
}

function upsertActive(call) {
  const row = activeRow(call);
  const old = state.active.get(call.call_id);
  if (old) old.row.replaceWith(row);
  else $("active-body").append(row);
  state.active.set(call.call_id, { call, row });
  activeChanged();
}

function removeActive(callId) {
  state.active.get(callId)?.row.remove();
  if (state.active.delete(callId)) activeChanged();
}

function activeChanged() {
  $("active-empty").hidden = state.active.size > 0;
  $("active-count").textContent = state.active.size ? `(${state.active.size})` : "";
}

function tick() {
  for (const { call, row } of state.active.values()) row.querySelector(".elapsed").textContent = elapsed(call.started);
}

// -- recent calls -----------------------------------------------------------------------------

function playLinks(rec) {
  const links = rec.links || {};
  const box = el("span", { class: "plays" });
  let n = 0;
  for (const turn of rec.turns || []) {
    for (const answer of turn.answers || []) {
      const url = answer.recording ? links[answer.recording] : null;
      if (!safeUrl(url)) continue;
      n += 1;
      const title = `${answer.menu ?? ""}: “${answer.transcript ?? ""}”`;
      box.append(el("a", { class: "play", href: url, title }, `▶ ${n}`));
    }
  }
  return box;
}

// The score of the call's last spoken answer (0-100), what its intent was decided on.
function lastScore(rec) {
  const answers = (rec.turns || []).flatMap((turn) => turn.answers || []);
  const last = answers.filter((answer) => typeof answer.score === "number").pop();
  return last ? String(Math.round(last.score)) : "";
}

function recentRow(rec) {
  const dest = destinationText(rec.destination);
  const latency = rec.speech_end_to_destination;
  return el("tr", { class: "recent-call", "data-result": resultOf(rec), "data-destination": dest },
    el("td", { class: "time" }, rec.ended_at ? clockTime(rec.ended_at) : ""),
    el("td", {}, rec.caller ?? ""),
    el("td", {}, rec.flow ?? ""),
    el("td", { class: "transcript" }, rec.transcript || ""),
    el("td", {}, rec.intent ?? ""),
    el("td", { class: "num score" }, lastScore(rec)),
    el("td", {}, el("span", { class: "badge", "data-result": resultOf(rec), title: rec.ended ?? null }, resultOf(rec))),
    el("td", { class: "destination" }, dest),
    el("td", { class: "num" }, latency === null || latency === undefined ? "" : `${Math.round(latency * 1000)} ms`),
    el("td", {}, playLinks(rec)));
}

function addRecent(rec) {
  const row = recentRow(rec);
  $("recent-body").prepend(row);
  state.recent.unshift({ rec, row });
  while (state.recent.length > RECENT_MAX) state.recent.pop().row.remove();
}

// Rebuilds a filter's options only when they change (rebuilding closes an open <select>).
function fillSelect(select, values) {
  const current = select.value;
  const options = [...new Set(values)].filter((v) => v !== "").sort();
  if (current && !options.includes(current)) options.push(current); // keep the choice made
  const key = options.join("\u0000");
  if (select.dataset.key === key) return;
  select.dataset.key = key;
  select.replaceChildren(el("option", { value: "" }, "All"), ...options.map((v) => el("option", { value: v }, v)));
  select.value = current;
}

function recentChanged() {
  fillSelect($("filter-flow"), state.recent.map(({ rec }) => rec.flow ?? ""));
  fillSelect($("filter-result"), state.recent.map(({ rec }) => resultOf(rec)));
  applyFilters();
}

function applyFilters() {
  const flow = $("filter-flow").value;
  const result = $("filter-result").value;
  let shown = 0;
  for (const { rec, row } of state.recent) {
    row.hidden = Boolean((flow && rec.flow !== flow) || (result && resultOf(rec) !== result));
    if (!row.hidden) shown += 1;
  }
  const empty = $("recent-empty");
  empty.hidden = shown > 0;
  empty.firstElementChild.textContent = state.recent.length ? "No calls match the filters" : "No calls yet";
}

// One player for the recordings: a click plays the answer here, a second click stops it.
let player = null;
function onPlayClick(event) {
  const link = event.target.closest("a.play");
  if (!link) return;
  event.preventDefault();
  const same = player && player.src === link.href && !player.paused;
  if (player) player.pause();
  document.querySelectorAll("a.play.playing").forEach((a) => a.classList.remove("playing"));
  if (same) return;
  player = new Audio(link.href);
  link.classList.add("playing");
  player.addEventListener("ended", () => link.classList.remove("playing"));
  player.play().catch(() => link.classList.remove("playing"));
}

// -- tallies ----------------------------------------------------------------------------------

function renderTallies(t) {
  if (!t) return;
  renderIntents(t.intents || {});
  renderTodo(t.todo || []);
  renderFlows(t.flows || []);
  renderMinutes(t.minutes || []);
  renderLatency(t.latency || { edges: [], counts: [] });
}

function renderIntents(intents) {
  const tables = Object.entries(intents).map(([flow, counts]) =>
    el("table", { class: "intent-table" },
      el("caption", {}, flow),
      el("tbody", {}, ...Object.entries(counts).map(([intent, n]) =>
        el("tr", {}, el("td", {}, intent), el("td", { class: "num" }, n))))));
  $("intents").replaceChildren(...(tables.length ? tables : [el("p", { class: "empty" }, "No calls routed yet")]));
}

function renderTodo(todo) {
  const items = todo.map((item) =>
    el("li", { class: "todo-item", "data-kind": item.kind },
      el("span", { class: "said" }, `“${item.transcript}”`),
      el("span", { class: "badge", "data-kind": item.kind }, item.kind),
      el("span", { class: "where" }, `${item.flow} / ${item.menu}`),
      el("span", { class: "count" }, `×${item.count}`),
      safeUrl(item.recording) ? el("audio", { controls: "", preload: "none", src: item.recording }) : null));
  $("todo").replaceChildren(...(items.length ? items : [el("li", { class: "empty" }, "Nothing to do")]));
}

// -- flows: Mermaid when static/mermaid.min.js is there, its text otherwise --------------------

let mermaidReady = false;
let mermaidQueue = Promise.resolve();
let graphCount = 0;

function renderFlows(flows) {
  const box = $("flows");
  const names = new Set(flows.map((f) => f.name));
  for (const [name, entry] of state.flows) {
    if (!names.has(name)) { entry.node.remove(); state.flows.delete(name); }
  }
  box.querySelector(".empty")?.remove();
  for (const flow of flows) {
    let entry = state.flows.get(flow.name);
    if (!entry) {
      const graph = el("div", { class: "graph" });
      entry = { text: null, graph, node: el("figure", { class: "flow" }, el("figcaption", {}, flow.name), graph) };
      state.flows.set(flow.name, entry);
    }
    box.append(entry.node); // moves an existing one into order without redrawing it
    if (entry.text !== flow.mermaid) { entry.text = flow.mermaid; drawFlow(entry); }
  }
  if (!flows.length) box.append(el("p", { class: "empty" }, "No flows loaded"));
}

function drawFlow(entry) {
  const text = entry.text;
  if (!mermaidReady) { entry.graph.replaceChildren(el("pre", { class: "mermaid-source" }, text)); return; }
  // One render at a time, and none for a text that a newer one replaced meanwhile.
  mermaidQueue = mermaidQueue.then(async () => {
    if (entry.text !== text) return;
    const id = `flow-graph-${++graphCount}`;
    try {
      const { svg } = await window.mermaid.render(id, text);
      // Mermaid's own output, labels sanitized (securityLevel "strict"): the one markup inserted.
      if (entry.text === text) entry.graph.innerHTML = svg;
    } catch (err) {
      document.getElementById(`d${id}`)?.remove(); // mermaid's scratch element, left on failure
      entry.graph.replaceChildren(el("pre", { class: "mermaid-source" }, text),
        el("p", { class: "error" }, `The graph did not draw: ${err?.message ?? err}`));
    }
  });
}

function loadMermaid() {
  const script = el("script", { src: "static/mermaid.min.js" });
  script.onload = () => {
    if (!window.mermaid) return;
    window.mermaid.initialize({ startOnLoad: false, securityLevel: "strict" });
    mermaidReady = true;
    for (const entry of state.flows.values()) if (entry.text !== null) drawFlow(entry);
  };
  script.onerror = () => {}; // optional: without it the flows stay as text
  document.head.append(script);
}

// -- plots ------------------------------------------------------------------------------------

// The smallest of 1, 2, 5, 10, 20, 50... at or above n.
function niceMax(n) {
  for (let step = 1; ; step *= 10) for (const m of [1, 2, 5]) if (m * step >= n) return m * step;
}

// An SVG chart frame with a y axis up to max; returns the svg and its plotting area.
function chartFrame(label, max) {
  const W = 640, H = 220, box = { left: 36, right: 632, top: 12, bottom: 192 };
  const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": label });
  for (const v of max % 2 ? [0, max] : [0, max / 2, max]) {
    const y = box.bottom - (v / max) * (box.bottom - box.top);
    svgEl("line", { x1: box.left, x2: box.right, y1: y, y2: y, class: "grid" }, svg);
    svgEl("text", { x: box.left - 6, y: y + 4, class: "tick", "text-anchor": "end" }, svg, String(v));
  }
  return { svg, box, scale: (n) => (n / max) * (box.bottom - box.top) };
}

function renderMinutes(minutes) {
  const known = Object.keys(COLOURS);
  const order = (r) => (known.includes(r) ? known.indexOf(r) : known.length);
  const results = [...new Set(minutes.flatMap((m) => Object.keys(m.results || {})))]
    .sort((a, b) => order(a) - order(b) || a.localeCompare(b));
  const totals = minutes.map((m) => Object.values(m.results || {}).reduce((a, b) => a + b, 0));
  const { svg, box, scale } = chartFrame("Decisions per minute by result", niceMax(Math.max(1, ...totals)));
  const slot = (box.right - box.left) / Math.max(1, minutes.length);
  minutes.forEach((m, i) => {
    const x = box.left + i * slot;
    const g = svgEl("g", {}, svg);
    const parts = results.filter((r) => m.results[r]).map((r) => `${r} ${m.results[r]}`);
    svgEl("title", {}, g, `${clockTime(m.minute, false)}: ${parts.join(", ") || "no calls"}`);
    svgEl("rect", { x, y: box.top, width: slot, height: box.bottom - box.top, fill: "transparent" }, g); // hover target
    let y = box.bottom;
    for (const r of results) {
      const h = scale(m.results[r] || 0);
      if (!h) continue;
      y -= h;
      svgEl("rect", { x: x + slot * 0.1, y, width: slot * 0.8, height: h, fill: colour(r) }, g);
    }
    if (i % 5 === 0 || i === minutes.length - 1) {
      svgEl("text", { x: x + slot / 2, y: box.bottom + 16, class: "tick", "text-anchor": "middle" }, svg, clockTime(m.minute, false));
    }
  });
  const legend = el("div", { class: "legend" }, ...results.map((r) => {
    const swatch = el("span", { class: "swatch" });
    swatch.style.background = colour(r);
    return el("span", {}, swatch, r);
  }));
  $("plot-minutes").replaceChildren(svg, results.length ? legend : el("p", { class: "empty" }, "No calls in the last 30 minutes"));
}

function latencyLabels(edges) {
  const label = (e) => (e < 0.5 ? `${Math.round(e * 1000)} ms` : `${e} s`);
  return [...edges.map((e) => `≤${label(e)}`), edges.length ? `> ${label(edges[edges.length - 1])}` : "all"];
}

function renderLatency({ edges, counts }) {
  const labels = latencyLabels(edges);
  const { svg, box, scale } = chartFrame("Calls by time from end of speech to destination", niceMax(Math.max(1, ...counts)));
  const slot = (box.right - box.left) / Math.max(1, counts.length);
  counts.forEach((n, i) => {
    const x = box.left + i * slot;
    const h = scale(n);
    const bar = svgEl("rect", { x: x + slot * 0.1, y: box.bottom - h, width: slot * 0.8, height: h, class: "bar" }, svg);
    svgEl("title", {}, bar, `${labels[i]}: ${n} calls`);
    if (n) svgEl("text", { x: x + slot / 2, y: box.bottom - h - 4, class: "value", "text-anchor": "middle" }, svg, String(n));
    svgEl("text", { x: x + slot / 2, y: box.bottom + 16, class: "tick", "text-anchor": "middle" }, svg, labels[i]);
  });
  $("plot-latency").replaceChildren(svg);
}

// -- the event stream -------------------------------------------------------------------------

function setStatus(kind, text) {
  Object.assign($("status"), { textContent: text }).dataset.state = kind;
}

function applySnapshot(msg) {
  state.offset = msg.now * 1000 - Date.now();
  for (const { row } of state.active.values()) row.remove();
  state.active.clear();
  for (const call of msg.active || []) upsertActive(call);
  activeChanged(); // when there are none
  for (const { row } of state.recent) row.remove();
  state.recent = [];
  // Oldest first, each put on top: the newest ends up first.
  const recent = [...(msg.recent || [])].sort((a, b) => (a.ended_at ?? 0) - (b.ended_at ?? 0));
  for (const rec of recent.slice(-RECENT_MAX)) addRecent(rec);
  recentChanged();
  renderTallies(msg.tallies);
  setStatus("live", "live");
}

function connect() {
  setStatus("connecting", "connecting…");
  const source = new EventSource("events");
  const on = (type, handler) => source.addEventListener(type, (event) => {
    let msg;
    try { msg = JSON.parse(event.data); } catch { return; }
    handler(msg);
  });
  on("snapshot", applySnapshot);
  on("call", (msg) => upsertActive(msg.call));
  on("ended", (msg) => {
    removeActive(msg.call_id);
    addRecent(msg.record);
    recentChanged();
  });
  on("tallies", (msg) => renderTallies(msg.tallies));
  source.addEventListener("error", () => {
    setStatus("down", "disconnected, retrying");
    // EventSource retries by itself, unless the answer was no event stream (a 401, a 502...).
    if (source.readyState === EventSource.CLOSED) setTimeout(connect, 5000);
  });
}

$("filter-flow").addEventListener("change", applyFilters);
$("filter-result").addEventListener("change", applyFilters);
document.addEventListener("click", onPlayClick);
setInterval(tick, 1000);
loadMermaid();
connect();
