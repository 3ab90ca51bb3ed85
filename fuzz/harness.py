"""What every harness shares: the atheris run with its defaults and seeds.

A harness is a module with `one_input(data: bytes) -> None`, which raises (an assertion, or an
exception no caller of that target expects) only for a finding; run from the checkout as a
module it fuzzes that function with atheris (`python -m fuzz.fuzz_images [libFuzzer options]
[corpus dirs]`).
tests/foundation/test_fuzz_harnesses.py runs each one_input over its seeds without atheris, so
the harnesses keep working as the code changes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

SEEDS = Path(__file__).resolve().parent / "seeds"
OUTPUT = Path(__file__).resolve().parents[1] / "tests" / "output" / "fuzz"


def fuzz(one_input: Callable[[bytes], None], target: str, defaults: list[str]) -> None:
    """Run atheris on `one_input`: every Python module loaded so far instrumented for coverage,
    `defaults` (libFuzzer flags) unless the command line gives them. Without corpus directories
    on the command line, new inputs go to tests/output/fuzz/TARGET (git-ignored) and the
    target's seeds are read beside them; findings are written there too."""
    import atheris

    work = OUTPUT / target
    work.mkdir(parents=True, exist_ok=True)
    given = {arg.split("=", 1)[0] for arg in sys.argv[1:] if arg.startswith("-")}
    argv = [sys.argv[0], *sys.argv[1:]]
    defaults = [*defaults, f"-artifact_prefix={work}/"]
    argv += [flag for flag in defaults if flag.split("=", 1)[0] not in given]
    if not any(not arg.startswith("-") for arg in sys.argv[1:]):
        argv += [str(work), str(SEEDS / target)]
    atheris.instrument_all()
    atheris.Setup(argv, one_input)
    atheris.Fuzz()
