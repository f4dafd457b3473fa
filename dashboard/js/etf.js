// US ETFs: the period selector, trending ETFs against SPY, the portfolio, past portfolios against SPY.
import { $, COLORS, LWC, api, badge, chartLibraryMissing, chartOptions, el, fill, messageRow, num, pct, setRows, setState, signClass, state, usdBig, writeUrl } from "./common.js";

function performanceText(perf, benchmark = "SPY") {
  if (!perf) return "performance not evaluated yet";
  if (perf.status === "pending") return `Starts from the close of ${perf.start}: no session held yet.`;
  const held = `${perf.start} → ${perf.through || "–"}, ${perf.sessions} session(s)`;
  const missing = perf.missing && perf.missing.length ? `; no close for ${perf.missing.join(", ")}` : "";
  return `Return ${pct(perf.portfolio_return)} against ${benchmark} ${pct(perf.spy_return)}, excess ${pct(perf.excess_return)} (${held}; ${perf.status})${missing}.`;
}

// Whether the holdings a portfolio was picked from were known on its session, and how concentrated it is.
function marksLine(p) {
  const snapshots = p.holdings_snapshots || [];
  const late = snapshots.filter((s) => s.age_days === null || s.age_days < 0);
  let head;
  if (p.holdings_known === false) {
    const dates = [...new Set(late.map((s) => s.as_of || "undated"))].join(", ");
    head = [badge("look-ahead", "bad"), ` Not a result: ${late.map((s) => s.etf).join(", ")} holdings as of ${dates}, not known on this session.`];
  } else if (p.holdings_known === true) {
    head = [badge("point in time", "ok"), snapshots.length ? ` Holdings known on the day (as of ${snapshots.map((s) => s.as_of).sort()[0]} to ${p.holdings_as_of}).` : " No holdings used."];
  } else {
    head = [badge("not checked", "warn"), " Stored before portfolios were marked."];
  }
  if (p.holdings_stale) {
    const oldest = snapshots.filter((s) => s.age_days !== null).sort((a, b) => b.age_days - a.age_days)[0];
    head.push(` Stale: ${oldest.etf}'s snapshot is ${num(oldest.age_days)} days old.`);
  }
  const c = p.concentration;
  const conc = c && c.largest_weight !== null
    ? ` Largest weight ${pct(c.largest_weight, 1).replace("+", "")} (${c.largest_ticker}), effective number of holdings ${num(c.effective_holdings, 1)} of ${c.positions}.`
    : "";
  return [...head, conc];
}

function summaryText(history) {
  const s = history.summary || {};
  const parts = [];
  if (s.finished) {
    const figures = s.counted ? `mean excess ${pct(s.mean_excess_return)} a period, beat ${history.benchmark} ${s.beat_benchmark}/${s.counted}` : "no figure";
    const which = s.includes_lookahead ? "all of them" : "those built from holdings known on their day";
    parts.push(`Of ${s.finished} finished, ${s.counted} counted (${which}): ${figures}.`);
  }
  if (history.left_out) parts.push(`${history.left_out} portfolios (finished or not) left out: built from holdings not known on their day (look-ahead) or not checked.`);
  if (history.include_lookahead) parts.push("Look-ahead portfolios included (not a result), marked.");
  return parts.join(" ");
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
        class: etf.outperformance >= 0 ? "up" : "down", style: `left:${left}%;width:${Math.max(width, 0.5)}%`,
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
  $("#history-legend").hidden = points.length === 0;
  if (!points.length || chartLibraryMissing(container)) return;
  if (!state.charts.history) {
    const chart = LWC.createChart(container, chartOptions({
      localization: { priceFormatter: (v) => `${v.toFixed(1)}%` },
    }));
    // No series titles or last-value labels on the axis: three labels stacked there overlapped (the histogram's
    // with no value). The legend under the chart names each series with its latest value.
    const quiet = { priceLineVisible: false, lastValueVisible: false };
    state.charts.history = {
      chart,
      excess: chart.addSeries(LWC.HistogramSeries, quiet),
      portfolio: chart.addSeries(LWC.LineSeries, { color: COLORS.portfolio, lineWidth: 2, ...quiet }),
      spy: chart.addSeries(LWC.LineSeries, { color: COLORS.spy, lineWidth: 1, lineStyle: 2, ...quiet }),
    };
  }
  const h = state.charts.history;
  h.excess.setData(points.map((x) => ({ time: x.time, value: x.p.excess_return * 100,
    color: x.p.excess_return >= 0 ? COLORS.upFaint : COLORS.downFaint })));
  h.portfolio.setData(points.map((x) => ({ time: x.time, value: x.p.portfolio_return * 100 })));
  h.spy.setData(points.map((x) => ({ time: x.time, value: x.p.spy_return * 100 })));
  h.chart.timeScale().fitContent();
  const last = points[points.length - 1];
  const key = (color, label, value, dashed = false) => el("span", {},
    el("span", { class: "swatch", style: `background:${color}${dashed ? ";height:2px" : ""}` }), `${label} `,
    el("b", { class: signClass(value), text: pct(value) }));
  fill($("#history-legend"),
    key(COLORS.portfolio, "portfolio", last.p.portfolio_return),
    key(COLORS.spy, "SPY", last.p.spy_return, true),
    el("span", {}, el("span", { class: "swatch bar", style: `background:${COLORS.upFaint}` }),
      el("span", { class: "swatch bar", style: `background:${COLORS.downFaint}` }), "excess over SPY (bars) ",
    el("b", { class: signClass(last.p.excess_return), text: pct(last.p.excess_return) })),
    el("span", { class: "sub", text: `latest: the portfolio of ${last.time}` }));
}

const HISTORY_ROWS = 12;

function historyRows(items, leftOut = 0) {
  const table = $("#history");
  const newest = items.slice().sort((a, b) => (a.as_of_date < b.as_of_date ? 1 : -1));
  $("#history-note").textContent = newest.length > HISTORY_ROWS
    ? `The latest ${HISTORY_ROWS} of ${newest.length}; the chart shows them all.` : "";
  if (!items.length) {
    return setRows(table, [messageRow(table, leftOut
      ? `No past portfolio built from holdings known on its day: ${leftOut} left out (look-ahead; the box above shows them, marked).`
      : "No past portfolio yet.")]);
  }
  setRows(table, newest.slice(0, HISTORY_ROWS).map((i) => {
    const p = i.performance || {};
    return el("tr", {},
      el("td", { class: "nowrap", text: i.month ? `${i.month} (from ${i.as_of_date})` : i.as_of_date }),
      el("td", { class: "wide-only", text: p.start ? `${p.start} → ${p.through || "–"} (${p.sessions} session(s))` : "–" }),
      el("td", { class: `num ${signClass(p.portfolio_return)}`, text: pct(p.portfolio_return) }),
      el("td", { class: "num", text: pct(p.spy_return) }),
      el("td", { class: `num ${signClass(p.excess_return)}`, text: pct(p.excess_return) }),
      el("td", { class: "sub wide-only" }, p.status || "–", i.holdings_known === false ? [" ", badge("look-ahead", "bad")] : null));
  }));
}

export async function loadEtf() {
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
    api("/portfolio/history", { period, include_lookahead: String($("#history-lookahead").checked) }),
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
    fill($("#portfolio-marks"), ...marksLine(p));
    setRows(table, p.positions.length ? p.positions.map((x) => positionRow(x, monthly))
      : [messageRow(table, p.note || "No position: no ETF was trending.")]);
  } else {
    $("#portfolio-title").textContent = monthly ? "Monthly portfolio" : `${period}-session portfolio`;
    $("#portfolio-note").textContent = "";
    $("#portfolio-marks").textContent = "";
    setRows(table, [messageRow(table, portfolio.reason.message, portfolio.reason.status !== 404)]);
  }
  if (history.status === "fulfilled") {
    const items = history.value.items || [];
    $("#history-title").textContent = `Past ${monthly ? "monthly" : `${period}-session`} portfolios against SPY (return over each one's holding period)`;
    $("#history-summary").textContent = summaryText(history.value);
    drawHistory(items);
    historyRows(items, history.value.left_out);
  } else {
    $("#history-summary").textContent = "";
    drawHistory([]);
    setRows($("#history"), [messageRow($("#history"), history.reason.message, history.reason.status !== 404)]);
  }
  const failed = [trending, portfolio, history].some((r) => r.status === "rejected" && r.reason.status !== 404);
  setState("#etf", failed ? "error" : "ready");
}
