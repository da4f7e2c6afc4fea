"""`seenn evaluate` (not a DVC stage): every exit policy on per-timestep outputs recorded from any SNN
(spikingjelly, snnTorch, ...; docs/interop.md). The work is `pipeline.interop.evaluate`."""

import re
from pathlib import Path

import typer

from pipeline.core.config import ParamsError
from pipeline.interop.evaluate import evaluate as evaluate_outputs
from pipeline.interop.evaluate import settings
from stages.common import fail, one_line_errors

# params keys the options set -> the option's name, for the schema's one-line messages
OPTIONS = {
    "alpha": "--alpha",
    "sweep.alphas": "--alphas",
    "sweep.accumulate": "--accumulate",
    "sweep.direct_temperature": "--temperature",
    "sweep.conversion_temperature": "--temperature",
}
OPTION_KEYS = re.compile(r"^params: ([a-z_.]+)")


def evaluate(
    test: Path = typer.Argument(
        ..., help="test-set outputs: .npz with logits [T, N, C] float, labels [N] int"
    ),
    out: Path = typer.Option(..., help="output folder: run/, curves/, exit_policies .md/.csv/.png/.pdf"),
    val: Path = typer.Option(
        None, help="validation-set outputs (same T, C): where operating points are chosen"
    ),
    train: Path = typer.Option(None, help="training-set outputs (same T, C): SNNCutoff's calibrated Top-K"),
    name: str = typer.Option("user-snn", help="the network's name in the table and figure"),
    method: str = typer.Option("direct", help="direct (trained SNN) or conversion (ANN-SNN: temperature 8)"),
    alpha: float = typer.Option(
        None, help="headline SEENN-I threshold in (0, 1); params.yaml's default: 0.95"
    ),
    alphas: list[float] = typer.Option(None, help="SEENN-I threshold grid (repeat the option)"),
    temperature: float = typer.Option(None, help="SEENN-I softmax temperature instead of the method's"),
    accumulate: str = typer.Option(None, help="running output the exits score: sum or mean"),
) -> None:
    """Run every exit policy (fixed T, SEENN-I, Top-K, calibrated Top-K with --train, entropy, oracle),
    AET and empirical AET on recorded outputs; write the sweep, the matched-accuracy table and the figure."""
    sweep: dict = {}
    if alphas:
        sweep["alphas"] = list(alphas)
    if accumulate is not None:
        sweep["accumulate"] = accumulate
    if temperature is not None:  # the option names one temperature; the method decides which is read
        sweep["conversion_temperature" if method == "conversion" else "direct_temperature"] = temperature
    try:
        params = settings(alpha, sweep)
    except ParamsError as err:  # the schema names params keys; name the options instead
        fail(OPTION_KEYS.sub(lambda m: OPTIONS.get(m.group(1), m.group(1)), str(err), count=1))
    with one_line_errors():
        result = evaluate_outputs(out, test, val, train, name, method, params)
    typer.echo(
        f"evaluate: {name}: T={result.T}, {result.n_test} test inputs, full-T accuracy "
        f"{result.full_accuracy:.1%}; SEENN-I alpha={params.alpha}: {result.seenn1_accuracy:.1%} at "
        f"{result.seenn1_timesteps:.2f} steps; AET {result.aet:.3f} -> {out}"
    )
