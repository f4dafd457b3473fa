// What every panel shares: the server's JSON routes, building elements (values always as text, never as
// HTML), number and time formats, the chart defaults, the page's state and its URL.

export const LWC = window.LightweightCharts;
// One colour convention for every rise and fall on the page, set by the server (DASHBOARD_UP_COLOR_CONVENTION)
// on the page's root element: kr = red up, blue down (Korean brokers); us = green up, red down.
export const CONVENTION = document.documentElement.dataset.upColor === "us" ? "us" : "kr";
const SIGN_COLORS = {
  kr: { up: "#d32f2f", down: "#1565c0", upFaint: "rgba(211,47,47,0.35)", downFaint: "rgba(21,101,192,0.35)",
    words: ["red", "blue"], name: "Korean" },
  us: { up: "#1b7f3b", down: "#c62828", upFaint: "rgba(27,127,59,0.4)", downFaint: "rgba(198,40,40,0.4)",
    words: ["green", "red"], name: "US" },
}[CONVENTION];
export const COLORS = {
  up: SIGN_COLORS.up, down: SIGN_COLORS.down, upFaint: SIGN_COLORS.upFaint, downFaint: SIGN_COLORS.downFaint,
  sma20: "#f59e0b", sma60: "#16a34a", sma120: "#7c3aed", band: "#94a3b8", macd: "#2563eb", signal: "#f97316",
  rsi: "#7c3aed", grid: "#eef1f5", text: "#334155", spy: "#64748b",
  portfolio: "#2f5fb3",
};
const KOREAN_FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans KR", "Malgun Gothic", sans-serif';
export const state = {
  key: sessionStorage.getItem("dashboardApiKey") || "",
  strategy: null,
  day: null,
  latestDay: null,
  ticker: null,
  market: null, // the market of the screener and stock panels (null: the server's default, krx)
  markets: [], // GET /markets: the markets whose stocks this server screens
  currency: "KRW", // the selected market's
  period: "20",
  stocks: [],
  charts: {},
};

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

export async function api(path, params = {}) {
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

export function el(tag, attrs = {}, ...children) {
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

export const $ = (selector) => document.querySelector(selector);

// A link to another site from stored outside data: only http(s) becomes a link (a `javascript:` or `data:` URL
// in a stored item stays plain text), opened in a new tab that gets no handle on this page.
export function outsideLink(url, text, attrs = {}) {
  let parsed = null;
  try {
    parsed = new URL(String(url || ""));
  } catch (_err) {
    parsed = null;
  }
  if (!parsed || !["http:", "https:"].includes(parsed.protocol)) return el("span", { ...attrs, text });
  return el("a", { ...attrs, href: parsed.href, target: "_blank", rel: "noopener noreferrer", text });
}

// replaceChildren would write a null child as the text "null": leave out what is not there.
export function fill(node, ...children) {
  node.replaceChildren(...children.filter((child) => child !== null && child !== undefined && child !== false));
}

export function setRows(table, rows) {
  const body = table.tBodies[0];
  body.replaceChildren(...rows);
}

export function messageRow(table, text, isError = false) {
  const columns = table.tHead.rows[0].cells.length;
  return el("tr", {}, el("td", { colspan: columns, class: isError ? "error" : "empty", text }));
}

export function setState(section, value) {
  $(section).dataset.state = value;
}

export function num(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return Number(value).toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function pct(fraction, digits = 2) {
  if (fraction === null || fraction === undefined || Number.isNaN(fraction)) return "–";
  const value = fraction * 100;
  return `${value > 0 ? "+" : ""}${value.toFixed(digits)}%`;
}

// A rise or a fall, in the page's one convention (the stylesheet colours .up and .down).
export function signClass(value) {
  if (value === null || value === undefined || value === 0 || Number.isNaN(value)) return "";
  return value > 0 ? "up" : "down";
}

// The page's legend: which colour is a rise, which a fall, and the setting that chooses them.
export function colourLegend() {
  const [upWord, downWord] = SIGN_COLORS.words;
  return [
    el("span", { class: "up", text: `▲ ${upWord} = up` }), " ",
    el("span", { class: "down", text: `▼ ${downWord} = down` }),
    ` (${SIGN_COLORS.name} convention`,
    el("span", { class: "wide-only", text: ", for every price, return and chart on this page; "
      + "DASHBOARD_UP_COLOR_CONVENTION=kr|us chooses" }),
    ")",
  ];
}

export function krwBig(value) {
  if (value === null || value === undefined) return "–";
  if (value >= 1e12) return `KRW ${(value / 1e12).toFixed(1)} tn`;
  return `KRW ${(value / 1e9).toFixed(0)} bn`;
}

// A price with its currency: ₩ 71,000 / $196.45 (won have no decimals; other currencies two).
export function money(value, currency) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  if (currency === "KRW") return `₩ ${num(value)}`;
  const symbol = { USD: "$" }[currency];
  return symbol ? `${symbol}${num(value, 2)}` : `${num(value, 2)} ${currency || ""}`.trim();
}

// A market cap in its currency.
export function capBig(value, currency) {
  return currency === "USD" ? usdBig(value) || "–" : krwBig(value);
}

export function usdBig(value) {
  if (value === null || value === undefined) return "";
  if (value >= 1e12) return `$${(value / 1e12).toFixed(2)} tn`;
  return `$${(value / 1e9).toFixed(1)} bn`;
}

const kstFormat = new Intl.DateTimeFormat("en-CA", {
  timeZone: "Asia/Seoul", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  hourCycle: "h23",
});

export function kst(iso) {
  if (!iso) return "–";
  const text = /[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`; // stored times are UTC
  const moment = new Date(text);
  if (Number.isNaN(moment.getTime())) return iso;
  return kstFormat.format(moment).replace(",", "");
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

export function koreanName(name) {
  return el("span", { class: "name", lang: "ko", text: name || "(no name)" });
}

export function badge(text, kind) {
  return el("span", { class: `badge ${kind}`, text });
}

function showKeyForm() {
  $("#key-form").hidden = false;
}

export function chartOptions(extra = {}) {
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

export function chartLibraryMissing(container) {
  if (LWC) return false;
  container.replaceChildren(el("p", { class: "error", text: "The chart library did not load." }));
  return true;
}

export function readUrl() {
  const params = new URLSearchParams(window.location.search);
  state.strategy = params.get("strategy");
  state.day = params.get("day");
  state.ticker = params.get("ticker");
  const market = params.get("market");
  if (market && /^[a-z_]{1,20}$/.test(market)) state.market = market;
  const period = params.get("period");
  if (["5", "10", "20", "monthly"].includes(period)) state.period = period;
}

export function writeUrl() {
  const params = new URLSearchParams();
  if (state.strategy) params.set("strategy", state.strategy);
  if (state.day) params.set("day", state.day);
  if (state.ticker) params.set("ticker", state.ticker);
  if (state.market && state.markets.length && state.market !== state.markets[0].market) params.set("market", state.market);
  if (state.period !== "20") params.set("period", state.period);
  const query = params.toString();
  window.history.replaceState(null, "", `${window.location.pathname}${query ? `?${query}` : ""}${window.location.hash}`);
}
