"""Exit policies on saved per-timestep outputs (numpy only, no torch): metrics, SEENN-I/II, SNNCutoff's
rules, the sweep."""
