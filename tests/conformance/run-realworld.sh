#!/usr/bin/env bash
# Conformance: real-world rule sets (../shared/conformance/real-world/*.rules).
# For each file: restore it into iptables-legacy (a fresh network namespace)
# and into pktfilt (a fresh state file), then save; compare the restore's
# exit status and stderr (pktfilt's wording normalised) and the save output
# (# lines removed): one test per file.
# For each file iptables-legacy refuses, one more test: restore a good file
# first, then the refused one; the save output must still be what
# iptables-legacy shows after the same two steps (which is the good file's
# state when the error comes before any COMMIT).
#
# usage: tests/conformance/run-realworld.sh [-v] [FILE...]
#   -v    show the differences in full (default: the first 40 lines)
# env: PKTFILT_BIN (default build/tools/pktfilt, relative to the repo root);
#      pktfilt-restore and pktfilt-save are looked for next to it.
#      CI=true turns a SKIP for want of root/iptables-legacy into a failure.
set -u

self=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
here=$(dirname "$self")
repo=$(cd "$here/../.." && pwd)
rwdir=$repo/../shared/conformance/real-world

verbose=0
files=()
while [ $# -gt 0 ]; do
	case $1 in
	-v) verbose=1 ;;
	-h | --help) sed -n '2,/^set -u/p' "$self" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) echo "run-realworld.sh: unknown option $1" >&2; exit 2 ;;
	*) files+=("$1") ;;
	esac
	shift
done

if [ ! -d "$rwdir" ]; then
	echo "SKIP: ../shared/conformance not present"
	exit 0
fi
cannot_run() {
	if [ "${CI:-}" = true ]; then
		echo "FAIL: conformance tests need root and iptables-legacy ($1), and CI=true"
		exit 1
	fi
	echo "SKIP: conformance tests need root and iptables-legacy ($1)"
	exit 0
}
[ "$(id -u)" = 0 ] || cannot_run "not root"
for c in iptables-legacy iptables-legacy-save iptables-legacy-restore ip; do
	command -v "$c" >/dev/null 2>&1 || cannot_run "$c not found"
done
ip netns list >/dev/null 2>&1 || cannot_run "ip netns does not work"

pktfilt=${PKTFILT_BIN:-build/tools/pktfilt}
case $pktfilt in /*) ;; *) pktfilt=$repo/$pktfilt ;; esac
bindir=$(dirname "$pktfilt")
for b in pktfilt-restore pktfilt-save; do
	if [ ! -x "$bindir/$b" ]; then
		echo "ERROR: $bindir/$b not found or not executable (build pktfilt first, or set PKTFILT_BIN)"
		exit 2
	fi
done

if [ ${#files[@]} -eq 0 ]; then
	for f in "$rwdir"/*.rules; do files+=("$f"); done
else
	for i in "${!files[@]}"; do
		f=${files[$i]}
		[ -f "$f" ] || f=$rwdir/$f
		[ -f "$f" ] || f=$f.rules
		[ -f "$f" ] || { echo "run-realworld.sh: no file ${files[$i]}" >&2; exit 2; }
		files[$i]=$f
	done
fi

tmp=$(mktemp -d /tmp/pf-rw.XXXXXX)
nsprefix=pf-rw-$$-
cleanup() {
	local ns
	trap - EXIT
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		case $ns in "$nsprefix"*) ip netns del "$ns" 2>/dev/null ;; esac
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
export XTABLES_LOCKFILE=$tmp/xtables.lock

nsn=0
newns() { # sets ns to a fresh namespace
	nsn=$((nsn + 1))
	ns=$nsprefix$nsn
	ip netns add "$ns" 2>"$tmp/err" || cannot_run "ip netns add: $(head -n1 "$tmp/err")"
}

# Load the table modules once, and check that iptables-legacy works.
newns
if ! ip netns exec "$ns" sh -c 'for t in filter nat mangle raw security; do
	iptables-legacy -t $t -S >/dev/null || exit 1; done' 2>"$tmp/err"; then
	cannot_run "iptables-legacy: $(head -n1 "$tmp/err")"
fi
ip netns del "$ns"

try_p="Try \`pktfilt -h' or 'pktfilt --help' for more information."
try_i="Try \`iptables -h' or 'iptables --help' for more information."
normalise() { # FILE: pktfilt's wording -> iptables' wording, in place
	local _ns="" _re='^(.*)pktfilt(-save|-restore)? v[^ ]* \(legacy\)(.*)$'
	IFS= read -r -d '' _ns <"$1"
	case $_ns in *pktfilt*) ;; *) return 0 ;; esac
	_ns=${_ns//"$try_p"/"$try_i"}
	while [[ $_ns =~ $_re ]]; do
		_ns=${BASH_REMATCH[1]}iptables${BASH_REMATCH[2]}' v1.8.9 (legacy)'${BASH_REMATCH[3]}
	done
	_ns=${_ns//pktfilt-restore/iptables-restore}
	_ns=${_ns//pktfilt-save/iptables-save}
	# libiptc's errors: "iptables: <strerror>." (the program name alone)
	[[ $_ns == "pktfilt: "* ]] && _ns="iptables: ${_ns#pktfilt: }"
	_ns=${_ns//$'\n'"pktfilt: "/$'\n'"iptables: "}
	printf '%s' "$_ns" >"$1"
}

# oracle_restore OUT FILE...: restore each FILE in turn into a fresh
# namespace; OUT.rc/.err are the last restore's, OUT.save the final save.
oracle_restore() {
	local out=$1 f
	shift
	newns
	for f in "$@"; do
		ip netns exec "$ns" iptables-legacy-restore <"$f" >"$out.out" 2>"$out.err"
		echo $? >"$out.rc"
	done
	ip netns exec "$ns" iptables-legacy-save 2>"$out.save.err" | grep -v '^#' >"$out.save"
	ip netns del "$ns"
}
pktfilt_restore() {
	local out=$1 f
	shift
	rm -f "$out.state"
	for f in "$@"; do
		PKTFILT_STATE=$out.state "$bindir/pktfilt-restore" <"$f" >"$out.out" 2>"$out.err"
		echo $? >"$out.rc"
	done
	normalise "$out.err"
	PKTFILT_STATE=$out.state "$bindir/pktfilt-save" 2>"$out.save.err" | grep -v '^#' >"$out.save"
	normalise "$out.save.err"
}

show() { # LABEL FILE-ORACLE FILE-PKTFILT
	cmp -s "$2" "$3" && return 0
	echo "  $1:"
	if [ $verbose = 1 ]; then
		diff -u --label iptables-legacy --label pktfilt "$2" "$3" | sed 's/^/    /'
	else
		diff -u --label iptables-legacy --label pktfilt "$2" "$3" | sed 's/^/    /' | head -n 40
	fi
}

# compare NAME O P: one test; 0 when pktfilt did what iptables-legacy did.
compare() {
	local name=$1 o=$2 p=$3 orc prc
	read -r orc <"$o.rc"
	read -r prc <"$p.rc"
	if [ "$orc" = "$prc" ] && cmp -s "$o.err" "$p.err" && cmp -s "$o.out" "$p.out" &&
		cmp -s "$o.save" "$p.save" && cmp -s "$o.save.err" "$p.save.err"; then
		echo "ok   $name"
		pass=$((pass + 1))
		return 0
	fi
	echo "FAIL $name"
	[ "$orc" = "$prc" ] || echo "  restore exit status: iptables-legacy $orc, pktfilt $prc"
	show "restore stdout" "$o.out" "$p.out"
	show "restore stderr" "$o.err" "$p.err"
	show "save output (# lines removed)" "$o.save" "$p.save"
	show "save stderr" "$o.save.err" "$p.save.err"
	fail=$((fail + 1))
	return 1
}

pass=0
fail=0
good=""
refused=()
n=0
for f in "${files[@]}"; do
	n=$((n + 1))
	name=$(basename "$f")
	oracle_restore "$tmp/o$n" "$f"
	pktfilt_restore "$tmp/p$n" "$f"
	compare "$name" "$tmp/o$n" "$tmp/p$n"
	read -r orc <"$tmp/o$n.rc"
	if [ "$orc" = 0 ]; then
		[ -n "$good" ] || good=$f
	else
		refused+=("$f")
	fi
done

# A refused restore must leave the rule set as it was.
for f in "${refused[@]}"; do
	if [ -z "$good" ]; then
		echo "NOTE: no file restores without error; the atomicity test is not run"
		break
	fi
	n=$((n + 1))
	name="$(basename "$f") after $(basename "$good")"
	oracle_restore "$tmp/o$n" "$good" "$f"
	pktfilt_restore "$tmp/p$n" "$good" "$f"
	# what the good file alone gives, to tell whether the refusal changed anything
	oracle_restore "$tmp/g$n" "$good"
	if ! cmp -s "$tmp/o$n.save" "$tmp/g$n.save"; then
		echo "NOTE: iptables-legacy itself changed the rule set when refusing $(basename "$f") (an error after a COMMIT)"
	fi
	compare "$name" "$tmp/o$n" "$tmp/p$n"
done

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
