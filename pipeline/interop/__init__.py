"""Early exits for spiking networks built elsewhere (spikingjelly, snnTorch): record their per-timestep
outputs, evaluate every exit policy on them, and step them through the batched early-exit engine."""
