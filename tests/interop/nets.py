"""Small seeded spiking networks built with the real spikingjelly and snnTorch, and random inputs."""

import torch
from torch import nn

T, N, C = 4, 64, 5  # timesteps, inputs, classes
SHAPE = (1, 10, 10)  # one-channel 10x10 inputs
GAIN = 5.0  # weights x GAIN: at PyTorch's default scale the second spiking layer of a random net is silent


def amplify(net: nn.Module) -> nn.Module:
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.mul_(GAIN)
    return net


def inputs(seed: int = 0, n: int = N) -> tuple[torch.Tensor, torch.Tensor]:
    """`x [n, 1, 10, 10]` in [0, 2) (strong enough to make the first layer spike) and labels `[n]`."""
    g = torch.Generator().manual_seed(seed)
    return 2 * torch.rand(n, *SHAPE, generator=g), torch.randint(0, C, (n,), generator=g)


def batches(x: torch.Tensor, y: torch.Tensor, size: int = 16) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(x[i : i + size], y[i : i + size]) for i in range(0, len(x), size)]


def jelly_net(step_mode: str = "m", seed: int = 0) -> nn.Sequential:
    """conv 3x3 -> LIF -> avg-pool -> conv 3x3 -> LIF -> flatten -> linear readout (no neuron: its
    per-step output is the logits); spikingjelly layers, `step_mode` 'm' ([T, n, ...]) or 's'."""
    from spikingjelly.activation_based import functional, layer, neuron

    torch.manual_seed(seed)
    net = nn.Sequential(
        layer.Conv2d(1, 8, 3, padding=1),
        neuron.LIFNode(tau=2.0),
        layer.AvgPool2d(2),
        layer.Conv2d(8, 8, 3, padding=1),
        neuron.LIFNode(tau=2.0),
        layer.Flatten(),
        layer.Linear(8 * 5 * 5, C),
    )
    functional.set_step_mode(net, step_mode)
    return amplify(net)


class SnnTorchStep(nn.Module):
    """One timestep per call, `x_t [n, 1, 10, 10]` -> membrane of the output layer `[n, C]`; the
    membranes live in the neurons (`init_hidden=True`) between calls."""

    def __init__(self, seed: int = 0, beta: float = 0.8):
        import snntorch as snn

        super().__init__()
        torch.manual_seed(seed)
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.lif1 = snn.Leaky(beta=beta, init_hidden=True)
        self.fc = nn.Linear(8 * 10 * 10, C)
        self.lif2 = snn.Leaky(beta=beta, init_hidden=True, output=True)
        amplify(self)

    def forward(self, x_t: torch.Tensor) -> torch.Tensor:
        _, mem = self.lif2(self.fc(self.lif1(self.conv(x_t)).flatten(1)))
        return mem


class SnnTorchLoop(nn.Module):
    """The same layers in snnTorch's usual time loop (`spk, mem = lif(cur, mem)`), `x_seq [T, n, ...]` ->
    output membranes `[T, n, C]`."""

    def __init__(self, seed: int = 0, beta: float = 0.8):
        import snntorch as snn

        super().__init__()
        torch.manual_seed(seed)
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.lif1 = snn.Leaky(beta=beta)
        self.fc = nn.Linear(8 * 10 * 10, C)
        self.lif2 = snn.Leaky(beta=beta)
        amplify(self)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        mem1, mem2 = self.lif1.init_leaky(), self.lif2.init_leaky()
        out = []
        for x_t in x_seq:
            spk1, mem1 = self.lif1(self.conv(x_t), mem1)
            _, mem2 = self.lif2(self.fc(spk1.flatten(1)), mem2)
            out.append(mem2)
        return torch.stack(out)
