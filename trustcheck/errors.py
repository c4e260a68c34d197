"""One error type for messages meant for users, and the exit codes every command shares."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0  # nothing at or above --fail-on
    FINDINGS = 1  # findings at or above --fail-on
    USAGE = 2  # usage/config error, or a scan that could not complete
    INTERNAL = 3  # a bug in trustcheck
    INTERRUPTED = 130


class TrustcheckError(Exception):
    """A problem the user can fix. `str()` says what and where; `hint` says how to fix it.

    The CLI turns it into a one-line message on stderr and `exit_code`; nothing else should
    catch it except to add context.
    """

    def __init__(self, message: str, *, hint: str | None = None, exit_code: ExitCode = ExitCode.USAGE):
        super().__init__(message)
        self.hint = hint
        self.exit_code = exit_code

    def render(self) -> str:
        return f"{self}\n  hint: {self.hint}" if self.hint else str(self)
