"""On-disk results of one model ("base" or "trained"), written benchmark by benchmark so nothing finished is lost.

Layout under DIR/<role>/:
    benchmarks/<name>.json   the harness's results for one benchmark (samples removed) plus r3's settings of the
                             run ("r3.fingerprint"); written last and atomically, so its presence means "finished"
    items/<name>.jsonl       one line per scored document and filter: task, doc_id, filter, metric values and the
                             extracted answer; the paired standard error of the difference is computed from these
    samples/<name>.jsonl     the harness's full per-sample log (prompts, responses), only with --log-samples
    results.json             all finished benchmarks merged in the harness's own results layout

DIR itself is an `r3.rundir.RunDir` (kind "forgetting"): DIR/run.json records the run's identity (its arguments
and the fingerprints of both models' files), the lock keeps a second process out, and every file above is written
atomically through it and recorded in its manifest, so `--overwrite` deletes exactly these files. A rerun with the
same identity reuses the finished benchmarks (the benchmark list may change: each benchmark's own fingerprint decides
whether its saved result is reused); another model, limit or seed is refused, naming what differs.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from r3.errors import R3Error
from r3.rundir import RunDir, fingerprint_model
from r3.rundir import write_atomic as _atomic

logger = logging.getLogger(__name__)

# keys of the harness's results dict that map task names to something; merged across benchmarks
_PER_TASK_KEYS = (
    "results",
    "groups",
    "group_subtasks",
    "configs",
    "versions",
    "n-shot",
    "higher_is_better",
    "n-samples",
)


def to_json(value: Any, indent: int | None = 2) -> str:
    """JSON text of a harness results object (numpy numbers, sets, functions and dtypes become plain values)."""
    from lm_eval.utils import handle_non_serializable

    return json.dumps(value, indent=indent, default=handle_non_serializable, ensure_ascii=False)


KIND = "forgetting"
# identity keys that may change between sessions: which benchmarks to run, whether to log samples, where and how
FREE = frozenset({"benchmarks", "log_samples", "out_dir", "overwrite", "include_paths", "include_builtin"})


def open_run(out_dir: Path, arguments: dict[str, Any], *, overwrite: bool = False) -> RunDir:
    """Lock and open DIR for a forgetting check: `arguments` plus both models' file fingerprints are its identity."""
    identity = dict(arguments)
    for role in ("base", "trained"):
        if isinstance(identity.get(role), str):
            identity[f"{role}_files"] = fingerprint_model(identity[role])
    return RunDir.open(out_dir, KIND, identity, overwrite=overwrite, free=FREE,
                       label=lambda key: "--" + key.replace("_", "-"))


def _write_atomic(path: Path, text: str, run: RunDir | None = None) -> None:
    """Through the run directory (recorded in its manifest) when there is one, else a plain atomic write."""
    if run is not None:  # by its name inside the run, never resolved: a symlinked folder is refused, not followed
        try:
            name = Path(path).relative_to(run.path).as_posix()
        except ValueError:
            name = Path(os.path.abspath(path)).relative_to(os.path.abspath(run.path)).as_posix()
        run.write_atomic(name, text)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic(path, text)


def _file_name(benchmark: str) -> str:
    """A benchmark name as a file name (a benchmark may be given as a YAML path)."""
    return Path(benchmark).stem if benchmark.endswith((".yaml", ".yml")) else benchmark.replace("/", "_")


def item_scores(samples: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One compact record per (task, document, filter) from the harness's samples: the metric values and answer."""
    items = []
    for task, task_samples in samples.items():
        for sample in task_samples:
            record = {"task": task, "doc_id": sample["doc_id"], "filter": sample.get("filter", "none")}
            for metric in sample.get("metrics", []):
                record[metric] = sample.get(metric)
            record["answer"] = sample.get("filtered_resps")
            items.append(record)
    return items


class ResultStore:
    """The finished benchmarks of one model under DIR/<role>."""

    def __init__(self, root: Path, run: RunDir | None = None):
        self.root = Path(root)
        self.run = run

    def benchmark_path(self, benchmark: str) -> Path:
        return self.root / "benchmarks" / f"{_file_name(benchmark)}.json"

    def items_path(self, benchmark: str) -> Path:
        return self.root / "items" / f"{_file_name(benchmark)}.jsonl"

    def finished(self, benchmark: str, fingerprint: dict[str, Any]) -> dict[str, Any] | None:
        """The saved results of `benchmark` if it finished with exactly these settings, else None."""
        path = self.benchmark_path(benchmark)
        if not path.is_file():
            return None
        try:
            saved = json.loads(path.read_bytes())
        except (OSError, ValueError, RecursionError) as error:
            logger.warning("%s: unreadable (%s); running %s again", path, error, benchmark)
            return None
        if not isinstance(saved, dict) or not isinstance(saved.get("r3"), dict):
            logger.warning("%s: not a saved benchmark result; running %s again", path, benchmark)
            return None
        if saved.get("r3", {}).get("fingerprint") != json.loads(json.dumps(fingerprint)):
            logger.info("%s: settings changed since the saved run in %s; running it again", benchmark, path)
            return None
        return saved

    def save(self, benchmark: str, fingerprint: dict[str, Any], results: dict[str, Any], log_samples: bool) -> dict:
        """Write one finished benchmark (items first, the results file last) and refresh results.json."""
        results = dict(results)
        samples = results.pop("samples", None) or {}
        lines = "".join(to_json(item, indent=None) + "\n" for item in item_scores(samples))
        _write_atomic(self.items_path(benchmark), lines, self.run)
        if log_samples:
            path = self.root / "samples" / f"{_file_name(benchmark)}.jsonl"
            rows = (to_json({"task": task, **sample}, indent=None) for task, s in samples.items() for sample in s)
            _write_atomic(path, "".join(row + "\n" for row in rows), self.run)
        results["r3"] = {**results.get("r3", {}), "benchmark": benchmark, "fingerprint": fingerprint}
        text = to_json(results)
        _write_atomic(self.benchmark_path(benchmark), text, self.run)
        self.write_merged()
        return json.loads(text)

    def items(self, benchmark: str) -> list[dict[str, Any]]:
        path = self.items_path(benchmark)
        if not path.is_file():
            return []
        items = []
        for number, line in enumerate(path.read_bytes().splitlines(), start=1):
            try:
                if line.strip():
                    items.append(json.loads(line))
            except (ValueError, RecursionError) as error:
                raise R3Error(f"{path}, line {number}: not JSON ({error}); rerun with --overwrite") from None
        return items

    def write_merged(self) -> None:
        """results.json: every finished benchmark in one harness-style results dict."""
        merged: dict[str, Any] = {key: {} for key in _PER_TASK_KEYS}
        merged["r3_benchmarks"] = {}
        for path in sorted((self.root / "benchmarks").glob("*.json")):
            try:
                saved = json.loads(path.read_bytes())
            except (OSError, ValueError, RecursionError):
                continue  # a hand-edited file: `finished` reports it and the benchmark runs again
            if not isinstance(saved, dict) or not isinstance(saved.get("r3"), dict):
                continue
            for key in _PER_TASK_KEYS:
                merged[key].update(saved.get(key) or {})
            for key, value in saved.items():
                if key not in _PER_TASK_KEYS and key != "r3":
                    merged[key] = value  # run metadata (config, versions of packages, date): the last one wins
            merged["r3_benchmarks"][saved["r3"]["benchmark"]] = saved["r3"]
        _write_atomic(self.root / "results.json", json.dumps(merged, indent=2, ensure_ascii=False), self.run)
