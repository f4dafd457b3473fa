// The dashboard: reads this server's JSON routes and draws them. No build step, no framework, nothing from
// another host. Each panel loads on its own; a failing route shows its message in its panel.
import { $, colourLegend, el, fill, messageRow, readUrl, setRows, setState, state } from "./common.js";
import { loadHealth, marketsRun } from "./health.js";
import { loadMarkets, selectMarket } from "./markets.js";
import { loadScreener, loadStrategies } from "./screener.js";
import { loadStock, loadStockList, resolveTicker } from "./stock.js";
import { loadEtf } from "./etf.js";
import { loadSectors, wireSectors } from "./sectors.js";
import { loadMacro } from "./context.js";
import { loadLeaderboard } from "./predictions.js";

// Another market in either selector: its strategies' track records, its picks and its stock list.
async function changeMarket(market) {
  if (!selectMarket(market)) return;
  const stocks = loadStockList();
  try {
    await loadStrategies();
    await loadScreener();
  } catch (err) {
    setRows($("#picks"), [messageRow($("#picks"), `Strategies unavailable: ${err.message}`, true)]);
    setState("#screener", "error");
  }
  await stocks;
}

function wire() {
  $("#market").addEventListener("change", (event) => changeMarket(event.target.value));
  $("#stock-market").addEventListener("change", (event) => changeMarket(event.target.value));
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
    else fill($("#stock-head"), el("p", { class: "error", text: `No stock of the universe is named "${text}": type a 6-character code (005930), a US symbol (AAPL) or part of a name from the list.` }));
  });
  $("#stock-days").addEventListener("change", () => loadStock(state.ticker));
  for (const button of document.querySelectorAll("#period button")) {
    button.addEventListener("click", () => {
      state.period = button.dataset.period;
      loadEtf();
    });
  }
  $("#history-lookahead").addEventListener("change", () => loadEtf());
  wireSectors();
  $("#key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    state.key = $("#key-input").value.trim();
    sessionStorage.setItem("dashboardApiKey", state.key);
    $("#key-form").hidden = true;
    start();
  });
}

// A market this install does not run: its panels and links are hidden, not shown failing in red.
function hideMarket(sections) {
  for (const id of sections) {
    const section = $(id);
    section.hidden = true;
    section.dataset.notRun = "true";
    const link = document.querySelector(`header nav a[href="${id}"]`);
    if (link) link.hidden = true;
  }
}

async function start() {
  fill($("#colour-legend"), ...colourLegend());
  // Every panel loads at once (GET /status is the slowest route; waiting for it would delay them all). Until
  // it says which markets this install runs, the market panels keep their errors out of sight (the stylesheet
  // reads data-markets), so a market that is not set up never shows its error in red before it is hidden.
  const main = document.querySelector("main");
  main.dataset.markets = "pending";
  const markets = loadMarkets();
  loadHealth().then(async (status) => {
    const runs = marketsRun(status);
    if (!runs.us) hideMarket(["#etf", "#sectors"]);
    // the screener and stock panels: hidden only when no market with screened stocks is on here
    const others = (await markets).some((m) => m.on && !m.default);
    if (!runs.krx && !others) hideMarket(["#screener", "#stock"]);
    main.dataset.markets = "known";
  });
  loadEtf();
  loadSectors();
  loadMacro();
  loadLeaderboard();
  await markets;
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
