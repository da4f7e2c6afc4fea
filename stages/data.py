"""Stage `data`: build one prepared dataset into its folder: `prepared.npz` + `info.json`, or for data
streamed from disk (ImageNet) a checked file index `index.npz` + `info.json`."""

from pathlib import Path

import typer

from pipeline.data import DATASETS
from pipeline.data.prepared import save_prepared
from stages.common import fail, load_params


def data(
    dataset: str = typer.Argument(..., help="dataset name, a key of `data` in params.yaml"),
    out: Path = typer.Option(..., help="folder for prepared.npz (or index.npz) and info.json"),
    params: Path = typer.Option(Path("params.yaml"), help="params file"),
) -> None:
    """Prepare a dataset: load or simulate it, split it, save arrays and metadata."""
    p = load_params(params)
    if dataset not in DATASETS:
        fail(f"dataset {dataset!r} is not known; known: {', '.join(DATASETS.names())}")
    try:
        prepared = DATASETS.get(dataset)(getattr(p.data, dataset), p.seed)
    except (FileNotFoundError, ValueError, RuntimeError, NotImplementedError) as err:
        fail(f"data {dataset}: {err}")
    save_prepared(prepared, out)
    info = prepared.info
    if prepared.stream is None:
        shape = tuple(prepared.x_train.shape[1:])
    else:  # streamed: the shape of the crops the feed produces
        shape = (info.in_channels, info.input_size, info.input_size)
    typer.echo(
        f"data: {info.label}: {len(prepared.y_train)} train / {len(prepared.y_test)} test, "
        f"input {shape}, {info.num_classes} classes -> {out}"
    )
