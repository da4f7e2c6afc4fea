"""SEENN-II on data the SNN has not fit (`seenn2.policy_data: holdout`): the policy learns from the held-out
split, the SNN keeps training on its own split only, and the held-out inputs never reach the SNN's gradient
or its BatchNorm statistics."""

import numpy as np
import torch

from pipeline.core.config import parse_params
from pipeline.data import prepare_dataset
from pipeline.seenn2.finetune import finetune_policy
from pipeline.snn.networks import build_direct_snn

PARAMS = {
    "data": {"digits": {"holdout_fraction": 0.2}},
    "direct": {"d": {"dataset": "digits", "model": "resnet8", "width": 0.25, "T": 2}},
    "seenn2": {"runs": ["d"], "epochs": 1, "batch_size": 64, "policy_width": 0.25},
}


def _trained_on(policy_data: str) -> tuple[set[bytes], set[bytes], set[bytes]]:
    """Images the SNN saw with gradients in train mode during a finetune, and the two splits."""
    p = parse_params({**PARAMS, "seenn2": {**PARAMS["seenn2"], "policy_data": policy_data}})
    data = prepare_dataset("digits", p.data, 0)
    torch.manual_seed(0)
    snn = build_direct_snn(p.direct["d"], data.info)
    seen: set[bytes] = set()

    def record(module, args):
        if module.training and torch.is_grad_enabled():
            for image in args[0][0]:  # [T, N, C, H, W]: the static image, repeated at every step
                seen.add(image.detach().numpy().astype(np.float32).tobytes())

    snn.register_forward_pre_hook(record)
    finetune_policy(snn, p.direct["d"], p.seenn2, 0.1, data, 0)
    as_rows = lambda x: {row.astype(np.float32).tobytes() for row in x}  # noqa: E731
    return seen, as_rows(data.x_train), as_rows(data.x_holdout)


def test_holdout_never_reaches_the_snn():
    seen, train, held = _trained_on("holdout")
    assert seen and seen <= train and not seen & held


def test_the_papers_way_trains_on_the_snns_own_inputs():
    seen, train, held = _trained_on("train")
    assert seen <= train and not seen & held  # the held-out split exists but is simply unused
