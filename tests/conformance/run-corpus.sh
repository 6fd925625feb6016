#!/usr/bin/env bash
# Conformance: run the command corpus through iptables-legacy (in a private
# network namespace per corpus file) and through pktfilt (with a private
# state file per corpus file, in a namespace of its own), and compare, line
# by line: stdout, stderr
# (pktfilt's wording normalised) and exit status of the command, then the
# whole save output (# lines removed) and the -S output of the line's table.
# One corpus line = one test.
#
# usage: tests/conformance/run-corpus.sh [-k] [-v] [-f] [-j N] [CORPUS-FILE...]
#   -k    keep going: report every corpus file (default: stop after the
#         first file that has a failure)
#   -v    verbose: print every line, and every difference in full (default:
#         the first difference of a file in full, later ones on one line)
#   -f    fresh: ignore the cached iptables-legacy results
#   -j N  run N corpus files at once (default: number of CPUs)
#   --coverage  only check that the corpus uses every command, table, match
#         and target listed in coverage_check (needs neither root nor pktfilt)
#   CORPUS-FILE: a path, or a name in tests/conformance/corpus (with or
#   without .txt). Default: every corpus file.
# env: PKTFILT_BIN  pktfilt binary (default build/tools/pktfilt, relative to
#                   the repo root); pktfilt-save is looked for next to it.
#      CI=true      a run that cannot happen (not root, no iptables-legacy)
#                   fails instead of printing SKIP.
#      PF_CONF_TIMEOUT  seconds allowed per corpus file (default 600).
# iptables-legacy's results are cached in build/conformance-cache/, keyed by
# the corpus file, this script, iptables' version, the kernel release and
# the files that name services, protocols and hosts.
set -u

self=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
here=$(dirname "$self")
repo=$(cd "$here/../.." && pwd)
corpus_dir=$here/corpus

# ---------------------------------------------------------------- helpers

# line_table ARGS...: set tbl to the table a command line works on (filter
# unless -t/--table says otherwise).
line_table() {
	local t=filter prev="" a
	for a in "$@"; do
		case $prev in -t | --table) t=$a ;; esac
		case $a in --table=*) t=${a#--table=} ;; -t?*) t=${a#-t} ;; esac
		prev=$a
	done
	case $t in filter | nat | mangle | raw | security) tbl=$t ;; *) tbl=filter ;; esac
}

# for_each_line FILE FUNC: call FUNC LINENO LINE for every command line.
for_each_line() {
	local file=$1 fn=$2 n=0 line
	while IFS= read -r line || [ -n "$line" ]; do
		n=$((n + 1))
		line=${line#"${line%%[![:space:]]*}"}
		line=${line%"${line##*[![:space:]]}"}
		case $line in '' | '#'*) continue ;; esac
		"$fn" "$n" "$line"
	done <"$file"
}

# slurp VAR FILE: the file's bytes into VAR, without forking.
slurp() {
	IFS= read -r -d '' "$1" <"$2"
	return 0
}

# slurp_save VAR FILE: the file's bytes into VAR, less the lines that start
# with '#' (bash's own pattern substitution is far too slow for this).
slurp_save() {
	local _l _o=""
	while IFS= read -r _l; do
		case $_l in '#'*) ;; *) _o+=$_l$'\n' ;; esac
	done <"$2"
	case $_l in '' | '#'*) ;; *) _o+=$_l ;; esac
	printf -v "$1" '%s' "$_o"
}

# normalise VAR: pktfilt's wording -> iptables' wording (and nothing else).
try_p="Try \`pktfilt -h' or 'pktfilt --help' for more information."
try_i="Try \`iptables -h' or 'iptables --help' for more information."
normalise() {
	local _ns=${!1} _re='^(.*)pktfilt(-save|-restore)? v[^ ]* \(legacy\)(.*)$'
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
	printf -v "$1" '%s' "$_ns"
}

# ------------------------------------------------ worker: iptables-legacy
# Runs inside the corpus file's namespace: every line, then save and -S;
# results go to files in OUT (LINENO.o/.e/.s/.se/.S/.Se/.rc).
oracle_line() {
	local n=$1 line=$2 t orc osrc oSrc tbl
	eval "set -- $line" 2>/dev/null || { echo "99 99 99 filter" >"$out/$n.rc"; return; }
	line_table "$@"
	t=$tbl
	iptables-legacy "$@" </dev/null >"$out/$n.o" 2>"$out/$n.e"
	orc=$?
	iptables-legacy-save </dev/null >"$out/$n.s" 2>"$out/$n.se"
	osrc=$?
	iptables-legacy -t "$t" -S </dev/null >"$out/$n.S" 2>"$out/$n.Se"
	oSrc=$?
	echo "$orc $osrc $oSrc $t" >"$out/$n.rc"
}

if [ "${1:-}" = --oracle-worker ]; then
	file=$2 out=$3
	export XTABLES_LOCKFILE=$out/xtables.lock
	status_only=0
	while IFS= read -r d; do
		if ! command -v ipset >/dev/null 2>&1 ||
			! eval "ipset ${d#\#@ ipset }" >/dev/null 2>&1; then
			status_only=1
		fi
	done < <(grep '^#@ ipset ' "$file")
	[ $status_only = 1 ] && : >"$out/status-only"
	for_each_line "$file" oracle_line
	rm -f "$out/xtables.lock"
	: >"$out/complete"
	exit 0
fi

# ------------------------------------------------ worker: pktfilt + compare
# Runs pktfilt on every line of FILE, compares with the oracle results in
# ODIR, writes its report to REPORT and "PASSED FAILED" to COUNT.
show_diff() { # LABEL ORACLE-TEXT PKTFILT-TEXT
	[ "$2" == "$3" ] && return 0
	printf '%s' "$2" >"$w/a"
	printf '%s' "$3" >"$w/b"
	echo "  $1:"
	diff -u --label iptables-legacy --label pktfilt "$w/a" "$w/b" | sed 's/^/    /'
}

check_line() {
	local n=$1 line=$2 orc osrc oSrc t prc psrc pSrc what="" detail
	local o e s se S Se po pe ps pse pS pSe
	fnum=$((fnum + 1))
	if [ ! -f "$odir/$n.rc" ]; then
		echo "ERROR $name:$n: no iptables-legacy result for this line (stale cache? run with -f)"
		ffail=$((ffail + 1))
		return
	fi
	read -r orc osrc oSrc t <"$odir/$n.rc"
	if [ "$orc" = 99 ] && [ "$osrc" = 99 ]; then
		echo "ERROR $name:$n: the shell cannot parse this line: $line"
		ffail=$((ffail + 1))
		return
	fi
	eval "set -- $line"
	PKTFILT_STATE=$st "$pktfilt" "$@" </dev/null >"$w/p.o" 2>"$w/p.e"
	prc=$?
	[ "$orc" = "$prc" ] || what="$what exit-status"
	if [ $status_only = 0 ]; then
		PKTFILT_STATE=$st "$pktfilt_save" </dev/null >"$w/p.s" 2>"$w/p.se"
		psrc=$?
		PKTFILT_STATE=$st "$pktfilt" -t "$t" -S </dev/null >"$w/p.S" 2>"$w/p.Se"
		pSrc=$?
		slurp o "$odir/$n.o"; slurp e "$odir/$n.e"
		slurp_save s "$odir/$n.s"; slurp se "$odir/$n.se"
		slurp S "$odir/$n.S"; slurp Se "$odir/$n.Se"
		slurp po "$w/p.o"; slurp pe "$w/p.e"
		slurp_save ps "$w/p.s"; slurp pse "$w/p.se"
		slurp pS "$w/p.S"; slurp pSe "$w/p.Se"
		normalise pe; normalise pse; normalise pSe
		[ "$o" == "$po" ] || what="$what stdout"
		[ "$e" == "$pe" ] || what="$what stderr"
		[ "$osrc" = "$psrc" ] && [ "$s" == "$ps" ] && [ "$se" == "$pse" ] || what="$what save"
		[ "$oSrc" = "$pSrc" ] && [ "$S" == "$pS" ] && [ "$Se" == "$pSe" ] || what="$what -S"
	fi
	if [ -z "$what" ]; then
		fpass=$((fpass + 1))
		[ $verbose = 1 ] && echo "ok   $name:$n: $line"
		return
	fi
	ffail=$((ffail + 1))
	if [ $ffail -gt 1 ] && [ $verbose = 0 ]; then
		echo "FAIL $name:$n: $line  (differs:$what)"
		return
	fi
	echo "FAIL $name:$n: $line"
	echo "  differs:$what"
	[ "$orc" = "$prc" ] || echo "  exit status: iptables-legacy $orc, pktfilt $prc"
	[ $status_only = 1 ] && return
	show_diff "stdout" "$o" "$po"
	show_diff "stderr" "$e" "$pe"
	[ "$osrc" = "$psrc" ] || echo "  save exit status: iptables-legacy $osrc, pktfilt $psrc"
	show_diff "save output (# lines removed)" "$s" "$ps"
	show_diff "save stderr" "$se" "$pse"
	[ "$oSrc" = "$pSrc" ] || echo "  -t $t -S exit status: iptables-legacy $oSrc, pktfilt $pSrc"
	show_diff "-t $t -S" "$S" "$pS"
	show_diff "-t $t -S stderr" "$Se" "$pSe"
}

if [ "${1:-}" = --pktfilt-worker ]; then
	file=$2 name=$3 odir=$4 w=$5 pktfilt=$6 pktfilt_save=$7 verbose=$8
	st=$w/state
	rm -f "$st"
	status_only=0
	if [ -f "$odir/status-only" ]; then
		status_only=1
		echo "NOTE: $name: ipsets could not be created for iptables-legacy; comparing exit status only"
	else
		# the same ipsets in pktfilt's namespace as in iptables-legacy's
		while IFS= read -r d; do
			eval "ipset ${d#\#@ ipset }" >/dev/null 2>&1
		done < <(grep '^#@ ipset ' "$file")
	fi
	fpass=0 ffail=0 fnum=0
	for_each_line "$file" check_line
	echo "$name: $fpass passed, $ffail failed"
	echo "$fpass $ffail" >"$w/count"
	exit 0
fi

# ------------------------------------------------------------------- main
# What the corpus must use at least once: commands, options, tables, every
# match and target pktfilt implements. Prints what is missing; 0 if nothing.
coverage_check() {
	local text="" line f tok missing=()
	for f in "$corpus_dir"/*.txt; do
		while IFS= read -r line || [ -n "$line" ]; do
			case $line in '' | '#'*) continue ;; esac
			text+=" $line "$'\n'
		done <"$f"
	done
	for tok in -A -C -D -I -R -L -S -F -Z -N -X -P -E -n -v -x --line-numbers -c \
		"-t raw" "-t mangle" "-t nat" "-t filter" "-t security" -g "!" \
		"-j ACCEPT" "-j DROP" "-j RETURN" "-j REJECT" "-j LOG" "-j MARK" \
		"-j CONNMARK" "-j NFQUEUE" "-j DNAT" "-j SNAT" "-j MASQUERADE" \
		"-j REDIRECT" "-j CT" "-j NOTRACK" "-j TCPMSS" "-j TTL" "-j DSCP" \
		"-j CLASSIFY" "-j CHECKSUM" \
		"-p tcp" "-p udp" "-p sctp" "-p icmp" "-m tcp" "-m udp" "-m sctp" "-m icmp" \
		"-m multiport" "-m iprange" "-m conntrack" "-m state" "-m mark" \
		"-m connmark" "-m comment" "-m limit" "-m hashlimit" "-m connlimit" \
		"-m mac" "-m length" "-m ttl" "-m tos" "-m dscp" "-m addrtype" \
		"-m pkttype" "-m owner" "-m physdev" "-m set" "-m recent" \
		"-m statistic" "-m string" "-m tcpmss" "-m time" "-m rpfilter" "-m u32"; do
		case $text in *" $tok "*) ;; *) missing+=("$tok") ;; esac
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "FAIL corpus coverage: never used: ${missing[*]}"
		return 1
	fi
	echo "ok   corpus coverage: every command, table, match and target in the list is used"
	return 0
}

if [ "${1:-}" = --coverage ]; then
	coverage_check
	exit
fi

keep_going=0
verbose=0
fresh=0
jobs=$(nproc 2>/dev/null || echo 1)
files=()
while [ $# -gt 0 ]; do
	case $1 in
	-k) keep_going=1 ;;
	-v) verbose=1 ;;
	-f) fresh=1 ;;
	-j) shift; jobs=${1:-1} ;;
	-j*) jobs=${1#-j} ;;
	-h | --help)
		sed -n '2,/^set -u/p' "$self" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	--) shift; files+=("$@"); break ;;
	-*) echo "run-corpus.sh: unknown option $1" >&2; exit 2 ;;
	*) files+=("$1") ;;
	esac
	shift
done
case $jobs in '' | *[!0-9]* | 0) jobs=1 ;; esac

cannot_run() {
	if [ "${CI:-}" = true ]; then
		echo "FAIL: conformance tests need root and iptables-legacy ($1), and CI=true"
		exit 1
	fi
	echo "SKIP: conformance tests need root and iptables-legacy ($1)"
	exit 0
}

[ "$(id -u)" = 0 ] || cannot_run "not root"
for c in iptables-legacy iptables-legacy-save ip; do
	command -v "$c" >/dev/null 2>&1 || cannot_run "$c not found"
done
ip netns list >/dev/null 2>&1 || cannot_run "ip netns does not work"

pktfilt=${PKTFILT_BIN:-build/tools/pktfilt}
case $pktfilt in /*) ;; *) pktfilt=$repo/$pktfilt ;; esac
pktfilt_save=$(dirname "$pktfilt")/pktfilt-save
for b in "$pktfilt" "$pktfilt_save"; do
	if [ ! -x "$b" ]; then
		echo "ERROR: $b not found or not executable (build pktfilt first, or set PKTFILT_BIN)"
		exit 2
	fi
done

all_files=0
if [ ${#files[@]} -eq 0 ]; then
	all_files=1
	for f in "$corpus_dir"/*.txt; do files+=("$f"); done
fi
resolved=()
for f in "${files[@]}"; do
	if [ -f "$f" ]; then resolved+=("$(cd "$(dirname "$f")" && pwd)/$(basename "$f")")
	elif [ -f "$corpus_dir/$f" ]; then resolved+=("$corpus_dir/$f")
	elif [ -f "$corpus_dir/$f.txt" ]; then resolved+=("$corpus_dir/$f.txt")
	else echo "run-corpus.sh: no corpus file $f" >&2; exit 2
	fi
done

tmp=$(mktemp -d /tmp/pf-conf.XXXXXX)
nsprefix=pf-conf-$$-
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

# Load the table modules once (in a throw-away namespace), and check that
# iptables-legacy works at all.
probe=${nsprefix}0
ip netns add "$probe" 2>"$tmp/err" || cannot_run "ip netns add: $(head -n1 "$tmp/err")"
if ! ip netns exec "$probe" sh -c 'for t in filter nat mangle raw security; do
	XTABLES_LOCKFILE=/dev/null iptables-legacy -t $t -S >/dev/null || exit 1; done' 2>"$tmp/err"; then
	cannot_run "iptables-legacy: $(head -n1 "$tmp/err")"
fi
ip netns del "$probe"

# Cache key common to every file.
have_ipset=0
command -v ipset >/dev/null 2>&1 && have_ipset=1
env_key="$(iptables-legacy --version 2>&1) $(uname -r) ipset=$have_ipset"
env_key="$env_key $(cat "$self" /etc/services /etc/protocols /etc/hosts 2>/dev/null | sha256sum)"
cache_root=$repo/build/conformance-cache/corpus

# Phase 1: iptables-legacy, for the files not cached yet (in parallel).
odirs=()
running=0
idx=0
for file in "${resolved[@]}"; do
	idx=$((idx + 1))
	key=$( { echo "$env_key"; cat "$file"; } | sha256sum | cut -c1-32)
	odir=$cache_root/$(basename "$file" .txt)-$key
	odirs+=("$odir")
	if [ $fresh = 0 ] && [ -f "$odir/complete" ]; then
		continue
	fi
	rm -rf "$odir"
	mkdir -p "$odir"
	ns=$nsprefix$idx
	if ! ip netns add "$ns" 2>"$tmp/err"; then
		echo "ERROR: ip netns add $ns: $(cat "$tmp/err")"
		exit 2
	fi
	(
		ip netns exec "$ns" bash "$self" --oracle-worker "$file" "$odir"
		ip netns del "$ns"
	) &
	running=$((running + 1))
	if [ $running -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
done
wait

# Phase 2: pktfilt and the comparison (in parallel), reports in order.
timeout_s=${PF_CONF_TIMEOUT:-600}
timeout_cmd=()
command -v timeout >/dev/null 2>&1 && timeout_cmd=(timeout "$timeout_s")
running=0
idx=0
for file in "${resolved[@]}"; do
	idx=$((idx + 1))
	wdir=$tmp/w$idx
	mkdir -p "$wdir"
	# pktfilt runs in a namespace of its own too, so that it sees what
	# iptables-legacy sees (no interfaces, the same ipsets, no DNS)
	pns=${nsprefix}p$idx
	if ! ip netns add "$pns" 2>"$tmp/err"; then
		echo "ERROR: ip netns add $pns: $(cat "$tmp/err")"
		exit 2
	fi
	(
		ip netns exec "$pns" "${timeout_cmd[@]}" bash "$self" --pktfilt-worker "$file" "${file#"$here"/}" \
			"${odirs[$((idx - 1))]}" "$wdir" "$pktfilt" "$pktfilt_save" "$verbose" >"$wdir/report" 2>&1
		rc=$?
		ip netns del "$pns"
		if [ ! -f "$wdir/count" ]; then
			echo "ERROR: ${file#"$here"/}: stopped (status $rc; timeout is ${timeout_s}s)" >>"$wdir/report"
		fi
		: >"$wdir/done"
	) &
	running=$((running + 1))
	if [ $running -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
done
wait

total_pass=0
total_fail=0
if [ $all_files = 1 ]; then
	# the default run also checks that the corpus covers everything
	if coverage_check; then
		total_pass=1
	else
		total_fail=1
	fi
fi
idx=0
for file in "${resolved[@]}"; do
	idx=$((idx + 1))
	wdir=$tmp/w$idx
	cat "$wdir/report"
	if [ -f "$wdir/count" ]; then
		read -r p f <"$wdir/count"
	else
		p=0
		f=$(for_each_line "$file" echo | wc -l)
	fi
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	if [ "$f" -gt 0 ] && [ $keep_going = 0 ] && [ $idx -lt ${#resolved[@]} ]; then
		echo "stopping after the first file with failures (-k reports every file)"
		break
	fi
done

echo "$total_pass passed, $total_fail failed"
[ $total_fail -eq 0 ]
