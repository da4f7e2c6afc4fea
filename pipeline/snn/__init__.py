"""Spiking networks: neurons and surrogate gradients, the fused LIF loop, QCFS and ANN-to-SNN conversion,
the model zoo, building a run's network, the authors' released checkpoints read into our models, and dense
operation counts."""
