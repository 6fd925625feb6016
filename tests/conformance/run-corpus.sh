#!/usr/bin/env bash
# Conformance: run the command corpus through iptables-legacy (in a private
# network namespace) and through pktfilt (with a private state file), and
# compare, line by line, stdout, stderr and exit status, then the complete
# save output and the -S output of the line's table.
#
# usage: tests/conformance/run-corpus.sh [-k] [-v] [CORPUS-FILE...]
#   -k  keep going: run every file even after a file had a failure
#   -v  verbose: print every line and every difference in full
#   CORPUS-FILE: a path, or a name in tests/conformance/corpus (with or
#   without .txt). Default: every corpus file.
# env: PKTFILT_BIN (default build/tools/pktfilt, relative to the repo root);
#      pktfilt-save is looked for next to it. CI=true turns a SKIP into a failure.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
corpus_dir=$here/corpus

keep_going=0
verbose=0
files=()
while [ $# -gt 0 ]; do
	case $1 in
	-k) keep_going=1 ;;
	-v) verbose=1 ;;
	-kv | -vk) keep_going=1 verbose=1 ;;
	-h | --help)
		sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	--) shift; files+=("$@"); break ;;
	-*) echo "run-corpus.sh: unknown option $1" >&2; exit 2 ;;
	*) files+=("$1") ;;
	esac
	shift
done

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

tmp=$(mktemp -d /tmp/pf-conf.XXXXXX)
nsprefix=pf-conf-$$-
cleanup() {
	local ns
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		case $ns in "$nsprefix"*) ip netns del "$ns" 2>/dev/null ;; esac
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# iptables-legacy takes a lock file shared by every namespace: use a private
# one so that other users of iptables on this machine cannot make us fail.
export XTABLES_LOCKFILE=$tmp/xtables.lock

# Load the table modules once (a throw-away namespace), and check it works.
probe=${nsprefix}0
ip netns add "$probe" 2>"$tmp/err" || cannot_run "ip netns add: $(head -n1 "$tmp/err")"
for t in filter nat mangle raw security; do
	ip netns exec "$probe" iptables-legacy -t "$t" -S >/dev/null 2>"$tmp/err" ||
		cannot_run "iptables-legacy -t $t: $(head -n1 "$tmp/err")"
done
ip netns del "$probe"

timeout_cmd=()
command -v timeout >/dev/null 2>&1 && timeout_cmd=(timeout 20)

# pktfilt's wording -> iptables' wording (and nothing else).
normalise() {
	sed -e 's/pktfilt v[^ ]* (legacy): /iptables v1.8.9 (legacy): /g' \
		-e 's/pktfilt-restore v[^ ]* (legacy)/iptables-restore v1.8.9 (legacy)/g' \
		-e 's/pktfilt-save v[^ ]* (legacy)/iptables-save v1.8.9 (legacy)/g' \
		-e "s/Try \`pktfilt -h' or 'pktfilt --help' for more information\./Try \`iptables -h' or 'iptables --help' for more information./g" \
		-e 's/pktfilt-restore/iptables-restore/g' \
		-e 's/pktfilt-save/iptables-save/g'
}

# The table a command line works on (filter unless -t/--table says otherwise).
line_table() {
	local t=filter prev="" a
	for a in "$@"; do
		case $prev in -t | --table) t=$a ;; esac
		case $a in --table=*) t=${a#--table=} ;; -t?*) t=${a#-t} ;; esac
		prev=$a
	done
	case $t in filter | nat | mangle | raw | security) echo "$t" ;; *) echo filter ;; esac
}

if [ ${#files[@]} -eq 0 ]; then
	for f in "$corpus_dir"/*.txt; do files+=("$f"); done
fi
resolved=()
for f in "${files[@]}"; do
	if [ -f "$f" ]; then resolved+=("$f")
	elif [ -f "$corpus_dir/$f" ]; then resolved+=("$corpus_dir/$f")
	elif [ -f "$corpus_dir/$f.txt" ]; then resolved+=("$corpus_dir/$f.txt")
	else echo "run-corpus.sh: no corpus file $f" >&2; exit 2
	fi
done

have_ipset=0
command -v ipset >/dev/null 2>&1 && have_ipset=1

total_pass=0
total_fail=0
files_failed=0
nfile=0
w=$tmp/w
mkdir -p "$w"

# show_diff LABEL FILE-ORACLE FILE-PKTFILT: print a unified diff, indented.
show_diff() {
	if ! cmp -s "$2" "$3"; then
		echo "  $1:"
		diff -u --label "iptables-legacy" --label "pktfilt" "$2" "$3" | sed 's/^/    /'
	fi
}

for file in "${resolved[@]}"; do
	nfile=$((nfile + 1))
	name=${file#"$here"/}
	ns=$nsprefix$nfile
	st=$tmp/state.$nfile
	rm -f "$st"
	if ! ip netns add "$ns" 2>"$tmp/err"; then
		echo "ERROR: ip netns add $ns: $(cat "$tmp/err")"
		exit 2
	fi

	# '#@ ipset ARGS' lines create ipsets in the oracle's namespace. When
	# that is impossible, the file is compared on exit status only.
	status_only=0
	while IFS= read -r d; do
		if [ $have_ipset = 0 ] ||
			! eval "ip netns exec \"\$ns\" ipset ${d#\#@ ipset }" >/dev/null 2>&1; then
			status_only=1
		fi
	done < <(grep '^#@ ipset ' "$file")
	if [ $status_only = 1 ]; then
		echo "NOTE: $name: cannot create ipsets for iptables-legacy; comparing exit status only"
	fi

	fpass=0
	ffail=0
	lineno=0
	while IFS= read -r line || [ -n "$line" ]; do
		lineno=$((lineno + 1))
		# trim blanks; skip empty lines and comments
		line=${line#"${line%%[![:space:]]*}"}
		line=${line%"${line##*[![:space:]]}"}
		case $line in '' | '#'*) continue ;; esac
		if ! eval "set -- $line" 2>/dev/null; then
			echo "ERROR: $name:$lineno: the shell cannot parse this line: $line"
			ffail=$((ffail + 1))
			continue
		fi
		table=$(line_table "$@")

		ip netns exec "$ns" iptables-legacy "$@" </dev/null >"$w/o.out" 2>"$w/o.err"
		orc=$?
		PKTFILT_STATE=$st "${timeout_cmd[@]}" "$pktfilt" "$@" </dev/null >"$w/p.out" 2>"$w/p.err.raw"
		prc=$?
		normalise <"$w/p.err.raw" >"$w/p.err"

		ok=1
		what=""
		[ "$orc" = "$prc" ] || { ok=0; what="$what exit-status"; }
		if [ $status_only = 0 ]; then
			cmp -s "$w/o.out" "$w/p.out" || { ok=0; what="$what stdout"; }
			cmp -s "$w/o.err" "$w/p.err" || { ok=0; what="$what stderr"; }

			ip netns exec "$ns" iptables-legacy-save </dev/null 2>"$w/o.save.err" | grep -v '^#' >"$w/o.save"
			osrc=${PIPESTATUS[0]}
			PKTFILT_STATE=$st "${timeout_cmd[@]}" "$pktfilt_save" </dev/null 2>"$w/p.save.raw" | grep -v '^#' >"$w/p.save"
			psrc=${PIPESTATUS[0]}
			normalise <"$w/p.save.raw" >"$w/p.save.err"
			{ [ "$osrc" = "$psrc" ] && cmp -s "$w/o.save" "$w/p.save" &&
				cmp -s "$w/o.save.err" "$w/p.save.err"; } || { ok=0; what="$what save"; }

			ip netns exec "$ns" iptables-legacy -t "$table" -S </dev/null >"$w/o.S" 2>"$w/o.S.err"
			oSrc=$?
			PKTFILT_STATE=$st "${timeout_cmd[@]}" "$pktfilt" -t "$table" -S </dev/null >"$w/p.S" 2>"$w/p.S.raw"
			pSrc=$?
			normalise <"$w/p.S.raw" >"$w/p.S.err"
			{ [ "$oSrc" = "$pSrc" ] && cmp -s "$w/o.S" "$w/p.S" &&
				cmp -s "$w/o.S.err" "$w/p.S.err"; } || { ok=0; what="$what -S"; }
		fi

		if [ $ok = 1 ]; then
			fpass=$((fpass + 1))
			[ $verbose = 1 ] && echo "ok   $name:$lineno: $line"
			continue
		fi
		ffail=$((ffail + 1))
		if [ $ffail -gt 1 ] && [ $verbose = 0 ]; then
			echo "FAIL $name:$lineno: $line  (differs:$what)"
			continue
		fi
		echo "FAIL $name:$lineno: $line"
		echo "  differs:$what"
		[ "$orc" = "$prc" ] || echo "  exit status: iptables-legacy $orc, pktfilt $prc"
		if [ $status_only = 0 ]; then
			show_diff "stdout" "$w/o.out" "$w/p.out"
			show_diff "stderr" "$w/o.err" "$w/p.err"
			[ "$osrc" = "$psrc" ] || echo "  save exit status: iptables-legacy $osrc, pktfilt $psrc"
			show_diff "save output (# lines removed)" "$w/o.save" "$w/p.save"
			show_diff "save stderr" "$w/o.save.err" "$w/p.save.err"
			[ "$oSrc" = "$pSrc" ] || echo "  -t $table -S exit status: iptables-legacy $oSrc, pktfilt $pSrc"
			show_diff "-t $table -S" "$w/o.S" "$w/p.S"
			show_diff "-t $table -S stderr" "$w/o.S.err" "$w/p.S.err"
		fi
	done <"$file"

	ip netns del "$ns" 2>/dev/null
	echo "$name: $fpass passed, $ffail failed"
	total_pass=$((total_pass + fpass))
	total_fail=$((total_fail + ffail))
	if [ $ffail -gt 0 ]; then
		files_failed=$((files_failed + 1))
		if [ $keep_going = 0 ] && [ "$file" != "${resolved[${#resolved[@]} - 1]}" ]; then
			echo "stopping after the first file with failures (use -k to keep going)"
			break
		fi
	fi
done

echo "$total_pass passed, $total_fail failed"
[ $total_fail -eq 0 ]
