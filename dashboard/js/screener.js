// The screener of the selected market (KRX's by default): a strategy and a day, its picks and its track record
// against that market's universe.
import { $, COLORS, api, el, koreanName, messageRow, money, num, pct, setRows, setState, signClass, state, writeUrl } from "./common.js";
import { loadStock } from "./stock.js";

export async function loadStrategies() {
  const select = $("#strategy");
  const body = await api("/strategies", { market: state.market });
  const names = body.strategies.map((s) => s.name);
  select.replaceChildren(...body.strategies.map((s) => el("option", { value: s.name, title: s.description, text: s.name })));
  if (!names.includes(state.strategy)) {
    state.strategy = names.includes("macd_golden_cross") ? "macd_golden_cross" : names[0] || null;
  }
  select.value = state.strategy || "";
  return body.strategies;
}

function pickRow(pick) {
  const values = pick.values || {};
  const change = pick.change === undefined ? null : pick.change;
  const row = el("tr", { class: "clickable", tabindex: 0, "data-ticker": pick.ticker,
    title: `Show ${pick.ticker} below` },
  el("td", {}, koreanName(pick.name), el("div", { class: "sub", text: `${pick.ticker} · ${pick.market || ""}` })),
  el("td", { class: "num", text: money(values.close, state.currency) }),
  el("td", { class: `num ${signClass(change)}`, text: pct(change) }),
  el("td", { class: "num", text: num(pick.score, 2) }),
  el("td", { class: "reason", text: pick.reason }));
  const open = () => {
    loadStock(pick.ticker);
    $("#stock").scrollIntoView({ behavior: "smooth" });
  };
  row.addEventListener("click", open);
  row.addEventListener("keydown", (event) => { if (event.key === "Enter") open(); });
  return row;
}

function horizonEntries(record) {
  return Object.entries((record && record.horizons) || {}).sort((a, b) => Number(a[0]) - Number(b[0]));
}

function drawTrackRecord(record) {
  const chart = $("#track-chart");
  const entries = horizonEntries(record).filter(([, h]) => h.count);
  setRows($("#track"), entries.length ? entries.map(([horizon, h]) => el("tr", {},
    el("td", { class: "num", text: `${horizon}d` }),
    el("td", { class: "num", text: num(h.count) }),
    el("td", { class: `num ${signClass(h.mean)}`, text: pct(h.mean) }),
    el("td", { class: `num wide-only ${signClass(h.median)}`, text: pct(h.median) }),
    el("td", { class: "num", text: h.hit_rate === null ? "–" : `${(h.hit_rate * 100).toFixed(0)}%` }),
    el("td", { class: `num ${signClass(h.universe_mean)}`, text: pct(h.universe_mean) }),
    el("td", { class: `num ${signClass(h.excess_mean)}`, text: pct(h.excess_mean) }),
  )) : [messageRow($("#track"), "No past pick has a known forward return yet.")]);
  const values = entries.flatMap(([, h]) => [h.mean, h.universe_mean]).filter((v) => v !== null && v !== undefined);
  const scale = Math.max(0.005, ...values.map((v) => Math.abs(v)));
  const bar = (value, kind) => {
    if (value === null || value === undefined) return null;
    const width = (Math.abs(value) / scale) * 50;
    const left = value >= 0 ? 50 : 50 - width;
    return el("span", { class: kind, style: `left:${left}%;width:${Math.max(width, 0.5)}%` });
  };
  chart.replaceChildren(...entries.flatMap(([horizon, h]) => [
    el("span", { class: "label", text: `${horizon}d: ${pct(h.mean, 1)} vs ${pct(h.universe_mean, 1)}` }),
    el("div", { class: "bar-row", title: `picks ${pct(h.mean)}, universe ${pct(h.universe_mean)}` },
      bar(h.universe_mean, "universe"), bar(h.mean, "strategy")),
  ]));
  if (entries.length) {
    chart.append(el("span", {}), el("span", { class: "sub" },
      el("span", { class: "swatch", style: `background:${COLORS.portfolio}` }), "mean return of the picks   ",
      el("span", { class: "swatch", style: "background:#9aa5b5" }), "universe, same days"));
  }
  const asOf = record && record.as_of_date ? ` as of ${record.as_of_date}` : "";
  $("#track-note").textContent = entries.length
    ? `Mean return N traded sessions after each past pick${asOf}, next to every analysed stock over the same days. `
      + "A pick is the first day of a stock's run of firing days"
      + (record.firing_days != null ? ` (${num(record.picks)} picks from ${num(record.firing_days)} firing days).` : ".")
    : "";
}

export async function loadScreener() {
  if (!state.strategy) return;
  setState("#screener", "loading");
  writeUrl();
  const table = $("#picks");
  try {
    const body = await api("/screener", { strategy_name: state.strategy, date: state.day, market: state.market });
    if (!state.day) state.latestDay = body.date;
    $("#screen-day").value = body.date;
    if (state.latestDay) $("#screen-day").max = state.latestDay;
    $("#strategy-description").textContent = body.score_meaning
      ? `${body.description.replace(/\.$/, "")}. Score: ${body.score_meaning.replace(/\.$/, "")}.`
      : body.description;
    $("#picks-title").textContent = `${body.count} pick${body.count === 1 ? "" : "s"} of ${body.strategy} on ${body.date}`;
    setRows(table, body.picks.length ? body.picks.map(pickRow) : [messageRow(table, `No stock fires on ${body.date}.`)]);
    drawTrackRecord(body.track_record);
    setState("#screener", "ready");
    return body;
  } catch (err) {
    if (state.day && !Number.isNaN(Date.parse(state.day))) $("#screen-day").value = state.day;
    $("#picks-title").textContent = `Picks of ${state.strategy}${state.day ? ` on ${state.day}` : ""}`;
    setRows(table, [messageRow(table, err.message, true)]);
    drawTrackRecord(null);
    setState("#screener", "error");
    return null;
  }
}
