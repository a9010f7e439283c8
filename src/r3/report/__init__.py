"""Reports of training runs: curves (the one plotting module for training curves), report.md, overlays.

    from r3.report import report_runs, write_run_report
    write_run_report("runs/train-tiny")                       # what `r3 train` leaves in every run directory
    report_runs(["runs/a", "runs/b"], out="runs/a-vs-b")      # `r3 report runs/a runs/b --out runs/a-vs-b`
"""

from r3.report.curves import plot_training_curves
from r3.report.markdown import report_runs, write_run_report
from r3.report.runs import Run, load_run

__all__ = ["Run", "load_run", "plot_training_curves", "report_runs", "write_run_report"]
