"""r3's one plotting module for training curves: retry success, reflection length, zero-spread share and KL.

    plot_training_curves({"run-a": records_a, "run-b": records_b}, Path("curves.png"), title="countdown | Qwen2.5")

`records` are logged metric records (OUTPUT_DIR/metrics.jsonl, or TRL's `log_history`), each with a `step`. Every
panel's y axis starts at 0 (shares run to 1; a 3% margin keeps lines at 0 or 1 off the frame), so a one-token drift
in reflection length looks like one; a panel with nothing logged says so instead of drawing empty axes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from r3.training.callbacks import KL, first_value, is_training_record, reflection_tokens, retry_success, zero_spread

Records = list[dict[str, Any]]


def _kl(record: dict[str, Any]) -> float | None:
    return first_value(record, KL)


# (title, y label, value of a record, upper limit of the y axis or None)
PANELS: tuple[tuple[str, str, Callable[[dict[str, Any]], float | None], float | None], ...] = (
    ("retry success", "share of retries solved", retry_success, 1.0),
    ("reflection length", "mean tokens per reflection", reflection_tokens, None),
    ("groups with zero reward spread", "share of groups (no learning signal)", zero_spread, 1.0),
    ("KL to the reference model", "KL (per token)", _kl, None),
)


def series(records: Records, value: Callable[[dict[str, Any]], float | None]) -> tuple[list[int], list[float]]:
    """(steps, values) of one metric over the per-step records that hold it."""
    steps, values = [], []
    for record in records:
        number = value(record) if is_training_record(record) else None
        if number is not None and "step" in record:
            steps.append(int(record["step"]))
            values.append(number)
    return steps, values


def plot_training_curves(runs: dict[str, Records], path: str | Path, title: str) -> bool:
    """Draw the four panels for one or more runs (one line each) into `path`; False when nothing was logged.
    `path` is replaced atomically and never through a link (`r3.rundir.write_atomic`)."""
    from r3.rundir import write_atomic

    image, plotted = render_training_curves(runs, title)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_atomic(Path(path), image)
    return plotted


def render_training_curves(runs: dict[str, Records], title: str) -> tuple[bytes, bool]:
    """The four panels as PNG bytes, and whether anything was plotted (for writers that go through a run)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    figure, axes = plt.subplots(2, 2, figsize=(11, 7.2))
    plotted = False
    for axis, (name, ylabel, value, top) in zip(axes.flat, PANELS):
        for label, records in runs.items():
            steps, values = series(records, value)
            if steps:
                axis.plot(steps, values, marker="." if len(steps) < 60 else None, label=label)
                plotted = True
        axis.set(title=name, xlabel="training step", ylabel=ylabel)
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are whole numbers
        axis.grid(alpha=0.3)
        if axis.lines:
            high = max(max(line.get_ydata()) for line in axis.lines)
            limit = top if top is not None else (high * 1.1 if high > 0 else 1.0)
            # from 0, with a 3% margin each side so a line at 0 (or at 1) is not hidden under the frame
            axis.set_ylim(-0.03 * limit, limit * 1.03)
            if len(runs) > 1:
                axis.legend(fontsize="small")
        else:
            axis.set_ylim(0, 1)
            axis.text(0.5, 0.5, "not logged" + (" (beta = 0: no KL term)" if value is _kl else ""),
                      ha="center", va="center", transform=axis.transAxes, color="grey")
    figure.suptitle(title)
    figure.tight_layout()
    image = io.BytesIO()
    figure.savefig(image, format="png", dpi=100)
    plt.close(figure)
    return image.getvalue(), plotted


__all__ = ["PANELS", "plot_training_curves", "render_training_curves", "series"]
