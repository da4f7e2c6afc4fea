"""The one markdown writer of the reports: GitHub pipe tables through pandas (tabulate)."""

from collections.abc import Sequence

import pandas as pd

NO_VALUE = "—"  # a cell with nothing to show


def pipe_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub pipe table; a '|' inside a cell is escaped so that labels cannot break the layout."""
    escape = lambda cell: str(cell).replace("|", "\\|")  # noqa: E731
    frame = pd.DataFrame([[escape(c) for c in row] for row in rows], columns=[escape(h) for h in header])
    return frame.to_markdown(index=False, tablefmt="github", disable_numparse=True)
