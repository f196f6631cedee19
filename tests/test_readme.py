"""README.md stays navigable and names only commands and options that exist."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from churnml.cli import get_app

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_contents_links_every_section_and_only_sections() -> None:
    headings = [m.group(2) for m in re.finditer(r"^(##|###) (.+)$", README, flags=re.M)]
    # `##`/`###` lines inside code blocks are comments, not headings.
    code = re.findall(r"```.*?```", README, flags=re.S)
    headings = [h for h in headings if not any(f"## {h}" in block for block in code)]
    contents = README[README.index("Contents: "):README.index("## Quick start")]
    links = re.findall(r"\]\(#([\w-]+)\)", contents)
    assert links == [_anchor(h) for h in headings]


def test_readme_commands_use_options_that_exist() -> None:
    command = typer.main.get_command(get_app())
    options = {name: {o for p in c.params for o in (*p.opts, *p.secondary_opts)} for name, c in command.commands.items()}
    wrong = []
    for m in re.finditer(r"churnml ([a-z][a-z-]+)([^\n`#;]*)", README):
        name, rest = m.groups()
        if name not in options:
            continue  # prose ("churnml finds the runs"), not a command line
        wrong += [(name, flag) for flag in re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", rest)
                  if flag not in options[name] | {"--help"}]
    assert not wrong
