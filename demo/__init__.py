"""The demo: a deterministic seeded pool and a plausible history (never imported by the core)."""
