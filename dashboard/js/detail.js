// A stock's fundamentals (profile, latest known quarter, TTM) and options summary, when GET /stocks/{ticker}
// carries them (a US stock): text only, each figure with its unit and period.
import { $, el, fill, money, num } from "./common.js";

// [field, label, in the TTM too (a flow; balance-sheet items are at the quarter's end only)]
const FIGURES = [
  ["total_revenue", "Revenue", true], ["operating_income", "Operating income", true],
  ["net_income", "Net income", true], ["diluted_eps", "Diluted EPS (per share)", true],
  ["ebitda", "EBITDA", true], ["operating_cash_flow", "Operating cash flow", true],
  ["free_cash_flow", "Free cash flow", true], ["capital_expenditure", "Capital expenditure", true],
  ["total_assets", "Total assets (at period end)", false], ["total_debt", "Total debt (at period end)", false],
  ["stockholders_equity", "Stockholders' equity (at period end)", false],
];

// An amount in its currency, short: $391.04 bn, -$12.7 bn, 2.50 EUR m.
export function amount(value, currency) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  const sign = value < 0 ? "-" : "";
  const size = Math.abs(value);
  const [scaled, unit] = size >= 1e12 ? [size / 1e12, " tn"] : size >= 1e9 ? [size / 1e9, " bn"]
    : size >= 1e6 ? [size / 1e6, " m"] : [size, ""];
  const digits = unit === " tn" ? 2 : unit ? 1 : 0;
  return currency === "USD" ? `${sign}$${num(scaled, digits)}${unit}` : `${sign}${num(scaled, digits)}${unit} ${currency || ""}`.trim();
}

const day = (iso) => (iso ? String(iso).slice(0, 10) : "–");
const minute = (iso) => (iso ? `${String(iso).slice(0, 16).replace("T", " ")} UTC` : "–");
const ivPct = (fraction) => (fraction === null || fraction === undefined ? "–" : `${(fraction * 100).toFixed(1)}%`);
const ratio = (value) => (value === null || value === undefined ? "–" : num(value, 2));

function fundamentalsBox(f) {
  const q = f.latest_quarter;
  const t = f.ttm;
  const profile = [f.sector, f.industry].filter(Boolean).join(" · ") || "sector not known";
  const shares = f.shares_outstanding ? ` · ${num(f.shares_outstanding / 1e6, 1)} m shares outstanding` : "";
  const parts = [el("p", { class: "note", text: `${profile}${shares} (profile of ${f.profile_as_of || "–"})` })];
  if (!q) {
    parts.push(el("p", { class: "empty", text: "No quarter known at this date." }));
    return parts;
  }
  const cell = (field, values) => (field === "diluted_eps" ? money(values[field], f.currency) : amount(values[field], f.currency));
  const head = el("tr", {}, el("th", { text: `In ${f.currency}` }),
    el("th", { class: "num", text: `Quarter to ${day(q.period_end)}` }),
    t ? el("th", { class: "num", text: `TTM to ${day(t.through)} (4 quarters)` }) : null);
  const rows = FIGURES.map(([field, label, flow]) => el("tr", {}, el("td", { text: label }),
    el("td", { class: "num", text: cell(field, q) }),
    t ? el("td", { class: "num", text: flow ? cell(field, t) : "" }) : null));
  parts.push(el("div", { class: "scroll" }, el("table", { id: "fundamentals-table" }, el("thead", {}, head), el("tbody", {}, ...rows))));
  parts.push(el("p", { class: "note", text: `Quarter known from ${minute(q.known_at_utc)}${t ? `; TTM from ${minute(t.known_at_utc)}` : "; no TTM (fewer than four consecutive quarters known)"}.` }));
  return parts;
}

function optionsText(o) {
  const d = o.dropped || {};
  return `Options, session ${day(o.session)} (expirations within ${o.max_days} days): put/call volume ${ratio(o.put_call_volume)}, `
    + `put/call open interest ${ratio(o.put_call_open_interest)} · ATM IV ${ivPct(o.atm_iv)} a year `
    + `(expiry ${day(o.atm_expiry)}, strike ${money(o.atm_strike, o.currency)}) · rows dropped: ${num(d.zero_bid_ask)} no bid/ask, `
    + `${num(d.no_strike)} no strike, ${num(d.unreadable)} unreadable; ${num(d.iv_implausible)} with an unusable IV.`;
}

// Shows the blocks the answer carries; hides the panel when it carries neither (a KRX stock).
export function drawDetail(detail) {
  const box = $("#stock-detail");
  if (!box) return;
  const f = detail.fundamentals;
  const o = detail.options;
  box.hidden = !f && !o;
  fill($("#fundamentals"), ...(f ? fundamentalsBox(f) : [el("p", { class: "empty", text: "No statements known." })]));
  $("#options-line").textContent = o ? optionsText(o) : "Options: no summary known at this date.";
}
