"""The interface every task implements: load examples, build the first prompt, hold instructions, verify.

A task is a small class. To add one, subclass `Task`, set the class attributes, implement `normalize`, `prompt` and
`verify`, and either register it in `r3.tasks.TASKS` or name it as `package.module:ClassName` wherever r3 accepts a
task name (see docs/tasks.md).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from r3.data import load_rows
from r3.errors import DataError, R3Error
from r3.types import Message, Verdict

DEFAULT_REFLECTION_INSTRUCTION = (
    "You tried solving the problem and got the wrong answer. Reflect on what went wrong and write a short "
    "explanation that will help you do better next time."
)
DEFAULT_RETRY_INSTRUCTION = "Now try the problem again, using your reflection."


class Task(ABC):
    """A task whose answers a binary verifier can check.

    Class attributes:
        name: the task's registry name.
        fields: the columns an example must have.
        default_source: hub id used when the user gives no data source.
        default_split: split used with a hub id when the user gives none.
        reflection_instruction / retry_instruction: the user turns that ask for a reflection and for a retry.
    """

    name: ClassVar[str]
    fields: ClassVar[tuple[str, ...]]
    default_source: ClassVar[str | None] = None
    default_split: ClassVar[str] = "train"
    reflection_instruction: ClassVar[str] = DEFAULT_REFLECTION_INSTRUCTION
    retry_instruction: ClassVar[str] = DEFAULT_RETRY_INSTRUCTION

    @abstractmethod
    def normalize(self, row: dict[str, Any]) -> dict[str, Any]:
        """Check a raw row and return the example in canonical form.

        Raise `DataError(message, field=...)` for a missing or malformed field; the caller adds the source and row.
        Columns the task does not use are kept, so they travel into episodes and failure datasets.
        """

    @abstractmethod
    def prompt(self, example: dict[str, Any]) -> list[Message]:
        """Chat messages of the first attempt."""

    @abstractmethod
    def verify(self, example: dict[str, Any], completion: str) -> Verdict:
        """Judge a completion. Pure, bounded in time and memory, and never raises, whatever `completion` holds."""

    def problem_id(self, example: dict[str, Any], index: int) -> str:
        """A stable id for an example: its `id` column when it has one, else its position."""
        value = example.get("id")
        return str(value) if value is not None else str(index)

    def load(self, source: str | None = None, split: str | None = None, limit: int | None = None) -> list[dict]:
        """Load and normalize examples from a hub id, a local file or `sample:NAME` (see `r3.data`)."""
        source = source or self.default_source
        if source is None:
            raise R3Error(f"task '{self.name}' has no default dataset: pass a data source")
        loaded = load_rows(source, split or self.default_split, limit)
        return [self.normalize_row(row, loaded.source, label) for row, label in zip(loaded.rows, loaded.labels)]

    def normalize_row(self, row: dict[str, Any], source: str, label: str) -> dict[str, Any]:
        """`normalize` with the source and row label added to any error."""
        try:
            return self.normalize(row)
        except DataError as error:
            raise error.at(source=source, row=label) from None


def require(row: dict[str, Any], field: str) -> Any:
    """The value of `field`, or a DataError naming it."""
    if field not in row or row[field] is None:
        raise DataError("missing required field", field=field)
    return row[field]
