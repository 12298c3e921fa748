#!/usr/bin/env python3
"""Read measure.py's JSON lines on stdin; print medians per workload and tool (with
cutlist's own peak beside its whole tree's, and the cores kept busy: CPU over wall), and the
cutlist / ffmpeg ratios (below 1.00 means cutlist used less)."""
import json, statistics, sys

rows = [json.loads(line) for line in sys.stdin if line.strip()]
failed = [r for r in rows if r["rc"]]
for r in failed:
    print("FAILED", r["label"], r["stderr_tail"])
if failed:
    sys.exit(1)  # a ratio against a failed run means nothing
by = {}
for r in rows:
    by.setdefault(r["label"], []).append(r)

def med(label, key):
    return statistics.median(x[key] for x in by[label])

ORDER = ["reel", "reel512", "cuts", "concat", "concat-encode", "trim", "long"]
print(f"{'workload':<14} {'tool':<14} {'wall s':>7} {'cpu s':>7} {'peak MiB':>9} {'own MiB':>8} {'cores':>6}")
for w in sorted({label.split("/")[0] for label in by}, key=lambda w: ORDER.index(w) if w in ORDER else 9):
    tools = sorted({label.split("/", 1)[1] for label in by if label.split("/")[0] == w}, key=lambda t: (t != "cutlist", t))
    for t in tools:
        l = f"{w}/{t}"
        # own: cutlist's own process (not its FFmpeg children); for FFmpeg it is the tree.
        own = f"{med(l, 'own_private_mib'):>8.1f}" if t == "cutlist" else f"{'':>8}"
        cores = med(l, 'cpu') / max(med(l, 'wall'), 0.01)
        print(f"{w:<14} {t:<14} {med(l, 'wall'):>7.2f} {med(l, 'cpu'):>7.2f} {med(l, 'peak_private_mib'):>9.1f} {own} {cores:>6.2f}")
    c = f"{w}/cutlist"
    for t in tools[1:]:
        f = f"{w}/{t}"
        print(f"{w:<14} {'/ ' + t:<14} {med(c, 'wall') / med(f, 'wall'):>7.2f} "
              f"{med(c, 'cpu') / med(f, 'cpu'):>7.2f} "
              f"{med(c, 'peak_private_mib') / med(f, 'peak_private_mib'):>9.2f}   "
              f"(wall {med(c, 'wall') - med(f, 'wall'):+.2f} s)")
