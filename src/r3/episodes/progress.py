"""A progress bar a user can read on a slow model: it moves within a generate call, names the phase in progress,
counts tokens and tokens/s, and gives an ETA before the first batch is done.

    episodes  31%|███       | 1:12<2:40  10/32 done · batch 2/4 · retry 1: 5 prompts, token 40/512 · 9.1k tok, 38 tok/s

A batch of a slow model can take most of an hour, so counting finished episodes (or generate calls) alone leaves the
bar standing still. The bar's position is an estimate of the work done: a batch is worth its items, split over its
phases by their token budgets, and the phase in progress counts the decoding steps it has run. Phases end early (every
row stopped) or are skipped (every episode solved), and then the bar jumps ahead, so the ETA errs on the long side.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any


class PhaseHooks:
    """What the episode engine reports; the default reports nothing."""

    def batch_started(self, items: int, phase_budgets: Sequence[int]) -> None:
        """A batch of `items` episodes begins; its phases (at most) have these token budgets, in order."""

    def phase_started(self, phase: str, prompts: int, budget: int) -> None:
        """A generate call of `prompts` prompts with a token budget of `budget` begins."""

    def on_tokens(self, step: int, count: int) -> None:
        """Decoding step `step` of the call in progress generated `count` tokens."""

    def phase_done(self, phase: str, prompts: int) -> None:
        """The generate call is over (its samples are verified)."""


class GenerationProgress(PhaseHooks):
    """A tqdm bar over finished items (episodes, queries) that also moves with the phases of the batch in progress.

    `batches`: how many batches the run has, when known (eval); a mining round is a batch of 0 items, which moves
    the bar only when it is done (it finishes an unknown number of queries)."""

    def __init__(self, *, total: int, initial: int = 0, desc: str = "episodes",
                 enabled: bool = True, batches: int | None = None):
        from tqdm.auto import tqdm

        self.bar: Any = tqdm(total=max(total - initial, 0), desc=desc, disable=not enabled, dynamic_ncols=True,
                             bar_format="{desc} {percentage:3.0f}%|{bar}| {elapsed}<{remaining}{postfix}")
        self.total, self.done, self.initial = total, initial, initial
        self.batches, self.batch_index = batches, 0
        self.batch_items, self.budgets, self.spent = 0, [1], 0.0  # the batch in progress; spent: its share so far
        self.phase, self.prompts, self.step, self.budget = "", 0, 0, 1
        self.phase_start_share = 0.0
        self.tokens, self.started = 0, time.monotonic()
        self.note = ""

    def batch_started(self, items: int, phase_budgets: Sequence[int]) -> None:
        """A batch of `items` items begins (0 for a mining round, which finishes an unknown number of queries)."""
        self.batch_index += 1
        self.batch_items, self.budgets, self.spent = items, [max(b, 1) for b in phase_budgets] or [1], 0.0
        self.phase_start_share = 0.0

    def phase_started(self, phase: str, prompts: int, budget: int) -> None:
        self.phase, self.prompts, self.step, self.budget = phase, prompts, 0, max(budget, 1)
        self.phase_start_share = self.spent
        self._show(force=True)

    def on_tokens(self, step: int, count: int) -> None:
        self.step, self.tokens = step, self.tokens + count
        share = min(step / self.budget, 1.0) * self._phase_weight()
        self._move_to(self.phase_start_share + share)
        self._show()

    def phase_done(self, phase: str, prompts: int) -> None:
        self._move_to(self.phase_start_share + self._phase_weight())
        self.budgets = self.budgets[1:] or self.budgets

    def batch_done(self, items: int, note: str = "") -> None:
        """The batch in progress is over and `items` items are finished (the bar jumps past skipped phases)."""
        self.done, self.note = self.done + items, note
        self._show()  # the text first, so that the redraw below shows it with the new position
        self.bar.update(self.done - self.initial - self.bar.n)  # exactly the items done: no rounding left over
        self.spent, self.batch_items = 0.0, 0
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()

    def _phase_weight(self) -> float:
        """The share of the batch's work the phase in progress stands for: its budget over the budgets left."""
        left = sum(self.budgets)
        return (1.0 - self.phase_start_share) * self.budgets[0] / left if left else 0.0

    def _move_to(self, share: float) -> None:
        """Move the bar to `share` of the batch in progress (never backwards)."""
        if share > self.spent:
            self.spent = min(share, 1.0)
            # an absolute position, so that float steps never add up past the batch (a negative ETA)
            target = min(self.done - self.initial + self.spent * self.batch_items, self.bar.total)
            self.bar.update(max(target - self.bar.n, 0))

    def _show(self, force: bool = False) -> None:
        """Set the bar's text (cheap); tqdm redraws it at its own pace, at once when `force` (a new phase)."""
        rate = self.tokens / max(time.monotonic() - self.started, 1e-9)
        parts = [f"{self.done}/{self.total} done"]
        if self.batches:
            parts.append(f"batch {self.batch_index}/{self.batches}")
        if self.phase:
            parts.append(f"{self.phase}: {self.prompts} prompts, token {self.step}/{self.budget}")
        parts.append(f"{_short(self.tokens)} tok, {rate:.0f} tok/s")
        if self.note:
            parts.append(self.note)
        self.bar.set_postfix_str(" · ".join(parts), refresh=force)


def _short(count: int) -> str:
    return f"{count / 1000:.1f}k" if count >= 1000 else str(count)
