"""The one error type the exporter reports to users, with exit codes that tell failures apart."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    BAD_INPUT = 2  # a flag, the source, the samples or the labels are wrong
    REFUSED = 3  # publishing would overwrite a different version or break its signature contract
    STORAGE = 4  # the bucket or directory could not be read or written
    VALIDATION = 5  # the reloaded SavedModel disagrees with the source model
    INTERNAL = 70


class ExportError(Exception):
    """A failure explained in one paragraph: which flag, which value, what is wrong, how to fix it."""

    def __init__(
        self,
        flag: str,
        value: object,
        problem: str,
        fix: str,
        code: ExitCode = ExitCode.BAD_INPUT,
    ) -> None:
        self.flag = flag
        self.value = value
        self.problem = problem
        self.fix = fix
        self.code = code
        super().__init__(self.message)

    @property
    def message(self) -> str:
        subject = f"{self.flag} {self.value!r}" if self.flag else repr(self.value)
        return f"{subject}: {self.problem.rstrip('.')}. Fix: {self.fix.rstrip('.')}."
