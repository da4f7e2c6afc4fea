"""Training under `torchrun --nproc_per_node N`: one process per GPU (or CPU worker, gloo backend),
PyTorch's DistributedDataParallel, BatchNorm statistics over the global batch.

Everything is a no-op in a single process, so the training stages run unchanged either way. The
contract that makes N processes equal one process with the same global batch (tested with two CPU
processes): every process walks the same shuffled order and takes a contiguous slice of each global
batch (`pipeline.data.feed.Shard`); each process's mean loss is weighted by its share of the global batch;
DDP averages gradients; `GlobalBatchNorm2d` normalises with the global batch's mean and variance.
"""

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from pipeline.data.feed import Shard


@dataclass(frozen=True)
class Process:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Only the main process writes files (outputs, checkpoints, DVCLive metrics)."""
        return self.rank == 0

    @property
    def shard(self) -> Shard:
        return Shard(self.rank, self.world)


def start(device: str) -> tuple[Process, str]:
    """Join the process group when launched by torchrun (its RANK / WORLD_SIZE / LOCAL_RANK variables);
    return this process and its device (`cuda:<local rank>` on GPUs)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Process(), device
    process = Process(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    cuda = torch.device(device).type == "cuda"
    if cuda:
        device = f"cuda:{process.local_rank}"
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    return process, device


def all_sum(values: list[float], process: Process, device: str) -> list[float]:
    """Element-wise sum of `values` over all processes (float64, so counts stay exact)."""
    if process.world == 1:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


class _AllReduceSum(torch.autograd.Function):
    """Sum over processes; the gradient of a sum is the sum of the gradients, so backward all-reduces too."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class GlobalBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics cover the global batch: one differentiable all-reduce of
    per-channel sums, sums of squares and counts. torch's SyncBatchNorm needs GPUs; this one runs on
    gloo too, so the CPU test checks the same code the GPUs run. Evaluation is plain BatchNorm2d."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, C, H, W]
        if not (
            self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
        ):
            return super().forward(x)
        x32 = x.float()
        count = torch.full((1,), x32.numel() / x32.shape[1], dtype=x32.dtype, device=x32.device)
        local = torch.cat([x32.sum((0, 2, 3)), (x32 * x32).sum((0, 2, 3)), count])  # [2C + 1]
        total = _AllReduceSum.apply(local)
        c, n = x32.shape[1], total[-1]
        mean = total[:c] / n
        var = (total[c : 2 * c] / n - mean * mean).clamp(min=0)
        with torch.no_grad():
            self.num_batches_tracked.add_(1)
            self.running_mean.lerp_(mean.detach(), self.momentum)
            self.running_var.lerp_(var.detach() * n / (n - 1), self.momentum)
        shape = (1, c, 1, 1)
        y = (x32 - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        return (y * self.weight.view(shape) + self.bias.view(shape)).to(x.dtype)


def sync_batchnorm(model: nn.Module) -> nn.Module:
    """Swap every BatchNorm2d for a GlobalBatchNorm2d with the same parameters and buffers (in place)."""
    for name, child in model.named_children():
        if type(child) is nn.BatchNorm2d:
            replacement = GlobalBatchNorm2d(child.num_features, child.eps, child.momentum, child.affine)
            replacement.load_state_dict(child.state_dict())
            replacement.to(child.weight.device)
            setattr(model, name, replacement)
        else:
            sync_batchnorm(child)
    return model


def wrap(model: nn.Module, process: Process, device: str, sync_bn: bool = True) -> nn.Module:
    """The module to call in training: `model` itself in one process, else DDP around it."""
    if process.world == 1:
        return model
    if sync_bn:
        sync_batchnorm(model)
    ids = [torch.device(device).index] if torch.device(device).type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)
