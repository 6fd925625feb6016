#!/usr/bin/env python3
"""compare.py - compare the counters of two `iptables-save -c` outputs (the kernel's and
pktfilt-replay's) rule by rule and policy by policy, and check pktfilt-replay's --trace.

    compare.py KERNEL.save REPLAY.save [--trace TRACE] [--tables raw,mangle,filter]

Rules are matched by table, chain and position (both sides loaded the same rule file). Prints
one line per difference with the kernel's rule text, and a summary line. With --trace (the
TRACE lines of pktfilt-replay --trace), also checks that the rules and policies the trace
names are exactly those whose counters moved in REPLAY.save. Exit status: 0 same, 1 different,
2 unreadable input.
"""
import argparse
import re
import sys

RULE = re.compile(r"^\[(\d+):(\d+)\] -A (\S+)(?: (.*))?$")
CHAIN = re.compile(r"^:(\S+) (\S+) \[(\d+):(\d+)\]$")


def parse_save(path):
    """{table: {"chains": {name: (policy, pkts, bytes)}, "rules": {chain: [(p, b, text)]}}}"""
    tables, cur = {}, None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            if line.startswith("*"):
                cur = tables.setdefault(line[1:], {"chains": {}, "rules": {}})
                continue
            if line == "COMMIT":
                cur = None
                continue
            if cur is None:
                continue
            m = CHAIN.match(line)
            if m:
                cur["chains"][m.group(1)] = (m.group(2), int(m.group(3)), int(m.group(4)))
                cur["rules"].setdefault(m.group(1), [])
                continue
            m = RULE.match(line)
            if m:
                cur["rules"].setdefault(m.group(3), []).append(
                    (int(m.group(1)), int(m.group(2)), m.group(4) or ""))
                continue
            raise ValueError("%s: cannot read line: %s" % (path, line))
    return tables


def parse_trace(path):
    """The set of (table, chain, n) pktfilt-replay --trace names; n = 0 for a policy."""
    seen = set()
    with open(path) as f:
        for line in f:
            if not line.startswith("TRACE "):
                continue
            what = line.split(" ", 2)[2].strip()
            table, rest = what.split(":", 1)
            if rest.endswith(":policy"):
                chain = rest[: -len(":policy")].rsplit(":", 1)[0]
                seen.add((table, chain, 0))
            else:
                head, n = rest.rsplit(":rule:", 1)
                chain = head.rsplit(":", 1)[0]
                seen.add((table, chain, int(n)))
    return seen


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("kernel")
    ap.add_argument("replay")
    ap.add_argument("--trace")
    ap.add_argument("--tables", default="raw,mangle,filter")
    a = ap.parse_args()
    try:
        k, r = parse_save(a.kernel), parse_save(a.replay)
    except (OSError, ValueError) as e:
        print("compare: %s" % e, file=sys.stderr)
        return 2
    diffs, nrules, moved = [], 0, 0
    for t in a.tables.split(","):
        if t not in k and t not in r:
            continue
        if t not in k or t not in r:
            diffs.append("table %s: only in the %s's output" % (t, "kernel" if t in k else
                                                                  "replay"))
            continue
        kt, rt = k[t], r[t]
        for c in sorted(set(kt["chains"]) | set(rt["chains"])):
            if c not in kt["chains"] or c not in rt["chains"]:
                diffs.append("%s %s: chain only in the %s's output" %
                             (t, c, "kernel" if c in kt["chains"] else "replay"))
                continue
            kp, rp = kt["chains"][c], rt["chains"][c]
            if kp != rp:
                diffs.append("%s %s policy: kernel %s [%d:%d], replay %s [%d:%d]" %
                             ((t, c) + kp + rp))
            kr, rr = kt["rules"][c], rt["rules"][c]
            if len(kr) != len(rr):
                diffs.append("%s %s: %d rules in the kernel, %d in the replay" %
                             (t, c, len(kr), len(rr)))
                continue
            for i, (kk, rk) in enumerate(zip(kr, rr)):
                nrules += 1
                if kk[0]:
                    moved += 1
                if kk[:2] != rk[:2]:
                    diffs.append("%s %s #%d: kernel [%d:%d], replay [%d:%d]: -A %s %s" %
                                 (t, c, i + 1, kk[0], kk[1], rk[0], rk[1], c, kk[2]))
    if a.trace:
        try:
            traced = parse_trace(a.trace)
        except (OSError, ValueError) as e:
            print("compare: %s" % e, file=sys.stderr)
            return 2
        counted = set()
        for t in a.tables.split(","):
            if t not in r:
                continue
            for c, (pol, p, _) in r[t]["chains"].items():
                if pol != "-" and p:
                    counted.add((t, c, 0))
            for c, rules in r[t]["rules"].items():
                for i, (p, _, _) in enumerate(rules):
                    if p:
                        counted.add((t, c, i + 1))
        for t, c, n in sorted(traced - counted):
            diffs.append("trace names %s %s %s, whose counter did not move" %
                         (t, c, "policy" if n == 0 else "#%d" % n))
        for t, c, n in sorted(counted - traced):
            diffs.append("counter of %s %s %s moved, the trace never names it" %
                         (t, c, "policy" if n == 0 else "#%d" % n))
    for d in diffs:
        print("DIFF " + d)
    print("%d rules, %d matched some packet in the kernel, %d differences" %
          (nrules, moved, len(diffs)))
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
