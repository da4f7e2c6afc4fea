"""Benchmark scripts (budgets are measured here, not asserted in timed tests)."""
