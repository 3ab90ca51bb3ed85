"""Hypothesis settings for the property-based tests (tests/*/test_*_properties.py).

Profiles, chosen with HYPOTHESIS_PROFILE (docs/testing.md, "Fuzzing"):
- `ci` (the default): few enough examples that every property test together stays within about
  a minute on a 2-core machine, so they run in every `make test`; no deadline, because a busy CI
  machine makes a single slow example look like a bug.
- `long`: many more examples for a run by hand (`HYPOTHESIS_PROFILE=long make test
  PYTEST_ARGS="-k properties"`).

Importing this module loads the profile; each property test module imports it.
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir

# Hypothesis' own folder (failing examples, replayed first on the next run) in the git-ignored
# output folder, not as .hypothesis at the top of the checkout.
set_hypothesis_home_dir(str(Path(__file__).resolve().parents[1] / "output" / "hypothesis"))

settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile(
    "long",
    max_examples=5_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Scale for tests whose single example is costly (an HTTP round trip, a TOML file): a share of
# the profile's examples, so `long` scales them too.
costly = settings(max_examples=max(20, settings().max_examples // 2))
