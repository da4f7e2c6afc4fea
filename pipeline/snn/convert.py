"""ANN -> SNN conversion for QCFS-trained nets (Bu et al., ICLR 2022).

Every QCFS activation becomes an IF neuron whose threshold is that layer's learned lambda, reset by
subtraction, initial membrane 0.5 * threshold; weights, BN and pooling (already average pooling) stay.
The converted net is fed the analog image at every step (direct encoding), and its output averaged over
t steps approaches the ANN's output as t grows.
"""

import copy

from torch import nn

from pipeline.snn.neurons import IF
from pipeline.snn.qcfs import QCFS


def convert_qcfs_to_if(ann: nn.Module, initial_fraction: float = 0.5) -> nn.Module:
    """Return a copy of `ann` with each QCFS module replaced by an IF neuron (the ANN is untouched)."""
    snn = copy.deepcopy(ann)
    replaced = 0
    for parent in snn.modules():
        for name, child in parent.named_children():
            if isinstance(child, QCFS):
                setattr(
                    parent, name, IF(threshold=child.lam.detach().item(), initial_fraction=initial_fraction)
                )
                replaced += 1
    if replaced == 0:
        raise ValueError("the network has no QCFS activation to convert")
    return snn
