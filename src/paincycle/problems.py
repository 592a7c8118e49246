"""Problems with input, in words a data manager can act on: each names its file, row and column.

Every reader, validator and converter collects its problems here, so a bad
file gets one kind of report whichever door it came through.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

#: Problems kept in full; beyond this only counts are kept (a 30-million-row
#: file with one systematic error must not produce 30 million messages).
MAX_PROBLEMS_PER_CHECK = 200



@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, in words a data manager can act on."""

    file: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.message}"


@dataclass
class ValidationReport:
    """All problems found, with the total per kind even where the list was capped."""

    problems: list[Problem] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not self.counts

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def add(self, problem: Problem, kind: str | None = None) -> None:
        self.counts[kind or problem.message] += 1
        self.problems.append(problem)

    def add_many(self, file: str, rows: Iterable[int], column: str | None,
                 messages: Iterable[str] | str, kind: str, count: int | None = None) -> None:
        rows = list(rows)
        msgs = [messages] * len(rows) if isinstance(messages, str) else list(messages)
        self.counts[kind] += count if count is not None else len(rows)
        for row, msg in zip(rows[:MAX_PROBLEMS_PER_CHECK], msgs[:MAX_PROBLEMS_PER_CHECK],
                            strict=False):
            self.problems.append(Problem(file, row, column, msg))

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            [(p.file, p.row, p.column, p.message) for p in self.problems],
            columns=["file", "row", "column", "problem"],
        ).astype({"row": "Int64"})

    def summary(self, limit: int = 50) -> str:
        lines = [str(p) for p in self.problems[:limit]]
        if self.total > limit:
            lines.append(f"... and {self.total - min(limit, len(self.problems))} more problems")
        return "\n".join(lines)


class CohortError(ValueError):
    """Input that cannot become a cohort; carries the full validation report."""

    def __init__(self, report: ValidationReport):
        self.report = report
        super().__init__(f"{report.total} problem(s) in the cohort:\n{report.summary(10)}")


