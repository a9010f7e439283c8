"""Log backends (`report_to`): say which extra a recipe needs before the model loads, not after.

transformers reports to TensorBoard, Weights & Biases, Trackio and others through `report_to`, and fails deep in
`Trainer.__init__` (after the model has loaded) when a named backend is not installed. `check_report_to` checks
first and names the install command:

    check_report_to(["tensorboard"])   # R3Error: ... pip install 'r3[tensorboard]'
"""

from __future__ import annotations

from collections.abc import Sequence

from r3.errors import R3Error

# backends r3 ships an extra for (pyproject.toml [project.optional-dependencies])
EXTRAS = {"tensorboard": "r3[tensorboard]", "wandb": "r3[wandb]", "trackio": "r3[trackio]"}


def report_to_names(report_to: str | Sequence[str] | None) -> list[str]:
    """`report_to` as a list of backend names: None, "none" and [] mean none; "all" means whatever is installed."""
    if report_to is None:
        return []
    names = [report_to] if isinstance(report_to, str) else list(report_to)
    return [name for name in names if name not in ("none", "all")]


def check_report_to(report_to: str | Sequence[str] | None) -> None:
    """Raise R3Error naming the install command when a backend in `report_to` is not installed (or is unknown)."""
    from transformers.integrations import get_available_reporting_integrations
    from transformers.integrations.integration_utils import INTEGRATION_TO_CALLBACK

    available = set(get_available_reporting_integrations())
    for name in report_to_names(report_to):
        if name not in INTEGRATION_TO_CALLBACK:
            known = ", ".join(sorted(INTEGRATION_TO_CALLBACK))
            raise R3Error(f"report_to: unknown log backend '{name}'; known: {known} (or none)")
        if name not in available:
            package = EXTRAS.get(name, name)
            raise R3Error(f"report_to: {name} is not installed: pip install '{package}' (or set report_to: none; "
                          "every metric is also written to OUTPUT_DIR/metrics.jsonl)")


__all__ = ["EXTRAS", "check_report_to", "report_to_names"]
