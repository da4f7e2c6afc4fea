"""Build the networks a run's params describe: an LIF SNN for direct training, a QCFS ANN to convert."""

from torch import nn

from pipeline.core.config import ConversionRun, DirectRun
from pipeline.data.prepared import DatasetInfo
from pipeline.snn.models import build_model
from pipeline.snn.models.layers import ActivationFactory
from pipeline.snn.neurons import LIF, SpikingNeuron
from pipeline.snn.qcfs import QCFS
from pipeline.snn.surrogate import SURROGATES


def lif_factory(surrogate: str, tau: float, threshold: float = 1.0) -> ActivationFactory:
    spike_fn = SURROGATES.get(surrogate)()
    return lambda: LIF(spike_fn, tau=tau, threshold=threshold)


def build_direct_snn(run: DirectRun, info: DatasetInfo) -> nn.Module:
    act = lif_factory(run.surrogate, run.tau)
    return build_model(run.model, info.num_classes, info.in_channels, info.input_size, act, run.width)


def build_qcfs_ann(run: ConversionRun, info: DatasetInfo) -> nn.Module:
    act = lambda: QCFS(run.qcfs_levels, run.qcfs_lambda)  # noqa: E731
    return build_model(run.model, info.num_classes, info.in_channels, info.input_size, act, run.width)


def spiking_neurons(model: nn.Module) -> list[SpikingNeuron]:
    return [m for m in model.modules() if isinstance(m, SpikingNeuron)]
