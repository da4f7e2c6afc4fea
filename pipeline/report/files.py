"""Writing a report stage's files: everything is computed first, then each file replaces its previous
version atomically, so a failure leaves the previous reports as they were."""

from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from pipeline.core.atomic import write_atomic, write_json_atomic, write_text_atomic

ReportFile = str | dict | pd.DataFrame | Figure  # markdown/text, JSON, CSV, PNG or PDF (by suffix)


def write_report_files(files: dict[Path, ReportFile]) -> None:
    """Write each `path: content`: text as is, a dict as JSON, a DataFrame as CSV (no index), a Figure as
    PNG (150 dpi) or PDF by the path's suffix. PDFs carry no creation date, so equal inputs give
    byte-identical files."""
    for path, content in files.items():
        if isinstance(content, str):
            write_text_atomic(path, content)
        elif isinstance(content, dict):
            write_json_atomic(path, content)
        elif isinstance(content, pd.DataFrame):
            write_atomic(path, lambda tmp, df=content: df.to_csv(tmp, index=False))
        elif path.suffix == ".png":
            write_atomic(path, lambda tmp, fig=content: fig.savefig(tmp, dpi=150, format="png"))
        elif path.suffix == ".pdf":
            write_atomic(
                path, lambda tmp, fig=content: fig.savefig(tmp, format="pdf", metadata={"CreationDate": None})
            )
        else:
            raise ValueError(f"{path}: no writer for {type(content).__name__} with suffix {path.suffix!r}")


def remove_stale(folder: Path, written: set[Path]) -> list[Path]:
    """Delete the files under `folder` that this run did not write, and folders left empty: the report
    outputs persist between runs (so a failure keeps them), so a run that a new profile no longer has
    would otherwise keep its old curves in `dvc plots`. Called after every file was written."""
    if not folder.is_dir():
        return []
    keep = {path.resolve() for path in written}
    stale = [path for path in folder.rglob("*") if path.is_file() and path.resolve() not in keep]
    for path in stale:
        path.unlink()
    for sub in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if not any(sub.iterdir()):
            sub.rmdir()
    return stale
