"""Collect the study's finished stages into docs/real_model/ (summaries, CPU times, example reflections; no weights)."""
import json, re, sys
from pathlib import Path

OUT = Path("/work/main/docs/real_model")
OUT.mkdir(parents=True, exist_ok=True)

def rates(d):
    s = json.loads((d / "summary.json").read_text())
    m = s["summary"]
    keep = {k: m[k] for k in ("n_problems", "first_attempt", "within_two", "reflection_success_rate",
                              "mean_reflection_tokens", "mean_attempt_tokens", "truncated_attempts",
                              "truncated_reflections")}
    st = s["settings"]
    keep["settings"] = {k: st.get(k) for k in ("model", "data", "limit", "temperature", "attempt_max_new_tokens",
                                               "reflection_max_new_tokens", "seed", "task")}
    return keep

def times(path):
    out = {}
    for line in Path(path).read_text().splitlines() if Path(path).exists() else []:
        m = re.match(r"(\S+) cpu_user=([\d.]+) cpu_sys=([\d.]+) wall=([\d.]+)", line)
        if m:
            out[m.group(1)] = {"cpu_s": round(float(m.group(2)) + float(m.group(3)), 1), "wall_s": float(m.group(4))}
    return out

def examples(d, n=8):
    rows = []
    for line in (d / "episodes.jsonl").read_text().splitlines():
        e = json.loads(line)
        if e["reflections"]:
            rows.append({"expression": e["example"]["expression"], "answer": e["example"]["answer"],
                         "attempt": e["attempts"][0]["text"], "reflection": e["reflections"][0]["text"],
                         "retry": e["attempts"][1]["text"], "retry_correct": e["attempts"][1]["verdict"]["correct"]})
        if len(rows) >= n:
            break
    return rows

probes = {d.name: rates(d) for d in sorted(Path("probe").iterdir()) if (d / "summary.json").exists()}
(OUT / "probes.json").write_text(json.dumps({"probes": probes, "cpu": times("probe_times.txt")}, indent=1) + "\n")
stages = {d.name: rates(d) for d in sorted(Path("runs").iterdir()) if (d / "summary.json").exists()}
extra = {}
if Path("runs/mine/stats.json").exists():
    extra["mine"] = json.loads(Path("runs/mine/stats.json").read_text())
for arm in ("train", "control"):
    p = Path(f"runs/{arm}/train_summary.json")
    if p.exists():
        extra[arm] = json.loads(p.read_text())
(OUT / "stages.json").write_text(json.dumps({"evals": stages, "other": extra, "cpu": times("stage_times.txt")},
                                            indent=1, default=str) + "\n")
ex = {d.name: examples(d) for d in sorted(Path("runs").iterdir()) if (d / "episodes.jsonl").exists()}
ex.update({f"probe/{d.name}": examples(d, 5) for d in sorted(Path("probe").iterdir()) if (d / "episodes.jsonl").exists()})
(OUT / "examples.json").write_text(json.dumps(ex, indent=1) + "\n")
print("wrote", sorted(p.name for p in OUT.iterdir()))
