"""The jobs as a table while they run (rich): a live table in a terminal, one line per change of state
otherwise (a log file, CI, a test)."""

import time
from dataclasses import dataclass

from rich.console import Console
from rich.live import Live
from rich.table import Table

STYLE = {"done": "green", "failed": "bold red", "blocked": "red", "running": "cyan", "pending": "yellow"}


@dataclass
class Row:
    stage: str
    job_id: str = ""
    state: str = "waiting"  # waiting (for its parents, local), pending, running, done, failed, blocked
    note: str = ""
    since: float = 0.0  # when it entered this state


def _elapsed(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def table(rows: list[Row], title: str) -> Table:
    t = Table(title=title, title_justify="left")
    for column in ("stage", "job", "state", "for", "note"):
        t.add_column(column, no_wrap=column != "note")
    now = time.time()
    for row in rows:
        style = STYLE.get(row.state, "")
        state = f"[{style}]{row.state}[/]" if style else row.state
        since = "" if row.state in ("done", "failed", "blocked") else _elapsed(now - row.since)
        t.add_row(row.stage, row.job_id or "-", state, since, row.note)
    return t


class Display:
    """`with Display(console, title) as d: d.update(rows)` while the jobs run."""

    def __init__(self, console: Console, title: str):
        self.console, self.title = console, title
        self.live = Live(console=console, refresh_per_second=1) if console.is_terminal else None
        self.seen: dict[str, tuple[str, str]] = {}

    def __enter__(self) -> "Display":
        if self.live is not None:
            self.live.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.live is not None:
            self.live.stop()

    def update(self, rows: list[Row]) -> None:
        if self.live is not None:
            self.live.update(table(rows, self.title), refresh=True)
            return
        for row in rows:  # plain output: a line for each change
            now = (row.state, row.job_id)
            if self.seen.get(row.stage) != now:
                self.seen[row.stage] = now
                note = f"  ({row.note})" if row.note else ""
                stamp = time.strftime("%H:%M:%S")
                self.console.print(
                    f"{stamp}  {row.stage:<28} job {row.job_id or '-':<10} {row.state}{note}",
                    highlight=False,
                    markup=False,
                )

    def final(self, rows: list[Row]) -> None:
        if self.live is None:
            self.console.print(table(rows, self.title))
