#!/usr/bin/env python3
"""time_cmd.py N command... : runs the command N times (output discarded) and prints the
median wall seconds, the median CPU seconds (user + system, its children included) and the
largest peak RSS in KiB, with microsecond resolution.

/usr/bin/time prints hundredths of a second, too coarse for a run of about 60 ms (the
1000 small files over https): one round's ratio could only read 0.06 / 0.12. The median of
several runs also steadies a row whose single runs spread by a third."""
import resource
import statistics
import subprocess
import sys
import time


def once(cmd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, after.ru_maxrss


def main():
    n, cmd = int(sys.argv[1]), sys.argv[2:]
    runs = [once(cmd) for _ in range(max(n, 1))]
    print(f"{statistics.median(r[0] for r in runs):.6f} "
          f"{statistics.median(r[1] for r in runs):.6f} {max(r[2] for r in runs)}")


if __name__ == "__main__":
    main()
