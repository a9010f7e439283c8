"""Base rates of an eval run folder: first attempt, within two, failures a retry fixes, with examples."""
import json, sys
for d in sys.argv[1:]:
    eps=[json.loads(l) for l in open(f'{d}/episodes.jsonl')]
    first=sum(e['attempts'][0]['verdict']['correct'] for e in eps)
    fails=[e for e in eps if not e['attempts'][0]['verdict']['correct']]
    fixed=sum(len(e['attempts'])>1 and e['attempts'][1]['verdict']['correct'] for e in fails)
    print(f"{d}: n={len(eps)} first={first} ({first/len(eps):.0%}) fixed={fixed}/{len(fails)} ({fixed/max(1,len(fails)):.0%})")
