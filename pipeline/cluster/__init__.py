"""The training stages as cluster jobs (`seenn submit`): ask DVC which training stages `dvc repro` would
run (`plan`), give each its own git worktree on the project's DVC cache (`worktree`), submit it through
submitit with its parents as job dependencies (`executors`), run its one stage there (`job`), remember
the job ids (`state`) and show the jobs while they run (`display`); `driver` ties them together.

Nothing here changes what a stage computes: a job runs the stage's own command through DVC in a snapshot
of the workspace, and `dvc repro` in the workspace then restores each result from DVC's run-cache.
"""
