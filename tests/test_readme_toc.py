"""tools/readme_toc.py: the README's table of contents lists its headings with working anchors."""

from __future__ import annotations

from tools.readme_toc import main, with_toc

README = """# Title

Intro.

## What the demo does

```bash
## not a heading (inside a fence)
```

### check_db.py: the state in one command

## HTTP API and LLM analysis (issue #7)
"""


def test_the_contents_list_the_headings_after_the_intro_with_github_anchors():
    text = with_toc(README)
    intro, rest = text.split("<!-- toc -->")
    assert intro == "# Title\n\nIntro.\n\n"
    assert rest.startswith("\n**Contents**\n\n- [What the demo does](#what-the-demo-does)\n"
                           "  - [check_db.py: the state in one command](#check_dbpy-the-state-in-one-command)\n"
                           "- [HTTP API and LLM analysis (issue #7)](#http-api-and-llm-analysis-issue-7)\n"
                           "<!-- /toc -->\n\n## What the demo does\n")
    assert "not a heading" not in text.split("<!-- /toc -->")[0]
    assert with_toc(text) == text  # refreshing again changes nothing


def test_a_file_it_cannot_use_is_one_line_and_exit_2_and_is_left_as_it_was(tmp_path, capsys):
    assert main([str(tmp_path / "missing.md")]) == 2
    plain = tmp_path / "plain.md"
    plain.write_text("# Title\n\nNo sections.\n")
    assert main([str(plain)]) == 2
    assert plain.read_text() == "# Title\n\nNo sections.\n"
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0].endswith("missing.md: cannot read it (FileNotFoundError): give a markdown file")
    assert lines[1].endswith("plain.md: no '## ' heading to place the contents before")
    readme = tmp_path / "README.md"
    readme.write_text(README)
    assert main([str(readme)]) == 0 and readme.read_text() == with_toc(README)
