"""Coverage-guided fuzz harnesses (atheris), one per target; docs/testing.md, "Fuzzing"."""
