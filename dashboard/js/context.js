// What the AI reads, for people: a stock's latest filings and news stories beside its chart, the filings as marks
// on the candles, and the macro strip. Every title, name and snippet is outside text: set as text, never HTML,
// and only an http(s) link becomes a link (common.js outsideLink).
import { $, api, badge, el, fill, kst, num, outsideLink, setState, signClass } from "./common.js";

const FILINGS_SHOWN = 10;
const STORIES_SHOWN = 8;
const NEWS_DAYS = 30;
const FILING_COLOR = "#0f766e";

// Why a list is empty, from the datasets the route read: off (and the setting that turns it on), never read
// (the command that reads it), or read and nothing in the window.
function emptyText(what, sources, window) {
  if (!sources.length) return `No ${what}: no ${what} source is registered on this server.`;
  const lines = sources.map((s) => {
    if (s.read_through_utc) return `${s.label} read through ${kst(s.read_through_utc)} KST${s.off ? `, off now: ${s.off}` : ""}`;
    if (s.off) return `${s.label}: ${s.off}; set it, then ${s.setup}`;
    return `${s.label}: nothing collected yet; ${s.setup}`;
  });
  const collected = sources.some((s) => s.read_through_utc);
  return collected ? `No ${what} of this stock ${window} (${lines.join("; ")}).`
    : `No ${what} collected: ${lines.join("; ")}.`;
}

function flagBadge(flag) {
  const word = flag.meaning.split(/[:(;]/)[0].trim();
  const serious = flag.code === "정" || flag.code === "철";
  return el("span", { class: `badge flag${serious ? " bad" : ""}`, title: flag.meaning, lang: "ko" },
    `${flag.code} ${word}`);
}

function filingItem(filing) {
  const by = filing.filer && filing.filer !== filing.company ? ` · filed by ${filing.filer}` : "";
  return el("li", { "data-id": filing.id },
    el("span", { class: "nowrap", text: `${filing.date} ` }),
    outsideLink(filing.url, filing.title, { lang: "ko", class: "title" }),
    ...filing.flags.map(flagBadge),
    el("span", { class: "sub", lang: "ko", text: `${filing.company}${by} · ${filing.source.toUpperCase()}` }));
}

function storyItem(story) {
  const sources = story.sources.flatMap((s, i) => [i ? " · " : "",
    outsideLink(s.url, s.feed && s.feed !== s.publisher ? `${s.publisher} (${s.feed})` : s.publisher)]);
  return el("li", { "data-id": story.id },
    el("span", { class: "nowrap", text: `${kst(story.published_utc)} ` }),
    outsideLink(story.url, story.title, { class: "title", title: story.snippet || null }),
    el("span", { class: "sub" }, `${story.sources.length} source${story.sources.length > 1 ? "s" : ""}: `,
      ...sources));
}

function showList(box, items, render, empty) {
  fill(box, items.length ? el("ul", {}, ...items.map(render)) : el("p", { class: "empty", text: empty }));
}

// The stock's filings since the chart's first day (newest first): the latest listed, all returned for the
// chart's marks ([] when unavailable).
export async function loadFilings(ticker, since) {
  const box = $("#filings");
  try {
    const body = await api(`/stocks/${encodeURIComponent(ticker)}/disclosures`, { limit: 200, since });
    showList(box, body.items.slice(0, FILINGS_SHOWN), filingItem,
      emptyText("filings", body.sources, `since ${body.since}`));
    box.dataset.count = String(body.items.length);
    return body.items;
  } catch (err) {
    fill(box, el("p", { class: "error", text: `Filings unavailable: ${err.message}` }));
    return [];
  }
}

export async function loadNews(ticker) {
  const box = $("#news");
  try {
    const body = await api(`/stocks/${encodeURIComponent(ticker)}/news`, { limit: STORIES_SHOWN, days: NEWS_DAYS });
    showList(box, body.stories, storyItem, emptyText("news", body.sources, `in the last ${NEWS_DAYS} days`));
    box.dataset.count = String(body.stories.length);
  } catch (err) {
    fill(box, el("p", { class: "error", text: `News unavailable: ${err.message}` }));
  }
}

// Filings as marks below the candles: on the receipt day, or the next session when it was not one (a weekend
// filing moves the next session's price); several on one day make one mark with their count.
export function filingMarks(filings, candleDays) {
  const days = [...candleDays].sort();
  const counts = new Map();
  for (const filing of filings) {
    const day = days.find((d) => d >= filing.date);
    if (day) counts.set(day, (counts.get(day) || 0) + 1);
  }
  return [...counts].map(([time, count]) => ({
    time, position: "belowBar", shape: "circle", color: FILING_COLOR, text: count > 1 ? `${count} filings` : "filing",
  }));
}

function unitOfChange(unit) {
  return unit === "%" ? "pp" : unit; // a change of a rate in % is in percentage points
}

function macroItem(r) {
  const digits = Math.abs(r.value) >= 100 ? 1 : 2;
  const change = r.change === null || r.change === undefined ? null : r.change;
  const changeText = change === null ? "no previous reading"
    : `${change > 0 ? "+" : change < 0 ? "−" : "±"}${num(Math.abs(change), digits)} ${unitOfChange(r.unit)}`;
  return el("li", { "data-series": r.key, title: `${r.series} (${r.source.toUpperCase()}, ${r.frequency}); known ${kst(r.known_at_utc)} KST${r.previous_date ? `; previous ${r.previous_date}` : ""}` },
    el("span", { class: "name", text: `${r.name} ` }),
    el("span", { class: "value", text: `${num(r.value, digits)}${r.unit === "%" ? "%" : ` ${r.unit}`}` }), " ",
    el("span", { class: `change ${signClass(change)}`, text: changeText }), " ",
    el("span", { class: "sub", text: `on ${r.date}` }));
}

export async function loadMacro() {
  setState("#macro", "loading");
  const strip = $("#macro-strip");
  try {
    const body = await api("/macro");
    strip.replaceChildren(...body.readings.map(macroItem));
    const note = body.readings.length
      ? `Latest reading of each series known at ${kst(body.known_at_utc)} KST; change against the previous reading.`
      : emptyText("macro series", body.sources, "");
    $("#macro-note").textContent = note;
    $("#macro-note").className = body.readings.length ? "note" : "empty";
    setState("#macro", "ready");
  } catch (err) {
    strip.replaceChildren();
    $("#macro-note").textContent = `Macro series unavailable: ${err.message}`;
    $("#macro-note").className = "error";
    setState("#macro", "error");
  }
}

// Health: each watermark dataset (filings, news, macro) with how far it has read, its lag and its state.
export function watermarkRow(w) {
  const lag = w.lag === null || w.lag === undefined ? "–" : hours(w.lag);
  let state = badge("ok", "ok");
  if (w.off) state = badge(`off: ${w.off}`, "");
  else if (w.last_error) state = badge(`failed: ${w.last_error}`, "bad");
  else if (!w.read_through) state = badge("nothing read yet", "bad");
  else if (w.stale) state = badge("stale", "bad");
  const bad = !w.off && (w.stale || w.last_error);
  return el("tr", { class: bad ? "bad" : "", "data-dataset": w.dataset },
    el("td", {}, el("span", { class: "name", text: w.label }), el("div", { class: "sub", text: `${w.dataset} · ${num(w.items)} items` })),
    el("td", { text: w.read_through ? kst(w.read_through) : "–" }),
    el("td", { class: "num", text: lag }),
    el("td", {}, state));
}

function hours(seconds) {
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} days`;
}
