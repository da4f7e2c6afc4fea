"""Which stages become jobs, asked of DVC's own pipeline model (its Python API: the stage graph of
`Repo.index` and `Stage.changed()`).

`dvc status` alone cannot say it: it compares each stage with the files as they are now, so a stage
downstream of one that will re-run (a finetune after its changed train_snn) looks unchanged. The graph
gives both that propagation and the job dependencies. The stages upstream of any training stage that are
not training stages themselves (check_params, data@*) run here first (`local_stages`), so that every
training stage is judged against its real inputs.

A training stage becomes a job when `dvc repro` would run it: it is changed and DVC could not restore it
(from dvc.lock and the cache, or from the run-cache), or a stage it depends on becomes a job. Each job has
a key: a hash of its command and the hashes of its inputs, where an input that a planned parent makes
stands for the parent's key. The same key means the same computation, so a job recorded with the key it
has now can be waited for instead of submitted again.
"""

import hashlib
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# dvc.yaml's training stages (the part of a stage name before '@'): the ones worth a cluster job
TRAINING_GROUPS = (
    "pretrain_ann",
    "convert",
    "train_snn",
    "pretrain_ann_seed",
    "convert_seed",
    "train_snn_seed",
    "import_released",
    "finetune",
    "finetune_grid",
)


@dataclass(frozen=True)
class Job:
    stage: str  # DVC's stage name, e.g. train_snn@r19 or finetune_grid@r19-2.0
    cmd: str  # the stage's command, as DVC runs it
    key: str  # what it computes (see the module docstring)
    parents: tuple[str, ...]  # planned stages it waits for


@dataclass(frozen=True)
class Plan:
    jobs: tuple[Job, ...]  # in dependency order (parents first)
    restored: tuple[str, ...]  # changed training stages that `dvc repro` restores without running

    def job(self, stage: str) -> Job:
        return next(j for j in self.jobs if j.stage == stage)


def group(stage) -> str:
    return stage.name.split("@", 1)[0]


def is_training(stage) -> bool:
    return group(stage) in TRAINING_GROUPS


@contextmanager
def quiet_dvc() -> Iterator[None]:
    """DVC logs "Stage ... is cached" when asked whether it could restore a stage; keep that out."""
    logger = logging.getLogger("dvc")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def upstream_first(graph) -> list:
    """Every stage of DVC's graph (edge: stage -> a stage it depends on), each after what it needs."""
    import networkx as nx

    return list(reversed(list(nx.topological_sort(graph))))


def upstream(graph, stage) -> set:
    import networkx as nx

    return nx.descendants(graph, stage)


def local_stages(root: Path) -> list[str]:
    """The stages that must be done in the workspace before any job: upstream of a training stage and
    not training stages themselves (check_params and the data stages), in pipeline order."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        graph = repo.index.graph
        needed = set().union(*(upstream(graph, s) for s in graph if is_training(s)))
        return [s.name for s in upstream_first(graph) if s in needed and not is_training(s)]


def _restorable(repo, stage) -> bool:
    """Whether `dvc repro` would bring this changed stage back without running it."""
    from dvc.stage.cache import RunCacheNotFoundError

    try:
        stage.save_deps()  # the inputs as they are now (the run-cache key); reads files, writes nothing
        with quiet_dvc():
            repo.stage_cache.restore(stage, dry=True)
    except RunCacheNotFoundError:
        return False
    except Exception:  # noqa: BLE001 - e.g. an input that does not exist yet: DVC would run the stage
        return False
    return True


def _overlaps(a: str, b: str) -> bool:
    return a == b or a.startswith(b.rstrip("/") + "/") or b.startswith(a.rstrip("/") + "/")


def _key(stage, parents: list, keys: dict[str, str]) -> str:
    """The job's key: its command, and each input's hash or, for a parent's output, the parent's key."""
    inputs = []
    for dep in stage.deps:
        maker = next((p for p in parents if any(_overlaps(dep.fs_path, o.fs_path) for o in p.outs)), None)
        if maker is not None:
            inputs.append([dep.def_path, "stage", keys[maker.name]])
            continue
        try:
            dep.save()
            value = dep.hash_info.to_dict() if dep.hash_info else None
        except Exception:  # missing input: its job will say so
            value = None
        inputs.append([dep.def_path, "hash", value])
    record = {"cmd": stage.cmd, "deps": inputs, "outs": sorted(o.def_path for o in stage.outs)}
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()


def make_plan(root: Path) -> Plan:
    """The training stages `dvc repro` would run in the workspace at `root`, as jobs (call after the
    `local_stages` are done)."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo, repo.lock:
        graph = repo.index.graph
        order = upstream_first(graph)
        planned: dict[str, object] = {}  # stage name -> stage
        keys: dict[str, str] = {}
        jobs, restored = [], []
        for stage in order:
            if not is_training(stage) or stage.frozen:
                continue
            above = [s for s in upstream(graph, stage) if s.name in planned]
            if not above:
                if not stage.changed():
                    continue
                if _restorable(repo, stage):
                    restored.append(stage.name)
                    continue
            keys[stage.name] = _key(stage, above, keys)
            planned[stage.name] = stage
            parents = tuple(s.name for s in order if s in above)
            jobs.append(Job(stage.name, stage.cmd, keys[stage.name], parents))
        return Plan(tuple(jobs), tuple(restored))
