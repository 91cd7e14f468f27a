"""The one error hierarchy. The CLI turns any FlanzhError into ``Error: <message>``."""


class FlanzhError(Exception):
    """Base of every error flanzh reports to a user."""


class SpecError(FlanzhError):
    """A task spec or template file is invalid. Carries every problem found, not only the first."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))

    def __reduce__(self):
        # Rebuilt from the list, not from the joined message (which would be split into
        # characters), so a SpecError raised in a worker process arrives intact.
        return (type(self), (self.problems,), self.__dict__)


class TemplateError(FlanzhError):
    """A template cannot be compiled or refers to something that does not exist."""


class SourceError(FlanzhError):
    """A source file is missing, undecodable, or not in the shape its reader expects."""


class BuildError(FlanzhError):
    """The build cannot proceed (bad output folder, unknown task, ...)."""


class PushError(FlanzhError):
    """Publishing to the hub failed (no token, offline, refused, network). The message never
    contains the token."""
