"""The fuzz harnesses (fuzz/) keep working as the code changes: each one's `one_input` runs over
its seeds and a few hundred mutations of them, without atheris, and finds nothing. (The
coverage-guided runs are by hand: docs/testing.md, "Fuzzing".)"""

from __future__ import annotations

import importlib
import random
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "fuzz" / "seeds"
TARGETS = {
    "images": "fuzz.fuzz_images",
    "protocol": "fuzz.fuzz_protocol",
    "config": "fuzz.fuzz_config",
    "http": "fuzz.fuzz_http",
    "records": "fuzz.fuzz_records",
}
MUTATIONS = {"images": 300, "protocol": 300, "config": 200, "http": 60, "records": 300}


def mutate(data: bytes, rng: random.Random) -> bytes:
    """What libFuzzer does first: change, insert, delete or repeat a few bytes."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(out) + 1)
        how = rng.randrange(4)
        if how == 0 and out:
            out[min(at, len(out) - 1)] = rng.randrange(256)
        elif how == 1:
            out[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif how == 2:
            del out[at : at + rng.randint(1, 16)]
        else:
            out[at:at] = out[at : at + rng.randint(1, 32)] * rng.randint(1, 4)
    return bytes(out)


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_a_harness_runs_over_its_seeds_and_their_mutations(target):
    harness = importlib.import_module(TARGETS[target])
    seeds = sorted((SEEDS / target).iterdir())
    assert seeds, f"no seeds for {target}"
    rng = random.Random(f"seed-{target}")
    try:
        for path in seeds:
            harness.one_input(path.read_bytes())
        for _ in range(MUTATIONS[target]):
            harness.one_input(mutate(rng.choice(seeds).read_bytes(), rng))
    finally:
        close = getattr(harness, "close", None)
        if close is not None:
            close()
