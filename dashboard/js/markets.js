// The market selector of the screener and stock panels: the markets whose stocks this server screens (GET /markets),
// shown only when there is more than one. Both panels follow the one selected market.
import { $, api, el, state, writeUrl } from "./common.js";

export async function loadMarkets() {
  try {
    const body = await api("/markets");
    state.markets = body.markets || [];
  } catch (_err) {
    state.markets = []; // an older server, or no key yet: the default market only, no selector
  }
  const known = state.markets.map((m) => m.market);
  if (!known.includes(state.market)) state.market = known[0] || null;
  const current = state.markets.find((m) => m.market === state.market);
  state.currency = current ? current.currency : "KRW";
  const options = () => state.markets.map((m) => el("option", {
    value: m.market, disabled: !m.on,
    title: m.on ? `${m.label}: ${m.stocks} stocks, prices in ${m.currency}` : `${m.label}: off on this server (${m.off})`,
    text: `${m.market.toUpperCase()} (${m.currency})${m.on ? "" : " – off"}`,
  }));
  for (const id of ["#market", "#stock-market"]) {
    const select = $(id);
    select.replaceChildren(...options());
    select.value = state.market || "";
    // a choice only when two markets are on here: a KRX-only install (US_STOCKS=false) shows no selector
    select.closest("label").hidden = state.markets.filter((m) => m.on).length < 2;
  }
  showMarket();
  return state.markets;
}

// The selected market in the panels' titles and column heads.
export function showMarket() {
  const name = (state.market || "krx").toUpperCase();
  $("#screener-title").textContent = `${name} screener`;
  $("#picks-close").textContent = `Close (${state.currency})`;
}

// Select a market (from either selector): both selectors, the currency and the URL follow.
export function selectMarket(market) {
  const chosen = state.markets.find((m) => m.market === market);
  if (!chosen) return false;
  state.market = chosen.market;
  state.currency = chosen.currency;
  state.day = null;
  state.latestDay = null;
  $("#market").value = chosen.market;
  $("#stock-market").value = chosen.market;
  showMarket();
  writeUrl();
  return true;
}
