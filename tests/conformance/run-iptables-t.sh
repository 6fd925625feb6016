#!/usr/bin/env bash
# Conformance: iptables' own test vectors (../shared/conformance/iptables-t/
# *.t, the format of iptables-test.py), for the extensions pktfilt supports.
#
# .t format: ":C1,C2" selects chains, "*table" the table (default filter),
# "rule;expected;OK|FAIL[;LEGACY|NFT[;result for the other one]]" is a test,
# where expected "=" means the rule itself; "#" lines are comments, "@" and
# "%" lines (external commands) are not run. One test = one rule in one chain:
#   OK   `-t T -A C rule` succeeds and `-t T -S C` lists exactly `-A C expected`
#   FAIL `-t T -A C rule` exits non-zero
# Each test is first run through iptables-legacy (in a private network
# namespace per file). Only the tests iptables-legacy itself passes are then
# required of pktfilt; the others are counted as "not passed by
# iptables-legacy" and skipped.
#
# Speed: every process start is expensive here, so tests run in batches: all
# FAIL tests of a file one by one on empty chains, then all OK tests appended
# to their chains, and one -S per table at the end; a test whose batch result
# is not as expected is run again alone on an empty rule set (pktfilt: a
# fresh state file), and only that result counts. iptables-legacy's results
# are cached in build/conformance-cache/iptables-t/ (keyed by the .t file,
# this script, iptables' version and the kernel release).
#
# usage: tests/conformance/run-iptables-t.sh [-v] [-f] [-j N] [NAME...]
#   -v    list every test, and the tests iptables-legacy does not pass
#   -f    fresh: ignore the cached iptables-legacy results
#   -j N  run N .t files at once (default: number of CPUs)
#   NAME  a .t file name (libxt_tcp, libxt_tcp.t); default: every one in scope
# env: PKTFILT_BIN (default build/tools/pktfilt, relative to the repo root);
#      CI=true turns a SKIP for want of root/iptables-legacy into a failure.
set -u

self=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
here=$(dirname "$self")
repo=$(cd "$here/../.." && pwd)
tdir=$repo/../shared/conformance/iptables-t

# The .t files in scope (the extensions pktfilt implements).
in_scope="iptables libipt_DNAT libipt_LOG libipt_MASQUERADE libipt_REJECT
libipt_SNAT libipt_TTL libipt_icmp libipt_iprange libipt_ttl libipt_connlimit
libipt_conntrack libipt_recent libipt_standard libxt_CHECKSUM libxt_CLASSIFY
libxt_CONNMARK libxt_CT libxt_DSCP libxt_MARK libxt_NFQUEUE libxt_NOTRACK
libxt_REDIRECT libxt_TCPMSS libxt_addrtype libxt_comment libxt_connlimit
libxt_connmark libxt_conntrack libxt_dscp libxt_hashlimit libxt_iprange
libxt_length libxt_limit libxt_mac libxt_mark libxt_multiport libxt_owner
libxt_physdev libxt_pkttype libxt_recent libxt_rpfilter libxt_sctp libxt_set
libxt_standard libxt_state libxt_statistic libxt_string libxt_tcp libxt_tcpmss
libxt_time libxt_tos libxt_u32 libxt_udp"

builtin_chain() { # TABLE CHAIN
	case $1:$2 in
	filter:INPUT | filter:FORWARD | filter:OUTPUT) return 0 ;;
	nat:PREROUTING | nat:INPUT | nat:OUTPUT | nat:POSTROUTING) return 0 ;;
	mangle:PREROUTING | mangle:INPUT | mangle:FORWARD | mangle:OUTPUT | mangle:POSTROUTING) return 0 ;;
	raw:PREROUTING | raw:OUTPUT) return 0 ;;
	security:INPUT | security:FORWARD | security:OUTPUT) return 0 ;;
	esac
	return 1
}

# parse_t FILE: the tests of FILE into the arrays c_lineno c_table c_chain
# c_rule c_expect c_res (OK or FAIL); ncases; nexternal (skipped @/% lines).
parse_t() {
	local file=$1 n=0 line table=filter chains=() ch rest rule expect res variant other
	c_lineno=() c_table=() c_chain=() c_rule=() c_expect=() c_res=()
	ncases=0 nexternal=0
	while IFS= read -r line || [ -n "$line" ]; do
		n=$((n + 1))
		line=${line%$'\r'}
		case $line in
		'' | '#'*) continue ;;
		:*) IFS=, read -r -a chains <<<"${line#:}"; continue ;;
		'*'*) table=${line#\*}; continue ;;
		@* | %*) nexternal=$((nexternal + 1)); continue ;;
		esac
		IFS=';' read -r rule expect res variant other <<<"$line"
		rule=${rule%"${rule##*[![:space:]]}"}
		res=${res%"${res##*[![:space:]]}"}
		if [ "${variant:-}" = NFT ]; then
			# the result given is nft's; legacy's is the next field, if any
			[ -n "${other:-}" ] || continue
			res=${other%%;*}
		fi
		case $res in OK | FAIL) ;; *) continue ;; esac
		[ "$expect" = "=" ] && expect=$rule
		for ch in "${chains[@]}"; do
			c_lineno[ncases]=$n c_table[ncases]=$table c_chain[ncases]=$ch
			c_rule[ncases]=$rule c_expect[ncases]=$expect c_res[ncases]=$res
			ncases=$((ncases + 1))
		done
	done <"$file"
}

# run_batch CMD...: run every test of the parsed file with the command CMD
# (iptables-legacy, or pktfilt with a state), filling rc[] and got[] (the -A
# line the test produced, "" when none could be told). Only the tests with
# want[i]=1 are run. CMD is a function: cmd STATE ARGS...
#   FAIL tests: one by one on an empty rule set; an accepted rule is removed
#   (oracle) or left in a throw-away state (pktfilt).
#   OK tests: appended to their chains in one state, then -S per table.
#   Tests whose outcome is not the expected one are run again alone.
run_batch() {
	local i t c k tables=() seen=" " lines line key
	declare -A made=() nA=() idx=() chainlines=()
	single=()
	for ((i = 0; i < ncases; i++)); do
		[ "${want[i]}" = 1 ] || continue
		[ "${c_res[i]}" = FAIL ] || continue
		t=${c_table[i]} c=${c_chain[i]}
		eval "set -- ${c_rule[i]}" 2>/dev/null || { rc[i]=99; continue; }
		if ! builtin_chain "$t" "$c"; then
			cmd "f$i" -t "$t" -N "$c" >/dev/null 2>&1
		fi
		cmd "f$i" -t "$t" -A "$c" "$@" </dev/null >/dev/null 2>"$w/err.$i"
		rc[i]=$?
		got[i]=""
		if [ "${rc[i]}" = 0 ] || ! builtin_chain "$t" "$c"; then
			cleanup_fail "f$i" "$t" "$c" "$@"
		fi
	done
	for ((i = 0; i < ncases; i++)); do
		[ "${want[i]}" = 1 ] || continue
		[ "${c_res[i]}" = OK ] || continue
		t=${c_table[i]} c=${c_chain[i]}
		eval "set -- ${c_rule[i]}" 2>/dev/null || { rc[i]=99; continue; }
		case $seen in *" $t "*) ;; *) tables+=("$t"); seen="$seen$t " ;; esac
		if ! builtin_chain "$t" "$c" && [ -z "${made[$t:$c]:-}" ]; then
			cmd batch -t "$t" -N "$c" >/dev/null 2>&1
			made[$t:$c]=1
		fi
		cmd batch -t "$t" -A "$c" "$@" </dev/null >/dev/null 2>"$w/err.$i"
		rc[i]=$?
		got[i]=""
		if [ "${rc[i]}" = 0 ]; then
			key=$t:$c
			k=${nA[$key]:-0}
			idx[$key:$k]=$i
			nA[$key]=$((k + 1))
		fi
	done
	# one -S per table; the k-th -A line of a chain belongs to its k-th test
	for t in "${tables[@]}"; do
		cmd batch -t "$t" -S </dev/null >"$w/S.$t" 2>/dev/null
		declare -A cnt=()
		while IFS= read -r line; do
			case $line in -A\ *) ;; *) continue ;; esac
			c=${line#-A }
			c=${c%% *}
			k=${cnt[$c]:-0}
			cnt[$c]=$((k + 1))
			chainlines[$t:$c:$k]=$line
		done <"$w/S.$t"
		for key in "${!nA[@]}"; do
			[ "${key%%:*}" = "$t" ] || continue
			c=${key#*:}
			if [ "${cnt[$c]:-0}" = "${nA[$key]}" ]; then
				for ((k = 0; k < ${nA[$key]}; k++)); do
					got[${idx[$key:$k]}]=${chainlines[$t:$c:$k]}
				done
			fi
		done
		unset cnt
	done
	batch_done
	# run alone whatever did not come out as expected
	for ((i = 0; i < ncases; i++)); do
		[ "${want[i]}" = 1 ] || continue
		[ "${c_res[i]}" = OK ] || continue
		[ "${rc[i]}" = 0 ] && [ "${got[i]}" = "-A ${c_chain[i]} ${c_expect[i]}" ] && continue
		[ "${rc[i]}" = 99 ] && continue
		single+=("$i")
		t=${c_table[i]} c=${c_chain[i]}
		eval "set -- ${c_rule[i]}"
		if ! builtin_chain "$t" "$c"; then
			cmd "s$i" -t "$t" -N "$c" >/dev/null 2>&1
		fi
		cmd "s$i" -t "$t" -A "$c" "$@" </dev/null >/dev/null 2>"$w/err.$i"
		rc[i]=$?
		cmd "s$i" -t "$t" -S "$c" </dev/null >"$w/S.s$i" 2>/dev/null
		lines=""
		while IFS= read -r line; do
			case $line in -A\ *) lines=${lines:+$lines$'\n'}$line ;; esac
		done <"$w/S.s$i"
		got[i]=$lines
		single_done "s$i" "$t" "$c"
	done
}

# verdict I: 0 when test I came out as its .t line says.
verdict() {
	local i=$1
	if [ "${c_res[i]}" = FAIL ]; then
		[ "${rc[i]}" != 0 ]
	else
		[ "${rc[i]}" = 0 ] && [ "${got[i]}" = "-A ${c_chain[i]} ${c_expect[i]}" ]
	fi
}

# ------------------------------------------------ worker: iptables-legacy
# Runs inside the file's namespace; writes "I 0|1 RC" per test to OUT.
if [ "${1:-}" = --oracle-worker ]; then
	file=$2 out=$3 w=$4
	export XTABLES_LOCKFILE=$w/xtables.lock
	cmd() { shift; iptables-legacy "$@"; }
	cleanup_fail() { # STATE TABLE CHAIN RULE...: remove an accepted FAIL test
		local t=$2 c=$3
		shift 3
		iptables-legacy -t "$t" -D "$c" "$@" >/dev/null 2>&1
		builtin_chain "$t" "$c" || iptables-legacy -t "$t" -F "$c" >/dev/null 2>&1
		builtin_chain "$t" "$c" || iptables-legacy -t "$t" -X "$c" >/dev/null 2>&1
	}
	batch_done() {
		local t
		for t in filter nat mangle raw security; do
			[ -f "$w/S.$t" ] || continue
			iptables-legacy -t "$t" -F >/dev/null 2>&1
			iptables-legacy -t "$t" -X >/dev/null 2>&1
		done
	}
	single_done() {
		iptables-legacy -t "$2" -F "$3" >/dev/null 2>&1
		builtin_chain "$2" "$3" || iptables-legacy -t "$2" -X "$3" >/dev/null 2>&1
	}
	parse_t "$file"
	want=() rc=() got=()
	for ((i = 0; i < ncases; i++)); do want[i]=1; done
	run_batch
	{
		for ((i = 0; i < ncases; i++)); do
			if verdict "$i"; then v=1; else v=0; fi
			why=${got[i]//$'\n'/ | }
			if [ "${rc[i]}" != 0 ]; then
				first=""
				[ -f "$w/err.$i" ] && read -r first <"$w/err.$i"
				why="exit ${rc[i]}: $first"
			fi
			echo "$i $v ${rc[i]} $why"
		done
	} >"$out.tmp" && mv "$out.tmp" "$out"
	exit 0
fi

# ------------------------------------------------ worker: pktfilt
if [ "${1:-}" = --pktfilt-worker ]; then
	file=$2 oracle=$3 w=$4 pktfilt=$5 verbose=$6
	name=$(basename "$file")
	cmd() { local st=$1; shift; PKTFILT_STATE=$w/state.$st "$pktfilt" "$@"; }
	cleanup_fail() { :; }
	batch_done() { :; }
	single_done() { :; }
	parse_t "$file"
	want=() rc=() got=() skipped=0
	while read -r i v orc why; do
		want[i]=$v
		if [ "$v" = 0 ]; then
			skipped=$((skipped + 1))
			[ "$verbose" = 1 ] && echo "skip $name:${c_lineno[i]} (${c_table[i]} ${c_chain[i]}) ${c_rule[i]}  [iptables-legacy: ${why:-exit $orc}]"
		fi
	done <"$oracle"
	run_batch
	pass=0 fail=0
	for ((i = 0; i < ncases; i++)); do
		[ "${want[i]:-0}" = 1 ] || continue
		where="$name:${c_lineno[i]} (${c_table[i]} ${c_chain[i]}) ${c_rule[i]}"
		if verdict "$i"; then
			pass=$((pass + 1))
			[ "$verbose" = 1 ] && echo "ok   $where"
			continue
		fi
		fail=$((fail + 1))
		echo "FAIL $where"
		if [ "${c_res[i]}" = FAIL ]; then
			echo "  expected: a non-zero exit status; pktfilt exited 0"
		else
			echo "  expected: -A ${c_chain[i]} ${c_expect[i]}"
			if [ "${rc[i]}" != 0 ]; then
				first=""
				[ -f "$w/err.$i" ] && read -r first <"$w/err.$i"
				echo "  pktfilt:  exit status ${rc[i]}: $first"
			else
				echo "  pktfilt:  ${got[i]:-(no -A line)}"
			fi
		fi
	done
	extra=""
	[ "$nexternal" -gt 0 ] && extra=", $nexternal external-command lines not run"
	echo "$name: $pass passed, $fail failed ($skipped not passed by iptables-legacy, skipped$extra)"
	echo "$pass $fail $skipped" >"$w/count"
	exit 0
fi

# ------------------------------------------------------------------- main
verbose=0
fresh=0
jobs=$(nproc 2>/dev/null || echo 1)
names=()
while [ $# -gt 0 ]; do
	case $1 in
	-v) verbose=1 ;;
	-f) fresh=1 ;;
	-j) shift; jobs=${1:-1} ;;
	-j*) jobs=${1#-j} ;;
	-h | --help) sed -n '2,/^set -u/p' "$self" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) echo "run-iptables-t.sh: unknown option $1" >&2; exit 2 ;;
	*) names+=("${1%.t}") ;;
	esac
	shift
done
case $jobs in '' | *[!0-9]* | 0) jobs=1 ;; esac

if [ ! -d "$tdir" ]; then
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
for c in iptables-legacy ip; do
	command -v "$c" >/dev/null 2>&1 || cannot_run "$c not found"
done
ip netns list >/dev/null 2>&1 || cannot_run "ip netns does not work"

pktfilt=${PKTFILT_BIN:-build/tools/pktfilt}
case $pktfilt in /*) ;; *) pktfilt=$repo/$pktfilt ;; esac
if [ ! -x "$pktfilt" ]; then
	echo "ERROR: $pktfilt not found or not executable (build pktfilt first, or set PKTFILT_BIN)"
	exit 2
fi

[ ${#names[@]} -gt 0 ] || read -r -d '' -a names <<<"$in_scope"
files=()
for n in "${names[@]}"; do
	case " ${in_scope//$'\n'/ } " in *" $n "*) ;; *) echo "run-iptables-t.sh: $n is not in scope" >&2; exit 2 ;; esac
	if [ ! -f "$tdir/$n.t" ]; then
		echo "NOTE: $n.t not present in $tdir"
		continue
	fi
	files+=("$tdir/$n.t")
done

tmp=$(mktemp -d /tmp/pf-ipt-t.XXXXXX)
nsprefix=pf-ipt-t-$$-
kill_tree() { # PID: a process and all its descendants
	local c
	for c in $(pgrep -P "$1" 2>/dev/null); do kill_tree "$c"; done
	kill "$1" 2>/dev/null
}
interrupted=0
cleanup() {
	local ns c
	trap - EXIT
	if [ $interrupted = 1 ]; then
		for c in $(pgrep -P $$ 2>/dev/null); do kill_tree "$c"; done
		wait 2>/dev/null
	fi
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		case $ns in "$nsprefix"*) ip netns del "$ns" 2>/dev/null ;; esac
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'interrupted=1; exit 130' INT TERM HUP

# Load the table modules once, and check that iptables-legacy works.
probe=${nsprefix}0
ip netns add "$probe" 2>"$tmp/err" || cannot_run "ip netns add: $(head -n1 "$tmp/err")"
if ! ip netns exec "$probe" sh -c 'for t in filter nat mangle raw security; do
	XTABLES_LOCKFILE=/dev/null iptables-legacy -t $t -S >/dev/null || exit 1; done' 2>"$tmp/err"; then
	cannot_run "iptables-legacy: $(head -n1 "$tmp/err")"
fi
ip netns del "$probe"

env_key="$(iptables-legacy --version 2>&1) $(uname -r) $(sha256sum <"$self")"
cache_root=$repo/build/conformance-cache/iptables-t
mkdir -p "$cache_root"

# Phase 1: iptables-legacy, for the files not cached yet.
oracles=()
running=0
idx=0
for file in "${files[@]}"; do
	idx=$((idx + 1))
	key=$( { echo "$env_key"; cat "$file"; } | sha256sum | cut -c1-32)
	oracle=$cache_root/$(basename "$file" .t)-$key
	oracles+=("$oracle")
	[ $fresh = 0 ] && [ -f "$oracle" ] && continue
	ns=$nsprefix$idx
	mkdir -p "$tmp/o$idx"
	if ! ip netns add "$ns" 2>"$tmp/err"; then
		echo "ERROR: ip netns add $ns: $(cat "$tmp/err")"
		exit 2
	fi
	(
		ip netns exec "$ns" bash "$self" --oracle-worker "$file" "$oracle" "$tmp/o$idx"
		ip netns del "$ns"
	) &
	running=$((running + 1))
	if [ $running -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
done
wait

# Phase 2: pktfilt.
running=0
idx=0
for file in "${files[@]}"; do
	idx=$((idx + 1))
	wdir=$tmp/p$idx
	mkdir -p "$wdir"
	pns=${nsprefix}p$idx
	if ! ip netns add "$pns" 2>"$tmp/err"; then
		echo "ERROR: ip netns add $pns: $(cat "$tmp/err")"
		exit 2
	fi
	(
		if [ -f "${oracles[$((idx - 1))]}" ]; then
			# in a namespace of its own, to see what iptables-legacy sees
			ip netns exec "$pns" bash "$self" --pktfilt-worker "$file" "${oracles[$((idx - 1))]}" "$wdir" "$pktfilt" "$verbose" >"$wdir/report" 2>&1
			ip netns del "$pns"
		else
			ip netns del "$pns"
			echo "ERROR: $(basename "$file"): iptables-legacy produced no result" >"$wdir/report"
		fi
	) &
	running=$((running + 1))
	if [ $running -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
done
wait

total_pass=0 total_fail=0 total_skip=0
idx=0
for file in "${files[@]}"; do
	idx=$((idx + 1))
	wdir=$tmp/p$idx
	cat "$wdir/report"
	if [ -f "$wdir/count" ]; then
		read -r p f s <"$wdir/count"
	else
		p=0 f=1 s=0
	fi
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	total_skip=$((total_skip + s))
done
echo "($total_skip tests not passed by iptables-legacy itself were skipped)"
echo "$total_pass passed, $total_fail failed"
[ $total_fail -eq 0 ]
