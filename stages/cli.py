"""`seenn`: one console entry point for every DVC stage (`seenn --help` lists them)."""

import typer

from stages.check_params import check_params
from stages.convert import convert
from stages.data import data
from stages.figures import figures
from stages.finetune import finetune
from stages.hardware import hardware
from stages.pretrain_ann import pretrain_ann
from stages.profile import use_profile
from stages.sweep import sweep
from stages.tables import tables
from stages.train_snn import train_snn

app = typer.Typer(
    help="SEENN reproduction: the DVC stages, in pipeline order. dvc.yaml calls these; run one by hand "
    "to debug it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for command in (use_profile, check_params, data, pretrain_ann, convert, train_snn, finetune, sweep, tables, figures, hardware):
    app.command(name=command.__name__.replace("_", "-"))(command)

if __name__ == "__main__":
    app()
