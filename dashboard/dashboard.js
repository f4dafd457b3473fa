// The dashboard: reads this server's JSON routes and draws them. No build step, no framework, nothing from
// another host. Every value from the server is put into the page as text (never as HTML).
"use strict";

(() => {
  const LWC = window.LightweightCharts;
  const COLORS = {
    up: "#d32f2f", down: "#1565c0", upFaint: "rgba(211,47,47,0.35)", downFaint: "rgba(21,101,192,0.35)",
    sma20: "#f59e0b", sma60: "#16a34a", sma120: "#7c3aed", band: "#94a3b8", macd: "#2563eb", signal: "#f97316",
    rsi: "#7c3aed", grid: "#eef1f5", text: "#334155", gain: "#1b7f3b", loss: "#c62828", spy: "#64748b",
    portfolio: "#2f5fb3",
  };
  const KOREAN_FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans KR", "Malgun Gothic", sans-serif';
  const state = {
    key: sessionStorage.getItem("dashboardApiKey") || "",
    strategy: null,
    day: null,
    latestDay: null,
    ticker: null,
    period: "20",
    stocks: [],
    charts: {},
  };

  // ---------- helpers ----------

  class RouteError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  function errorText(status, body) {
    if (body && body.error && body.error.message) return body.error.message;
    if (body && typeof body.detail === "string") return body.detail;
    if (body && Array.isArray(body.detail) && body.detail.length) return body.detail[0].msg || `HTTP ${status}`;
    return `the server answered HTTP ${status}`;
  }

  async function api(path, params = {}) {
    const url = new URL(path, window.location.origin);
    for (const [name, value] of Object.entries(params)) {
      if (value !== null && value !== undefined && value !== "") url.searchParams.set(name, value);
    }
    const headers = { Accept: "application/json" };
    if (state.key) headers["X-API-Key"] = state.key;
    let response;
    try {
      response = await fetch(url, { headers });
    } catch (err) {
      throw new RouteError(0, `the server could not be reached (${err.message})`);
    }
    let body = null;
    try {
      body = await response.json();
    } catch (_err) {
      body = null;
    }
    if (!response.ok) {
      if (response.status === 401) showKeyForm();
      throw new RouteError(response.status, errorText(response.status, body));
    }
    return body;
  }

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const $ = (selector) => document.querySelector(selector);

  // replaceChildren would write a null child as the text "null": leave out what is not there.
  function fill(node, ...children) {
    node.replaceChildren(...children.filter((child) => child !== null && child !== undefined && child !== false));
  }

  function setRows(table, rows) {
    const body = table.tBodies[0];
    body.replaceChildren(...rows);
  }

  function messageRow(table, text, isError = false) {
    const columns = table.tHead.rows[0].cells.length;
    return el("tr", {}, el("td", { colspan: columns, class: isError ? "error" : "empty", text }));
  }

  function setState(section, value) {
    $(section).dataset.state = value;
  }

  function num(value, digits = 0) {
    if (value === null || value === undefined || Number.isNaN(value)) return "–";
    return Number(value).toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  }

  function pct(fraction, digits = 2) {
    if (fraction === null || fraction === undefined || Number.isNaN(fraction)) return "–";
    const value = fraction * 100;
    return `${value > 0 ? "+" : ""}${value.toFixed(digits)}%`;
  }

  function signClass(value, korean = false) {
    if (value === null || value === undefined || value === 0) return "";
    if (korean) return value > 0 ? "up" : "down";
    return value > 0 ? "gain" : "loss";
  }

  function krwBig(value) {
    if (value === null || value === undefined) return "–";
    if (value >= 1e12) return `KRW ${(value / 1e12).toFixed(1)} tn`;
    return `KRW ${(value / 1e9).toFixed(0)} bn`;
  }

  function usdBig(value) {
    if (value === null || value === undefined) return "";
    if (value >= 1e12) return `$${(value / 1e12).toFixed(2)} tn`;
    return `$${(value / 1e9).toFixed(1)} bn`;
  }

  const kstFormat = new Intl.DateTimeFormat("en-CA", {
    timeZone: "Asia/Seoul", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    hourCycle: "h23",
  });

  function kst(iso) {
    if (!iso) return "–";
    const text = /[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`; // stored times are UTC
    const moment = new Date(text);
    if (Number.isNaN(moment.getTime())) return iso;
    return kstFormat.format(moment).replace(",", "");
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    if (seconds < 60) return `${seconds.toFixed(1)} s`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
    return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
  }

  function koreanName(name) {
    return el("span", { class: "name", lang: "ko", text: name || "(no name)" });
  }

  function badge(text, kind) {
    return el("span", { class: `badge ${kind}`, text });
  }

  function showKeyForm() {
    $("#key-form").hidden = false;
  }

  function chartOptions(extra = {}) {
    return {
      autoSize: true,
      layout: { background: { color: "#ffffff" }, textColor: COLORS.text, fontFamily: KOREAN_FONT, fontSize: 11,
        panes: { separatorColor: "#cbd5e1", enableResize: true } },
      grid: { vertLines: { color: COLORS.grid }, horzLines: { color: COLORS.grid } },
      rightPriceScale: { borderColor: "#cbd5e1" },
      timeScale: { borderColor: "#cbd5e1", rightOffset: 2 },
      crosshair: { mode: LWC ? LWC.CrosshairMode.Normal : 0 },
      ...extra,
    };
  }

  function chartLibraryMissing(container) {
    if (LWC) return false;
    container.replaceChildren(el("p", { class: "error", text: "The chart library did not load." }));
    return true;
  }

  // ---------- URL state: a view can be bookmarked ----------

  function readUrl() {
    const params = new URLSearchParams(window.location.search);
    state.strategy = params.get("strategy");
    state.day = params.get("day");
    state.ticker = params.get("ticker");
    const period = params.get("period");
    if (["5", "10", "20", "monthly"].includes(period)) state.period = period;
  }

  function writeUrl() {
    const params = new URLSearchParams();
    if (state.strategy) params.set("strategy", state.strategy);
    if (state.day) params.set("day", state.day);
    if (state.ticker) params.set("ticker", state.ticker);
    if (state.period !== "20") params.set("period", state.period);
    const query = params.toString();
    window.history.replaceState(null, "", `${window.location.pathname}${query ? `?${query}` : ""}${window.location.hash}`);
  }

  // ---------- pipeline health ----------

  const usLatest = { promise: null };

  function usTrendingDay() {
    // The US pipeline computes its trending table in the collecting job: its newest table is its analysed day.
    if (!usLatest.promise) {
      usLatest.promise = api("/etf/trending", { period: 20 }).then((b) => b.as_of_date, () => null);
    }
    return usLatest.promise;
  }

  function marketRow(market, analysis, usDay) {
    const problems = [];
    if (market.stale) problems.push(`stale: ${market.behind} session(s) behind`);
    if (market.holes && market.holes.length) problems.push(`${market.holes.length} session(s) missing`);
    if (market.not_done && market.not_done.length) {
      problems.push(`${market.not_done.length} day(s) ${market.not_done.map((n) => n.status).join(", ")}`);
    }
    const noDataSessions = (market.no_data || []).filter((n) => n.still_a_session);
    if (noDataSessions.length) problems.push(`${noDataSessions.length} no_data day(s) the calendar calls sessions`);
    if (!market.last_day) problems.push("nothing collected yet");
    let analysed = "–";
    let analysedBad = false;
    if (market.job_name === "daily_update" && analysis) {
      analysed = analysis.analysed_through || "not yet";
      if (analysis.latest_analysed && analysis.latest_analysed !== analysis.analysed_through) {
        analysed += ` (latest ${analysis.latest_analysed})`;
      }
      if (analysis.stale) {
        analysedBad = true;
        problems.push(`analysis ${analysis.lag} session(s) behind`);
      }
    } else if (market.job_name === "etf_pipeline") {
      analysed = usDay || "not yet";
    }
    const behind = market.behind === null || market.behind === undefined ? "–" : String(market.behind);
    const range = market.first_day ? `${market.last_day} (since ${market.first_day}, ${num(market.completed)} days)` : "–";
    const bad = problems.length > 0;
    return el("tr", { class: bad ? "bad" : "", "data-market": market.job_name },
      el("td", {}, el("span", { class: "name", text: market.label }), el("div", { class: "sub", text: market.job_name })),
      el("td", { class: market.stale ? "bad" : "", text: range }),
      el("td", { class: analysedBad ? "bad" : "", text: analysed }),
      el("td", { class: "num wide-only", text: behind }),
      el("td", {}, bad ? badge(problems.join("; "), "bad") : badge("ok", "ok")));
  }

  function counters(job) {
    const parts = [];
    for (const [name, value] of Object.entries(job.counters || {})) {
      if (value === null || typeof value === "object") continue;
      parts.push(`${name}=${value}`);
    }
    return parts.join(" ");
  }

  function jobRow(job) {
    const failed = job.status === "failed" || job.stuck;
    const failedItems = job.status === "completed" && Number(job.counters && job.counters.failed) > 0;
    const kind = failed ? "bad" : job.status === "running" ? "warn" : failedItems ? "bad" : "ok";
    const label = job.stuck ? `${job.status} (stuck)` : job.status;
    let note = failed && job.error ? job.error : counters(job);
    if (job.failed_in_a_row > 1) note = `${job.failed_in_a_row} failed in a row since ${kst(job.failing_since_utc)}: ${note}`;
    return el("tr", { class: failed || failedItems ? "bad" : "", "data-job": job.job_name },
      el("td", {}, el("span", { class: "name", text: job.job_name }), el("div", { class: "sub phone-only", text: note })),
      el("td", {}, badge(label, kind)),
      el("td", { text: kst(job.started_utc) }),
      el("td", { class: "num wide-only", text: duration(job.seconds) }),
      el("td", { class: "wide-only", text: kst(job.last_completed_utc) }),
      el("td", { class: "sub note wide-only", text: note }));
  }

  async function loadHealth() {
    setState("#health", "loading");
    const attention = $("#attention");
    try {
      const [status, usDay] = await Promise.all([api("/status"), usTrendingDay()]);
      $("#health-asof").textContent = `As of ${kst(status.as_of)} KST.`;
      attention.className = status.attention.length ? "attention" : "attention ok";
      attention.replaceChildren(...(status.attention.length
        ? status.attention.map((line) => el("li", { text: line }))
        : [el("li", { text: "Nothing needs attention." })]));
      setRows($("#markets"), status.markets.map((m) => marketRow(m, status.analysis, usDay)));
      setRows($("#jobs"), status.jobs.length ? status.jobs.map(jobRow) : [messageRow($("#jobs"), "No run recorded yet.")]);
      setState("#health", "ready");
    } catch (err) {
      attention.className = "attention";
      attention.replaceChildren(el("li", { text: `Status unavailable: ${err.message}` }));
      setState("#health", "error");
    }
  }

  // ---------- KRX screener ----------

  async function loadStrategies() {
    const select = $("#strategy");
    const body = await api("/strategies");
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
    el("td", { class: "num", text: num(values.close) }),
    el("td", { class: `num ${signClass(change, true)}`, text: pct(change) }),
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
      ? `Mean return N traded sessions after each past pick${asOf}, next to every analysed stock over the same days.`
      : "";
  }

  async function loadScreener() {
    if (!state.strategy) return;
    setState("#screener", "loading");
    writeUrl();
    const table = $("#picks");
    try {
      const body = await api("/screener", { strategy_name: state.strategy, date: state.day });
      if (!state.day) state.latestDay = body.date;
      $("#screen-day").value = body.date;
      if (state.latestDay) $("#screen-day").max = state.latestDay;
      $("#strategy-description").textContent = body.description;
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

  // ---------- one stock ----------

  async function loadStockList() {
    try {
      const body = await api("/stocks", { limit: 500 });
      state.stocks = body.items || [];
      $("#stock-list").replaceChildren(...state.stocks.map((s) => el("option", { value: s.ticker, text: `${s.name} (${s.market})` })));
    } catch (_err) {
      state.stocks = [];
    }
    return state.stocks;
  }

  function resolveTicker(text) {
    const value = text.trim();
    if (/^[0-9A-Za-z]{6}$/.test(value)) return value.toUpperCase();
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
    if (marks.length && LWC.createSeriesMarkers) LWC.createSeriesMarkers(price, marks);
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

  function drawStockHead(detail) {
    const rows = adjustedRows(detail);
    const last = rows[rows.length - 1];
    const previous = rows[rows.length - 2];
    const change = last && previous && previous.close ? last.close / previous.close - 1 : null;
    fill($("#stock-head"),
      koreanName(detail.name),
      el("span", { class: "sub", text: `${detail.ticker} · ${detail.market || ""}${detail.is_active ? "" : " · not in the universe now"}` }),
      last ? el("span", { class: "price", text: `${num(last.close)} KRW` }) : null,
      change !== null ? el("span", { class: signClass(change, true), text: `${pct(change)} on ${last.date}` }) : null,
      el("span", { class: "sub", text: `market cap ${krwBig(detail.market_cap)}` }),
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
      el("th", { class: "num", text: "KRX base / previous close" }), el("th", { class: "num", text: "Factor" }))),
    el("tbody", {}, ...actions.slice().reverse().map((a) => el("tr", {},
      el("td", { text: actionDay(a) }), el("td", { text: actionText(a) }),
      el("td", { class: "num", text: `${num(a.base_price)} / ${num(a.previous_close)}` }),
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

  async function loadStock(ticker) {
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
      await loadAnalyses(detail.ticker);
      setState("#stock", "ready");
    } catch (err) {
      $("#stock-head").replaceChildren(el("p", { class: "error", text: err.message }));
      setState("#stock", "error");
    }
  }

  // ---------- US ETFs ----------

  function performanceText(perf, benchmark = "SPY") {
    if (!perf) return "performance not evaluated yet";
    if (perf.status === "pending") return `Starts from the close of ${perf.start}: no session held yet.`;
    const held = `${perf.start} → ${perf.through || "–"}, ${perf.sessions} session(s)`;
    const missing = perf.missing && perf.missing.length ? `; no close for ${perf.missing.join(", ")}` : "";
    return `Return ${pct(perf.portfolio_return)} against ${benchmark} ${pct(perf.spy_return)}, excess ${pct(perf.excess_return)} (${held}; ${perf.status})${missing}.`;
  }

  function trendingRow(etf, scale) {
    const width = etf.outperformance === null ? 0 : (Math.abs(etf.outperformance) / scale) * 50;
    const left = etf.outperformance >= 0 ? 50 : 50 - width;
    return el("tr", { class: etf.is_trending ? "" : "sub", "data-etf": etf.etf_ticker },
      el("td", {}, el("b", { text: etf.etf_ticker }), " ", etf.is_trending ? badge("trending", "ok") : null),
      el("td", { class: "wide-only", text: etf.sector_name }),
      el("td", { class: `num ${signClass(etf.return_nd)}`, text: pct(etf.return_nd) }),
      el("td", { class: "num", text: pct(etf.spy_return_nd) }),
      el("td", { title: `against SPY ${pct(etf.outperformance)}` },
        el("div", { class: "bar-row" }, el("span", {
          class: etf.outperformance >= 0 ? "pos" : "neg", style: `left:${left}%;width:${Math.max(width, 0.5)}%`,
        })), el("span", { class: `sub ${signClass(etf.outperformance)}`, text: pct(etf.outperformance) })));
  }

  function weightCell(weight) {
    return el("div", { class: "weight" }, el("div", { class: "track" },
      el("div", { class: "fill", style: `width:${Math.min(100, Math.max(0, weight * 100)).toFixed(1)}%` })),
    el("span", { class: "pct", text: `${(weight * 100).toFixed(1)}%` }));
  }

  function positionRow(p, monthly) {
    const facts = [p.sector, p.source_etfs ? `via ${p.source_etfs.join(", ")}` : null, usdBig(p.market_cap)];
    const why = monthly ? `in the ${p.source_periods.map((d) => `${d}d`).join(", ")} portfolios, score ${num(p.score, 1)}`
      : p.allocation_reason;
    const stock = el("td", {}, el("b", { text: p.ticker }), " ", el("span", { text: p.name || "" }),
      el("div", { class: "sub", text: facts.filter(Boolean).join(" · ") }),
      el("div", { class: "sub why", text: why }));
    const weight = monthly ? p.final_weight : p.weight;
    const change = monthly ? null : p.return_nd;
    return el("tr", { "data-ticker": p.ticker }, el("td", { class: "num", text: monthly ? p.final_rank : p.rank }), stock,
      el("td", {}, weightCell(weight)),
      el("td", { class: `num ${signClass(change)}`, text: monthly ? num(p.score, 1) : pct(change) }));
  }

  function drawHistory(items) {
    const container = $("#history-chart");
    const points = items.filter((i) => i.performance && i.performance.portfolio_return !== null && i.performance.spy_return !== null)
      .map((i) => ({ time: i.as_of_date, p: i.performance }))
      .sort((a, b) => (a.time < b.time ? -1 : 1));
    container.hidden = points.length === 0;
    container.dataset.points = String(points.length);
    if (!points.length || chartLibraryMissing(container)) return;
    if (!state.charts.history) {
      const chart = LWC.createChart(container, chartOptions({
        localization: { priceFormatter: (v) => `${v.toFixed(1)}%` },
      }));
      state.charts.history = {
        chart,
        excess: chart.addSeries(LWC.HistogramSeries, { title: "excess", priceLineVisible: false, lastValueVisible: false }),
        portfolio: chart.addSeries(LWC.LineSeries, { color: COLORS.portfolio, lineWidth: 2, title: "portfolio", priceLineVisible: false }),
        spy: chart.addSeries(LWC.LineSeries, { color: COLORS.spy, lineWidth: 1, lineStyle: 2, title: "SPY", priceLineVisible: false }),
      };
    }
    const h = state.charts.history;
    h.excess.setData(points.map((x) => ({ time: x.time, value: x.p.excess_return * 100,
      color: x.p.excess_return >= 0 ? "rgba(27,127,59,0.45)" : "rgba(198,40,40,0.45)" })));
    h.portfolio.setData(points.map((x) => ({ time: x.time, value: x.p.portfolio_return * 100 })));
    h.spy.setData(points.map((x) => ({ time: x.time, value: x.p.spy_return * 100 })));
    h.chart.timeScale().fitContent();
  }

  const HISTORY_ROWS = 12;

  function historyRows(items) {
    const table = $("#history");
    const newest = items.slice().sort((a, b) => (a.as_of_date < b.as_of_date ? 1 : -1));
    $("#history-note").textContent = newest.length > HISTORY_ROWS
      ? `The latest ${HISTORY_ROWS} of ${newest.length}; the chart shows them all.` : "";
    if (!items.length) return setRows(table, [messageRow(table, "No past portfolio yet.")]);
    setRows(table, newest.slice(0, HISTORY_ROWS).map((i) => {
      const p = i.performance || {};
      return el("tr", {},
        el("td", { text: i.month ? `${i.month} (from ${i.as_of_date})` : i.as_of_date }),
        el("td", { text: p.start ? `${p.start} → ${p.through || "–"} (${p.sessions})` : "–" }),
        el("td", { class: `num ${signClass(p.portfolio_return)}`, text: pct(p.portfolio_return) }),
        el("td", { class: "num", text: pct(p.spy_return) }),
        el("td", { class: `num ${signClass(p.excess_return)}`, text: pct(p.excess_return) }),
        el("td", { class: "sub", text: p.status || "–" }));
    }));
  }

  async function loadEtf() {
    const period = state.period;
    setState("#etf", "loading");
    writeUrl();
    for (const button of document.querySelectorAll("#period button")) {
      button.setAttribute("aria-pressed", String(button.dataset.period === period));
    }
    const monthly = period === "monthly";
    const trendPeriod = monthly ? 20 : Number(period);
    const [trending, portfolio, history] = await Promise.allSettled([
      api("/etf/trending", { period: trendPeriod }),
      monthly ? api("/portfolio/monthly") : api("/portfolio", { period }),
      api("/portfolio/history", { period }),
    ]);
    if (period !== state.period) return; // another period was chosen meanwhile
    const trendTable = $("#trending");
    if (trending.status === "fulfilled") {
      const t = trending.value;
      const scale = Math.max(0.005, ...t.etfs.map((e) => Math.abs(e.outperformance || 0)));
      $("#trending-title").textContent = `Trending ETFs against SPY: ${t.period_days}-session returns to ${t.as_of_date}`;
      setRows(trendTable, t.etfs.map((e) => trendingRow(e, scale)));
    } else {
      setRows(trendTable, [messageRow(trendTable, trending.reason.message, trending.reason.status !== 404)]);
    }
    const table = $("#portfolio");
    table.dataset.period = period;
    $("#portfolio-return-head").textContent = monthly ? "Score" : `Return ${period}d`;
    if (portfolio.status === "fulfilled") {
      const p = portfolio.value;
      const title = monthly ? `Monthly portfolio of ${p.month} (rebalanced ${p.rebalance_date})`
        : `${p.period_days}-session portfolio of ${p.as_of_date}`;
      $("#portfolio-title").textContent = title;
      const valid = p.valid_from ? ` Held ${p.valid_from} → ${p.valid_until || "–"}.` : "";
      $("#portfolio-note").textContent = `${p.note ? `${p.note} ` : ""}${valid} ${performanceText(p.performance, p.benchmark)}`.trim();
      setRows(table, p.positions.length ? p.positions.map((x) => positionRow(x, monthly))
        : [messageRow(table, p.note || "No position: no ETF was trending.")]);
    } else {
      $("#portfolio-title").textContent = monthly ? "Monthly portfolio" : `${period}-session portfolio`;
      $("#portfolio-note").textContent = "";
      setRows(table, [messageRow(table, portfolio.reason.message, portfolio.reason.status !== 404)]);
    }
    if (history.status === "fulfilled") {
      const items = history.value.items || [];
      $("#history-title").textContent = `Past ${monthly ? "monthly" : `${period}-session`} portfolios against SPY (return over each one's holding period)`;
      drawHistory(items);
      historyRows(items);
    } else {
      drawHistory([]);
      setRows($("#history"), [messageRow($("#history"), history.reason.message, history.reason.status !== 404)]);
    }
    const failed = [trending, portfolio, history].some((r) => r.status === "rejected" && r.reason.status !== 404);
    setState("#etf", failed ? "error" : "ready");
  }

  // ---------- wiring ----------

  function wire() {
    $("#strategy").addEventListener("change", (event) => {
      state.strategy = event.target.value;
      loadScreener();
    });
    $("#screen-day").addEventListener("change", (event) => {
      state.day = event.target.value || null;
      if (state.day === state.latestDay) state.day = null;
      loadScreener();
    });
    $("#screen-latest").addEventListener("click", () => {
      state.day = null;
      loadScreener();
    });
    $("#stock-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const text = $("#stock-input").value.trim();
      const ticker = resolveTicker(text);
      if (ticker) loadStock(ticker);
      else fill($("#stock-head"), el("p", { class: "error", text: `No stock of the universe is named "${text}": type a 6-character code (005930) or part of a name from the list.` }));
    });
    $("#stock-days").addEventListener("change", () => loadStock(state.ticker));
    for (const button of document.querySelectorAll("#period button")) {
      button.addEventListener("click", () => {
        state.period = button.dataset.period;
        loadEtf();
      });
    }
    $("#key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      state.key = $("#key-input").value.trim();
      sessionStorage.setItem("dashboardApiKey", state.key);
      $("#key-form").hidden = true;
      start();
    });
  }

  async function start() {
    loadHealth();
    loadEtf();
    const stocks = loadStockList();
    let screened = null;
    try {
      await loadStrategies();
      screened = await loadScreener();
    } catch (err) {
      setRows($("#picks"), [messageRow($("#picks"), `Strategies unavailable: ${err.message}`, true)]);
      setState("#screener", "error");
    }
    if (!state.ticker) {
      const firstPick = screened && screened.picks.length ? screened.picks[0].ticker : null;
      const listed = await stocks;
      state.ticker = firstPick || (listed.length ? listed[0].ticker : null);
    }
    if (state.ticker) await loadStock(state.ticker);
    else setState("#stock", "ready");
  }

  document.addEventListener("DOMContentLoaded", () => {
    readUrl();
    wire();
    start();
  });
})();
