"""Build the networks a run's params describe: an LIF SNN for direct training, a QCFS ANN to convert."""

from torch import nn

from pipeline.core.config import ConversionRun, DirectRun, TrainingParams
from pipeline.data.prepared import DatasetInfo
from pipeline.snn.models import build_model
from pipeline.snn.models.layers import ActivationFactory
from pipeline.snn.neurons import LIF, SpikingNeuron
from pipeline.snn.qcfs import QCFS
from pipeline.snn.surrogate import SURROGATES


def lif_factory(surrogate: str, tau: float, threshold: float = 1.0) -> ActivationFactory:
    spike_fn = SURROGATES.get(surrogate)()
    return lambda: LIF(spike_fn, tau=tau, threshold=threshold)


def architecture_options(run: TrainingParams) -> dict[str, str]:
    """The run's architecture options, as `build_model` keywords."""
    return {"shortcut": run.shortcut, "stem": run.stem, "stem_pool": run.stem_pool, "vgg_head": run.vgg_head}


def build_direct_snn(run: DirectRun, info: DatasetInfo) -> nn.Module:
    act = lif_factory(run.surrogate, run.tau)
    shape = (info.num_classes, info.in_channels, info.input_size)
    return build_model(run.model, *shape, act, run.width, **architecture_options(run))


def build_qcfs_ann(run: ConversionRun, info: DatasetInfo) -> nn.Module:
    act = lambda: QCFS(run.qcfs_levels, run.qcfs_lambda)  # noqa: E731
    shape = (info.num_classes, info.in_channels, info.input_size)
    return build_model(run.model, *shape, act, run.width, **architecture_options(run))


def spiking_neurons(model: nn.Module) -> list[SpikingNeuron]:
    return [m for m in model.modules() if isinstance(m, SpikingNeuron)]
