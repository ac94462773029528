#!/usr/bin/env python3
"""Where a server's threads and wrk's ran during one bench run (issue 27).

    placement.py OUT SCENARIO SERVER ROUND SERVER_PIDS -- COMMAND...

Runs COMMAND (wrk, with whatever goes before it: taskset, env) with its output passed
through, samples every 50 ms until it exits, exits with its status, and appends one CSV line
to OUT (SERVER_PIDS: the server's processes, comma-separated; their children are found):

    scenario,server,round,server_cpu0_s,server_cpu1_s,...,wrk_cpu0_s,...,threads

Each thread's time on a CPU comes from /proc/PID/task/TID/schedstat (nanoseconds run, exact)
attributed to the CPU /proc/PID/task/TID/stat says it last ran on (field 39), interval by
interval: a thread that moved within one 50 ms interval has that interval counted on the CPU
it ended on. `threads` lists each thread that ran at least 1 ms, as group.name:cpu0_ms/
cpu1_ms/..., busiest first. Reading /proc costs this process well under 1% of a CPU.

Why: on two CPUs the peers' rounds are bimodal (h2o 118k-219k req/s in one minute) while
serve's are not; what a fast round and a slow one differ in is where each thread ran and
whether it shared its CPU with wrk.
"""

import os
import subprocess
import sys
import time

INTERVAL = 0.05


def tasks(pids):
    """The (pid, tid) of every thread of the given processes and their children."""
    seen = set(pids)
    for pid in pids:
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                seen.update(int(c) for c in f.read().split())
        except OSError:
            pass
    out = []
    for pid in seen:
        try:
            out.extend((pid, int(t)) for t in os.listdir(f"/proc/{pid}/task"))
        except OSError:
            pass
    return out


def sample(pid, tid):
    """(name, cpu, ns run) of one thread, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/task/{tid}/stat") as f:
            stat = f.read()
        with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
            ran = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    # The name is in parentheses and may hold spaces: fields count from after the last ')'.
    name = stat[stat.index("(") + 1 : stat.rindex(")")]
    fields = stat[stat.rindex(")") + 2 :].split()
    return name, int(fields[36]), ran  # field 39 overall is the 37th after the name


def main():
    out, scen, server, rnd, pids, dashes, *command = sys.argv[1:]
    if dashes != "--" or not command:
        sys.exit("usage: placement.py OUT SCENARIO SERVER ROUND SERVER_PIDS -- COMMAND...")
    servers = [int(p) for p in pids.split(",") if p]
    ncpu = os.cpu_count() or 2
    child = subprocess.Popen(command)
    last = {}  # (group, tid) -> ns run at the last sample
    spent = {}  # (group, tid) -> [name, ns on cpu0, ns on cpu1, ...]
    while child.poll() is None:
        for group, pids in (("server", servers), ("wrk", [child.pid])):
            for pid, tid in tasks(pids):
                got = sample(pid, tid)
                if got is None:
                    continue
                name, cpu, ran = got
                key = (group, tid)
                if key in last and cpu < ncpu:
                    row = spent.setdefault(key, [name] + [0] * ncpu)
                    row[1 + cpu] += ran - last[key]
                last[key] = ran
        time.sleep(INTERVAL)
    totals = {g: [0] * ncpu for g in ("server", "wrk")}
    threads = []
    for (group, tid), row in spent.items():
        for cpu in range(ncpu):
            totals[group][cpu] += row[1 + cpu]
        if sum(row[1:]) >= 1_000_000:  # a thread that ran at least 1 ms
            threads.append((sum(row[1:]), f"{group}.{row[0]}:" + "/".join(str(round(n / 1e6)) for n in row[1:])))
    threads.sort(reverse=True)
    secs = [f"{n / 1e9:.3f}" for g in ("server", "wrk") for n in totals[g]]
    with open(out, "a") as f:
        f.write(",".join([scen, server, rnd, *secs, " ".join(t for _, t in threads)]) + "\n")
    sys.exit(child.returncode)


if __name__ == "__main__":
    main()
