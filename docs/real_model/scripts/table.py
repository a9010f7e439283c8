"""The study's result table: each arm on the held-out set (Wilson 95%), paired differences (Newcombe), examples."""
import json, sys
from pathlib import Path
sys.path.insert(0, "/work/study/snap/src")
from r3.stats import paired_difference_interval

ARMS = {"before training": "eval_before", "after reflection-only training": "eval_after",
        "control (same budget, reflection left out)": "eval_control"}

def load(name):
    d = Path("runs") / name
    if not (d / "summary.json").exists():
        return None
    eps = {json.loads(l)["problem_id"]: json.loads(l) for l in (d / "episodes.jsonl").read_text().splitlines()}
    return json.loads((d / "summary.json").read_text())["summary"], eps

def pct(x):
    return f"{100*x['accuracy']:.1f}% [{100*x['low']:.1f}, {100*x['high']:.1f}]"

def solved(e, k):
    return any(a["verdict"]["correct"] for a in e["attempts"][:k])

loaded = {label: load(name) for label, name in ARMS.items()}
lines = ["| model (300 held-out problems, T=0.7) | first attempt | within two attempts | failures fixed after reflecting | reflection length (tokens) |",
         "|---|---|---|---|---|"]
for label, got in loaded.items():
    if got is None:
        lines.append(f"| {label} | not run | | | |"); continue
    s, _ = got
    lines.append(f"| {label} | {pct(s['first_attempt'])} | {pct(s['within_two'])} | {pct(s['reflection_success_rate'])} "
                 f"({s['reflection_success_rate']['correct']}/{s['reflection_success_rate']['n']}) | {s['mean_reflection_tokens']:.1f} |")
lines.append("")
base = loaded["before training"]
for label in list(ARMS)[1:]:
    other = loaded[label]
    if base is None or other is None:
        continue
    for k, metric in ((1, "first attempt"), (2, "within two attempts")):
        ids = sorted(base[1])
        a = [solved(base[1][i], k) for i in ids]; b = [solved(other[1][i], k) for i in ids]
        counts = (sum(x and y for x, y in zip(a, b)), sum(x and not y for x, y in zip(a, b)),
                  sum(y and not x for x, y in zip(a, b)), sum(not x and not y for x, y in zip(a, b)))
        d, lo, hi = paired_difference_interval(*counts)
        lines.append(f"- {label} vs before, {metric}: {100*d:+.1f} points (paired 95% interval {100*lo:+.1f} to {100*hi:+.1f}; "
                     f"solved by both {counts[0]}, only before {counts[1]}, only after {counts[2]}, neither {counts[3]})")
t, c = loaded["after reflection-only training"], loaded["control (same budget, reflection left out)"]
if t and c:
    ids = sorted(t[1])
    for k, metric in ((1, "first attempt"), (2, "within two attempts")):
        a = [solved(c[1][i], k) for i in ids]; b = [solved(t[1][i], k) for i in ids]
        counts = (sum(x and y for x, y in zip(a, b)), sum(x and not y for x, y in zip(a, b)),
                  sum(y and not x for x, y in zip(a, b)), sum(not x and not y for x, y in zip(a, b)))
        d, lo, hi = paired_difference_interval(*counts)
        lines.append(f"- reflection-only vs control, {metric}: {100*d:+.1f} points (paired 95% interval {100*lo:+.1f} to {100*hi:+.1f})")
print("\n".join(lines))
