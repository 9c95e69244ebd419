"""Errors a user can act on: the message says which file, which column and what is wrong."""


class InputError(ValueError):
    """The raw events cannot be read as the table contract requires."""


class PipelineError(RuntimeError):
    """A pipeline step failed; the published database and reports were left as they were."""
