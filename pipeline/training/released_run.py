"""What the `import_released` stage does: read the authors' released checkpoint (`released.<run>` in
params.yaml), map it onto our model (pipeline/snn/released.py), run it through the same evaluation as a
converted or trained SNN and write the run folder in the same format (`model.pt`, `timestep_logits.npz`,
`train_logits.npz`, `run.json`, `provenance.json`), so the sweep, tables and figures read it as any run.

A QCFS file is a QCFS ANN: it is converted exactly as `convert_run` converts ours (IF neurons,
threshold = the learned lambda, reset by subtraction, initial membrane V / 2) and scored as a conversion
run. A SEW file runs as our LIF with the layout's leak (tau = 1: SEW's IF with hard reset) and is scored
as a directly trained run. `run.json` and `provenance.json` also name the layout and the file's sha256;
provenance.json's params are `released.<run>`.
"""

import hashlib
from pathlib import Path

import numpy as np

from pipeline.core.config import ConversionRun, DirectRun, Params, ReleasedRun
from pipeline.core.errors import StageError
from pipeline.data.prepared import to_sequence
from pipeline.snn.networks import build_direct_snn, build_qcfs_ann
from pipeline.snn.released import Layout, layout_named, load_released, read_checkpoint
from pipeline.training.feeds import eval_feed
from pipeline.training.loop import evaluate
from pipeline.training.outputs import load_data_for, write_snn_run
from pipeline.training.recipes import convert_and_simulate, training_set_logits, validation_logits
from pipeline.training.session import start_execution
from pipeline.training.workflows import accuracy_by_t, calibration_per_class


def network_spec(spec: ReleasedRun, layout: Layout) -> ConversionRun | DirectRun:
    """The run spec our network is built from: a conversion run for a QCFS file (its lambdas come from
    the file), a direct run with the layout's LIF leak for an SNN file. Training keys keep their defaults
    (nothing is trained)."""
    common = dict(
        dataset=spec.dataset,
        model=spec.model,
        width=spec.width,
        T=spec.T,
        shortcut=spec.shortcut,
        stem=spec.stem,
        stem_pool=spec.stem_pool,
        vgg_head=spec.vgg_head,
    )
    if layout.method == "conversion":
        return ConversionRun(**common)
    return DirectRun(**common, tau=layout.tau)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def import_released_run(p: Params, run: str, checkpoint: Path, data_dir: Path, out: Path) -> np.ndarray:
    """Import `released.<run>` from `checkpoint`, record its per-step outputs on the test and training
    sets and write the run folder `out`; return its test accuracy at each T."""
    spec = p.released[run]
    layout = layout_named(spec.layout)
    net = network_spec(spec, layout)
    device, execution = start_execution(p, distributed=False)
    data = load_data_for(run, spec.dataset, data_dir)
    model = (build_qcfs_ann if layout.method == "conversion" else build_direct_snn)(net, data.info)
    state = read_checkpoint(checkpoint)
    try:
        load_released(spec.layout, state, model)
    except StageError as err:
        raise StageError(f"released.{run} ({checkpoint}): {err}") from None
    if layout.method == "conversion":
        snn, logits = convert_and_simulate(model, net, data, device, execution)
    else:
        snn = model.to(device)
        encode = lambda x: to_sequence(x, data.info, spec.T)  # noqa: E731
        logits = evaluate(snn, eval_feed(data, "test", device, execution), encode, device)[0]
    calibration = calibration_per_class(p, data.stream is not None)
    train_logits = training_set_logits(
        snn, data, spec.T, device, execution, calibration, dropout=p.sweep.calibration_dropout, seed=p.seed
    )
    released = {
        "layout": layout.name,
        "source": layout.source,
        "file": str(checkpoint),
        "sha256": sha256_of(checkpoint),
        "threshold_keys": layout.style_of(list(state)),
    }
    record = {**vars(spec), "released": released}  # `released.<run>` as params.yaml gives it, and the file
    val_logits = validation_logits(snn, data, spec.T, device, execution)
    write_snn_run(
        out, run, net, snn, data, data_dir, logits, val_logits, train_logits, p.seed, device, released, record
    )
    return accuracy_by_t(logits, data.y_test)
