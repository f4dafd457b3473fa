"""Dump the demo's store and compare two dumps: the check that a refactor left the stored documents unchanged.

    .venv/bin/python tools/store_dump.py dump OUT.json.gz [--market both|krx|us] [demo args...]
    .venv/bin/python tools/store_dump.py compare A.json.gz B.json.gz

`dump` runs demo.py in this process without serving the API (`demo.main(["--no-serve", ...])`, the embedded
`mongomock://` store, emptied first), then writes every database, collection (with its indexes) and document of
that store, normalised so that two runs of the same code give the same file byte for byte:

- documents sorted by `_id` (by `ticker` where `_id` is a server-made ObjectId), fields sorted by name;
- BSON types kept apart: a datetime is {"$date": ISO}, an int stays 1 and a float 1.0 (json keeps them apart),
  NaN and infinities are {"$float": "nan"}, bytes {"$binary": base64}, and a value BSON would refuse (a numpy
  int, a date) {"$py": type, "repr": ...} so that it shows;
- what differs from run to run is masked as {"$masked": <the original's type>}, so that its presence and type
  are still compared. Read from lib/storage/ (and the runner that writes through it), field by field: start_time_utc,
  end_time_utc, host, pid: a run record's wall-clock start and end, machine and process (job_status, kind "run"; a
  day record's end_time_utc too: when its run stored it); acquired_utc, heartbeat_utc, expires_utc: a lock's
  wall-clock times (locks; also a rate-limit window's end in rate_limits); created_utc: when an alert or an AI result
  was recorded (alerts, ai_results); at_utc: an alert channel's last delivery attempt (alerts.channels.*);
  first_seen_utc, last_seen_utc: when a refused US record was seen (us_etf.logs_rejected_records); latency_ms: an AI
  call's duration (ai_results); ObjectId values: made by the server on insert (target_tickers' `_id`); the `_id` of
  ai_results (a uuid4); the window start (epoch seconds of the request time) in a rate_limits `_id`.
- a run id (`<job>_YYYYMMDDTHHMMSS_<8 hex>`, from the start time and a uuid) becomes `<job>_<run>` in every
  string: run records' `_id`, day records' `run_id`, lock owners, a message naming a run. The job's name stays.

Everything else is kept: a module move must not change it. Error texts are kept as they are (the demo stores
none; a crash's "no heartbeat since <time>" would differ).

`compare` exits 0 when the two dumps are equal; else 1 with a report: collections only in one side, document
counts, and per collection the first differing documents with each differing field (path, value A, value B).
A file that is missing or not a dump: one line, exit 2. Reading and comparing are in tools/store_compare.py.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import gzip
import io
import json
import math
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.store_compare import (  # noqa: E402
    FORMAT,
    VERSION,
    DumpError,
    canonical,
    collections_of,
    compare,
    counts,
    doc_key,
    read_dump,
    total_documents,
)

MASKED_FIELDS = frozenset({
    "start_time_utc", "end_time_utc", "host", "pid",  # run records
    "acquired_utc", "heartbeat_utc", "expires_utc",  # locks, rate-limit windows
    "created_utc", "at_utc",  # alerts (and their channels), AI results
    "first_seen_utc", "last_seen_utc",  # refused US records
    "latency_ms",  # AI results
})
RUN_ID = re.compile(r"\d{8}T\d{6}_[0-9a-f]{8}\b")
WINDOW_ID = re.compile(r":\d+$")


# --- normalising ----------------------------------------------------------------------------------------------


def type_name(value: Any) -> str:
    """The BSON type a value is stored as (a non-BSON value: its Python type)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dt.datetime):
        return "datetime"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, bytes):
        return "binary"
    return type(value).__name__


def encode(value: Any, field: str | None = None, mask_id: bool = False) -> Any:
    """A stored value as plain JSON with its BSON type kept and run-specific parts masked (`field`: its name)."""
    if field in MASKED_FIELDS or (field == "_id" and mask_id):
        return {"$masked": type_name(value)}
    if value is None or type(value) in (bool, int):
        return value
    if isinstance(value, str):
        return RUN_ID.sub("<run>", value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else {"$float": str(value)}
    if isinstance(value, dt.datetime):  # pandas' Timestamp too: BSON stores both as one datetime
        plain = dt.datetime(value.year, value.month, value.day, value.hour, value.minute, value.second,
                            value.microsecond, tzinfo=value.tzinfo)
        return {"$date": plain.isoformat()}
    if isinstance(value, dict):
        return {str(key): encode(item, str(key)) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [encode(item) for item in value]
    if isinstance(value, bytes):
        subtype = getattr(value, "subtype", 0)
        encoded: dict[str, Any] = {"$binary": base64.b64encode(bytes(value)).decode()}
        return {**encoded, "subtype": subtype} if subtype else encoded
    kind = type(value).__name__
    if kind == "ObjectId":  # made by the server on insert: differs on every run
        return {"$masked": "ObjectId"}
    if kind == "Decimal128":
        return {"$decimal": str(value)}
    return {"$py": kind, "repr": repr(value)}


def encode_document(doc: dict[str, Any], collection: str) -> dict[str, Any]:
    """One stored document, normalised (see the module's docstring for what is masked)."""
    out = {str(key): encode(item, str(key), mask_id=collection == "ai_results") for key, item in doc.items()}
    if collection == "rate_limits" and isinstance(out.get("_id"), str):
        out["_id"] = WINDOW_ID.sub(":<window>", out["_id"])
    return out


def index_specs(coll: Any) -> dict[str, Any]:
    """A collection's indexes: name -> keys and uniqueness."""
    specs = {}
    for name, info in coll.index_information().items():
        keys = [[str(field), direction] for field, direction in info.get("key", [])]
        specs[name] = {"key": keys, "unique": bool(info.get("unique", False))}
    return specs


def snapshot(client: Any) -> dict[str, Any]:
    """Every database, collection, index and document of a client's store, normalised."""
    databases: dict[str, Any] = {}
    indexes: dict[str, Any] = {}
    for db_name in sorted(client.list_database_names()):
        if db_name in ("admin", "config", "local"):
            continue
        db = client[db_name]
        databases[db_name], indexes[db_name] = {}, {}
        for name in sorted(db.list_collection_names()):
            docs = [encode_document(doc, name) for doc in db[name].find()]
            docs.sort(key=lambda d: (doc_key(d), canonical(d)))
            databases[db_name][name] = docs
            indexes[db_name][name] = index_specs(db[name])
    return {"format": FORMAT, "version": VERSION, "databases": databases, "indexes": indexes}


def write_dump(path: Path, data: dict[str, Any]) -> None:
    """Write a dump (gzip with no time stamp, so the same store gives the same bytes), atomically. Level 6, not
    9: half the compression time of the demo's 168 MB of JSON for a file 1.5% larger (46.2 vs 45.6 MB)."""
    body = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0) as out:
            out.write(body.encode())
    os.replace(partial, path)


# --- the commands ---------------------------------------------------------------------------------------------


def run_demo(demo_args: list[str]) -> tuple[int, str, Any]:
    """Run the demo on a fresh embedded store: (its exit code, what it printed, the store's client)."""
    import demo
    from lib.storage import get_client, reset_embedded_client

    reset_embedded_client()
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = demo.main(["--no-serve", *demo_args])
    return code, printed.getvalue(), get_client("mongomock://")


def dump_command(out: Path, demo_args: list[str]) -> int:
    if not out.parent.is_dir():
        print(f"store_dump: {out.parent} is not a directory: create it or choose another OUT", file=sys.stderr)
        return 2
    started = time.monotonic()
    code, printed, client = run_demo(demo_args)
    demo_seconds = time.monotonic() - started
    if code != 0:
        if printed.strip():
            print(printed[-2000:].rstrip(), file=sys.stderr)
        print(f"store_dump: the demo exited {code} (its output above); nothing written", file=sys.stderr)
        return code
    data = snapshot(client)
    data["demo_args"] = demo_args
    write_dump(out, data)
    total = total_documents(data)
    print(f"wrote {out}: {out.stat().st_size:,} bytes, {total:,} documents; the demo took {demo_seconds:.1f} s, "
          f"the dump {time.monotonic() - started - demo_seconds:.1f} s")
    print("\n".join(counts(data)))
    return 0


def compare_command(path_a: Path, path_b: Path) -> int:
    try:
        a, b = read_dump(path_a), read_dump(path_b)
    except DumpError as exc:
        print(f"store_dump: {exc}", file=sys.stderr)
        return 2
    lines = compare(a, b)
    if not lines:
        total = total_documents(a)
        print(f"equal: {len(collections_of(a))} collections, {total:,} documents")
        return 0
    print(f"A = {path_a}\nB = {path_b}")
    print("\n".join(lines))
    return 1


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run `dump` or `compare`."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    dump = commands.add_parser("dump", help="run the demo and write its store, normalised")
    dump.add_argument("out", type=Path, help="the dump to write (.json.gz)")
    dump.add_argument("--market", choices=("both", "krx", "us"), default="both", help="which pipeline to run")
    cmp_ = commands.add_parser("compare", help="exit 0 when two dumps hold the same store, else 1 and a report")
    cmp_.add_argument("a", type=Path)
    cmp_.add_argument("b", type=Path)
    args, extra = parser.parse_known_args(argv)
    if args.command == "compare":
        if extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        return compare_command(args.a, args.b)
    return dump_command(args.out, ["--market", args.market, *extra])


if __name__ == "__main__":
    sys.exit(main())
