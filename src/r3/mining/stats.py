"""Statistics of a mining run, computed from its ledger so that they stay right across resumptions.

`stats.json` answers: how many queries were seen and kept, how many samples and tokens mining drew, what the
paper's fixed budget (queries x max_samples) would have cost, and how many samples a failure took to appear.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class MiningStats:
    """Running totals over finished queries; `add` one ledger entry at a time."""

    max_samples: int
    queries_total: int
    queries_seen: int = 0
    queries_kept: int = 0
    samples: int = 0
    tokens: int = 0
    failures_seen: int = 0
    first_failure_at: Counter = field(default_factory=Counter)
    samples_per_query: Counter = field(default_factory=Counter)

    @classmethod
    def from_ledger(cls, entries: Iterable[dict[str, Any]], max_samples: int, queries_total: int) -> MiningStats:
        stats = cls(max_samples=max_samples, queries_total=queries_total)
        for entry in entries:
            stats.add(entry)
        return stats

    def add(self, entry: dict[str, Any]) -> None:
        """Count one finished query from its ledger entry."""
        self.queries_seen += 1
        self.queries_kept += bool(entry["kept"])
        self.samples += entry["samples"]
        self.tokens += entry["tokens"]
        self.failures_seen += entry["failures"]
        self.samples_per_query[entry["samples"]] += 1
        if entry["first_failure_at"] is not None:
            self.first_failure_at[entry["first_failure_at"]] += 1

    @property
    def fixed_budget_samples(self) -> int:
        """What sampling every seen query `max_samples` times (the paper's procedure) would draw."""
        return self.queries_seen * self.max_samples

    @property
    def sample_ratio(self) -> float:
        """Samples drawn / fixed-budget samples: the share of the fixed cost that adaptive mining paid."""
        return self.samples / self.fixed_budget_samples if self.fixed_budget_samples else 0.0

    def to_dict(self) -> dict[str, Any]:
        per_sample = self.tokens / self.samples if self.samples else 0.0
        return {
            "queries_total": self.queries_total,
            "queries_seen": self.queries_seen,
            "queries_kept": self.queries_kept,
            "kept_fraction": self.queries_kept / self.queries_seen if self.queries_seen else 0.0,
            "complete": self.queries_seen == self.queries_total,
            "max_samples": self.max_samples,
            "samples_generated": self.samples,
            "tokens_generated": self.tokens,
            "failures_seen": self.failures_seen,
            "mean_tokens_per_sample": round(per_sample, 2),
            "fixed_budget_samples": self.fixed_budget_samples,
            "sample_ratio": round(self.sample_ratio, 6),
            "fixed_budget_tokens_estimate": round(per_sample * self.fixed_budget_samples),
            "first_failure_at_histogram": _histogram(self.first_failure_at),
            "samples_per_query_histogram": _histogram(self.samples_per_query),
        }

    def summary(self) -> str:
        """One line for the progress bar and the CLI."""
        return (f"kept {self.queries_kept}/{self.queries_seen} queries; {self.samples} samples "
                f"= {self.sample_ratio:.1%} of the fixed budget of {self.fixed_budget_samples}")


def _histogram(counts: Counter) -> dict[str, int]:
    """Counts keyed by value as strings (JSON object keys), in increasing order of the value."""
    return {str(value): counts[value] for value in sorted(counts)}
