"""The docs hold together: links resolve, each generated fact has one home, references name
real pages, sections and files.

README.md and docs/*.md are checked as text: no network, no markdown renderer. The rules are
stated on each test, so a failure says what to change. docs/config.md is written by
booth/configdoc.py; everywhere else a setting is named, never copied with its default.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

from booth.config import ENV_OVERRIDES, ENV_SECRETS, SECTIONS, Config, settings

ROOT = Path(__file__).resolve().parents[2]
GENERATED = ROOT / "docs" / "config.md"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
HAND_WRITTEN = [p for p in PAGES if p != GENERATED]

FENCE_RE = re.compile(r"^(```|~~~)")
LINK_RE = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
CODE_SPAN_RE = re.compile(r"`([^`\n]+)`")


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name


# ------------------------------------------------------------------ markdown, the little we need
def prose_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, line) outside fenced code blocks."""
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE_RE.match(line.strip()):
            fenced = not fenced
            continue
        if not fenced:
            yield number, line


def fenced_blocks(text: str) -> Iterator[tuple[int, str, list[str]]]:
    """(line number of the fence, info string, lines) of every fenced code block."""
    block: list[str] | None = None
    start, info = 0, ""
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE_RE.match(line.strip()):
            if block is None:
                block, start, info = [], number, line.strip()[3:].strip()
            else:
                yield start, info, block
                block = None
        elif block is not None:
            block.append(line)


def heading_text(line: str) -> str | None:
    m = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
    return m.group(2) if m else None


def plain(markdown: str) -> str:
    """A heading as GitHub shows it: links reduced to their text, code and emphasis marks gone."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", markdown)
    return text.replace("`", "").replace("*", "")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", plain(heading).strip().lower()).replace(" ", "-")


def headings(path: Path) -> list[str]:
    return [h for _, line in prose_lines(path.read_text()) if (h := heading_text(line))]


def anchors(path: Path) -> set[str]:
    """Every anchor of a page, with GitHub's -1, -2 … for repeated headings."""
    seen: dict[str, int] = {}
    out = set()
    for h in headings(path):
        base = slug(h)
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def without_code_spans(line: str) -> str:
    return CODE_SPAN_RE.sub(lambda m: " " * len(m.group(0)), line)


# ------------------------------------------------------------------------------- (a) links
def broken_links(pages: list[Path]) -> list[str]:
    problems = []
    for page in pages:
        for number, line in prose_lines(page.read_text()):
            for m in LINK_RE.finditer(without_code_spans(line)):
                target = m.group(1)
                if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: …
                    continue
                where = f"{rel(page)}:{number}: ({target})"
                file_part, _, anchor = target.partition("#")
                dest = (page.parent / file_part).resolve() if file_part else page
                if not dest.exists():
                    problems.append(f"{where}: no file {file_part}")
                elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                    problems.append(f"{where}: no heading with the anchor #{anchor} in {dest.name}")
    return problems


def test_every_relative_link_resolves():
    """Each relative link of README.md and docs/*.md names a file that exists, and a
    `#anchor` names a heading of that page (GitHub's slug of the heading)."""
    problems = broken_links(PAGES)
    assert not problems, "broken links:\n" + "\n".join(problems)


def test_the_anchor_rules_match_github():
    assert slug("Cloud sharing: the QR works on mobile data (`[cloud]`)") == (
        "cloud-sharing-the-qr-works-on-mobile-data-cloud"
    )
    assert slug("`booth doctor`") == "booth-doctor"
    assert slug("On a real Pi: what was checked, and against what") == (
        "on-a-real-pi-what-was-checked-and-against-what"
    )
    assert slug("Top level") == "top-level" and slug("`[kiosk]`") == "kiosk"


# ------------------------------------------------------------- (b) no generated fact by hand
KEYS = {key: value for key, _, value in settings(Config())}
ENV_KEY = {**ENV_OVERRIDES, **ENV_SECRETS}  # variable → dotted key
MODULE_DIRS = {"booth", "jobstore", "kiosk", "share", "worker", "appliance"}
KEY_TOKEN_RE = re.compile(r"(?<![\w./-])((?:" + "|".join(SECTIONS) + r")\.[a-z_]+)(?![\w/-])")
# `share.env`, `mqtt.py`: files, not keys
FILE_SUFFIXES = {"py", "env", "md", "toml", "json", "sh", "txt", "conf", "service", "acl", "crt"}


def as_number(token: str) -> float | None:
    try:
        return float(token.replace("_", ""))
    except ValueError:
        return None


def is_default(key: str, written: str) -> bool:
    """Whether `written` (a table cell, a value in code) spells the key's default."""
    default = KEYS[key]
    text = written.strip().strip("`").strip()
    if isinstance(default, bool):
        return text.lower() in ("true", "false") and (text.lower() == "true") == default
    if isinstance(default, int | float):
        n = as_number(text.split()[0]) if text else None
        return n is not None and n == default
    unquoted = text.strip("\"'")
    if default == "":
        return text in ('""', "''", "(none)", "none", "empty", "(empty)")
    return unquoted == default


def keys_named(text: str) -> list[str]:
    """The config keys a piece of markdown names in code spans (`kiosk.fps`, `trust_clock`)."""
    found = []
    for span in CODE_SPAN_RE.findall(text):
        word = span.split("=")[0].strip()
        if word in KEYS:
            found.append(word)
    return found


def clauses(line: str) -> list[str]:
    """A line cut where a statement ends: sentence ends, semicolons, table cells."""
    return [c for c in re.split(r"(?<=[.!?])\s+|;|\|", line) if c.strip()]


def paragraphs(text: str) -> Iterator[tuple[int, str]]:
    """(first line number, the paragraph joined into one line) outside code blocks; each
    table row is a paragraph of its own."""
    buf: list[str] = []
    first = 0
    for number, line in prose_lines(text):
        if not line.strip() or line.lstrip().startswith("|") or heading_text(line):
            if buf:
                yield first, " ".join(buf)
                buf = []
            if line.strip():
                yield number, line
            continue
        if not buf:
            first = number
        buf.append(line.strip())
    if buf:
        yield first, " ".join(buf)


def hand_copies(page: Path) -> list[str]:
    text = page.read_text()
    problems = []
    for number, para in paragraphs(text):
        where = f"{rel(page)}:{number}"
        # 1. A table that pairs a key with its default: any cell of the key's row.
        if para.lstrip().startswith("|"):
            cells = [c.strip() for c in para.strip().strip("|").split("|")]
            for key in keys_named(para):
                for cell in cells:
                    if f"`{key}`" not in cell and is_default(key, cell):
                        problems.append(f"{where}: table row gives the default of {key}: {cell}")
        # 2. `key = value` in a code span, where the value is the default.
        for span in CODE_SPAN_RE.findall(para):
            name, eq, value = span.partition("=")
            if eq and name.strip() in KEYS and is_default(name.strip(), value):
                problems.append(f"{where}: `{span}` writes the default of {name.strip()}")
        # 3. A key and, in the same statement, "default" or its default value.
        for clause in clauses(para):
            for key in keys_named(clause):
                after = clause.split(f"`{key}`", 1)[1][:60] if f"`{key}`" in clause else ""
                if re.search(r"\bdefault\b", after):
                    problems.append(f"{where}: says the default of {key} by hand: {clause.strip()}")
                    continue
                default = KEYS[key]
                if isinstance(default, int | float) and not isinstance(default, bool):
                    for token in re.findall(r"(?<![\w.])\d[\d_]*(?:\.\d+)?(?![\w.])", after):
                        if as_number(token) == default and default != 0:
                            problems.append(
                                f"{where}: gives the default of {key} ({token}) by hand: "
                                f"{clause.strip()}"
                            )
        # 4. An environment variable beside the key it sets: that pairing is generated.
        for clause in clauses(para):
            for var, key in ENV_KEY.items():
                if re.search(rf"\b{var}\b", clause) and f"`{key}`" in clause:
                    problems.append(f"{where}: pairs {var} with {key} by hand: {clause.strip()}")
    # 5. TOML examples: a line that sets a key to its default is a hand copy too.
    for start, info, lines in fenced_blocks(text):
        if info != "toml":
            continue
        section = ""
        for offset, line in enumerate(lines, 1):
            if m := re.match(r"^\s*\[([\w.]+)\]", line):
                section = m.group(1)
            elif m := re.match(r"^\s*([\w]+)\s*=\s*([^#]+?)\s*(#.*)?$", line):
                key = f"{section}.{m.group(1)}" if section else m.group(1)
                if key in KEYS and is_default(key, m.group(2)):
                    problems.append(
                        f"{rel(page)}:{start + offset}: the example sets {key} to its default"
                    )
    return problems


def unknown_keys(page: Path) -> list[str]:
    """`section.name` in a code span that is no setting (a renamed or misspelt key)."""
    problems = []
    for number, line in prose_lines(page.read_text()):
        for span in CODE_SPAN_RE.findall(line):
            for token in KEY_TOKEN_RE.findall(span):
                section, name = token.split(".")
                if name in FILE_SUFFIXES:
                    continue
                module = ROOT / section / name
                if token in KEYS or module.with_suffix(".py").exists() or module.is_dir():
                    continue
                problems.append(f"{rel(page)}:{number}: `{token}` is no config key")
    return problems


def test_no_generated_fact_is_written_by_hand():
    """docs/config.md is the one place for a key's default and its environment variable.
    Elsewhere in README.md and docs/*.md: no table row gives a key's default; no code span
    `key = value` sets a key to its default; no statement names a key and then, within 60
    characters, the word "default" or its default number; no statement pairs an environment
    variable with the key it sets; no TOML example sets a key to its default; and every
    `section.key` named is a real key.
    Environment variables may be named on their own (the env files install.sh writes need
    them); the key they set is in docs/config.md."""
    problems = [p for page in HAND_WRITTEN for p in hand_copies(page) + unknown_keys(page)]
    assert not problems, "written by hand (link to docs/config.md instead):\n" + "\n".join(problems)


def test_the_hand_copy_rules_catch_copies(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "| key | what |\n|---|---|\n| `kiosk.fps` | 30 |\n\n"
        "Set `kiosk.recent_qr_s` (default 3 minutes) or `camera.rotation = 0`.\n"
        "Health comes every `operator.health_every_s` (30 s).\n"
        "`BOOTH_FALLBACK` sets `worker.fallback`.\n\n"
        '```toml\n[cloud]\nregion = "us-east-1"\nbucket = "b"\n```\n'
    )
    found = "\n".join(hand_copies(page))
    for key in ("kiosk.fps", "kiosk.recent_qr_s", "camera.rotation", "operator.health_every_s"):
        assert key in found
    assert "BOOTH_FALLBACK" in found and "cloud.region" in found and "cloud.bucket" not in found
    page.write_text("`camera.rotation = 90` turns it. Raise `kiosk.fps`; `worker.fallback` says.\n")
    assert hand_copies(page) == []


# ------------------------------------------------- references from code to the docs resolve
REF_RE = re.compile(
    r"(?P<open>\((?:see )?)?(?<![\w/])(?P<page>README\.md|README|docs/[\w-]+\.md)"
    r"(?:#(?P<anchor>[\w-]+)|, (?P<section>[^);\"\n]+)\)| \"(?P<quoted>[^\"\n]+)\")?"
)
CODE_SUFFIXES = {".py", ".sh", ".toml", ".cfg", ".example", ".service", ".conf", ".env"}
CODE_NAMES = {"Makefile", ".importlinter", "run"}


def code_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [
        ROOT / name
        for name in listed
        if (ROOT / name).is_file()
        and (Path(name).suffix in CODE_SUFFIXES or Path(name).name in CODE_NAMES)
    ]


def test_references_from_code_name_real_pages_and_sections():
    """A comment or docstring that sends the reader to README.md or docs/<page>.md names a
    page that exists, and a section that exists when it names one: `#anchor` after the page,
    or the page in brackets followed by a comma and the heading's first words
    (`(docs/<page>.md, Heading)`), or the heading's first words in double quotes after it.
    A heading of that page must start with those words (case aside)."""
    problems = []
    for path in code_files():
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            for m in REF_RE.finditer(line):
                name = m.group("page")
                page = ROOT / ("README.md" if name == "README" else name)
                where = f"{rel(path)}:{number}: {m.group(0)}"
                if not page.exists():
                    problems.append(f"{where}: no such page")
                    continue
                if m.group("anchor") and m.group("anchor") not in anchors(page):
                    problems.append(f"{where}: no such anchor in {rel(page)}")
                section = m.group("section") if m.group("open") else None
                words = (section or m.group("quoted") or "").strip().strip("*")
                if words and not any(
                    plain(h).lower().startswith(words.lower()) for h in headings(page)
                ):
                    problems.append(f"{where}: no heading of {rel(page)} starts so")
    assert not problems, "references to missing docs:\n" + "\n".join(problems)


# ------------------------------------------------------------- files the docs name exist
PATH_RE = re.compile(
    r"^(?:booth|jobstore|kiosk|share|worker|appliance|deploy|systemd|tests|bench|docs|\.ci)"
    r"/[\w./-]*$"
)


def test_files_the_docs_name_exist():
    """A repository path in a code span of README.md or docs/*.md (`kiosk/jobs/`,
    `deploy/install.sh`) exists; tests/output/ is written by the tests and is left out."""
    problems = []
    for page in PAGES:
        for number, line in prose_lines(page.read_text()):
            for span in CODE_SPAN_RE.findall(line):
                path = span.split()[0] if span.split() else ""
                if not PATH_RE.match(path) or path.startswith("tests/output"):
                    continue
                if not (ROOT / path.rstrip("/")).exists():
                    problems.append(f"{rel(page)}:{number}: `{path}` does not exist")
    assert not problems, "docs name files that are not there:\n" + "\n".join(problems)
