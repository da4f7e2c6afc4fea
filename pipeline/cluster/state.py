"""The submitted jobs, remembered in `.seenn/submit/state.json` (git-ignored: this machine's own
bookkeeping) so that `seenn submit` run again after an interruption follows the jobs it had submitted and
submits only what is missing or failed. Written after every submission, atomically.

    {"version": 1, "jobs": {"train_snn@r19": {"key": "...", "executor": "slurm", "job_id": "4711",
                                              "worktree": ".seenn/worktrees/train_snn@r19.1a2b...",
                                              "submitted": "2025-01-01T12:00:00"}}}
"""

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from pipeline.core.atomic import write_json_atomic

STATE = Path(".seenn") / "submit" / "state.json"
VERSION = 1


@dataclass(frozen=True)
class Entry:
    key: str  # the plan's key of the stage when it was submitted
    executor: str
    job_id: str
    worktree: str  # relative to the project root
    submitted: str  # ISO time


def load(root: Path) -> dict[str, Entry]:
    """Stage name -> its last submitted job; empty when there is no (readable) state file."""
    path = root / STATE
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(raw, dict) or raw.get("version") != VERSION:
        return {}
    entries = {}
    for stage, entry in (raw.get("jobs") or {}).items():
        try:
            entries[stage] = Entry(**entry)
        except TypeError:
            continue
    return entries


def save(root: Path, entries: dict[str, Entry]) -> None:
    jobs = {stage: asdict(entry) for stage, entry in sorted(entries.items())}
    write_json_atomic(root / STATE, {"version": VERSION, "jobs": jobs})
