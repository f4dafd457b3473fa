// Pipeline health: markets, the watermark datasets and the last run of every job, from GET /status (check_db's
// report; its `watermarks` are /health's with each one's last error).
import { $, api, badge, duration, el, kst, messageRow, num, setRows, setState } from "./common.js";
import { watermarkRow } from "./context.js";

const usLatest = { promise: null };

function forgetUsLatest() {
  usLatest.promise = null;
  return null;
}

function usTrendingDay() {
  // The US pipeline computes its trending table in the collecting job: its newest table is its analysed day.
  if (!usLatest.promise) {
    // A failed answer (a 401 before a key is entered, nothing computed yet) is not kept: the next load asks again.
    usLatest.promise = api("/etf/trending", { period: 20 }).then((b) => b.as_of_date, forgetUsLatest);
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
  // A market this install does not run (not in MARKETS, never set up) is listed, not a problem.
  const notSetUp = !market.last_day && market.expected === false;
  if (!market.last_day && !notSetUp) problems.push("nothing collected yet");
  let analysed = "–";
  let analysedBad = false;
  if (analysis && analysis.job_name === market.job_name) {
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
    el("td", {}, bad ? badge(problems.join("; "), "bad") : notSetUp ? badge("not set up", "") : badge("ok", "ok")));
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
  // A failure a later run repaired (healed_by, lib/status_heal.py) is history: shown, not red.
  const healed = job.status === "failed" && Boolean(job.healed_by);
  const failed = (job.status === "failed" && !healed) || job.stuck;
  const failedItems = job.status === "completed" && Number(job.counters && job.counters.failed) > 0;
  const kind = failed ? "bad" : job.status === "running" || healed ? "warn" : failedItems ? "bad" : "ok";
  const label = job.stuck ? `${job.status} (stuck)` : healed ? `${job.status} (healed)` : job.status;
  let note = (failed || healed) && job.error ? job.error : counters(job);
  if (job.failed_in_a_row > 1) note = `${job.failed_in_a_row} failed in a row since ${kst(job.failing_since_utc)}: ${note}`;
  if (healed) note = `repaired by ${job.healed_by} since: ${note}`;
  return el("tr", { class: failed || failedItems ? "bad" : "", "data-job": job.job_name },
    el("td", {}, el("span", { class: "name", text: job.job_name }), el("div", { class: "sub phone-only", text: note })),
    el("td", {}, badge(label, kind)),
    el("td", { text: kst(job.started_utc) }),
    el("td", { class: "num wide-only", text: duration(job.seconds) }),
    el("td", { class: "wide-only", text: kst(job.last_completed_utc) }),
    el("td", { class: "sub note wide-only", text: note }));
}

export async function loadHealth() {
  setState("#health", "loading");
  const attention = $("#attention");
  try {
    const [status, usDay] = await Promise.all([api("/status"), usTrendingDay()]);
    $("#health-asof").textContent = asOfText(status);
    attention.className = status.attention.length ? "attention" : "attention ok";
    attention.replaceChildren(...(status.attention.length
      ? status.attention.map((line) => el("li", { text: line }))
      : [el("li", { text: "Nothing needs attention." })]));
    setRows($("#markets"), status.markets.map((m) => marketRow(m, status.analysis, usDay)));
    const watermarks = status.watermarks || [];
    setRows($("#watermarks"), watermarks.length ? watermarks.map(watermarkRow)
      : [messageRow($("#watermarks"), "No filings, news or macro dataset runs on this install.")]);
    setRows($("#jobs"), status.jobs.length ? status.jobs.map(jobRow) : [messageRow($("#jobs"), "No run recorded yet.")]);
    setState("#health", "ready");
    return status;
  } catch (err) {
    attention.className = "attention";
    attention.replaceChildren(el("li", { text: `Status unavailable: ${err.message}` }));
    setState("#health", "error");
    return null;
  }
}

function asOfText(status) {
  const asOf = `Sessions counted up to ${kst(status.as_of)} KST (the server's clock).`;
  // A replay (the demo) sets the server's clock back to its data's last day while its jobs ran today: say so,
  // rather than show an "as of" older than the runs listed under it.
  const later = status.jobs.filter((j) => j.started_utc && kst(j.started_utc) > kst(status.as_of));
  if (!later.length) return asOf;
  return `${asOf} The job runs below are dated by the real clock, after that: this server replays past market `
    + "data (as the demo does), so its clock is set back to the data's last day.";
}

// The markets this install runs: a market that is not set up (nothing collected, not in MARKETS) gets no panels.
export function marketsRun(status) {
  const runs = { krx: true, us: true };
  if (!status) return runs; // unknown (a key is needed first): show everything
  for (const market of status.markets) {
    const notSetUp = !market.last_day && market.expected === false;
    if (market.job_name === "daily_update") runs.krx = !notSetUp;
    if (market.job_name === "etf_pipeline") runs.us = !notSetUp;
  }
  return runs;
}
