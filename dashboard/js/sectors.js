// US sectors: each sector ETF against SPY (5/10/20 sessions and the rebalance month) and one sector's detail:
// its trend, the stocks the portfolios hold from it with their sector average and rank, its ETF's top holdings.
import { $, api, badge, el, fill, messageRow, num, pct, setRows, setState, signClass } from "./common.js";

const PERIODS = [5, 10, 20];
let chosen = null; // the sector slug shown in the detail

function standing(period) {
  if (!period) return el("td", { class: "num", text: "–" });
  return el("td", { class: `num ${signClass(period.outperformance)}`, title: `return ${pct(period.return_nd)}, SPY ${pct(period.spy_return_nd)}` },
    pct(period.outperformance), el("span", { class: "sub", text: period.rank_by_outperformance ? ` #${period.rank_by_outperformance}` : "" }),
    period.is_trending ? [" ", badge("trending", "ok")] : null);
}

function sectorRow(s) {
  const byPeriod = Object.fromEntries(s.periods.map((p) => [p.period_days, p]));
  const m = s.month;
  const month = m ? el("td", { class: `num ${signClass(m.outperformance)}`, title: `${m.start_session} → ${m.end_session}: ${pct(m.month_return)}, SPY ${pct(m.benchmark_month_return)}` },
    pct(m.outperformance), el("span", { class: "sub", text: m.rank ? ` #${m.rank}` : "" })) : el("td", { class: "num", text: "–" });
  return el("tr", { "data-sector": s.slug, class: s.slug === chosen ? "chosen" : "" },
    el("td", {}, el("button", { type: "button", class: "link", text: s.sector, onclick: () => loadSector(s.slug) }),
      el("span", { class: "sub", text: ` ${s.etf_ticker}` })),
    ...PERIODS.map((n) => standing(byPeriod[n])), month);
}

export async function loadSectors() {
  setState("#sectors", "loading");
  const table = $("#sectors-table");
  try {
    const body = await api("/sectors");
    $("#sectors-title").textContent = `US sectors against ${body.benchmark} on ${body.as_of_date}`;
    setRows(table, body.sectors.map(sectorRow));
    setState("#sectors", "ready");
    if (!chosen && body.sectors.length) await loadSector(body.sectors[0].slug);
  } catch (err) {
    setRows(table, [messageRow(table, err.message, err.status !== 404)]);
    setState("#sectors", err.status === 404 ? "ready" : "error");
  }
}

function memberRow(m) {
  const cells = PERIODS.map((n) => el("td", { class: "num", title: `sector average ${pct(m[`sector_avg_${n}d`])}` },
    el("span", { class: signClass(m[`return_${n}d`]), text: pct(m[`return_${n}d`]) }),
    el("span", { class: "sub", text: m[`rank_${n}d`] ? ` #${m[`rank_${n}d`]} of ${m[`sector_size_${n}d`]}` : "" })));
  return el("tr", { "data-ticker": m.ticker },
    el("td", {}, el("b", { text: m.ticker }), " ", el("span", { text: m.name || "" }),
      el("div", { class: "sub", text: `${m.period_days}-session portfolio, weight ${(m.weight * 100).toFixed(1)}% · ${m.sector || "sector unknown"}` })),
    ...cells);
}

function holdingRow(h) {
  const name = h.stock_ticker === "TOP5" ? el("b", { text: h.stock_name }) : [el("b", { text: h.stock_ticker }), " ", el("span", { text: h.stock_name })];
  return el("tr", { "data-holding": h.stock_ticker },
    el("td", { class: "num", text: h.rank_position || "" }), el("td", {}, name, h.reason ? el("div", { class: "sub", text: h.reason }) : null),
    el("td", { class: `num ${signClass(h.total_return)}`, text: pct(h.total_return) }),
    el("td", { class: "num", text: pct(h.avg_return, 3) }),
    el("td", { class: "num", text: pct(h.volatility, 1).replace("+", "") }),
    el("td", { class: `num ${signClass(h.sharpe_ratio)}`, text: num(h.sharpe_ratio, 2) }));
}

export async function loadSector(slug) {
  chosen = slug;
  for (const row of document.querySelectorAll("#sectors-table tbody tr")) row.classList.toggle("chosen", row.dataset.sector === slug);
  const members = $("#sector-members");
  const holdings = $("#sector-holdings");
  try {
    const d = await api(`/sectors/${encodeURIComponent(slug)}`);
    if (chosen !== slug) return; // another sector was chosen meanwhile
    $("#sector-title").textContent = `${d.sector} (${d.etf_ticker}) on ${d.as_of_date}`;
    const trend = d.trend.slice(0, 10).map((t) => {
      const twenty = t.periods.find((p) => p.period_days === 20);
      return `${t.as_of_date} ${twenty ? pct(twenty.outperformance) : "–"}`;
    });
    const months = d.months.map((m) => `${m.month} ${pct(m.outperformance)}${m.rank ? ` (#${m.rank})` : ""}`);
    fill($("#sector-trend"), `20-session lead over ${d.benchmark}, newest first: ${trend.join(" · ") || "none"}. `,
      `Months against ${d.benchmark}: ${months.join(" · ") || "no rebalance yet"}.`);
    setRows(members, d.members_held.length ? d.members_held.map(memberRow)
      : [messageRow(members, `No portfolio of ${d.as_of_date} holds a stock picked from ${d.etf_ticker}.`)]);
    const period = Number($("#sector-period").value);
    const rows = d.top_holdings.filter((h) => h.period_days === period);
    $("#sector-holdings-note").textContent = d.top_holdings_date
      ? `${d.etf_ticker}'s top holdings over ${period} sessions to ${d.top_holdings_date}; volatility annualised (×√252), Sharpe with risk-free ${pct(rows.length ? rows[0].risk_free_rate : 0).replace("+", "")} a year.`
      : `No top-holdings figures for ${d.etf_ticker} yet: its holdings are collected while it trends.`;
    setRows(holdings, rows.length ? rows.map(holdingRow) : [messageRow(holdings, "No figures for this period.")]);
  } catch (err) {
    $("#sector-title").textContent = "Sector";
    $("#sector-trend").textContent = "";
    setRows(members, [messageRow(members, err.message, err.status !== 404)]);
    setRows(holdings, []);
  }
}

export function wireSectors() {
  $("#sector-period").addEventListener("change", () => chosen && loadSector(chosen));
}
