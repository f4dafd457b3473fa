// One stock: candlesticks with volume and overlays, MACD and RSI panes, corporate actions, filings and news
// (context.js), fundamentals and options (detail.js), AI analyses.
import { filingMarks, loadFilings, loadNews } from "./context.js";
import { drawDetail } from "./detail.js";
import { $, COLORS, LWC, api, badge, capBig, chartLibraryMissing, chartOptions, el, fill, koreanName, kst, money, num, pct, setState, signClass, state, writeUrl } from "./common.js";

export async function loadStockList() {
  try {
    const body = await api("/stocks", { limit: 500, market: state.market });
    state.stocks = body.items || [];
    $("#stock-list").replaceChildren(...state.stocks.map((s) => el("option", { value: s.ticker, text: `${s.name} (${s.market})` })));
  } catch (_err) {
    state.stocks = [];
  }
  return state.stocks;
}

export function resolveTicker(text) {
  const value = text.trim();
  // a KRX code (005930) or a US symbol (AAPL, BRK-B): the server finds it in whichever market holds it
  if (/^(?:[0-9A-Za-z]{6}|[A-Za-z][A-Za-z0-9]{0,5}(?:[.-][A-Za-z0-9]{1,2})?)$/.test(value)) return value.toUpperCase();
  const exact = state.stocks.find((s) => s.name === value);
  if (exact) return exact.ticker;
  const partial = value ? state.stocks.find((s) => s.name && s.name.includes(value)) : null;
  return partial ? partial.ticker : null;
}

function series(rows, column) {
  const out = [];
  for (const row of rows) {
    const value = row.indicators ? row.indicators[column] : undefined;
    if (value !== null && value !== undefined) out.push({ time: row.date, value });
  }
  return out;
}

function lineOptions(color, title, extra = {}) {
  return { color, lineWidth: 1, title, lastValueVisible: false, priceLineVisible: false, crosshairMarkerVisible: false, ...extra };
}

function actionText(action) {
  const factor = Number(action.factor);
  if (!factor) return action.kind || "adjustment";
  const trim = (v) => String(Number(v.toFixed(2)));
  if (action.kind === "split") return `split 1:${trim(1 / factor)}`;
  if (action.kind === "reverse_split") return `reverse split ${trim(factor)}:1`;
  if (action.kind === "ex_rights") return `ex-rights ×${factor.toFixed(4)}`;
  return `adjustment ×${factor < 1 ? factor.toFixed(4) : trim(factor)}`;
}

function actionDay(action) {
  return String(action.date).slice(0, 10);
}

// The server sends prices as traded and indicators on the back-adjusted series: the chart adjusts the bars
// the same way (prices before an ex-date times its factor, volumes divided by it) so candles and overlays
// agree across a split.
function adjustedRows(detail) {
  const actions = (detail.corporate_actions || []).map((a) => ({ day: actionDay(a), factor: Number(a.factor) }))
    .filter((a) => a.factor > 0);
  const factorOn = (day) => actions.reduce((f, a) => (day < a.day ? f * a.factor : f), 1);
  return detail.rows.filter((r) => r.close !== null).map((r) => {
    const f = factorOn(r.date);
    if (f === 1) return r;
    const scale = (v) => (v === null || v === undefined ? v : v * f);
    return { ...r, open: scale(r.open), high: scale(r.high), low: scale(r.low), close: scale(r.close),
      volume: r.volume === null ? null : r.volume / f, adjusted: f };
  });
}

function drawStock(detail) {
  const container = $("#stock-chart");
  if (state.charts.stock) {
    state.charts.stock.remove();
    state.charts.stock = null;
    state.charts.stockMarks = null;
  }
  container.hidden = false;
  if (chartLibraryMissing(container)) return;
  const rows = adjustedRows(detail);
  const candles = rows.filter((r) => !r.halted && r.open !== null && r.high !== null && r.low !== null)
    .map((r) => ({ time: r.date, open: r.open, high: r.high, low: r.low, close: r.close }));
  const chart = LWC.createChart(container, chartOptions({
    localization: { priceFormatter: (p) => num(p, Math.abs(p) < 100 ? 2 : 0) },
  }));
  state.charts.stock = chart;
  const price = chart.addSeries(LWC.CandlestickSeries, {
    upColor: COLORS.up, downColor: COLORS.down, borderUpColor: COLORS.up, borderDownColor: COLORS.down,
    wickUpColor: COLORS.up, wickDownColor: COLORS.down, priceLineVisible: false,
  });
  price.setData(candles);
  price.priceScale().applyOptions({ scaleMargins: { top: 0.06, bottom: 0.24 } });
  const volume = chart.addSeries(LWC.HistogramSeries, {
    priceScaleId: "volume", priceFormat: { type: "volume" }, lastValueVisible: false, priceLineVisible: false,
  });
  volume.setData(rows.filter((r) => r.volume !== null).map((r, i, all) => ({
    time: r.date, value: r.volume,
    color: i > 0 && r.close < all[i - 1].close ? COLORS.downFaint : COLORS.upFaint,
  })));
  chart.priceScale("volume").applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
  const overlays = [
    ["bb_upper", COLORS.band, "BB upper", { lineStyle: 2 }], ["bb_lower", COLORS.band, "BB lower", { lineStyle: 2 }],
    ["sma_20", COLORS.sma20, "SMA 20"], ["sma_60", COLORS.sma60, "SMA 60"], ["sma_120", COLORS.sma120, "SMA 120"],
  ];
  const lines = {};
  for (const [column, color, title, extra] of overlays) {
    lines[column] = chart.addSeries(LWC.LineSeries, lineOptions(color, "", extra));
    lines[column].setData(series(rows, column));
  }
  const macdHist = chart.addSeries(LWC.HistogramSeries, { priceLineVisible: false, lastValueVisible: false }, 1);
  macdHist.setData(series(rows, "macd_hist").map((p) => ({ ...p, color: p.value >= 0 ? COLORS.upFaint : COLORS.downFaint })));
  const macd = chart.addSeries(LWC.LineSeries, lineOptions(COLORS.macd, "MACD", { lastValueVisible: true }), 1);
  macd.setData(series(rows, "macd"));
  const signal = chart.addSeries(LWC.LineSeries, lineOptions(COLORS.signal, "signal"), 1);
  signal.setData(series(rows, "macd_signal"));
  const rsi = chart.addSeries(LWC.LineSeries, lineOptions(COLORS.rsi, "RSI 14", {
    lastValueVisible: true, autoscaleInfoProvider: () => ({ priceRange: { minValue: 0, maxValue: 100 } }),
  }), 2);
  rsi.setData(series(rows, "rsi_14"));
  for (const level of [70, 30]) {
    rsi.createPriceLine({ price: level, color: COLORS.band, lineWidth: 1, lineStyle: 2, axisLabelVisible: true, title: "" });
  }
  const panes = chart.panes();
  if (panes.length === 3) {
    panes[0].setStretchFactor(3);
    panes[1].setStretchFactor(1);
    panes[2].setStretchFactor(1);
  }
  const days = new Set(candles.map((c) => c.time));
  const marks = (detail.corporate_actions || []).filter((a) => days.has(actionDay(a))).map((a) => ({
    time: actionDay(a), position: "aboveBar", shape: "arrowDown", color: "#b45309", text: actionText(a),
  }));
  // The filings' marks join these when they arrive (markFilings): one markers plugin for both.
  state.charts.stockMarks = { price, actions: marks, days, plugin: null };
  if (marks.length && LWC.createSeriesMarkers) state.charts.stockMarks.plugin = LWC.createSeriesMarkers(price, marks);
  chart.timeScale().fitContent();
  container.dataset.candles = String(candles.length);
  container.dataset.adjusted = String(rows.filter((r) => r.adjusted).length);
  container.dataset.marks = String(marks.length);

  const byDay = new Map(rows.map((r) => [r.date, r]));
  const legend = $("#stock-legend");
  const showLegend = (row) => {
    if (!row) return;
    const ind = row.indicators || {};
    const item = (label, value, color) => el("span", {},
      color ? el("span", { class: "swatch", style: `background:${color}` }) : null, `${label} `, el("b", { text: value }));
    fill(legend,
      el("span", { text: row.date }),
      item("O", num(row.open)), item("H", num(row.high)), item("L", num(row.low)), item("C", num(row.close)),
      item("Vol", num(row.volume)),
      item("SMA20", num(ind.sma_20), COLORS.sma20), item("SMA60", num(ind.sma_60), COLORS.sma60),
      item("SMA120", num(ind.sma_120), COLORS.sma120), item("BB", `${num(ind.bb_lower)}–${num(ind.bb_upper)}`, COLORS.band),
      item("MACD", `${num(ind.macd, 1)} / ${num(ind.macd_signal, 1)}`, COLORS.macd), item("RSI", num(ind.rsi_14, 1), COLORS.rsi),
      row.adjusted ? el("span", { class: "sub", text: `prices ×${row.adjusted.toFixed(4)}: back-adjusted for later corporate actions` }) : null,
    );
  };
  chart.subscribeCrosshairMove((param) => {
    const row = param && param.time ? byDay.get(typeof param.time === "string" ? param.time : dayOf(param.time)) : null;
    showLegend(row || rows[rows.length - 1]);
  });
  showLegend(rows[rows.length - 1]);
}

function dayOf(time) {
  if (typeof time === "object" && time.year) {
    return `${time.year}-${String(time.month).padStart(2, "0")}-${String(time.day).padStart(2, "0")}`;
  }
  return String(time);
}

// Filings as marks below the candles, with the corporate actions' (a chart drawn since, for another stock or
// window, is left alone).
function markFilings(marks, filings) {
  if (!marks || marks !== state.charts.stockMarks || !LWC || !LWC.createSeriesMarkers) return;
  const added = filingMarks(filings, marks.days);
  const all = [...marks.actions, ...added].sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  if (marks.plugin) marks.plugin.setMarkers(all);
  else if (all.length) marks.plugin = LWC.createSeriesMarkers(marks.price, all);
  $("#stock-chart").dataset.filingMarks = String(added.length);
}

function drawStockHead(detail) {
  const rows = adjustedRows(detail);
  const last = rows[rows.length - 1];
  const previous = rows[rows.length - 2];
  const change = last && previous && previous.close ? last.close / previous.close - 1 : null;
  fill($("#stock-head"),
    koreanName(detail.name),
    el("span", { class: "sub", text: `${detail.ticker} · ${detail.market || ""}${detail.is_active ? "" : " · not in the universe now"}` }),
    last ? el("span", { class: "price", text: money(last.close, detail.currency || "KRW") }) : null,
    change !== null ? el("span", { class: signClass(change), text: `${pct(change)} on ${last.date}` }) : null,
    el("span", { class: "sub", text: `market cap ${capBig(detail.market_cap, detail.currency || "KRW")}` }),
    el("span", { class: "sub", text: `indicators through ${detail.analysis_date || "–"}` }),
  );
}

function drawActions(detail) {
  const box = $("#actions");
  const actions = detail.corporate_actions || [];
  if (!actions.length) {
    box.replaceChildren(el("p", { class: "empty", text: "None in the stored history." }));
    return;
  }
  const table = el("table", {}, el("thead", {}, el("tr", {},
    el("th", { text: "Ex-date" }), el("th", { text: "Event" }),
    el("th", { class: "num", text: "Base / previous close" }), el("th", { class: "num", text: "Factor" }))),
  el("tbody", {}, ...actions.slice().reverse().map((a) => el("tr", {},
    el("td", { text: actionDay(a) }), el("td", { text: actionText(a) }),
    el("td", { class: "num", text: `${money(a.base_price, detail.currency || "KRW")} / ${money(a.previous_close, detail.currency || "KRW")}` }),
    el("td", { class: "num", text: Number(a.factor).toFixed(4) })))));
  box.replaceChildren(el("div", { class: "scroll" }, table),
    el("p", { class: "note", text: "The chart shows prices before each ex-date multiplied by its factor (volumes divided), as the indicators are computed." }));
}

function resultValue(value) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "number") return Number.isInteger(value) ? num(value) : num(value, 2);
  if (Array.isArray(value) && value.every((v) => typeof v !== "object")) return value.join("; ");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function analysisCard(item) {
  const head = el("div", {}, el("b", { text: item.prompt || "analysis" }), " ",
    badge(item.status || "", item.status === "ok" ? "ok" : "bad"), " ",
    el("span", { class: "sub", text: `${item.provider || ""}/${item.model || ""} · data of ${item.data_date || "–"} · asked ${kst(item.created_utc)} KST` }));
  if (!item.result) return el("div", { class: "card" }, head, el("p", { class: "error", text: item.error || "no result" }));
  const rows = Object.entries(item.result).map(([name, value]) => [
    el("dt", { text: name.replaceAll("_", " ") }), el("dd", { lang: "ko", text: resultValue(value) })]);
  return el("div", { class: "card" }, head, el("dl", { class: "result" }, rows.flat()));
}

async function loadAnalyses(ticker) {
  const box = $("#ai");
  try {
    const body = await api("/ai/analysis", { ticker, limit: 3 });
    const items = body.items || [];
    box.replaceChildren(...(items.length ? items.map(analysisCard)
      : [el("p", { class: "empty", text: "No AI analysis stored for this stock (POST /ai/analysis makes one)." })]));
  } catch (err) {
    box.replaceChildren(el("p", { class: "error", text: `AI analyses unavailable: ${err.message}` }));
  }
}

function noneFor(box, detail) {
  const node = $(box);
  if (node) node.replaceChildren(el("p", { class: "empty", text: `None for ${detail.market_id.toUpperCase()} stocks.` }));
  return [];
}

export async function loadStock(ticker) {
  if (!ticker) return;
  state.ticker = ticker;
  writeUrl();
  $("#stock-input").value = ticker;
  setState("#stock", "loading");
  for (const row of document.querySelectorAll("#picks tr[data-ticker]")) {
    row.classList.toggle("selected", row.dataset.ticker === ticker);
  }
  try {
    const detail = await api(`/stocks/${encodeURIComponent(ticker)}`, { days: $("#stock-days").value });
    drawStockHead(detail);
    drawStock(detail);
    drawActions(detail);
    drawDetail(detail);
    const marks = state.charts.stockMarks;
    const firstDay = detail.rows.length ? detail.rows[0].date : null;
    // OpenDART filings and the AI's analyses are of the first market's (KRX's) stocks
    const home = !detail.market_id || !state.markets.length || detail.market_id === state.markets[0].market;
    const [filings] = await Promise.all([
      home ? loadFilings(detail.ticker, firstDay) : Promise.resolve(noneFor("#filings", detail)),
      loadNews(detail.ticker),
      home ? loadAnalyses(detail.ticker) : Promise.resolve(noneFor("#ai", detail))]);
    markFilings(marks, filings);
    setState("#stock", "ready");
  } catch (err) {
    $("#stock-head").replaceChildren(el("p", { class: "error", text: err.message }));
    setState("#stock", "error");
  }
}
