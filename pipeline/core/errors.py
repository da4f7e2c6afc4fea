"""The one exception a stage turns into a one-line message (with FileNotFoundError and ValueError, whose
messages in this project are also written for the user)."""


class StageError(RuntimeError):
    """A stage cannot go on: the message names the run, file or value and what to do."""
