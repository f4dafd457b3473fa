// The AI's calls scored on outcomes: the leaderboard (GET /ai/leaderboard) by horizon, window and prompt, and a
// calibration chart per model (predicted probability against how often it came true), drawn as a small SVG with
// DOM calls (values always as text, never as HTML).
import { $, api, el, kst, messageRow, num, setRows, setState } from "./common.js";

// The SVG namespace as the HTML parser assigns it to an <svg> element (the page's scripts spell out no URL, not
// even a namespace's: tests/api/test_dashboard_route.py).
const SVG = new DOMParser().parseFromString("<svg></svg>", "text/html").body.firstElementChild.namespaceURI;
const view = { body: null, horizon: "5", window: null, prompt: "" };

function svg(tag, attrs = {}, text = null) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

function signed(value, digits = 2) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  const text = value.toFixed(digits);
  if (Number(text) === 0) return (0).toFixed(digits); // no "-0.00" for a value that rounds to zero
  return `${value > 0 ? "+" : ""}${text}`;
}

function share(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return `${(value * 100).toFixed(1)}%`;
}

// A score with its 95% interval underneath ("n/a" when the bootstrap could not compute one).
function withInterval(text, interval, format) {
  return [text, el("div", { class: "sub", text: interval ? `${format(interval.low)} … ${format(interval.high)}` : "no interval" })];
}

function windowName(days) {
  return days === 0 ? "all history" : `last ${num(days)} days`;
}

function usd(value) {
  if (value === null || value === undefined) return "price not set";
  return value < 0.01 ? `$${value.toPrecision(2)}` : `$${value.toFixed(3)}`;
}

function leaderboardRow(row) {
  const tokens = row.tokens_per_scored_call === null ? "" : `${num(row.tokens_per_scored_call)} tokens`;
  return el("tr", { class: row.ranked ? "" : "unranked", "data-model": row.model_ref, title: row.unranked_why || "" },
    el("td", { class: "num", text: row.ranked ? String(row.rank) : "–" }),
    el("td", {}, el("span", { class: "model", text: row.model_ref }),
      row.ranked ? null : el("div", { class: "sub why", text: `not ranked: ${row.unranked_why}` })),
    el("td", { class: "wide-only", text: row.prompt_version ? `${row.prompt}:${row.prompt_version}` : row.prompt }),
    el("td", { class: "num" }, num(row.scored),
      el("div", { class: "sub", text: `of ${num(row.asked)} asked` })),
    el("td", { class: "num" }, ...withInterval(signed(row.brier_skill), row.intervals.brier_skill, signed)),
    el("td", { class: "num" }, ...withInterval(share(row.accuracy), row.intervals.accuracy, share)),
    el("td", { class: "num" }, signed(row.ic_mean),
      el("div", { class: "sub", text: row.icir === null ? "ICIR –" : `ICIR ${signed(row.icir)}` })),
    el("td", { class: "num wide-only" }, usd(row.cost_per_scored_call_usd), el("div", { class: "sub", text: tokens })),
  );
}

// One model's calibration: each non-empty bin's mean probability (x) against the share that beat the median
// (y), dot area by count, with the diagonal a calibrated model follows.
function calibrationChart(row) {
  const size = 180;
  const pad = 26;
  const span = size - 2 * pad;
  const x = (p) => pad + p * span;
  const y = (p) => size - pad - p * span;
  const bins = row.calibration.filter((b) => b.count && b.mean_probability !== null && b.frequency !== null);
  const most = Math.max(1, ...bins.map((b) => b.count));
  const chart = svg("svg", { viewBox: `0 0 ${size} ${size}`, width: size, height: size, role: "img",
    "aria-label": `Calibration of ${row.model_ref}: predicted probability against observed frequency` });
  chart.append(svg("title", {}, `Calibration of ${row.model_ref} (${row.horizon} sessions)`));
  chart.append(svg("rect", { x: pad, y: pad, width: span, height: span, class: "frame" }));
  chart.append(svg("line", { x1: x(0), y1: y(0), x2: x(1), y2: y(1), class: "diagonal" }));
  for (const tick of [0, 0.5, 1]) {
    chart.append(svg("text", { x: x(tick), y: size - pad + 12, "text-anchor": "middle", class: "tick" }, String(tick)));
    chart.append(svg("text", { x: pad - 4, y: y(tick) + 3, "text-anchor": "end", class: "tick" }, String(tick)));
  }
  chart.append(svg("text", { x: size / 2, y: size - 2, "text-anchor": "middle", class: "axis" }, "predicted"));
  chart.append(svg("text", { x: 9, y: size / 2, "text-anchor": "middle", class: "axis",
    transform: `rotate(-90 9 ${size / 2})` }, "observed"));
  if (bins.length > 1) {
    chart.append(svg("polyline", { class: "curve",
      points: bins.map((b) => `${x(b.mean_probability).toFixed(1)},${y(b.frequency).toFixed(1)}`).join(" ") }));
  }
  for (const b of bins) {
    const dot = svg("circle", { cx: x(b.mean_probability).toFixed(1), cy: y(b.frequency).toFixed(1),
      r: (2.5 + 4.5 * Math.sqrt(b.count / most)).toFixed(1), class: "bin" });
    dot.append(svg("title", {}, `${num(b.count)} prediction(s) at ${share(b.mean_probability)} on average: `
      + `${share(b.frequency)} beat the median`));
    chart.append(dot);
  }
  return el("figure", { class: "calibration-chart", "data-model": row.model_ref, "data-bins": bins.length },
    chart, el("figcaption", {}, el("span", { class: "model", text: row.model_ref }),
      el("span", { class: "sub", text: ` ${num(row.scored)} scored` })));
}

function selectOptions(select, values, label, chosen) {
  select.replaceChildren(...values.map((value) => el("option", { value: String(value), text: label(value) })));
  select.value = String(chosen);
}

function draw() {
  const body = view.body;
  const table = $("#leaderboard-table");
  for (const button of document.querySelectorAll("#lb-horizon button")) {
    button.setAttribute("aria-pressed", String(button.dataset.horizon === view.horizon));
  }
  const rows = body.rows.filter((r) => String(r.horizon) === view.horizon && r.window_days === view.window
    && (!view.prompt || r.prompt === view.prompt));
  const computed = body.computed_utc ? `Computed ${kst(body.computed_utc)} KST by ai_evaluate.py. ` : "";
  $("#lb-note").textContent = `${computed}Each model's probability that a stock beats the universe's median return `
    + `${view.horizon} sessions on, scored on what happened (${windowName(view.window)}). Brier skill: 0 is no better `
    + "than always saying the base rate, 1 is perfect; ranges are 95% intervals (day-block bootstrap). Rank IC: the "
    + `daily rank correlation of probability and excess return. A model is ranked from ${num(body.min_count)} scored `
    + "predictions (AI_LEADERBOARD_MIN_COUNT); the others are greyed.";
  const empty = body.empty_why || `No row for ${view.horizon} sessions over ${windowName(view.window)}.`;
  setRows(table, rows.length ? rows.map(leaderboardRow) : [messageRow(table, empty)]);
  const charts = rows.filter((r) => r.scored > 0).map(calibrationChart);
  $("#calibration").replaceChildren(...charts);
  $("#calibration-block").hidden = !charts.length;
}

function wire() {
  for (const button of document.querySelectorAll("#lb-horizon button")) {
    button.addEventListener("click", () => { view.horizon = button.dataset.horizon; draw(); });
  }
  $("#lb-window").addEventListener("change", (event) => { view.window = Number(event.target.value); draw(); });
  $("#lb-prompt").addEventListener("change", (event) => { view.prompt = event.target.value; draw(); });
}

let wired = false;

export async function loadLeaderboard() {
  setState("#leaderboard", "loading");
  if (!wired) { wire(); wired = true; }
  try {
    const body = await api("/ai/leaderboard");
    view.body = body;
    const withRows = body.windows.filter((w) => body.rows.some((r) => r.window_days === w));
    if (!body.windows.includes(view.window)) view.window = withRows.includes(0) ? 0 : (withRows[0] ?? body.windows[0]);
    selectOptions($("#lb-window"), body.windows, windowName, view.window);
    selectOptions($("#lb-prompt"), ["", ...body.prompts], (p) => p || "every prompt", view.prompt);
    draw();
    setState("#leaderboard", "ready");
  } catch (err) {
    const table = $("#leaderboard-table");
    setRows(table, [messageRow(table, `Leaderboard unavailable: ${err.message}`, true)]);
    $("#calibration-block").hidden = true;
    setState("#leaderboard", "error");
  }
}
