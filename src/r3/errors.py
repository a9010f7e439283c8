"""User-facing errors.

Every error a user can cause (bad data, bad config, unknown task, missing model) is an `R3Error`. The CLI prints its
message as one line and exits with status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class R3Error(Exception):
    """An error caused by the user's input, reported as one clear line."""


class DataError(R3Error):
    """A data row is malformed. The message names the file, the row and the field."""

    def __init__(
        self, message: str, *, source: str | None = None, row: int | str | None = None, field: str | None = None
    ):
        where = []
        if source is not None:
            where.append(str(source))
        if row is not None:
            where.append(row if isinstance(row, str) else f"row {row}")
        if field is not None:
            where.append(f"field '{field}'")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)
        self.message, self.source, self.row, self.field = message, source, row, field

    def at(self, *, source: str | None = None, row: int | str | None = None) -> DataError:
        """The same error with the source and row filled in (a task's `normalize` knows only the field)."""
        return DataError(self.message, source=source if source is not None else self.source,
                         row=row if row is not None else self.row, field=self.field)


def shorten(value: object, limit: int = 80) -> str:
    """repr() of a value cut to `limit` characters, for error messages about user data."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
