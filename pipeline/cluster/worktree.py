"""One git worktree per job, on the workspace's DVC cache.

A job must compute what `dvc repro` would compute in the workspace, while `dvc repro` runs elsewhere at
the same time: so each job gets a snapshot of the workspace, a git worktree of HEAD plus the workspace's
uncommitted changes (modified tracked files and untracked, not ignored ones: params.yaml, dvc.lock,
build/params.yaml, new code), under `.seenn/worktrees/` in the project (on a cluster the project folder
is on the shared file system, so the nodes see it). DVC's cache is shared by pointing the worktree's
`.dvc/config.local` at the workspace's cache folder: what a job computes lands in the cache and in the
run-cache, where the workspace's `dvc repro` finds it. Each worktree has its own `.dvc/tmp` (its own
DVC lock), so jobs and the workspace never wait for each other.

A worktree is kept for its key (see plan.py) until its job succeeded: a job submitted again for the same
key finds the training checkpoint that its predecessor left in `checkpoints/` and resumes from it.
"""

import shutil
import subprocess
from pathlib import Path

WORKTREES = Path(".seenn") / "worktrees"


class WorktreeError(RuntimeError):
    """A git command for a job's worktree failed; one line for the user."""


def git(root: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    if proc.returncode != 0:
        message = " ".join(proc.stderr.split()) or f"exit status {proc.returncode}"
        raise WorktreeError(f"git {' '.join(args)} failed in {root}: {message}")
    return proc.stdout


def worktree_path(root: Path, stage: str, key: str) -> Path:
    return root / WORKTREES / f"{stage}.{key[:12]}"


def workspace_changes(root: Path) -> list[str]:
    """Paths (relative to `root`) where the workspace differs from HEAD: tracked files modified or
    deleted, and untracked files git does not ignore (DVC's outputs are ignored: they come from the
    cache)."""
    tracked = git(root, "diff", "--name-only", "--no-renames", "-z", "HEAD")
    untracked = git(root, "ls-files", "--others", "--exclude-standard", "-z")
    return sorted({p for p in (tracked + untracked).split("\0") if p})


def sync(root: Path, tree: Path) -> None:
    """Make the worktree's files equal the workspace's where they differ from HEAD."""
    for rel in workspace_changes(root):
        src, dst = root / rel, tree / rel
        if src.is_file() or src.is_symlink():
            dst.parent.mkdir(parents=True, exist_ok=True)
            if dst.is_symlink() or dst.is_file():
                dst.unlink()
            shutil.copy2(src, dst, follow_symlinks=False)
        elif dst.is_file() or dst.is_symlink():
            dst.unlink()


def share_cache(root: Path, tree: Path, cache_dir: Path) -> None:
    """The worktree's local DVC config: the workspace's own local config, with the shared cache dir."""
    from configobj import ConfigObj  # DVC's config format (a DVC dependency)

    local = root / ".dvc" / "config.local"
    conf = ConfigObj(str(local)) if local.is_file() else ConfigObj()
    conf.filename = str(tree / ".dvc" / "config.local")
    conf.setdefault("cache", {})["dir"] = str(cache_dir)
    conf.write()


def prepare(root: Path, tree: Path, cache_dir: Path) -> Path:
    """Create (or bring up to date) the worktree at `tree`: HEAD, the workspace's changes, the shared
    cache. Files git ignores in an existing worktree (a training checkpoint, DVC outputs) stay."""
    head = git(root, "rev-parse", "HEAD").strip()
    if (tree / ".git").is_file():
        git(tree, "checkout", "-q", "--force", "--detach", head)
        git(tree, "clean", "-q", "-d", "--force")  # untracked, not ignored: the previous snapshot's
    else:
        if tree.exists():
            shutil.rmtree(tree)
        git(root, "worktree", "prune")
        tree.parent.mkdir(parents=True, exist_ok=True)
        git(root, "worktree", "add", "-q", "--force", "--detach", str(tree), head)
    sync(root, tree)
    share_cache(root, tree, cache_dir)
    return tree


def remove(root: Path, tree: Path) -> None:
    """Remove a job's worktree (its results are in the shared cache)."""
    if not tree.exists():
        return
    try:
        git(root, "worktree", "remove", "--force", str(tree))
    except WorktreeError:
        shutil.rmtree(tree, ignore_errors=True)
        git(root, "worktree", "prune")
