import re
from pathlib import Path
rows, total = [], 0.0
for f in ("probe_times.txt", "stage_times.txt"):
    for line in Path(f).read_text().splitlines():
        m = re.match(r"(\S+) cpu_user=([\d.]+) cpu_sys=([\d.]+) wall=([\d.]+)", line)
        if m:
            cpu = float(m.group(2)) + float(m.group(3)); total += cpu
            rows.append(f"| {m.group(1)} | {cpu/60:.1f} | {float(m.group(4))/60:.1f} |")
print("| stage | CPU minutes | wall minutes |\n|---|---|---|\n" + "\n".join(rows) + f"\n| **total** | **{total/60:.1f}** ({total/3600:.2f} CPU hours) | |")
