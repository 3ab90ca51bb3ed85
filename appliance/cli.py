"""`booth` command line: one entry point, one subcommand per process or tool.

Each subcommand lives in the package that owns it and exposes `add_arguments(parser)` and
`run(cfg, args) -> int`; this module only parses, loads the config and dispatches. Only the chosen
subcommand's module is imported, so `booth worker` never loads pygame, aiohttp, the kiosk or the
share server.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

from booth import __version__
from booth.config import ConfigError, load_config
from booth.logs import setup_logging

# name → (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "up": (
        "appliance.up",
        "run everything on this machine: broker if needed, worker, share server, kiosk",
    ),
    "kiosk": ("kiosk.cli", "the fullscreen capture screen"),
    "worker": ("worker.cli", "the job consumer that calls Gemini (or the local effect)"),
    "share": ("share.cli", "the HTTP server guests' phones download from"),
    "printer": ("printer.cli", "the print queue: prints photos through CUPS ([print])"),
    "snap": (
        "appliance.snap",
        "send one photo through the real pipeline and print its download link",
    ),
    "doctor": (
        "appliance.doctor",
        "check camera, display, broker, API key, disk, clock; print config",
    ),
}


def _module_available(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


_VALUED_OPTIONS = ("--config", "--log-level")


def chosen_command(argv: list[str]) -> str | None:
    """The subcommand named in `argv` (the first word that is one), skipping option values."""
    skip = False
    for word in argv:
        if skip:
            skip = False
        elif word in _VALUED_OPTIONS:
            skip = True
        elif not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def build_parser(
    chosen: str | None = None,
) -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The parser; only the `chosen` subcommand's module is imported to add its options."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="TOML config file (default: $BOOTH_CONFIG or /etc/booth/booth.toml)",
    )
    common.add_argument(
        "--log-level",
        default=argparse.SUPPRESS,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="override log level",
    )
    parser = argparse.ArgumentParser(
        prog="booth",
        parents=[common],
        description="Drip Me Out: a walk-up AI photo booth.",
        epilog="Run 'booth COMMAND --help' for the options of one command.",
    )
    parser.add_argument("--version", action="version", version=f"booth {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers = {}
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        subparsers[name] = p
        if name == chosen and _module_available(module):
            mod = importlib.import_module(module)
            if hasattr(mod, "add_arguments"):
                mod.add_arguments(p)
    return parser, subparsers


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser, _ = build_parser(chosen_command(argv))
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    module, _help = COMMANDS[args.command]
    if not _module_available(module):
        print(f"booth {args.command}: not built yet", file=sys.stderr)
        return 2
    try:
        cfg = load_config(getattr(args, "config", None))
    except ConfigError as exc:
        print(f"booth: configuration error: {exc}", file=sys.stderr)
        return 78  # EX_CONFIG: systemd does not hammer-restart a unit on a bad config
    setup_logging(getattr(args, "log_level", None) or cfg.log_level, args.command)
    mod = importlib.import_module(module)
    try:
        return int(mod.run(cfg, args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
