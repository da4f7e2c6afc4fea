"""Real early exit: the batched engine and its on-device exit rules, energy counts and latency measurement."""
