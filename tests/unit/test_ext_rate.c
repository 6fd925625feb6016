/*
 * test_ext_rate.c - unit tests of the rate, state and payload matches (group C): limit,
 * hashlimit, connlimit, set, recent, statistic, string, time, rpfilter and u32. For each:
 * canonical -S output of valid rules, the -L summary (with and without -n), and iptables'
 * messages and exit codes for invalid ones. Expected strings were taken from
 * iptables-legacy 1.8.9 (on a kernel with HZ=250).
 */
#include "helpers.h"

/* Back to an empty rule set. */
static void reset(void)
{
	pf_ruleset_free(rs);
	fixture_setup();
}

/* Strip the "-P"/"-N" lines of a -S listing. */
static const char *rules_only(const char *listing)
{
	static char buf[65536];
	buf[0] = '\0';
	for (const char *p = listing; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p + 1) : strlen(p);
		if (strncmp(p, "-A ", 3) == 0)
			strncat(buf, p, n);
		p += n;
	}
	return buf;
}

/* The rule is accepted and listed by -S exactly so. */
static void check_S(const char *cmd, const char *list, const char *expected)
{
	ok(cmd);
	int code;
	const char *out = run(list, &code);
	ck_assert_int_eq(code, 0);
	ck_assert_msg(strcmp(rules_only(out), expected) == 0, "'%s': -S gives '%s', expected '%s'",
		      cmd, rules_only(out), expected);
	reset();
}

/* The rule is accepted and listed by -L and -L -n exactly so. */
static void check_L(const char *cmd, const char *list, const char *expected,
		    const char *expected_numeric)
{
	char numeric[256];
	ok(cmd);
	ck_assert_str_eq(run(list, NULL), expected);
	snprintf(numeric, sizeof(numeric), "%s -n", list);
	ck_assert_str_eq(run(numeric, NULL), expected_numeric);
	reset();
}

START_TEST(ext_limit)
{
	check_S("-A INPUT -p tcp -m limit --limit 3/min --limit-burst 5 -j ACCEPT",
		"-t filter -S INPUT", "-A INPUT -p tcp -m limit --limit 3/min -j ACCEPT\n");
	check_S("-A INPUT -m limit --limit 700/h --limit-burst 7", "-t filter -S INPUT",
		"-A INPUT -m limit --limit 700/hour --limit-burst 7\n");
	check_S("-A INPUT -m limit", "-t filter -S INPUT", "-A INPUT -m limit --limit 3/hour\n");
	check_S("-A INPUT -m limit --limit 3x", "-t filter -S INPUT",
		"-A INPUT -m limit --limit 3/sec\n");
	check_S("-A INPUT -m limit --limit 13/d --limit-burst 10000", "-t filter -S INPUT",
		"-A INPUT -m limit --limit 13/day --limit-burst 10000\n");
	check_L("-A INPUT -m limit --limit 3/min", "-t filter -L INPUT",
		"Chain INPUT (policy ACCEPT)\ntarget     prot opt source               destination "
		"        \n           all  --  anywhere             anywhere             limit: "
		"avg 3/min burst 5\n",
		"Chain INPUT (policy ACCEPT)\ntarget     prot opt source               destination "
		"        \n           0    --  0.0.0.0/0            0.0.0.0/0            limit: "
		"avg 3/min burst 5\n");
	fails("-A INPUT -m limit --limit abc", 2, "bad rate \"abc\"'");
	fails("-A INPUT -m limit ! --limit 3", 2,
	      "limit: option \"--limit\" cannot be inverted.\n");
	fails("-A INPUT -m limit --limit 3 --limit 4", 2,
	      "limit: option \"--limit\" can only be used once.\n");
	fails("-A INPUT -m limit --limit 100000", 2, "Rate too fast \"100000\"");
	fails("-A INPUT -m limit --limit-burst 10001", 2,
	      "limit: bad value for option \"--limit-burst\", or out of range (0-10000).\n");
	fails("-A INPUT -m limit --limit 1/day", 1, "Numerical result out of range");
	fails("-A INPUT -m limit --limit-burst 0", 1, "Numerical result out of range");
}
END_TEST

START_TEST(ext_hashlimit)
{
	check_S("-A INPUT -m hashlimit --hashlimit-upto 5/sec --hashlimit-name foo",
		"-t filter -S INPUT",
		"-A INPUT -m hashlimit --hashlimit-upto 5/sec --hashlimit-burst 5 --hashlimit-name "
		"foo\n");
	check_S("-A INPUT -m hashlimit --hashlimit-upto 60/min --hashlimit-name x",
		"-t filter -S INPUT",
		"-A INPUT -m hashlimit --hashlimit-upto 1/sec --hashlimit-burst 5 --hashlimit-name "
		"x --hashlimit-htable-expire 60000\n");
	check_S("-A INPUT -m hashlimit ! --hashlimit-upto 7/h --hashlimit-burst 10 "
		"--hashlimit-mode dstport,srcip --hashlimit-name averyveryverylongname123",
		"-t filter -S INPUT",
		"-A INPUT -m hashlimit --hashlimit-above 7/hour --hashlimit-burst 10 "
		"--hashlimit-mode srcip,dstport --hashlimit-name averyveryverylongname123\n");
	check_S("-A INPUT -m hashlimit --hashlimit-upto 1000b/s --hashlimit-burst 100000 "
		"--hashlimit-name x",
		"-t filter -S INPUT",
		"-A INPUT -m hashlimit --hashlimit-upto 992b/s --hashlimit-burst 97kb "
		"--hashlimit-name x\n");
	check_S(
	    "-A INPUT -m hashlimit --hashlimit 5 --hashlimit-srcmask 24 --hashlimit-dstmask "
	    "255.255.0.0 --hashlimit-htable-size 100 --hashlimit-htable-max 200 "
	    "--hashlimit-htable-gcinterval 300 --hashlimit-htable-expire 400 --hashlimit-name x",
	    "-t filter -S INPUT",
	    "-A INPUT -m hashlimit --hashlimit-upto 5/sec --hashlimit-burst 5 --hashlimit-name x "
	    "--hashlimit-htable-size 100 --hashlimit-htable-max 200 --hashlimit-htable-gcinterval "
	    "300 --hashlimit-htable-expire 400 --hashlimit-srcmask 24 --hashlimit-dstmask 16\n");
	check_S(
	    "-A INPUT -m hashlimit --hashlimit-upto 5/min --hashlimit-rate-match "
	    "--hashlimit-rate-interval 7 --hashlimit-name x",
	    "-t filter -S INPUT",
	    "-A INPUT -m hashlimit --hashlimit-upto 5/sec --hashlimit-burst 5 --hashlimit-name x "
	    "--hashlimit-htable-expire 60000 --hashlimit-rate-match --hashlimit-rate-interval 7\n");
	check_S("-A INPUT -m hashlimit --hashlimit-upto 5 --hashlimit-htable-size 2000000 "
		"--hashlimit-name x",
		"-t filter -S INPUT",
		"-A INPUT -m hashlimit --hashlimit-upto 5/sec --hashlimit-burst 5 --hashlimit-name "
		"x --hashlimit-htable-size 1048576\n");
	check_L("-A INPUT -m hashlimit --hashlimit-above 10kb/s --hashlimit-burst 1m "
		"--hashlimit-mode srcip,srcport --hashlimit-name x",
		"-t filter -L INPUT",
		"Chain INPUT (policy ACCEPT)\ntarget     prot opt source               destination "
		"        \n           all  --  anywhere             anywhere             limit: "
		"above 10kb/s burst 1mb mode srcip-srcport\n",
		"Chain INPUT (policy ACCEPT)\ntarget     prot opt source               destination "
		"        \n           0    --  0.0.0.0/0            0.0.0.0/0            limit: "
		"above 10kb/s burst 1mb mode srcip-srcport\n");
	check_L("-A INPUT -m hashlimit --hashlimit-upto 5/min --hashlimit-rate-match "
		"--hashlimit-rate-interval 7 --hashlimit-name x",
		"-t filter -L INPUT",
		"Chain INPUT (policy ACCEPT)\ntarget     prot opt source               destination "
		"        \n           all  --  anywhere             anywhere             limit: up "
		"to 61714/day burst 5 htable-expire 60000 rate-match rate-interval 7\n",
		"Chain INPUT (policy ACCEPT)\ntarget     prot opt source               destination "
		"        \n           0    --  0.0.0.0/0            0.0.0.0/0            limit: up "
		"to 61714/day burst 5 htable-expire 60000 rate-match rate-interval 7\n");
	fails("-A INPUT -m hashlimit --hashlimit-upto 5/sec", 2,
	      "hashlimit: option \"--hashlimit-name\" must be specified\n");
	fails("-A INPUT -m hashlimit --hashlimit-name foo", 2, "You have to specify --hashlimit");
	fails("-A INPUT -m hashlimit --hashlimit 5 --hashlimit-above 6", 2,
	      "hashlimit: option \"--hashlimit-upto\" cannot be used together with "
	      "\"--hashlimit-above\".\n");
	fails("-A INPUT -m hashlimit --hashlimit-upto 5 --hashlimit 6 --hashlimit-name x", 2,
	      "hashlimit: option \"--hashlimit-upto\" can only be used once.\n");
	fails("-A INPUT -m hashlimit --hashlimit-upto abc --hashlimit-name x", 2,
	      "hashlimit: Bad value for \"--hashlimit-upto\" option: \"abc\"");
	fails("-A INPUT -m hashlimit --hashlimit-above 1/day --hashlimit-burst 1000k "
	      "--hashlimit-name x",
	      2, "bad value for option \"--hashlimit-burst\", or out of range (1-1000000).");
	fails(
	    "-A INPUT -m hashlimit --hashlimit-upto 10kb/s --hashlimit-burst 1k --hashlimit-name x",
	    2, "burst cannot be smaller than 10240b");
	fails("-A INPUT -m hashlimit --hashlimit-upto 5 --hashlimit-srcmask 33 --hashlimit-name x",
	      1, "Invalid argument. Run `dmesg' for more information");
	fails("-A INPUT -m hashlimit --hashlimit-above 1/day --hashlimit-burst 1000000 "
	      "--hashlimit-name x",
	      1, "Numerical result out of range");
	fails("-A INPUT -m hashlimit --hashlimit-upto 5 --hashlimit-name a/b", 1,
	      "Invalid argument. Run `dmesg' for more information");
	fails(
	    "-A INPUT -m hashlimit ! --hashlimit-mode srcip --hashlimit-upto 5 --hashlimit-name x",
	    2, "hashlimit: option \"--hashlimit-mode\" cannot be inverted.\n");
	check_S("-A INPUT -m hashlimit --hashlimit-upto 1b/s --hashlimit-name x",
		"-t filter -S INPUT",
		"-A INPUT -m hashlimit --hashlimit-upto 0b/s --hashlimit-name x\n");
	check_L("-A INPUT -m hashlimit --hashlimit-upto 5/h --hashlimit-rate-interval 3 "
		"--hashlimit-name x",
		"-t filter -L INPUT",
		"Chain INPUT (policy ACCEPT)\ntarget     prot opt source               destination "
		"        \n           all  --  anywhere             anywhere             limit: up "
		"to 40/day burst 5 htable-expire 3600000\n",
		"Chain INPUT (policy ACCEPT)\ntarget     prot opt source               destination "
		"        \n           0    --  0.0.0.0/0            0.0.0.0/0            limit: up "
		"to 40/day burst 5 htable-expire 3600000\n");
}
END_TEST

START_TEST(ext_connlimit)
{
	check_S("-A INPUT -p tcp --syn -m connlimit --connlimit-above 10 -j REJECT",
		"-t filter -S INPUT",
		"-A INPUT -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -m connlimit "
		"--connlimit-above 10 --connlimit-mask 32 --connlimit-saddr -j REJECT "
		"--reject-with icmp-port-unreachable\n");
	check_S("-A INPUT -m connlimit ! --connlimit-above 5 --connlimit-mask 24 --connlimit-daddr",
		"-t filter -S INPUT",
		"-A INPUT -m connlimit --connlimit-upto 5 --connlimit-mask 24 --connlimit-daddr\n");
	check_S(
	    "-A INPUT -m connlimit ! --connlimit-upto 5 --connlimit-mask 255.255.0.0",
	    "-t filter -S INPUT",
	    "-A INPUT -m connlimit --connlimit-above 5 --connlimit-mask 16 --connlimit-saddr\n");
	check_S("-A INPUT -m connlimit --connlimit-upto 5 --connlimit-mask 255.0.255.0",
		"-t filter -S INPUT",
		"-A INPUT -m connlimit --connlimit-upto 5 --connlimit-mask 32 --connlimit-saddr\n");
	check_L("-A INPUT -m connlimit --connlimit-upto 5 --connlimit-mask 24 --connlimit-daddr",
		"-t filter -L INPUT",
		"Chain INPUT (policy ACCEPT)\ntarget     prot opt source               destination "
		"        \n           all  --  anywhere             anywhere             #conn "
		"dst/24 <= 5\n",
		"Chain INPUT (policy ACCEPT)\ntarget     prot opt source               destination "
		"        \n           0    --  0.0.0.0/0            0.0.0.0/0            #conn "
		"dst/24 <= 5\n");
	fails("-A INPUT -m connlimit", 2,
	      "You must specify \"--connlimit-above\" or \"--connlimit-upto\".");
	fails("-A INPUT -m connlimit --connlimit-above 5 --connlimit-upto 3", 2,
	      "connlimit: option \"--connlimit-upto\" cannot be used together with "
	      "\"--connlimit-above\".\n");
	fails("-A INPUT -m connlimit --connlimit-above 5 --connlimit-saddr --connlimit-daddr", 2,
	      "connlimit: option \"--connlimit-saddr\" cannot be used together with "
	      "\"--connlimit-daddr\".\n");
	fails("-A INPUT -m connlimit --connlimit-above x", 2,
	      "connlimit: bad value for option \"--connlimit-above\", or out of range "
	      "(0-4294967295).\n");
	fails("-A INPUT -m connlimit --connlimit-above 5 --connlimit-mask abc", 2,
	      "connlimit: bad value for option \"--connlimit-mask\", neither a valid network mask "
	      "nor valid CIDR (0-32).\n");
	ok("-A INPUT -m connlimit --connlimit-above 3");
	fails("-D INPUT -m connlimit --connlimit-above 3 --connlimit-mask 32", 1,
	      "Bad rule (does a matching rule exist in that chain?)");
	reset();
	ok("-A INPUT -m connlimit --connlimit-above 3");
	ok("-D INPUT -m connlimit --connlimit-above 3 --connlimit-saddr");
	reset();
}
END_TEST

START_TEST(ext_set)
{
	fails("-A INPUT -m set --match-set foo src", 2, "Set foo doesn't exist.\n");
	fails("-A INPUT -m set ! --match-set foo src,dst", 2, "Set foo doesn't exist.\n");
	fails("-A INPUT -m set", 2, "You must specify `--match-set' with proper arguments");
	fails("-A INPUT -m set --match-set foo", 2, "--match-set requires two args.");
	fails("-A INPUT -m set --match-set foo ! src", 2, "--match-set requires two args.");
	fails("-A INPUT -m set --match-set 0123456789012345678901234567890123 src", 2,
	      "setname `0123456789012345678901234567890123' too long, max 31 characters.");
	fails("-A INPUT -m set ! --return-nomatch", 2, "--return-nomatch flag cannot be inverted");
	fails("-A INPUT -m set --packets-eq abc", 2, "Cannot parse abc as a counter value");
	fails("-A INPUT -m set --packets-eq 1 --packets-lt 3", 2,
	      "only one of the --packets-[eq|lt|gt] is allowed");
	fails("-A INPUT -m set ! --bytes-gt 2", 2, "--bytes-gt option cannot be inverted");
}
END_TEST

START_TEST(ext_recent)
{
	check_S("-A INPUT -m recent --set", "-t filter -S INPUT",
		"-A INPUT -m recent --set --name DEFAULT --mask 255.255.255.255 --rsource\n");
	check_S("-A INPUT -m recent ! --rcheck --seconds 60 --hitcount 3 --rttl --name foo --rdest",
		"-t filter -S INPUT",
		"-A INPUT -m recent ! --rcheck --seconds 60 --hitcount 3 --rttl --name foo --mask "
		"255.255.255.255 --rdest\n");
	check_S("-A INPUT -m recent --update --seconds 60 --reap --name foo --mask 255.255.255.0 "
		"--rsource",
		"-t filter -S INPUT",
		"-A INPUT -m recent --update --seconds 60 --reap --name foo --mask 255.255.255.0 "
		"--rsource\n");
	check_S("-A INPUT -m recent --remove --mask 1.2.3", "-t filter -S INPUT",
		"-A INPUT -m recent --remove --name DEFAULT --mask 1.2.0.3 --rsource\n");
	check_L(
	    "-A INPUT -m recent ! --rcheck --seconds 60 --hitcount 3 --rttl --name foo --rdest",
	    "-t filter -L INPUT",
	    "Chain INPUT (policy ACCEPT)\ntarget     prot opt source               destination     "
	    "    \n           all  --  anywhere             anywhere             ! recent: CHECK "
	    "seconds: 60 hit_count: 3 TTL-Match name: foo side: dest mask: 255.255.255.255\n",
	    "Chain INPUT (policy ACCEPT)\ntarget     prot opt source               destination     "
	    "    \n           0    --  0.0.0.0/0            0.0.0.0/0            ! recent: CHECK "
	    "seconds: 60 hit_count: 3 TTL-Match name: foo side: dest mask: 255.255.255.255\n");
	fails("-A INPUT -m recent", 2,
	      "recent: you must specify one of `--set', `--rcheck' `--update' or `--remove'");
	fails("-A INPUT -m recent --set --rcheck", 2,
	      "recent: option \"--set\" cannot be used together with \"--rcheck\".\n");
	fails("-A INPUT -m recent --rcheck --reap", 2,
	      "recent: option \"--reap\" also requires \"--seconds\".\n");
	fails("-A INPUT -m recent --set --rttl", 2,
	      "recent: option \"--rttl\" cannot be used together with \"--set\".\n");
	fails("-A INPUT -m recent --set --seconds 5", 1,
	      "Invalid argument. Run `dmesg' for more information");
	fails("-A INPUT -m recent --rcheck --hitcount 65536", 1,
	      "Invalid argument. Run `dmesg' for more information");
	fails("-A INPUT -m recent --rcheck --seconds 0", 2,
	      "recent: bad value for option \"--seconds\", or out of range (1-4294967295).\n");
	fails("-A INPUT -m recent --set --name a/b", 1,
	      "Invalid argument. Run `dmesg' for more information");
	fails("-A INPUT -m recent --set ! --name x", 2,
	      "recent: option \"--name\" cannot be inverted.\n");
	ok("-A INPUT -m recent --set");
	fails("-D INPUT -m recent --set --mask 255.255.255.255", 1,
	      "Bad rule (does a matching rule exist in that chain?)");
	reset();
	ok("-A INPUT -m recent --set");
	ok("-D INPUT -m recent --set --name DEFAULT --rsource");
	reset();
	check_S("-A INPUT -m recent --update --hitcount 1 --seconds 4294967295",
		"-t filter -S INPUT",
		"-A INPUT -m recent --update --seconds -1 --hitcount 1 --name DEFAULT --mask "
		"255.255.255.255 --rsource\n");
}
END_TEST

START_TEST(ext_statistic)
{
	check_S("-A INPUT -m statistic --mode random --probability 0.3", "-t filter -S INPUT",
		"-A INPUT -m statistic --mode random --probability 0.29999999981\n");
	check_S("-A INPUT -m statistic --mode random ! --probability 1", "-t filter -S INPUT",
		"-A INPUT -m statistic --mode random ! --probability 1.00000000000\n");
	check_S("-A INPUT -m statistic --mode nth --every 3 --packet 1", "-t filter -S INPUT",
		"-A INPUT -m statistic --mode nth --every 3 --packet 1\n");
	check_S("-A INPUT -m statistic --mode nth ! --every 3 --packet 0", "-t filter -S INPUT",
		"-A INPUT -m statistic --mode nth ! --every 3 --packet 0\n");
	check_L("-A INPUT -m statistic --mode nth ! --every 3 --packet 0", "-t filter -L INPUT",
		"Chain INPUT (policy ACCEPT)\ntarget     prot opt source               destination "
		"        \n           all  --  anywhere             anywhere             statistic "
		"mode nth ! every 3\n",
		"Chain INPUT (policy ACCEPT)\ntarget     prot opt source               destination "
		"        \n           0    --  0.0.0.0/0            0.0.0.0/0            statistic "
		"mode nth ! every 3\n");
	check_L("-A INPUT -m statistic --mode random --probability 0.5", "-t filter -L INPUT",
		"Chain INPUT (policy ACCEPT)\ntarget     prot opt source               destination "
		"        \n           all  --  anywhere             anywhere             statistic "
		"mode random probability 0.50000000000\n",
		"Chain INPUT (policy ACCEPT)\ntarget     prot opt source               destination "
		"        \n           0    --  0.0.0.0/0            0.0.0.0/0            statistic "
		"mode random probability 0.50000000000\n");
	fails("-A INPUT -m statistic", 2, "--probability must be specified when using random mode");
	fails("-A INPUT -m statistic --mode nth --every 3", 2,
	      "statistic: option \"--every\" also requires \"--packet\".\n");
	fails("-A INPUT -m statistic --mode nth --every 3 --packet 3", 2,
	      "the --packet p must be 0 <= p <= n-1");
	fails("-A INPUT -m statistic --mode random --probability 1.1", 2,
	      "statistic: bad value for option \"--probability\", or out of range (0-1).\n");
	fails("-A INPUT -m statistic --mode bogus", 2, "Bad mode \"bogus\"");
	fails("-A INPUT -m statistic --mode nth --every 3 --packet 0 --probability 0.5", 2,
	      "statistic: option \"--probability\" cannot be used together with \"--every\".\n");
	fails("-A INPUT -m statistic ! --mode random", 2,
	      "statistic: option \"--mode\" cannot be inverted.\n");
}
END_TEST

START_TEST(ext_string)
{
	check_S(
	    "-A INPUT -p tcp --dport 80 -m string --algo bm --string \"GET /\" -j DROP",
	    "-t filter -S INPUT",
	    "-A INPUT -p tcp -m tcp --dport 80 -m string --string \"GET /\" --algo bm -j DROP\n");
	check_S("-A INPUT -m string --algo kmp ! --string 'a\"b\\c d' --from 10 --to 100 --icase",
		"-t filter -S INPUT",
		"-A INPUT -m string ! --string \"a\\\"b\\\\c d\" --algo kmp --from 10 --to 100 "
		"--icase\n");
	check_S("-A INPUT -m string --algo kmp --hex-string \"|0d 0a|Host|3a|\"",
		"-t filter -S INPUT",
		"-A INPUT -m string --hex-string \"|0d0a486f73743a|\" --algo kmp\n");
	check_S("-A INPUT -m string --algo bm --hex-string \"a|20|b\"", "-t filter -S INPUT",
		"-A INPUT -m string --string \"a b\" --algo bm\n");
	check_S("-A INPUT -m string --algo bm --string \"abc\\\\\"", "-t filter -S INPUT",
		"-A INPUT -m string --hex-string \"|6162635c|\" --algo bm\n");
	check_L("-A INPUT -m string --algo kmp ! --string 'a\"b\\c d' --from 10 --to 100 --icase",
		"-t filter -L INPUT",
		"Chain INPUT (policy ACCEPT)\ntarget     prot opt source               destination "
		"        \n           all  --  anywhere             anywhere             STRING "
		"match ! \"a\\\"b\\\\c d\" ALGO name kmp FROM 10 TO 100 ICASE\n",
		"Chain INPUT (policy ACCEPT)\ntarget     prot opt source               destination "
		"        \n           0    --  0.0.0.0/0            0.0.0.0/0            STRING "
		"match ! \"a\\\"b\\\\c d\" ALGO name kmp FROM 10 TO 100 ICASE\n");
	check_L("-A INPUT -m string --algo bm --string \303\251", "-t filter -L INPUT",
		"Chain INPUT (policy ACCEPT)\ntarget     prot opt source               destination "
		"        \n           all  --  anywhere             anywhere             STRING "
		"match  \"|c3a9|\" ALGO name bm\n",
		"Chain INPUT (policy ACCEPT)\ntarget     prot opt source               destination "
		"        \n           0    --  0.0.0.0/0            0.0.0.0/0            STRING "
		"match  \"|c3a9|\" ALGO name bm\n");
	fails("-A INPUT -m string --string abc", 2,
	      "string: option \"--algo\" must be specified\n");
	fails("-A INPUT -m string --algo bm", 2,
	      "STRING match: You must specify `--string' or `--hex-string'");
	fails("-A INPUT -m string --algo kmp --string abc --hex-string \"|41|\"", 2,
	      "string: option \"--string\" cannot be used together with \"--hex-string\".\n");
	fails("-A INPUT -m string --algo kmp --hex-string \"|4g|\"", 2, "Invalid hex char 'g'");
	fails("-A INPUT -m string --algo kmp --hex-string \"|41\"", 2, "Invalid hex block");
	fails("-A INPUT -m string --algo kmp --string \"\"", 1,
	      "Invalid argument. Run `dmesg' for more information");
	fails("-A INPUT -m string --algo foo --string x", 1, "No chain/target/match by that name");
	fails("-A INPUT -m string --algo bm --string x --from 100 --to 10", 1,
	      "Invalid argument. Run `dmesg' for more information");
	fails("-A INPUT -m string --algo bm --string x ! --icase", 2,
	      "string: option \"--icase\" cannot be inverted.\n");
}
END_TEST

START_TEST(ext_time)
{
	check_S("-A INPUT -m time", "-t filter -S INPUT",
		"-A INPUT -m time --datestop 2038-01-19T03:14:07\n");
	check_S("-A INPUT -m time --timestart 23:00 --timestop 01:00 --contiguous",
		"-t filter -S INPUT",
		"-A INPUT -m time --timestart 23:00:00 --timestop 01:00:00 --datestop "
		"2038-01-19T03:14:07 --contiguous\n");
	check_S("-A INPUT -m time ! --weekdays Mon,Wed,Fr --monthdays 1,15 --kerneltz",
		"-t filter -S INPUT",
		"-A INPUT -m time --monthdays 1,15 --weekdays Tue,Thu,Sat,Sun --datestop "
		"2038-01-19T03:14:07 --kerneltz\n");
	check_S(
	    "-A INPUT -m time --datestart 2020-00-00 --datestop 2021-06-15T12:30:45",
	    "-t filter -S INPUT",
	    "-A INPUT -m time --datestart 2019-11-30T00:00:00 --datestop 2021-06-15T12:30:45\n");
	check_S("-A INPUT -m time --weekdays 8", "-t filter -S INPUT",
		"-A INPUT -m time --weekdays  --datestop 2038-01-19T03:14:07\n");
	check_S("-A INPUT -m time --datestop 1970-01-01", "-t filter -S INPUT",
		"-A INPUT -m time\n");
	check_L("-A INPUT -m time --weekdays Mo --monthdays 1,2,3,11,12,13,21,22,23,31 --timestart "
		"8:00 --timestop 17:00 --datestart 2021 --datestop 2022",
		"-t filter -L INPUT",
		"Chain INPUT (policy ACCEPT)\ntarget     prot opt source               destination "
		"        \n           all  --  anywhere             anywhere             TIME from "
		"08:00:00 to 17:00:00 on Mon on 1st,2nd,3rd,11st,12nd,13rd,21st,22nd,23rd,31st "
		"starting from 2021-01-01 00:00:00 until date 2022-01-01 00:00:00 UTC\n",
		"Chain INPUT (policy ACCEPT)\ntarget     prot opt source               destination "
		"        \n           0    --  0.0.0.0/0            0.0.0.0/0            TIME from "
		"08:00:00 to 17:00:00 on Mon on 1st,2nd,3rd,11st,12nd,13rd,21st,22nd,23rd,31st "
		"starting from 2021-01-01 00:00:00 until date 2022-01-01 00:00:00 UTC\n");
	check_L("-A INPUT -m time --datestop 1970-01-01", "-t filter -L INPUT",
		"Chain INPUT (policy ACCEPT)\ntarget     prot opt source               destination "
		"        \n           all  --  anywhere             anywhere             TIME "
		"until date UTC\n",
		"Chain INPUT (policy ACCEPT)\ntarget     prot opt source               destination "
		"        \n           0    --  0.0.0.0/0            0.0.0.0/0            TIME "
		"until date UTC\n");
	fails(
	    "-A INPUT -m time --timestart 10:99", 2,
	    "invalid time \"99\" specified, should be hh:mm[:ss] format and within the boundaries");
	fails("-A INPUT -m time --weekdays 0", 2, "No, the week does NOT begin with Sunday.");
	fails("-A INPUT -m time --weekdays mon", 2, "mon is not a valid day specifier");
	fails("-A INPUT -m time --monthdays 08", 2, "08 is not a valid day for --monthdays");
	fails("-A INPUT -m time --datestart 2039", 2,
	      "Invalid date \"2039\" specified. Should be YYYY[-MM[-DD[Thh[:mm[:ss]]]]]");
	fails("-A INPUT -m time --contiguous", 2,
	      "time: --contiguous only makes sense when stoptime is smaller than starttime");
	fails("-A INPUT -m time --utc --kerneltz", 2,
	      "time: option \"--utc\" cannot be used together with \"--kerneltz\".\n");
	fails("-A INPUT -m time ! --timestart 1:00", 2,
	      "time: option \"--timestart\" cannot be inverted.\n");
	check_S(
	    "-A INPUT -m time ! --monthdays "
	    "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31",
	    "-t filter -S INPUT", "-A INPUT -m time --monthdays  --datestop 2038-01-19T03:14:07\n");
	check_S("-A INPUT -m time --monthdays ,", "-t filter -S INPUT",
		"-A INPUT -m time --monthdays  --datestop 2038-01-19T03:14:07\n");
}
END_TEST

START_TEST(ext_rpfilter)
{
	check_S("-t raw -A PREROUTING -m rpfilter --loose --validmark --accept-local --invert",
		"-t raw -S PREROUTING",
		"-A PREROUTING -m rpfilter --loose --validmark --accept-local --invert\n");
	check_S("-t mangle -A PREROUTING -m rpfilter -j DROP", "-t mangle -S PREROUTING",
		"-A PREROUTING -m rpfilter -j DROP\n");
	check_L("-t raw -A PREROUTING -m rpfilter --invert --loose", "-t raw -L PREROUTING",
		"Chain PREROUTING (policy ACCEPT)\ntarget     prot opt source               "
		"destination         \n           all  --  anywhere             anywhere           "
		"  rpfilter loose invert\n",
		"Chain PREROUTING (policy ACCEPT)\ntarget     prot opt source               "
		"destination         \n           0    --  0.0.0.0/0            0.0.0.0/0          "
		"  rpfilter loose invert\n");
	fails("-A INPUT -m rpfilter", 1, "Invalid argument. Run `dmesg' for more information");
	fails("-t mangle -A INPUT -m rpfilter", 1,
	      "Invalid argument. Run `dmesg' for more information");
	fails("-t mangle -A PREROUTING -m rpfilter ! --loose", 2,
	      "rpfilter: option \"--loose\" cannot be inverted.\n");
	fails("-t mangle -A PREROUTING -m rpfilter --loose --loose", 2,
	      "rpfilter: option \"--loose\" can only be used once.\n");
	ok("-t raw -N FOO");
	ok("-t raw -A FOO -m rpfilter");
	fails("-t raw -A OUTPUT -j FOO", 1, "Invalid argument. Run `dmesg' for more information");
	reset();
	ok("-t raw -N FOO");
	ok("-t raw -A FOO -m rpfilter");
	ok("-t raw -A PREROUTING -j FOO");
	reset();
}
END_TEST

START_TEST(ext_u32)
{
	check_S("-A INPUT -m u32 --u32 \"0&0xFFFF=0x100:0xFFFF\"", "-t filter -S INPUT",
		"-A INPUT -m u32 --u32 \"0x0&0xffff=0x100:0xffff\"\n");
	check_S("-A INPUT -m u32 ! --u32 \"6 & 0xFF = 1 && 4 & 0x3FFF = 0 && 0 >> 22 & 0x3C @ 0 >> "
		"16 = 8,0:3\"",
		"-t filter -S INPUT",
		"-A INPUT -m u32 ! --u32 "
		"\"0x6&0xff=0x1&&0x4&0x3fff=0x0&&0x0>>0x16&0x3c@0x0>>0x10=0x8,0x0:0x3\"\n");
	check_S("-A INPUT -m u32 --u32 \"0=1,2,3,4,5,6,7,8,9,10\"", "-t filter -S INPUT",
		"-A INPUT -m u32 --u32 \"0x0=0x1,0x2,0x3,0x4,0x5,0x6,0x7,0x8,0x9,0xa\"\n");
	check_L("-A INPUT -m u32 ! --u32 \"0>>22&0x3C@12>>26&0x3C@0=0x0\"", "-t filter -L INPUT",
		"Chain INPUT (policy ACCEPT)\ntarget     prot opt source               destination "
		"        \n           all  --  anywhere             anywhere             u32 ! "
		"\"0x0>>0x16&0x3c@0xc>>0x1a&0x3c@0x0=0x0\"\n",
		"Chain INPUT (policy ACCEPT)\ntarget     prot opt source               destination "
		"        \n           0    --  0.0.0.0/0            0.0.0.0/0            u32 ! "
		"\"0x0>>0x16&0x3c@0xc>>0x1a&0x3c@0x0=0x0\"\n");
	fails("-A INPUT -m u32", 2, "u32: option \"--u32\" must be specified\n");
	fails("-A INPUT -m u32 --u32 \"0\"", 2,
	      "u32: abrupt end of input after location specifier");
	fails("-A INPUT -m u32 --u32 \"=1\"", 2, "u32: at char 0: location spec missing");
	fails("-A INPUT -m u32 --u32 \"0<1=1\"", 2, "u32: at char 2: a second '<' was expected");
	fails("-A INPUT -m u32 --u32 \"0=1&2=3\"", 2, "u32: at char 4: a second '&' was expected");
	fails("-A INPUT -m u32 --u32 \"0=0x1ffffffff\"", 2,
	      "u32: at char 2: not a number or out of range");
	fails("-A INPUT -m u32 --u32 \"0&1&2&3&4&5&6&7&8&9&10=1\"", 2,
	      "u32: at char 22: too many operators");
	fails("-A INPUT -m u32 --u32 \"0=0&&1=1&&2=2&&3=3&&4=4&&5=5&&6=6&&7=7&&8=8&&9=9&&10=10\"",
	      2, "u32: at char 55: too many \"&&\"s");
}
END_TEST

/* Deleting by specification compares the match data as the kernel holds it: a rule added
 * without --connlimit-mask/--mask keeps all 16 mask bytes set, which an explicit /32 does not
 * reproduce (iptables answers "Bad rule" too). */
START_TEST(ext_compare)
{
	ok("-A INPUT -m limit --limit 3/min");
	ok("-C INPUT -m limit --limit 180/hour --limit-burst 5");
	fails("-D INPUT -m limit --limit 4/min", 1,
	      "Bad rule (does a matching rule exist in that chain?)");
	ok("-D INPUT -m limit --limit 3/min");
	ok("-A INPUT -m statistic --mode nth --every 3 --packet 1");
	ok("-D INPUT -m statistic --mode nth --every 3 --packet 1");
	ok("-A INPUT -m string --algo bm --string abc");
	ok("-D INPUT -m string --algo bm --hex-string |616263|");
	ok("-A INPUT -m time --timestart 10:00");
	ok("-D INPUT -m time --timestart 10:00:00 --timestop 23:59:59");
	ok("-A INPUT -m u32 --u32 0=1");
	ok("-D INPUT -m u32 --u32 0x0=0x1:1");
	ok("-A INPUT -m hashlimit --hashlimit-upto 5 --hashlimit-name a");
	ok("-D INPUT -m hashlimit --hashlimit 5/s --hashlimit-name a --hashlimit-burst 5");
	ck_assert_str_eq(run("-S INPUT", NULL), "-P INPUT ACCEPT\n");
}
END_TEST

static Suite *rate_suite(void)
{
	Suite *s = suite_create("ext_rate");
	TCase *tc = tcase_create("rate");
	tcase_add_checked_fixture(tc, fixture_setup, fixture_teardown);
	tcase_add_test(tc, ext_limit);
	tcase_add_test(tc, ext_hashlimit);
	tcase_add_test(tc, ext_connlimit);
	tcase_add_test(tc, ext_set);
	tcase_add_test(tc, ext_recent);
	tcase_add_test(tc, ext_statistic);
	tcase_add_test(tc, ext_string);
	tcase_add_test(tc, ext_time);
	tcase_add_test(tc, ext_rpfilter);
	tcase_add_test(tc, ext_u32);
	tcase_add_test(tc, ext_compare);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(rate_suite());
}
