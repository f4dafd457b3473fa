"""Reading and comparing the dumps of tools/store_dump.py (its docstring says what a dump holds): equal when
every collection holds the same documents with the same types, run-specific values being masked already."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

FORMAT = "store_dump"
VERSION = 1
SHOWN_DOCUMENTS = 3  # differing documents shown per collection
SHOWN_FIELDS = 8  # differing fields shown per document



class DumpError(Exception):
    """A file that cannot be read as a dump (exit 2)."""


def doc_key(doc: dict[str, Any]) -> str:
    """What matches a document in two dumps: its `_id`, or its ticker where the `_id` is masked."""
    ident = doc.get("_id")
    if isinstance(ident, dict) and "$masked" in ident and "ticker" in doc:
        ident = {"ticker": doc["ticker"]}
    return canonical(ident)


def canonical(value: Any) -> str:
    """One text per value (sorted keys): for sorting and grouping."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def read_dump(path: Path) -> dict[str, Any]:
    """A dump written by `write_dump`; DumpError when the file is missing or something else."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as src:
            data = json.load(src)
    except FileNotFoundError:
        raise DumpError(f"{path}: no such file; make it with `store_dump.py dump {path}`") from None
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DumpError(f"{path}: not a store dump (gzip of JSON): {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("databases"), dict):
        raise DumpError(f"{path}: JSON, but not a store dump (no \"format\": \"{FORMAT}\")")
    if data.get("version") != VERSION:
        raise DumpError(f"{path}: a store dump of version {data.get('version')}, this tool reads {VERSION}")
    return data


# --- comparing ------------------------------------------------------------------------------------------------


def same(a: Any, b: Any) -> bool:
    """Equal with the same JSON types all the way down (1 is not 1.0, True is not 1)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


ABSENT = object()


def field_diffs(a: Any, b: Any, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    """(path, value A, value B) of every differing leaf; a field missing on one side is ABSENT there."""
    if isinstance(a, dict) and isinstance(b, dict) and not _tagged(a) and not _tagged(b):
        for key in sorted(a.keys() | b.keys()):
            sub = f"{path}.{key}" if path else key
            yield from field_diffs(a.get(key, ABSENT), b.get(key, ABSENT), sub)
    elif isinstance(a, list) and isinstance(b, list):
        for i in range(max(len(a), len(b))):
            yield from field_diffs(a[i] if i < len(a) else ABSENT, b[i] if i < len(b) else ABSENT, f"{path}[{i}]")
    elif not same(a, b):
        yield path or "(document)", a, b


def _tagged(value: dict[str, Any]) -> bool:
    return any(key.startswith("$") for key in value)


def shown(value: Any) -> str:
    """A value for the report, with its type where the text alone would hide it."""
    if value is ABSENT:
        return "(absent)"
    text = canonical(value)
    text = text if len(text) <= 80 else text[:77] + "..."
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        return text
    return f"{text} ({type(value).__name__})"


def pair_documents(a: list[dict], b: list[dict]) -> tuple[list[tuple[dict, dict]], list[dict], list[dict]]:
    """Documents matched by key (in order among those sharing one): (pairs, only in A, only in B)."""
    groups_a: dict[str, list[dict]] = {}
    groups_b: dict[str, list[dict]] = {}
    for doc in a:
        groups_a.setdefault(doc_key(doc), []).append(doc)
    for doc in b:
        groups_b.setdefault(doc_key(doc), []).append(doc)
    pairs, only_a, only_b = [], [], []
    for key in sorted(groups_a.keys() | groups_b.keys()):
        left, right = groups_a.get(key, []), groups_b.get(key, [])
        pairs += list(zip(left, right, strict=False))
        only_a += left[len(right):]
        only_b += right[len(left):]
    return pairs, only_a, only_b


def compare_collection(name: str, a: list[dict], b: list[dict]) -> list[str]:
    """The report lines of one collection present on both sides (none when equal)."""
    pairs, only_a, only_b = pair_documents(a, b)
    differing = [(x, y) for x, y in pairs if not same(x, y)]
    if not (differing or only_a or only_b):
        return []
    lines = [f"{name}: {len(a)} documents in A, {len(b)} in B; {len(differing)} differ, "
             f"{len(only_a)} only in A, {len(only_b)} only in B"]
    for side, docs in (("A", only_a), ("B", only_b)):
        for doc in docs[:SHOWN_DOCUMENTS]:
            lines.append(f"  only in {side}: _id {doc_key(doc)}")
        if len(docs) > SHOWN_DOCUMENTS:
            lines.append(f"  ... and {len(docs) - SHOWN_DOCUMENTS} more only in {side}")
    for x, y in differing[:SHOWN_DOCUMENTS]:
        diffs = list(field_diffs(x, y))
        lines.append(f"  _id {doc_key(x)}: {len(diffs)} field(s) differ")
        lines += [f"    {path}: A {shown(va)}  B {shown(vb)}" for path, va, vb in diffs[:SHOWN_FIELDS]]
        if len(diffs) > SHOWN_FIELDS:
            lines.append(f"    ... and {len(diffs) - SHOWN_FIELDS} more fields")
    if len(differing) > SHOWN_DOCUMENTS:
        lines.append(f"  ... and {len(differing) - SHOWN_DOCUMENTS} more differing documents")
    return lines


def compare(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """The report of two dumps' differences: empty when they hold the same store."""
    colls_a = collections_of(a, "databases")
    colls_b = collections_of(b, "databases")
    lines = []
    for side, mine, other in (("A", colls_a, colls_b), ("B", colls_b, colls_a)):
        for name in sorted(mine.keys() - other.keys()):
            lines.append(f"only in {side}: collection {name} ({len(mine[name])} documents)")
    for name in sorted(colls_a.keys() & colls_b.keys()):
        lines += compare_collection(name, colls_a[name], colls_b[name])
    indexes_a, indexes_b = collections_of(a, "indexes"), collections_of(b, "indexes")
    for name in sorted(indexes_a.keys() & indexes_b.keys()):
        for path, va, vb in field_diffs(indexes_a[name], indexes_b[name]):
            lines.append(f"{name}: index {path}: A {shown(va)}  B {shown(vb)}")
    return lines


def collections_of(data: dict[str, Any], section: str = "databases") -> dict[str, Any]:
    """A dump's collections (or their indexes) by "database.collection"."""
    return {f"{db}.{name}": value for db, colls in data.get(section, {}).items() for name, value in colls.items()}


def total_documents(data: dict[str, Any]) -> int:
    """How many documents a dump holds."""
    return sum(len(docs) for docs in collections_of(data).values())


def counts(data: dict[str, Any]) -> list[str]:
    """One line per database: its collections and documents."""
    lines = []
    for db, colls in data["databases"].items():
        docs = sum(len(d) for d in colls.values())
        lines.append(f"  {db}: {len(colls)} collections, {docs:,} documents")
    return lines


