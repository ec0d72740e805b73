"""The one exception type the library raises for anything a user can fix."""


class SeqrecError(ValueError):
    """A problem with the user's input, carrying one human sentence that says what is wrong and how to fix it.

    The UI shows `str(err)` in an error box and the CLI prints `error: <message>` and exits with code 2.
    """

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message
