"""The one exception type that reaches the user as `error: ...` (exit code 2)."""


class SweepError(Exception):
    """Bad input or an unmet precondition, explained in one line.

    The CLI prints `error: <message>` on stderr and exits with status 2; it never
    shows a traceback for this type. Raise it before anything is written, so that a
    refused run leaves earlier outputs untouched.
    """
