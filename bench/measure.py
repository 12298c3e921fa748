#!/usr/bin/env python3
"""Run a command; print one JSON line with wall and CPU seconds and the peak private
memory (sum of RssAnon + RssShmem over the whole process tree, sampled every 20 ms; the
same definition cutlist uses) and the command's own peak private memory."""
import json, os, resource, subprocess, sys, tempfile, time

def private_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            d = dict(l.split(":", 1) for l in f if ":" in l)
        return int(d["RssAnon"].split()[0]) + int(d.get("RssShmem", "0 kB").split()[0])
    except (OSError, KeyError, ValueError):
        return 0

def tree(root):
    kids = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(p))
            except (OSError, ValueError, IndexError):
                pass
    out, todo = [root], [root]
    while todo:
        for c in kids.get(todo.pop(), []):
            out.append(c); todo.append(c)
    return out

label, cmd = sys.argv[1], sys.argv[2:]
t0 = time.monotonic()
err_file = tempfile.TemporaryFile()  # a file, not a pipe: a chatty child can never block on it
p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err_file)
peak = own = 0
while p.poll() is None:
    peak = max(peak, sum(private_kib(x) for x in tree(p.pid)))
    own = max(own, private_kib(p.pid))  # the command itself (cutlist's own memory)
    time.sleep(0.02)
wall = time.monotonic() - t0
r = resource.getrusage(resource.RUSAGE_CHILDREN)  # the command and everything it waited for
err_file.seek(0)
err = err_file.read().decode(errors="replace")
print(json.dumps({"label": label, "rc": p.returncode, "wall": round(wall, 2), "cpu": round(r.ru_utime + r.ru_stime, 2),
                  "peak_private_mib": round(peak / 1024, 1), "own_private_mib": round(own / 1024, 1), "stderr_tail": err[-300:] if p.returncode else ""}))
