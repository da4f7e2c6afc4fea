"""Training: the loop, the recipes the stages call, losses (TET, RCS), checkpoints, speed switches,
torchrun and determinism."""
