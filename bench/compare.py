#!/usr/bin/env python3
"""A/B comparison of servers (or two builds of one) on CPU time per request.

    bench/compare.py [--rounds N] [--seconds S] [--path P] NAME=CMD NAME=CMD ...

Every server is started once, pinned to core 0 (`SERVER_CPU`), and stays up
for the whole run, so that start-up, page faults and warm-up do not weigh on
one side. Then `wrk -t1 -c64` (pinned to core 1, `LOAD_CPU`) loads each in
turn for S seconds, for N rounds, the order reversed every other round. CMD
is a command line with `{port}` in it. The first server is the baseline.

For each server it prints the median, over the rounds, of CPU time per
request (user + system seconds from /proc/PID/stat over the requests wrk
counted), its ratio to the baseline's, user and system time apart, and
requests/s; then every round's figure, to show the spread.

Short interleaved rounds against servers that stay up resolve a 1-2%
difference that bench/run.sh's three fresh 10 s runs per server cannot: on
this 2-core machine, consecutive runs drift by 5-10%. Example, the build at
HEAD against an older one:

    bench/compare.py --rounds 10 --seconds 3 \\
        "old=/work/target-old/release/hello_raw --port {port} --no-access-log --runtime current-thread" \\
        "new=target/release/hello_raw --port {port} --no-access-log --runtime current-thread"

Needs wrk (bench/run.sh installs it) and taskset.
"""

import argparse
import os
import re
import shlex
import statistics
import subprocess
import sys
import time

BASE_PORT = int(os.environ.get("COMPARE_BASE_PORT", "18200"))
SERVER_CPU = os.environ.get("SERVER_CPU", "0")
LOAD_CPU = os.environ.get("LOAD_CPU", "1")
CONNECTIONS = os.environ.get("CONNS", "64")


def cpu_ticks(pid):
    """User and system clock ticks of a process, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])


def wrk(port, path, seconds):
    """Requests wrk completed in `seconds` against the server on `port`."""
    out = subprocess.run(
        ["taskset", "-c", LOAD_CPU, "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s",
         f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, check=True).stdout
    match = re.search(r"(\d+) requests in", out)
    if not match:
        sys.exit(f"cannot read wrk's output:\n{out}")
    return int(match.group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--path", default="/")
    parser.add_argument("servers", nargs="+", metavar="NAME=CMD")
    args = parser.parse_args()

    servers = []
    try:
        for index, spec in enumerate(args.servers):
            name, sep, command = spec.partition("=")
            if not sep or "{port}" not in command:
                sys.exit(f"expected NAME=CMD with {{port}} in CMD, got {spec!r}")
            port = BASE_PORT + index
            argv = ["taskset", "-c", SERVER_CPU] + shlex.split(command.replace("{port}", str(port)))
            process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            servers.append((name, port, process))
        time.sleep(1.5)
        for name, port, process in servers:
            if process.poll() is not None:
                sys.exit(f"{name} exited at start-up (status {process.returncode})")
            wrk(port, args.path, 1)  # warm-up, not counted

        ticks_per_second = os.sysconf("SC_CLK_TCK")
        results = {name: [] for name, _, _ in servers}
        for round_number in range(args.rounds):
            order = servers if round_number % 2 == 0 else servers[::-1]
            for name, port, process in order:
                user0, system0 = cpu_ticks(process.pid)
                requests = wrk(port, args.path, args.seconds)
                user1, system1 = cpu_ticks(process.pid)
                per_request = 1e6 / ticks_per_second / requests
                results[name].append(((user1 - user0) * per_request,
                                      (system1 - system0) * per_request,
                                      requests / args.seconds))
    finally:
        for _, _, process in servers:
            process.terminate()
            process.wait()

    baseline = None
    print(f"CPU µs per request, medians of {args.rounds} interleaved rounds of {args.seconds} s, GET {args.path}")
    for name, rounds in results.items():
        totals = [user + system for user, system, _ in rounds]
        median = statistics.median(totals)
        baseline = baseline or median
        print(f"{name:14} {median:6.3f} ({median / baseline:.3f}x)"
              f"  user {statistics.median(r[0] for r in rounds):.3f}"
              f"  sys {statistics.median(r[1] for r in rounds):.3f}"
              f"  req/s {statistics.median(r[2] for r in rounds):,.0f}"
              f"  rounds: {' '.join(f'{t:.2f}' for t in totals)}")


if __name__ == "__main__":
    main()
