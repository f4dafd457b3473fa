"""Write (or refresh) README.md's table of contents: its ## and ### headings, between the <!-- toc --> markers
placed after the intro (before the first ## heading). Run after editing headings: python tools/readme_toc.py"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

START, END = "<!-- toc -->", "<!-- /toc -->"


def anchor(title: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped (not - or _), spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def with_toc(text: str) -> str:
    """The README text with a fresh table of contents (headings inside code fences are not headings)."""
    text = re.sub(rf"{re.escape(START)}.*?{re.escape(END)}\n\n", "", text, flags=re.S)
    lines = text.splitlines(keepends=True)
    entries, fenced = [], False
    for line in lines:
        fenced ^= line.startswith("```")
        heading = None if fenced else re.match(r"^(##|###) (.+)$", line.rstrip("\n"))
        if heading:
            indent = "" if heading.group(1) == "##" else "  "
            entries.append(f"{indent}- [{heading.group(2)}](#{anchor(heading.group(2))})")
    first = next(i for i, line in enumerate(lines) if line.startswith("## "))
    toc = "\n".join([START, "**Contents**", "", *entries, END]) + "\n\n"
    return "".join(lines[:first]) + toc + "".join(lines[first:])


def main(argv: list[str] | None = None) -> int:
    """Refresh the contents of the README (or the markdown file given); 2 with one line when it cannot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=Path(__file__).resolve().parent.parent / "README.md",
                        help="the markdown file (default: the project's README.md)")
    path = parser.parse_args(argv).path
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"{path}: cannot read it ({exc.__class__.__name__}): give a markdown file", file=sys.stderr)
        return 2
    if not re.search(r"^## ", text, flags=re.M):
        print(f"{path}: no '## ' heading to place the contents before", file=sys.stderr)
        return 2
    path.write_text(with_toc(text), encoding="utf-8")
    print(f"{path}: table of contents refreshed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
