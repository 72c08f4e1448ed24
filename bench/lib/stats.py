#!/usr/bin/env python3
"""Helpers for bench/run.sh: process CPU and memory from /proc, load-generator
output parsing, and the Markdown report. Standard library only.

Subcommands (each prints plain values for the shell to capture):

  cpu PID              CPU seconds (user+system) of PID and all its descendants,
                       including reaped children (cutime+cstime), so a server
                       that forks workers is measured whole.
  rss PID              resident memory in KiB of PID and its descendants (sum
                       of VmRSS; shared pages of forked workers count twice).
  wrk FILE             "requests rps p99_ms errors" from `wrk --latency` output.
  h2load FILE LOG      "requests rps p99_ms errors" from h2load output and its
                       --log-file (h2load prints no percentiles itself).
  wsload FILE          "messages rate p99_ms errors" from ws_load's JSON line.
  per CPU0 CPU1 N      microseconds of CPU per request: (CPU1-CPU0)/N.
  report TSV ...       Markdown table of medians per case and server; see --help.

The raw TSV that run.sh appends to has one row per measured run:
scenario, case, server, round, rate, cpu_us, p99_ms, errors, rss_before_kib,
rss_after_kib, conns_open ("-" where a column does not apply).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys

CLK_TCK = os.sysconf("SC_CLK_TCK")


# ----- /proc ------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (field 2) may hold spaces or parentheses: split after it.
    return data[data.rindex(")") + 2 :].split()


def _tree(root: int) -> list[int]:
    """root and all its live descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields is not None:
            # fields[0] is state (field 3), fields[1] is ppid (field 4).
            children.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def cpu_seconds(root: int) -> float:
    ticks = 0
    for pid in _tree(root):
        fields = _stat_fields(pid)
        if fields is None:
            continue
        # utime, stime, cutime, cstime are fields 14-17 (indices 11-14 here).
        ticks += sum(int(x) for x in fields[11:15])
    return ticks / CLK_TCK


def rss_kib(root: int) -> int:
    total = 0
    for pid in _tree(root):
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


# ----- load generator output --------------------------------------------------

_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def parse_wrk(text: str) -> tuple[int, float, float, int]:
    m = re.search(r"^\s*(\d+) requests in", text, re.M)
    if not m:
        raise SystemExit("wrk output has no request count:\n" + text)
    requests = int(m.group(1))
    rps = float(re.search(r"^Requests/sec:\s*([\d.]+)", text, re.M).group(1))
    p99 = float("nan")
    m = re.search(r"^\s*99(?:\.000)?%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
    if m:
        p99 = float(m.group(1)) * _UNIT_MS[m.group(2)]
    errors = 0
    m = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", text)
    if m:
        errors += int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        errors += sum(int(x) for x in m.groups())
    return requests, rps, p99, errors


def parse_h2load(text: str, log_path: str) -> tuple[int, float, float, int]:
    m = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", text)
    if not m:
        raise SystemExit("h2load output has no rate:\n" + text)
    rps = float(m.group(1))
    m = re.search(r"requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout", text)
    succeeded = int(m.group(2))
    errors = int(m.group(3)) + int(m.group(4)) + int(m.group(5))
    times = []
    with open(log_path) as f:
        for line in f:
            parts = line.split("\t")
            if len(parts) >= 3:
                times.append(int(parts[2]))
    p99 = _percentile(times, 99) / 1000.0 if times else float("nan")
    return succeeded, rps, p99, errors


def _percentile(values: list[int], pct: int) -> float:
    values = sorted(values)
    k = max(0, -(-len(values) * pct // 100) - 1)
    return float(values[k])


def parse_wsload(text: str) -> tuple[int, float, float, int]:
    line = [x for x in text.splitlines() if x.startswith("{")][-1]
    d = json.loads(line)
    return d["messages"], d["messages_per_sec"], d["p99_ms"], d["errors"]


# ----- report -----------------------------------------------------------------


def _num(x: str) -> float | None:
    if x in ("-", "", "nan"):
        return None
    v = float(x)
    return None if v != v else v


def _median(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def _fmt(v: float | None, digits: int = 0) -> str:
    if v is None:
        return "-"
    return f"{v:,.{digits}f}"


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.2f}x"


def report(args: argparse.Namespace) -> None:
    rows = []
    with open(args.tsv) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 11:
                rows.append(parts)
    cases: dict[str, dict[str, list[list[str]]]] = {}
    for r in rows:
        cases.setdefault(r[1], {}).setdefault(r[2], []).append(r)

    out = [f"## {args.title}", ""]
    out += [line for line in args.header]
    if args.header:
        out.append("")
    for case, servers in cases.items():
        out.append(f"### {case}")
        out.append("")
        if args.kind == "idle":
            head = ["Server", "open conns", "RSS before (MiB)", "RSS after (MiB)", "KiB per idle conn"]
            head += [f"vs {ref}" for ref in args.ref]
            out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            per_conn: dict[str, float | None] = {}
            for server, rs in servers.items():
                per = []
                for r in rs:
                    before, after, n = _num(r[8]), _num(r[9]), _num(r[10])
                    per.append((after - before) / n if before is not None and after is not None and n else None)
                per_conn[server] = _median(per)
            for server, rs in servers.items():
                before = _median([_num(r[8]) for r in rs])
                after = _median([_num(r[9]) for r in rs])
                cells = [
                    server,
                    _fmt(_median([_num(r[10]) for r in rs])),
                    _fmt(before / 1024 if before is not None else None, 1),
                    _fmt(after / 1024 if after is not None else None, 1),
                    _fmt(per_conn[server], 1),
                ]
                cells += [_ratio(per_conn[server], per_conn.get(ref)) for ref in args.ref]
                out.append("| " + " | ".join(cells) + " |")
        else:
            unit = args.unit
            head = ["Server", f"{unit}/s", f"CPU µs/{unit}", "p99 (ms)", "errors"]
            for ref in args.ref:
                head += [f"{unit}/s vs {ref}", f"CPU/{unit} vs {ref}"]
            head.append("runs")
            out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            med = {
                s: (_median([_num(r[4]) for r in rs]), _median([_num(r[5]) for r in rs]))
                for s, rs in servers.items()
            }
            for server, rs in servers.items():
                rate, cpu = med[server]
                errors = sum(int(_num(r[7]) or 0) for r in rs)
                cells = [
                    server,
                    _fmt(rate),
                    _fmt(cpu, 2),
                    _fmt(_median([_num(r[6]) for r in rs]), 2),
                    str(errors),
                ]
                for ref in args.ref:
                    ref_rate, ref_cpu = med.get(ref, (None, None))
                    cells += [_ratio(rate, ref_rate), _ratio(cpu, ref_cpu)]
                cells.append(str(len(rs)))
                out.append("| " + " | ".join(cells) + " |")
        out.append("")
    if args.note:
        out += [f"- {n}" for n in dict.fromkeys(args.note)]
        out.append("")
    print("\n".join(out))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("cpu").add_argument("pid", type=int)
    sub.add_parser("rss").add_argument("pid", type=int)
    sub.add_parser("wrk").add_argument("file")
    h2 = sub.add_parser("h2load")
    h2.add_argument("file")
    h2.add_argument("log")
    sub.add_parser("wsload").add_argument("file")
    per = sub.add_parser("per")
    per.add_argument("cpu0", type=float)
    per.add_argument("cpu1", type=float)
    per.add_argument("n", type=float)
    rep = sub.add_parser("report")
    rep.add_argument("tsv")
    rep.add_argument("--title", required=True)
    rep.add_argument("--kind", choices=["rate", "idle"], default="rate")
    rep.add_argument("--unit", default="req", help="what a rate counts: req or msg")
    rep.add_argument("--ref", action="append", default=[], help="server label to compare against")
    rep.add_argument("--header", action="append", default=[], help="a line printed under the title")
    rep.add_argument("--note", action="append", default=[], help="a bullet printed under the tables")
    a = p.parse_args()

    if a.cmd == "cpu":
        print(f"{cpu_seconds(a.pid):.2f}")
    elif a.cmd == "rss":
        print(rss_kib(a.pid))
    elif a.cmd == "wrk":
        r, rps, p99, e = parse_wrk(open(a.file).read())
        print(r, f"{rps:.1f}", f"{p99:.3f}", e)
    elif a.cmd == "h2load":
        r, rps, p99, e = parse_h2load(open(a.file).read(), a.log)
        print(r, f"{rps:.1f}", f"{p99:.3f}", e)
    elif a.cmd == "wsload":
        r, rate, p99, e = parse_wsload(open(a.file).read())
        print(r, f"{rate:.1f}", f"{p99:.3f}", e)
    elif a.cmd == "per":
        print(f"{(a.cpu1 - a.cpu0) / a.n * 1e6:.3f}" if a.n > 0 else "-")
    elif a.cmd == "report":
        report(a)


if __name__ == "__main__":
    sys.exit(main())
