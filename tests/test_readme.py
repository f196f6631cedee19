"""README.md stays navigable and names only commands and options that exist; --help names real settings."""

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


def test_readme_command_blocks_parse_as_typed() -> None:
    """Every `churnml` line of the README's bash blocks is one the CLI takes as written: a newcomer types
    them literally, and the workflow's `churnml validate sample/ [--strict]` stopped with "Got unexpected
    extra argument(s) ([--strict])". Parsed only (arguments, options, their values), not run."""
    import shlex

    command = typer.main.get_command(get_app())
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", README, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            m = re.search(r"(?:^|\s)churnml ([a-z][a-z-]+.*)", line.split(" #", 1)[0])
            if m:
                lines.append(m.group(0).strip())
    assert any(line.startswith("churnml validate sample/") for line in lines)  # the workflow's block is read
    wrong = []
    for line in lines:
        name, *args = shlex.split(line)[1:]
        try:
            command.commands[name].make_context(name, args)
        except Exception as error:  # Click's usage errors: what the CLI would print under "Error"
            wrong.append((line, getattr(error, "message", str(error))))
    assert not wrong


def test_help_texts_name_the_setting_and_its_default() -> None:
    """``[config: section.key, default]`` in an option's help: the setting exists and has that default
    (``--reasons`` said "[config: all]" and ``--success-rate`` "[config: 0.3]", naming no setting)."""
    from churnml.config import Config

    command = typer.main.get_command(get_app())
    wrong = []
    for name, sub in command.commands.items():
        for param in sub.params:
            help_text = getattr(param, "help", None) or ""
            if "[config:" not in help_text:
                continue
            m = re.search(r"\[config: ([a-z_]+)\.([a-z_]+)(?:, ([^,\]]+))?", help_text)
            if m is None or not hasattr(getattr(Config(), m.group(1), None), m.group(2)):
                wrong.append((name, param.opts[0], help_text[help_text.index("[config:"):]))
                continue
            default, written = getattr(getattr(Config(), m.group(1)), m.group(2)), m.group(3)
            if written is not None:
                expected = "none" if default is None else default
                same = (str(expected) == written if isinstance(expected, str)
                        else float(written) == float(expected))
                if not same:
                    wrong.append((name, param.opts[0], written, default))
    assert not wrong


def test_settings_table_defaults_are_the_config_defaults() -> None:
    """Each "`key` [default]" of the README's settings table is that section's default in config.py."""
    import dataclasses
    import tomllib

    from churnml.config import Config

    config = Config()
    checked, wrong = 0, []
    for section, settings in re.findall(r"^\| `\[(\w+)\]`[^|]*\| (.+) \|$", README, flags=re.M):
        values = getattr(config, section)
        if not dataclasses.is_dataclass(values):
            continue  # [tables], [columns.<table>]: names, no defaults
        names = {f.name for f in dataclasses.fields(values)}
        for key, written in re.findall(r"`(\w+)` \[(\[[^\]]*\]|[^\]:;\[]*)", settings):
            if key not in names:
                continue
            text = written.strip().replace("2,000,000", "2000000")
            if "," in text and not text.startswith("["):
                text = f"[{text}]"  # a pair: [1.5, 3]
            try:
                value = tomllib.loads(f"v = {text}")["v"]
            except tomllib.TOMLDecodeError:
                continue  # words: "none", "UTF-8 only", "unset", "empty"
            default = getattr(values, key)
            same = (list(default) == value if isinstance(default, tuple)
                    else default == value)
            checked += 1
            if not same:
                wrong.append((section, key, written, default))
    assert checked >= 28 and not wrong, (checked, wrong)


def test_the_bento_wheel_command_is_the_readmes() -> None:
    # serving/bentofile.yaml said to build the wheel with `pip wheel --no-deps -w serving/wheels ..`
    # "in this folder": from serving/ that writes serving/serving/wheels, and from the checkout `..`
    # is the folder above it. The README's command, run in the checkout, is the one that works.
    bentofile = (Path(__file__).resolve().parents[1] / "serving" / "bentofile.yaml").read_text()
    quoted = re.findall(r"`(pip wheel [^`]+)`", bentofile)
    assert quoted and all(f"`{command}` in the checkout" in README for command in quoted), quoted


def test_every_setting_is_described_in_config_py() -> None:
    """The settings table says "every setting is described in `src/churnml/config.py`": each field of
    each section has a docstring there (``trials``, ``seed``, ``psi_threshold`` and four more had none)."""
    import ast
    import dataclasses

    import churnml.config
    from churnml.config import Config

    assert "every setting is described in `src/churnml/config.py`" in " ".join(README.split())
    tree = ast.parse(Path(churnml.config.__file__).read_text())
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    undescribed = []
    for section in dataclasses.fields(Config):
        if not dataclasses.is_dataclass(section.default_factory):
            continue  # [tables], [columns]: your names, no settings
        body = classes[section.default_factory.__name__].body
        described = {statement.target.id for statement, following in zip(body, body[1:])
                     if isinstance(statement, ast.AnnAssign) and isinstance(following, ast.Expr)
                     and isinstance(following.value, ast.Constant) and isinstance(following.value.value, str)}
        undescribed += [f"[{section.name}] {f.name}" for f in dataclasses.fields(section.default_factory)
                        if f.name not in described]
    assert not undescribed


def test_settings_table_names_every_setting_and_only_settings() -> None:
    """Each section's row of the README's settings table names all of its settings (as `key` or
    `[section.key]`), and every "`key` [default]" there is a setting of that section: the defaults test
    above skips a name it does not know, so a renamed setting would drop out of it unnoticed."""
    import dataclasses

    from churnml.config import Config

    config = Config()
    rows = dict(re.findall(r"^\| `\[(\w+)\]`[^|]*\| (.+) \|$", README, flags=re.M))
    missing, unknown = [], []
    for section in dataclasses.fields(Config):
        values = getattr(config, section.name)
        if not dataclasses.is_dataclass(values):
            continue
        names = {f.name for f in dataclasses.fields(values)}
        row = rows.get(section.name, "")
        named = set(re.findall(r"`(\w+)`", row)) | set(re.findall(rf"`\[{section.name}\.(\w+)\]`", row))
        missing += [(section.name, n) for n in sorted(names - named)]
        unknown += [(section.name, k) for k in re.findall(r"`(\w+)` \[", row) if k not in names]
    assert not missing and not unknown, (missing, unknown)


def test_the_scores_and_list_columns_are_the_ones_written() -> None:
    """The README and `--help` name the columns of the scores file and of a retention list, in order,
    as `churnml score` and `churnml retention-list` write them."""
    from churnml.scoring import SCORE_COLUMNS
    from churnml.targeting import LIST_COLUMNS

    text = " ".join(README.split())
    scores = re.search(r"`churnml score` writes one row per customer in the population: `([\w, ]+)`", text)
    listed = re.search(r"Columns: `(rank, [\w, ]+)`", text)
    assert scores and listed
    assert scores.group(1).split(", ") == list(SCORE_COLUMNS)
    assert listed.group(1).split(", ") == list(LIST_COLUMNS)
    command = typer.main.get_command(get_app())
    for name, columns in (("score", SCORE_COLUMNS), ("retention-list", LIST_COLUMNS)):
        help_text = " ".join((command.commands[name].help or "").split())
        # OUT's item names them in order; some are explained in brackets after their name.
        out = help_text[help_text.index("OUT: "):help_text.index("OUT.json")]
        assert re.search(r"\W" + r"\W.*?\W".join(columns) + r"\W", out), (name, out)


def test_the_benefit_a_retention_list_keeps_is_said_the_same_everywhere() -> None:
    """`retention-list --help` said a "positive benefit", the README "at least a cent"; the list keeps a
    benefit that rounds above 0.00 at the decimals it is written with (0.006 is kept, 0.004 not)."""
    from churnml.targeting import DECIMALS

    rule = f"round{{}} to at least {10 ** -DECIMALS['expected_benefit']:.{DECIMALS['expected_benefit']}f}"
    shown_as_none = f"show as {0:.{DECIMALS['expected_benefit']}f} is none"
    help_text = " ".join(typer.main.get_command(get_app()).commands["retention-list"].help.split())
    readme = " ".join(README.split())
    assert rule.format("s") in help_text and shown_as_none in help_text, help_text[:400]
    assert rule.format("") in readme and shown_as_none in readme
    assert "positive benefit" not in help_text and "at least a cent" not in readme
    # The summaries (terminal, HTML, the list's workbook) named the candidates "with a positive
    # expected benefit", which a benefit of 0.004 has.
    from churnml.targeting import CANDIDATES_LABEL

    assert CANDIDATES_LABEL.endswith(rule.format("").removeprefix("round ").replace("to at least", "of at least"))
    assert CANDIDATES_LABEL in readme


def test_the_own_data_section_names_a_config_to_start_from_that_loads() -> None:
    """A first-time user read the whole section without learning that an example config exists."""
    from churnml.config import load_config

    section = README.split("## Using it on your own data", 1)[1].split("\n### ", 1)[0]
    named = re.findall(r"\[`(training/[\w.]+\.toml)`\]\((training/[\w.]+\.toml)\)", section)
    assert named and all(text == link for text, link in named)
    for path, _ in named:
        load_config(Path(__file__).resolve().parents[1] / path)


def test_the_example_config_names_the_commands_that_take_it() -> None:
    """training/churnml.example.toml said "Use it with any command", and `churnml models --config` (like
    promote, generate and demo) exits 2: those commands read no config and refuse it (a hidden --config)."""
    example = (Path(__file__).resolve().parents[1] / "training" / "churnml.example.toml").read_text()
    said = re.search(r"^# Use it with --config on every command but ([\w, -]+), which refuse it", example, flags=re.M)
    assert said and "any command" not in example
    named = set(re.split(r", | and ", said.group(1)))
    command = typer.main.get_command(get_app())
    refusing = {name for name, sub in command.commands.items()
                if any("--config" in p.opts and p.hidden for p in sub.params)}
    without = {name for name, sub in command.commands.items() if not any("--config" in p.opts for p in sub.params)}
    assert named == refusing and not without, (named, refusing, without)


def test_the_validation_section_quotes_the_kept_reasons_and_the_note_as_printed() -> None:
    """The README quotes the reasons of a service event kept without its score and the note `train`, `score`
    and `features` print, which the user then searches the quarantine file and the log for: they are
    the code's words (the note said "validation set aside 244 rows" before rows kept were counted apart)."""
    from churnml.cli.validate import rows_text
    from churnml.validate import kept_events_reasons

    readme = " ".join(README.split())
    for reason in kept_events_reasons((1, 5)):
        assert f"`{reason}`" in readme, reason
    quoted = re.search(r'\("(validation found [^"]+)"\)', readme)
    assert quoted and f"validation found {rows_text(3, 244)}".startswith(quoted.group(1)), quoted
