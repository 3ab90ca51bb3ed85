"""docs/config.md, written from the config's own field descriptions.

The reference of every key (its default, what it may be, the environment variable that sets it,
what it does) has one source: the fields of `booth/config.py`. This module turns them into the
whole of docs/config.md, so the page cannot drift from the code; tests/foundation/test_config.py
fails while the page differs from what this module writes. To regenerate it:

    .venv/bin/python -m booth.configdoc > docs/config.md
"""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import Any

from booth.config import (
    DEFAULT_CONFIG_PATH,
    DRIP_PROMPT,
    ENV_ONLY,
    ENV_OVERRIDES,
    ENV_SECRETS,
    LOCAL_VARIANTS,
    SECTIONS,
    Config,
    Style,
    settings,
)
from booth.texts import LANGUAGES

COMMAND = ".venv/bin/python -m booth.configdoc > docs/config.md"

# One line per section: what it is for, and the page that explains the behaviour behind it.
SECTION_NOTES = {
    "": "Settings of the whole booth.",
    "mqtt": "The broker every process connects to ([protocol](protocol.md)).",
    "gemini": "The image model the worker calls ([worker](worker.md)).",
    "worker": "The worker: its limits, its deadline, the fallback and the outage breaker "
    "([worker](worker.md)).",
    "kiosk": "The booth screen: its pace, what it burns into every result, its language "
    "([kiosk](kiosk.md)).",
    "camera": "The kiosk's camera ([kiosk](kiosk.md#how-it-works)).",
    "share": "The download server, its operator listener, its connection caps and retention "
    "([share server](share.md)).",
    "cloud": "Sharing through an S3-compatible bucket "
    "([cloud sharing](share.md#cloud-sharing-the-qr-works-on-mobile-data-cloud)).",
    "operator": "The operator's view: the dashboard's event, health reports, the operator mark "
    "([operations](operations.md)).",
    "print": "Prints through CUPS: the Print button or auto-print, the limits, the paper "
    "([printing](printing.md)).",
    "strip": 'The strip session (`kiosk.mode = "strip"`): how many photos, the sheet they are '
    "composed on ([kiosk](kiosk.md#the-strip-session)).",
}


def toml_value(value: Any) -> str:
    """A default as it would be written in booth.toml."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


def allowed(f: dataclasses.Field[Any]) -> str:
    """The choices, or the range, the config accepts for a field (empty: any)."""
    meta = f.metadata
    if meta.get("choices"):
        return " / ".join(f"`{toml_value(c)}`" for c in meta["choices"])
    lo, hi = meta.get("min"), meta.get("max")
    if lo is not None and hi is not None:
        return f"{_number(lo)} to {_number(hi)}"
    if lo is not None:
        return f"≥ {_number(lo)}"
    if hi is not None:
        return f"≤ {_number(hi)}"
    return ""


def section_table(section: str) -> str:
    """The table of one section ("" for the top-level keys)."""
    env_for = {key: var for var, key in {**ENV_OVERRIDES, **ENV_SECRETS}.items()}
    rows = ["| key | default | allowed | environment | what it does |", "|---|---|---|---|---|"]
    for key, f, value in settings(Config()):
        if key.rpartition(".")[0] != section:
            continue
        env_only = f.name in ENV_ONLY and key in ENV_SECRETS.values()
        shown = "the hostname" if key == "booth_id" else f"`{toml_value(value)}`"
        env = f"`{env_for[key]}`" if key in env_for else ""
        if env_only:
            shown, env = "(unset)", env + " (only there)"
        doc = f.metadata.get("doc", "").replace("|", "\\|")
        rows.append(f"| `{key}` | {shown} | {allowed(f)} | {env} | {doc} |")
    return "\n".join(rows)


def reference_page() -> str:
    """The whole of docs/config.md."""
    secrets = ", ".join(f"`{var}`" for var in ENV_SECRETS)
    variants = ", ".join(f"`{v}`" for v in LOCAL_VARIANTS)
    languages = ", ".join(f"`{lang}`" for lang in LANGUAGES)
    local_default = next(f.default for f in dataclasses.fields(Style) if f.name == "local")
    (default_style,) = Config().styles
    parts = [
        "# Configuration reference",
        "",
        "<!-- Generated from the field descriptions in booth/config.py; do not edit by hand.",
        f"     Edit those, then run: {COMMAND}",
        "     tests/foundation/test_config.py fails while this page is stale. -->",
        "",
        "This page is the one place for every setting's name, default, limits and environment",
        "variable; the other pages link here.",
        "",
        "Every process reads the same configuration: the built-in defaults, then one TOML file,",
        "then the environment, which wins. The file is `--config PATH`, else the file named by",
        f"`BOOTH_CONFIG`, else `{DEFAULT_CONFIG_PATH}` when it exists.",
        "`deploy/booth.example.toml` is a commented example with every key.",
        "",
        "An unknown key or a bad value stops start-up with a message naming the file, the key and",
        "what is allowed (exit code 78, so systemd does not restart a unit in a loop).",
        "`booth doctor --print-config` prints the effective configuration with secrets masked.",
        "",
        f"Secrets come only from the environment, never from the file: {secrets}.",
        "The Wi-Fi password may be in the file too: guests see it anyway.",
        "",
    ]
    for section in ["", *SECTIONS]:
        parts += ["## Top level" if not section else f"## `[{section}]`", ""]
        parts += [SECTION_NOTES[section], "", section_table(section), ""]
    parts += [
        "## Style presets: `[styles.NAME]`",
        "",
        "Each `[styles.NAME]` table has `label` (the button's text), `prompt` (what the model is",
        f"asked) and `local` (what the local effect draws for it: {variants}; default",
        f"`{toml_value(local_default)}`). Without any, there is one style, `{default_style}`, with",
        f'the prompt "{DRIP_PROMPT}".',
        "With more than one preset the start screen offers them as buttons, one per look that",
        "differs ([kiosk](kiosk.md#honest-styles)).",
        "",
        "## Guest texts: `[texts]`",
        "",
        f"Every text a guest reads is in `booth/texts.py`, in {languages}; `kiosk.language`",
        "picks one. A `[texts]` table replaces any of them by name",
        '(`start_button = "Tap for bling"`); an unknown name or placeholder stops start-up.',
        "",
    ]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv:
        print(f"usage: {COMMAND}\n(prints docs/config.md; no options)", file=sys.stderr)
        return 2
    sys.stdout.write(reference_page())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
