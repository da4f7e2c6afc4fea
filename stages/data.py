"""Stage `data`: build one prepared dataset into its folder: `prepared.npz` + `info.json`, or for data
streamed from disk (ImageNet) a checked file index `index.npz` + `info.json`."""

from pathlib import Path

import typer

from pipeline.data import DATASETS, prepare_dataset
from pipeline.data.prepared import save_prepared
from stages.common import PARAMS_OPTION, fail, load_params, one_line_errors


def data(
    dataset: str = typer.Argument(..., help="dataset name, a key of `data` in params.yaml"),
    out: Path = typer.Option(..., help="folder for prepared.npz (or index.npz) and info.json"),
    params: Path = PARAMS_OPTION,
) -> None:
    """Prepare a dataset: load or simulate it, split it, save arrays and metadata."""
    p = load_params(params)
    if dataset not in DATASETS:
        fail(f"dataset {dataset!r} is not known; known: {', '.join(DATASETS.names())}")
    with one_line_errors():
        prepared = prepare_dataset(dataset, p.data, p.seed)
    save_prepared(prepared, out)
    info = prepared.info
    typer.echo(
        f"data: {info.label}: {len(prepared.y_train)} train / {len(prepared.y_test)} test"
        + ("" if prepared.y_val is None else f" / {len(prepared.y_val)} validation")
        + ", "
        f"input {prepared.sample_shape()}, {info.num_classes} classes -> {out}"
    )
