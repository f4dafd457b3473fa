"""check_db's output: the status as aligned text for people, or as JSON for monitors."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

from lib.display import count, duration, kst, size, table
from lib.ops.status import QuarantineStatus, Status
from lib.ops.status_ai import ai_predictions_rows


def _kst(moment: dt.datetime | None) -> str:
    return kst(moment, zone=False)


def _days(days: list[dt.date], limit: int = 6) -> str:
    text = ", ".join(d.isoformat() for d in days[:limit])
    return text + (f" and {len(days) - limit} more" if len(days) > limit else "")


def _counters(counters: dict[str, Any], limit: int = 70) -> str:
    parts = []
    for key, value in counters.items():
        if isinstance(value, dict):
            value = ",".join(f"{k}" for k in value)
        parts.append(f"{key}={value}")
    text = " ".join(parts)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def render_text(status: Status, quiet: bool = False) -> str:
    """The status as sections of aligned text; with `quiet`, only what needs attention (nothing if all is well)."""
    if quiet:
        return "\n".join(f"ATTENTION {line}" for line in status.attention)
    out = [f"Pipeline status as of {_kst(status.as_of)} KST"]
    for m in status.markets:
        out.append(f"\n{m.label} - day records of {m.job_name}")
        if m.last_day is None and not m.expected:
            out.append("  not set up (not in MARKETS, nothing collected): nothing to look at")
            continue
        if m.last_day is None:
            out.append("  nothing collected yet")
            out.extend(f"  {n.day} recorded {n.status}: {n.error or 'no reason stored'}" for n in m.not_done)
            continue
        rows = [
            ["collected", f"{m.first_day} .. {m.last_day}: {count(m.sessions)} session(s) "
                          f"({count(m.completed)} completed, {len(m.no_data)} no_data)"],
            ["missing", "calendar unknown" if m.holes is None else (_days(m.holes) if m.holes else "none")],
            ["behind", "calendar unknown" if m.behind is None else
             f"{m.behind} session(s) after {m.last_day} not collected"
             f"{' - STALE' if m.stale else ''} (latest session {m.latest_session})"],
            ["no_data days", ", ".join(
                f"{n.day}{' (still a session in the calendar)' if n.still_a_session else ''}" for n in m.no_data
            ) or "none"],
            ["not done", ", ".join(f"{n.day} {n.status}" for n in m.not_done) or "none"],
        ]
        out.append(_pairs(rows))
    for a in status.analyses or ([status.analysis] if status.analysis is not None else []):
        out.append(f"\n{a.heading}")
        out.append(_pairs(a.rows()))
    for w in status.watermarks:
        out.append(f"\n{w.label} - read by watermark ({w.dataset})")
        lag = "nothing read yet" if w.lag is None else duration(w.lag.total_seconds()) + (" - STALE" if w.stale else "")
        out.append(_pairs([
            ["state", f"off: {w.off}" if w.off else "on"],
            ["read through", f"{_kst(w.read_through) + ' KST' if w.read_through else '-'}"
                             f"{f' (cursor {w.cursor})' if w.cursor else ''}"],
            ["items", f"{count(w.items)} stored, {count(w.revisions)} earlier revision(s) kept"],
            ["lag", lag],
            ["last error", w.last_error or "none"],
        ]))
    out.append("\nAI predictions (ai_predict.py asks, ai_evaluate.py scores)")
    out.append(_pairs(ai_predictions_rows(status.ai_predictions, _kst)))
    for line in status.registry_errors:
        out.append(f"\nmarket module skipped: {line}")
    out.append("\nLast run of each job (times KST)")
    if status.jobs:
        rows = []
        for j in status.jobs:
            state = j.status + (" (stuck)" if j.stuck else "")
            note = j.error if j.status == "failed" and j.error else _counters(j.counters)
            if j.failed_in_a_row > 1:
                note = f"{j.failed_in_a_row} failed in a row since {_kst(j.failing_since_utc)}: {note}"
            if j.healed_by:  # a later run repaired what it left undone (lib/ops/status_heal.py): history, not attention
                state += " (healed)"
                note = f"repaired by {j.healed_by} since: {note}"
            rows.append([j.job_name, state, _kst(j.started_utc), duration(j.seconds), _kst(j.last_completed_utc),
                         _short(note, 90)])
        out.append(table(["job", "status", "started", "took", "last completed", "notes"], rows, right=(3,)))
    else:
        out.append("  no run recorded yet")
    if status.sizes:
        out.append("\nDatabase size per collection")
        estimated = any(s.estimated for s in status.sizes)
        rows = [
            [s.name + (f" ({count(s.collections)} collections)" if s.collections > 1 else ""), count(s.documents),
             size(s.data_bytes) + ("*" if s.estimated else ""), size(s.storage_bytes), size(s.index_bytes)]
            for s in status.sizes
        ]
        total = [["total", count(sum(s.documents for s in status.sizes)),
                  size(sum(s.data_bytes for s in status.sizes)) + ("*" if estimated else ""),
                  size(_sum(s.storage_bytes for s in status.sizes)), size(_sum(s.index_bytes for s in status.sizes))]]
        out.append(table(["collection", "documents", "data", "on disk", "indexes"], rows + total, right=(1, 2, 3, 4)))
        if estimated:
            out.append("  * estimated from a sample of documents (this server reports no collection statistics)")
    for q in status.quarantines or [status.quarantine]:
        out += _quarantine_lines(q)
    al = status.alerts
    out.append("\nAlerts")
    out.append(f"  channels: {', '.join(al.channels) or 'none configured (TELEGRAM_BOT_TOKEN, ALERT_WEBHOOK_URL)'}; "
               f"{al.sent} delivered in the last 7 days, {len(al.undelivered)} given up")
    if status.attention:
        out.append(f"\nNeeds attention ({len(status.attention)})")
        out += [f"  - {line}" for line in status.attention]
    else:
        out.append("\nNothing needs attention.")
    return "\n".join(out)


def _pairs(rows: list[list[str]]) -> str:
    return table(["", ""], rows).split("\n", 1)[1]


def _quarantine_lines(q: QuarantineStatus) -> list[str]:
    """One market's held bars and refused records (the first market's under the words it always had)."""
    ns = q.namespace
    of = f" of {q.dataset}" if ns else ""
    out = [f"\nQuarantined bars{of} (refused by the price-limit check, kept out of {ns}stock_data)"]
    if q.count:
        out.append(f"  {count(q.count)} bar(s) held in {ns}system_info.bad_data (when the source or file was wrong, "
                   f"fix it and {q.redo}); the newest:")
        out.append(table(["day", "ticker", "market", "reason"],
                         [[b.day.isoformat(), b.ticker, b.market, _short(b.reason, 90)] for b in q.latest]))
    else:
        out.append("  none")
    if q.refused:  # shown only when there are some, so an install whose sources send clean data sees no change
        out.append(f"\nRefused records{of} (sent wrong by a source: not stored as data, kept with their raw value)\n"
                   f"  {count(q.refused)} record(s) in {ns}system_info.bad_data; the newest seen:")
        rows = [[r.dataset, r.key or "-", r.day or "-", _short(r.reason, 70) + (f" ({r.where})" if r.where else "")]
                for r in q.refused_latest]
        out.append(table(["dataset", "key", "day", "reason"], rows))
    return out


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _sum(values: Any) -> int | None:
    items = list(values)
    return None if any(v is None for v in items) else sum(items)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        aware = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value
        return aware.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.timedelta):  # a watermark's lag: seconds, as /health's lag_seconds
        return value.total_seconds()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def to_plain(status: Status) -> dict[str, Any]:
    """The status as JSON-ready values: dates YYYY-MM-DD (market days), times ISO UTC, durations in seconds, plus
    the exit code."""
    body = _plain(dataclasses.asdict(status))
    body["exit_code"] = status.exit_code
    return body


def to_json(status: Status) -> str:
    """The status as JSON (check_db --json, GET /status)."""
    return json.dumps(to_plain(status), ensure_ascii=False, indent=2)
