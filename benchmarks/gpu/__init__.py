"""The one-shot GPU check's parts (benchmarks/gpu_check.py runs them)."""
