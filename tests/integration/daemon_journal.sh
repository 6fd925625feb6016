#!/usr/bin/env bash
# daemon_journal.sh - pktfiltd's persistence under kill -9. Rounds of random pktfilt commands
# against the daemon (each also run with --state on a file that says what the rules must be,
# and compared: same exit status, output and errors), the daemon killed with SIGKILL at a
# random moment (between commands, in the middle of one, around the journal's compaction, in
# a SIGHUP's rewrite of the rules file), restarted: it must come back with exactly the
# committed rules (a command killed in flight may count or not: one or the other). Rule sets
# of 3000 rules (journal) and of a few (rules file rewritten at each change). Last, a journal
# whose last record was cut short (a write the crash interrupted) loads without it.
# Namespace pf-jnl-fw; about 25 s.
set -u
build=${PKTFILT_BUILD:-build}
build=$(cd "$build" && pwd)
if [ "$(id -u)" -ne 0 ]; then
    echo "daemon_journal.sh: SKIPPED (needs root: network namespace and NFQUEUE)"
    exit 0
fi
command -v python3 >/dev/null || { echo "daemon_journal.sh: SKIPPED (no python3)"; exit 0; }
[ -x "$build/daemon/pktfiltd" ] || { echo "daemon_journal.sh: FAIL: pktfiltd not built"; exit 1; }
NS=pf-jnl-fw
tmp=$(mktemp -d)
cleanup() {
    ip netns pids $NS 2>/dev/null | xargs -r kill -9 2>/dev/null
    ip netns del $NS 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
ip netns del $NS 2>/dev/null
ip netns add $NS || exit 1

python3 - "$build" "$tmp" "$NS" "${DAEMON_JOURNAL_ROUNDS:-10}" <<'PY'
import os, random, shutil, signal, subprocess, sys, threading, time
build, tmp, ns, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
pfd, cli = build + "/daemon/pktfiltd", build + "/tools/pktfilt"
rules, sock, log = tmp + "/rules.v4", tmp + "/pktfiltd.sock", open(tmp + "/daemon.log", "ab")
expected = tmp + "/expected.v4"
random.seed(int(os.environ.get("DAEMON_JOURNAL_SEED", "5")))
passed = failed = 0

def check(desc, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL: " + desc + (("\n" + detail) if detail else ""))

env_d = dict(os.environ, PKTFILT_SOCKET=sock)
env_d.pop("PKTFILT_STATE", None)
def pf(args, timeout=20):
    r = subprocess.run([cli] + args, env=env_d, capture_output=True, timeout=timeout)
    return r.returncode, r.stdout.decode(), r.stderr.decode()
def pf_file(path, args):
    r = subprocess.run([cli, "--state", path] + args, env=env_d, capture_output=True)
    return r.returncode, r.stdout.decode(), r.stderr.decode()

def start():
    p = subprocess.Popen(["ip", "netns", "exec", ns, pfd, "--queues", "0", "--rules", rules,
                          "--socket", sock], stdout=log, stderr=log)
    for _ in range(300):
        if os.path.exists(sock) and pf(["--stats"])[0] == 0:
            return p
        if p.poll() is not None:
            break
        time.sleep(0.05)
    check("pktfiltd starts", False, open(tmp + "/daemon.log").read()[-2000:])
    sys.exit(1)

def kill9(p):
    p.killed = True  # before the signal: a command that then finds no daemon knows why
    p.send_signal(signal.SIGKILL)
    p.wait()
    if os.path.exists(sock):
        os.unlink(sock)

chains = ["BIG", "web", "ssh"]
def command():
    c = random.choice(chains)
    a = "198.18.%d.%d" % (random.randrange(256), random.randrange(256))
    k = random.random()
    if k < 0.30:
        return ["-I", c, str(random.randint(1, 3)), "-s", a, "-j", random.choice(["ACCEPT", "DROP"])]
    if k < 0.45:
        return ["-A", c, "-d", a, "-p", "tcp", "--dport", str(random.randint(1, 65535)), "-j", "DROP"]
    if k < 0.65:
        return ["-D", c, str(random.randint(1, 3))]
    if k < 0.70:
        return ["-R", c, "1", "-s", a, "-j", "ACCEPT"]
    if k < 0.74:
        return ["-N", "tmp%d" % random.randrange(4)]
    if k < 0.78:
        return ["-X", "tmp%d" % random.randrange(4)]
    if k < 0.81:
        return ["-P", "FORWARD", random.choice(["ACCEPT", "DROP"])]
    if k < 0.84:
        return ["-E", random.choice(["web", "www"]), random.choice(["web", "www"])]
    if k < 0.87:
        return ["-A", "INPUT", "-j", random.choice(["web", "ssh", "nosuch"])]
    if k < 0.90:
        return ["-Z", c]
    if k < 0.93:
        return ["-t", random.choice(["nat", "mangle", "raw"]), "-A",
                random.choice(["PREROUTING", "OUTPUT"]), "-s", a]
    if k < 0.96:
        return ["-L", c, "-n"]
    return ["-C", c, "-s", a, "-j", "ACCEPT"]

# The start: 3000 rules in BIG, two small chains.
with open(rules, "w") as f:
    f.write("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            ":BIG - [0:0]\n:ssh - [0:0]\n:web - [0:0]\n-A FORWARD -j BIG\n")
    for i in range(3000):
        f.write("-A BIG -s 198.19.%d.%d/32 -p tcp -m tcp --dport %d -j DROP\n" % (i >> 8, i & 255, 1 + i))
    f.write("-A web -p tcp -m tcp --dport 80 -j ACCEPT\n-A ssh -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT\n")
shutil.copy(rules, expected)

def rules_of(text):
    return [l for l in text.splitlines() if l.startswith(("-", "*", ":"))]

mismatches = 0
for rnd in range(rounds):
    if rnd == rounds // 2:
        # from here on a small rule set: the rules file is rewritten at every change
        p = start()
        for e in (pf, lambda a: pf_file(expected, a)):
            e(["-F", "BIG"])
        kill9(p)
    p = start()
    mode = rnd % 3  # 0: kill during commands; 1: around the idle compaction; 2: in a SIGHUP
    killer = None
    if mode == 0:
        killer = threading.Timer(random.uniform(0.05, 0.6), kill9, [p])
        killer.start()
    inflight = None
    ncmd = random.randint(20, 60)
    for i in range(ncmd):
        args = command()
        rc, out, err = pf(args)
        # killed while it ran, before it was read, or between two commands (then the next
        # finds no daemon; poll() may not see it yet while the killer thread reaps it)
        gone = rc == 4 and ("lost the connection" in err or
                            ("does not answer" in err and getattr(p, "killed", False)))
        if gone or p.poll() is not None:
            inflight = args
            break
        frc, fout, ferr = pf_file(expected, args)
        same = (rc, out, err.replace("pktfilt", "")) == (frc, fout, ferr.replace("pktfilt", ""))
        if not same:
            mismatches += 1
            print("  daemon %r: %d %r %r\n  file: %d %r %r" % (args, rc, out[:200], err, frc, fout[:200], ferr))
    if killer:
        killer.join()
    if p.poll() is None:
        if mode == 1:
            time.sleep(random.uniform(0.9, 1.3))  # the journal goes into the file after 1 s
        elif mode == 2:
            p.send_signal(signal.SIGHUP)  # writes the journal into the file, reads it again
            time.sleep(random.uniform(0, 0.05))
        kill9(p)
    p = start()
    got = rules_of(pf(["-S"])[1] + "".join(pf(["-t", t, "-S"])[1] for t in ("nat", "mangle", "raw")))
    want = rules_of(pf_file(expected, ["-S"])[1] + "".join(pf_file(expected, ["-t", t, "-S"])[1] for t in ("nat", "mangle", "raw")))
    ok = got == want
    if not ok and inflight:
        alt = tmp + "/alt.v4"
        shutil.copy(expected, alt)
        pf_file(alt, inflight)
        alt_rules = rules_of(pf_file(alt, ["-S"])[1] + "".join(pf_file(alt, ["-t", t, "-S"])[1] for t in ("nat", "mangle", "raw")))
        if got == alt_rules:
            ok = True
            shutil.copy(alt, expected)  # the command in flight was committed
    diff = ""
    if not ok:
        import difflib
        diff = "\n".join(difflib.unified_diff(want, got, "committed", "after restart", lineterm="", n=1))
    check("round %d (%s, %d commands%s): same rules after kill -9 and restart"
          % (rnd, ("kill during commands", "kill around compaction", "kill in SIGHUP")[mode], ncmd,
             ", one in flight" if inflight else ""), ok, diff)
    kill9(p)

check("the daemon and the state file answered every command the same (%d differ)" % mismatches,
      mismatches == 0)

# A record cut short: the journal ends in the middle of the last command (a rule set large
# enough again for the journal to take the changes).
p = start()
with open(tmp + "/big.v4", "w") as f:
    f.write("*filter\n" + "".join("-A BIG -s 198.19.%d.%d/32 -j DROP\n" % (i >> 8, i & 255)
                                  for i in range(2500)) + "COMMIT\n")
r = subprocess.run([build + "/tools/pktfilt-restore", "--noflush", tmp + "/big.v4"], env=env_d)
check("pktfilt-restore --noflush of 2500 rules through the daemon", r.returncode == 0)
pf(["-A", "BIG", "-s", "198.18.250.1", "-j", "ACCEPT"])
before = rules_of(pf(["-S"])[1])
pf(["-A", "BIG", "-s", "198.18.250.2", "-j", "ACCEPT"])
kill9(p)
jpath = rules + ".journal"
data = open(jpath, "rb").read()
size = len(data.rstrip(b"\0"))  # records, then zeros written ahead
check("the journal holds the commands (%d bytes)" % size, size > 0)
with open(jpath, "r+b") as f:  # the last 7 bytes of the last record never reached the disk
    f.seek(size - 7)
    f.write(b"\0" * 7)
p = start()
after = rules_of(pf(["-S"])[1])
check("a record cut short is left out: the rules before it", after == before)
check("and the daemon says so", b"incomplete" in open(tmp + "/daemon.log", "rb").read())
pf(["-A", "BIG", "-s", "198.18.250.3", "-j", "ACCEPT"])
kill9(p)
p = start()
check("the journal goes on after the cut", "-A BIG -s 198.18.250.3/32 -j ACCEPT" in pf(["-S", "BIG"])[1])
p.send_signal(signal.SIGTERM)
p.wait()
check("SIGTERM: the rules file holds everything, the journal is empty",
      "198.18.250.3/32" in open(rules).read() and open(jpath, "rb").read().strip(b"\0") == b"")
print("daemon_journal.sh: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
PY
