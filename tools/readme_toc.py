"""Write (or refresh) README.md's table of contents: its ## and ### headings, between the <!-- toc --> markers
placed after the intro (before the first ## heading). Run after editing headings: python tools/readme_toc.py"""

from __future__ import annotations

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


if __name__ == "__main__":
    path = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "README.md")
    path.write_text(with_toc(path.read_text()))
    print(f"{path}: table of contents refreshed")
