/*
 * test_ext_meta.c - unit tests of the matches on addresses ranges, connection tracking and
 * packet metadata: iprange, conntrack, state, mark, connmark, comment, mac, pkttype, addrtype,
 * owner and physdev. For each: canonical -S output of valid rules, -L summaries (with and
 * without -n) and iptables' messages and exit codes for bad input, including the kernel's
 * refusals (chains and tables an extension is not allowed in). Expected strings were taken
 * from iptables-legacy 1.8.9.
 */
#include "helpers.h"

/* Empty every table, then run cmd (which appends one rule to chain in table, "" being
 * filter) and compare the chain's -S output with its policy and that one rule. */
static void canon_t(const char *table, const char *chain, const char *cmd, const char *rule)
{
	char c[256], expect[4096];
	const char *tables[] = {"filter", "nat", "mangle", "raw"};
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		snprintf(c, sizeof(c), "-t %s -F", tables[i]);
		ok(c);
	}
	ok(cmd);
	snprintf(c, sizeof(c), "-t %s -S %s", table[0] ? table : "filter", chain);
	snprintf(expect, sizeof(expect), "-P %s ACCEPT\n%s\n", chain, rule);
	ck_assert_str_eq(run(c, NULL), expect);
}

START_TEST(iprange_canonical)
{
	canon_t("", "INPUT", "-A INPUT -m iprange --src-range 10.0.0.1-10.0.0.50 -j ACCEPT",
		"-A INPUT -m iprange --src-range 10.0.0.1-10.0.0.50 -j ACCEPT");
	canon_t("", "INPUT", "-A INPUT -m iprange --dst-range 1.2.3.4 ! --src-range 2.2.2.2",
		"-A INPUT -m iprange ! --src-range 2.2.2.2-2.2.2.2 --dst-range 1.2.3.4-1.2.3.4");
	canon_t(
	    "", "INPUT",
	    "-A INPUT -m iprange ! --src-range 10.0.0.1-10.0.0.50 ! --dst-range 10.1.0.0-10.2.0.0",
	    "-A INPUT -m iprange ! --src-range 10.0.0.1-10.0.0.50 ! --dst-range 10.1.0.0-10.2.0.0");
	canon_t("", "INPUT", "-A INPUT -m iprange --src-range 1.2.3-0x01.2.3.010",
		"-A INPUT -m iprange --src-range 1.2.3.0-1.2.3.8");
	canon_t("", "INPUT", "-A INPUT -m iprange --src-range 10.0.0.9-10.0.0.1",
		"-A INPUT -m iprange --src-range 10.0.0.9-10.0.0.1");
}
END_TEST

START_TEST(iprange_list)
{
	ck_assert_str_eq(
	    listed("INPUT",
		   "-A INPUT -m iprange --src-range 10.0.0.1-10.0.0.50 ! --dst-range 1.2.3.4",
		   false),
	    " source IP range 10.0.0.1-10.0.0.50 destination IP range ! 1.2.3.4-1.2.3.4");
	ck_assert_str_eq(
	    listed("INPUT",
		   "-A INPUT -m iprange --src-range 10.0.0.1-10.0.0.50 ! --dst-range 1.2.3.4",
		   true),
	    " source IP range 10.0.0.1-10.0.0.50 destination IP range ! 1.2.3.4-1.2.3.4");
}
END_TEST

START_TEST(iprange_errors)
{
	fails("-A INPUT -m iprange --src-range 10.0.0.1-10.0.0.256", 2,
	      "iprange: Bad value for \"--src-range\" option: \"10.0.0.256\"");
	fails("-A INPUT -m iprange", 2,
	      "iprange match: You must specify `--src-range' or `--dst-range'");
	fails("-A INPUT -m iprange --src-range 1.2.3.4/24", 2,
	      "iprange: Bad value for \"--src-range\" option: \"1.2.3.4/24\"");
	fails("-A INPUT -m iprange --src-range 1.2.3.4-", 2,
	      "iprange: Bad value for \"--src-range\" option: \"\"");
	fails("-A INPUT -m iprange --src-range 1.2.3.4-5.6.7.8-9.9.9.9", 2,
	      "iprange: Bad value for \"--src-range\" option: \"5.6.7.8-9.9.9.9\"");
	fails("-A INPUT -m iprange --src-range 1.1.1.1 --src-range 1.1.1.2", 2,
	      "iprange: option \"--src-range\" can only be used once.\n");
}
END_TEST

START_TEST(conntrack_canonical)
{
	canon_t("", "INPUT", "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
		"-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT");
	canon_t("", "INPUT", "-A INPUT -m conntrack ! --ctstate untracked,snat,dnat,invalid,new",
		"-A INPUT -m conntrack ! --ctstate INVALID,NEW,UNTRACKED,SNAT,DNAT");
	canon_t("", "INPUT", "-A INPUT -m conntrack --ctstate N,E",
		"-A INPUT -m conntrack --ctstate NEW,ESTABLISHED");
	canon_t("", "INPUT",
		"-A INPUT -m conntrack --ctproto tcp --ctorigsrc 10.0.0.0/8 ! --ctorigdst 10.1.2.3",
		"-A INPUT -m conntrack --ctproto 6 --ctorigsrc 10.0.0.0/8 ! --ctorigdst 10.1.2.3");
	canon_t("", "INPUT",
		"-A INPUT -m conntrack --ctreplsrc 192.168.0.0/255.255.0.0 ! --ctrepldst "
		"1.2.3.4/255.0.255.0",
		"-A INPUT -m conntrack --ctreplsrc 192.168.0.0/16 ! --ctrepldst 1.2.3.4");
	canon_t("", "INPUT",
		"-A INPUT -m conntrack --ctorigsrcport 1024 --ctorigdstport 80:90 --ctreplsrcport "
		":53 ! --ctrepldstport ssh:",
		"-A INPUT -m conntrack --ctorigsrcport 1024 --ctorigdstport 80:90 --ctreplsrcport "
		"0:53 ! --ctrepldstport 22:65535");
	canon_t("", "INPUT", "-A INPUT -m conntrack --ctstatus NONE,ASSURED,SEEN_REPLY",
		"-A INPUT -m conntrack --ctstatus SEEN_REPLY,ASSURED");
	canon_t("", "INPUT", "-A INPUT -m conntrack ! --ctstatus confirmed,expected",
		"-A INPUT -m conntrack ! --ctstatus EXPECTED,CONFIRMED");
	canon_t("", "INPUT", "-A INPUT -m conntrack --ctstatus NONE",
		"-A INPUT -m conntrack --ctstatus NONE");
	canon_t("", "INPUT", "-A INPUT -m conntrack --ctexpire 10:100",
		"-A INPUT -m conntrack --ctexpire 10:100");
	canon_t("", "INPUT", "-A INPUT -m conntrack ! --ctexpire 5:5",
		"-A INPUT -m conntrack ! --ctexpire 5");
	canon_t("", "INPUT", "-A INPUT -m conntrack --ctexpire :",
		"-A INPUT -m conntrack --ctexpire 0:4294967295");
	canon_t("", "INPUT", "-A INPUT -m conntrack --ctdir reply",
		"-A INPUT -m conntrack --ctdir REPLY");
	canon_t("", "INPUT", "-A INPUT -m conntrack ! --ctproto all",
		"-A INPUT -m conntrack ! --ctproto 0");
	canon_t("", "INPUT",
		"-A INPUT -m conntrack --ctdir ORIGINAL --ctexpire 1 --ctstatus A --ctrepldstport "
		"7 --ctrepldst 4.4.4.4 --ctproto icmp --ctstate new",
		"-A INPUT -m conntrack --ctstate NEW --ctproto 1 --ctrepldst 4.4.4.4 "
		"--ctrepldstport 7 --ctstatus ASSURED --ctexpire 1 --ctdir ORIGINAL");
}
END_TEST

START_TEST(conntrack_list)
{
	ck_assert_str_eq(
	    listed("INPUT",
		   "-A INPUT -m conntrack ! --ctstate INVALID --ctproto udp --ctorigsrc 127.0.0.1 "
		   "! --ctorigdst 0.0.0.0/8 --ctreplsrc 10.0.0.0/16 --ctorigsrcport 53 --ctstatus "
		   "NONE ! --ctexpire 5:9 --ctdir REPLY",
		   false),
	    " ! ctstate INVALID ctproto 17 ctorigsrc localhost ! ctorigdst anywhere ctreplsrc "
	    "10.0.0.0/16 ctorigsrcport 53 ctstatus NONE ! ctexpire 5:9 ctdir REPLY");
	ck_assert_str_eq(
	    listed("INPUT",
		   "-A INPUT -m conntrack ! --ctstate INVALID --ctproto udp --ctorigsrc 127.0.0.1 "
		   "! --ctorigdst 0.0.0.0/8 --ctreplsrc 10.0.0.0/16 --ctorigsrcport 53 --ctstatus "
		   "NONE ! --ctexpire 5:9 --ctdir REPLY",
		   true),
	    " ! ctstate INVALID ctproto 17 ctorigsrc 127.0.0.1 ! ctorigdst 0.0.0.0/8 ctreplsrc "
	    "10.0.0.0/16 ctorigsrcport 53 ctstatus NONE ! ctexpire 5:9 ctdir REPLY");
}
END_TEST

START_TEST(conntrack_errors)
{
	fails("-A INPUT -m conntrack", 2, "conntrack: At least one option is required");
	fails("-A INPUT -m conntrack --ctstate FOO", 2, "Bad ctstate \"FOO\"");
	fails("-A INPUT -m conntrack --ctstate NEW,FOO,BAR", 2, "Bad ctstate \"FOO,BAR\"");
	fails("-A INPUT -m conntrack --ctstate NEW,", 2, "Bad ctstate \"\"");
	fails("-A INPUT -m conntrack --ctstatus FOO", 2, "Bad ctstatus \"FOO\"");
	fails("-A INPUT -m conntrack --ctdir SIDEWAYS", 2,
	      "conntrack: Bad value for \"--ctdir\" option: \"SIDEWAYS\"");
	fails("-A INPUT -m conntrack ! --ctdir REPLY", 2,
	      "conntrack: option \"--ctdir\" cannot be inverted.\n");
	fails("-A INPUT -m conntrack --ctstate NEW --ctstate NEW", 2,
	      "conntrack: option \"--ctstate\" can only be used once.\n");
	fails("-A INPUT -m conntrack --ctexpire 4294967296", 2,
	      "conntrack: bad value for option \"--ctexpire\" near \"4294967296\", or out of range "
	      "(0-4294967295).\n");
	fails("-A INPUT -m conntrack --ctexpire 1:2:3", 2,
	      "conntrack: Too many components for option \"--ctexpire\" (max: 2)\n");
	fails("-A INPUT -m conntrack --ctexpire 5x", 2,
	      "conntrack: Argument to \"--ctexpire\" has unexpected characters near \"x\".\n");
	fails("-A INPUT -m conntrack --ctproto foo", 2, "unknown protocol \"foo\" specified");
	fails("-A INPUT -m conntrack --ctproto ALL", 2, "unknown protocol \"ALL\" specified");
	fails("-A INPUT -m conntrack ! --ctstatus NONE --ctproto all", 2,
	      "conntrack: rule would never match protocol");
	fails("-A INPUT -m conntrack --ctorigsrcport 0x50", 2,
	      "Port \"0x50\" does not resolve to anything.\n");
	fails("-A INPUT -m conntrack --ctorigsrcport 1:2:3", 2,
	      "conntrack: Too many components for option \"--ctorigsrcport\" (max: 2)\n");
	fails("-A INPUT -m conntrack --ctorigsrc 10.0.0.300", 2,
	      "getaddrinfo: Name or service not known\n");
	fails("-A INPUT -m conntrack --ctorigsrc 10.0.0.3/", 2,
	      "conntrack: bad value for option \"--ctorigsrc\", neither a valid network mask nor "
	      "valid CIDR (0-32).\n");
}
END_TEST

START_TEST(state)
{
	canon_t("", "INPUT", "-A INPUT -m state --state NEW", "-A INPUT -m state --state NEW");
	canon_t("", "INPUT", "-A INPUT -m state ! --state established,related,inv,u",
		"-A INPUT -m state ! --state INVALID,RELATED,ESTABLISHED,UNTRACKED");
	canon_t("", "INPUT", "-A INPUT -m state --state NEW -m conntrack --ctstate NEW -j ACCEPT",
		"-A INPUT -m state --state NEW -m conntrack --ctstate NEW -j ACCEPT");
	ck_assert_str_eq(listed("INPUT", "-A INPUT -m state ! --state NEW,ESTABLISHED", false),
			 " ! state NEW,ESTABLISHED");
	ck_assert_str_eq(listed("INPUT", "-A INPUT -m state --state RELATED", true),
			 " state RELATED");
	fails("-A INPUT -m state", 2, "state: option \"--state\" must be specified\n");
	fails("-A INPUT -m state --state FOO", 2, "Bad state \"FOO\"");
	fails("-A INPUT -m state --state SNAT", 2, "Bad state \"SNAT\"");
	fails("-A INPUT -m state --state NEW,", 2,
	      "\"--state\" requires a list of states with no spaces, e.g. ESTABLISHED,RELATED");
	fails("-A INPUT -m state --state ,NEW", 2, "Bad state \",NEW\"");
	fails("-A INPUT -m state --state NEW --state NEW", 2,
	      "state: option \"--state\" can only be used once.\n");
}
END_TEST

START_TEST(mark)
{
	canon_t("", "INPUT", "-A INPUT -m mark --mark 1", "-A INPUT -m mark --mark 0x1");
	canon_t("", "INPUT", "-A INPUT -m mark --mark 0x10/0xf0",
		"-A INPUT -m mark --mark 0x10/0xf0");
	canon_t("", "INPUT", "-A INPUT -m mark ! --mark 4294967295/0xffffffff",
		"-A INPUT -m mark ! --mark 0xffffffff");
	canon_t("", "INPUT", "-A INPUT -m mark --mark 010/0", "-A INPUT -m mark --mark 0x8/0x0");
	ck_assert_str_eq(listed("INPUT", "-A INPUT -m mark ! --mark 0x10/0xf0", false),
			 " mark match ! 0x10/0xf0");
	ck_assert_str_eq(listed("INPUT", "-A INPUT -m mark --mark 7", true), " mark match 0x7");
	fails("-A INPUT -m mark", 2, "mark: option \"--mark\" must be specified\n");
	fails("-A INPUT -m mark --mark 4294967296", 2,
	      "mark: bad integer value for option \"--mark\", or out of range.\n");
	fails("-A INPUT -m mark --mark 1/", 2,
	      "mark: bad integer value for option \"--mark\", or out of range.\n");
	fails("-A INPUT -m mark --mark 1/2/3", 2,
	      "mark: trailing garbage after value for option \"--mark\".\n");
	fails("-A INPUT -m mark --mark 1x", 2,
	      "mark: trailing garbage after value for option \"--mark\".\n");
	fails("-A INPUT -m mark --mark 1 --mark 2", 2,
	      "mark: option \"--mark\" can only be used once.\n");
}
END_TEST

START_TEST(connmark)
{
	canon_t("", "INPUT", "-A INPUT -m connmark --mark 5", "-A INPUT -m connmark --mark 0x5");
	canon_t("", "INPUT", "-A INPUT -m connmark ! --mark 7/7",
		"-A INPUT -m connmark ! --mark 0x7/0x7");
	ck_assert_str_eq(listed("INPUT", "-A INPUT -m connmark --mark 0x5/0xff", false),
			 " connmark match  0x5/0xff");
	ck_assert_str_eq(listed("INPUT", "-A INPUT -m connmark ! --mark 5", true),
			 " connmark match ! 0x5");
	fails("-A INPUT -m connmark", 2, "connmark: option \"--mark\" must be specified\n");
	fails("-A INPUT -m connmark --mark foo", 2,
	      "connmark: bad integer value for option \"--mark\", or out of range.\n");
	fails("-A INPUT -m connmark --mark 1x", 2,
	      "connmark: trailing garbage after value for option \"--mark\".\n");
}
END_TEST

START_TEST(comment)
{
	canon_t("", "INPUT", "-A INPUT -m comment --comment hello",
		"-A INPUT -m comment --comment hello");
	canon_t("", "INPUT", "-A INPUT -m comment --comment \"hello world\" -j ACCEPT",
		"-A INPUT -m comment --comment \"hello world\" -j ACCEPT");
	canon_t("", "INPUT", "-A INPUT -m comment --comment \"it's a \\\"test\\\" \\\\ here\"",
		"-A INPUT -m comment --comment \"it\\'s a \\\"test\\\" \\\\ here\"");
	canon_t("", "INPUT", "-A INPUT -m comment --comment \"\"",
		"-A INPUT -m comment --comment \"\"");
	canon_t("", "INPUT", "-A INPUT -m comment --comment 1.2",
		"-A INPUT -m comment --comment \"1.2\"");
	canon_t("", "INPUT", "-A INPUT -p tcp --dport 22 -m comment --comment ssh -j ACCEPT",
		"-A INPUT -p tcp -m tcp --dport 22 -m comment --comment ssh -j ACCEPT");
	ck_assert_str_eq(listed("INPUT", "-A INPUT -m comment --comment \"*/ x /*\"", false),
			 " /* */ x /* */");
	ck_assert_str_eq(listed("INPUT", "-A INPUT -m comment --comment \"a b\"", true),
			 " /* a b */");
	fails("-A INPUT -m comment", 2, "comment: option \"--comment\" must be specified\n");
	fails("-A INPUT -m comment ! --comment x", 2,
	      "comment: option \"--comment\" cannot be inverted.\n");
	fails("-A INPUT -m comment --comment a --comment b", 2,
	      "comment: option \"--comment\" can only be used once.\n");
}
END_TEST

START_TEST(mac)
{
	canon_t("", "INPUT", "-A INPUT -m mac --mac-source 00:11:22:33:44:55 -j DROP",
		"-A INPUT -m mac --mac-source 00:11:22:33:44:55 -j DROP");
	canon_t("", "INPUT", "-A INPUT -m mac ! --mac-source AA:BB:CC:DD:EE:FF",
		"-A INPUT -m mac ! --mac-source aa:bb:cc:dd:ee:ff");
	canon_t("", "FORWARD", "-A FORWARD -m mac --mac-source 0:1:2:3:4:5",
		"-A FORWARD -m mac --mac-source 00:01:02:03:04:05");
	canon_t("mangle", "PREROUTING",
		"-t mangle -A PREROUTING -m mac --mac-source 00:11:22:33:44:+5",
		"-A PREROUTING -m mac --mac-source 00:11:22:33:44:05");
	ck_assert_str_eq(listed("INPUT", "-A INPUT -m mac ! --mac-source aa:bb:cc:dd:ee:ff", false),
			 " MAC ! aa:bb:cc:dd:ee:ff");
	ck_assert_str_eq(listed("INPUT", "-A INPUT -m mac --mac-source 00:11:22:33:44:55", true),
			 " MAC 00:11:22:33:44:55");
	fails("-A INPUT -m mac", 2, "mac: option \"--mac-source\" must be specified\n");
	fails("-A INPUT -m mac --mac-source 00:11:22:33:44", 2, "Invalid MAC address specified.");
	fails("-A INPUT -m mac --mac-source 00:11:22:33:44:gg", 2,
	      "Invalid MAC address specified.");
	fails("-A INPUT -m mac --mac-source 000:11:22:33:44:55", 2,
	      "Invalid MAC address specified.");
	fails("-A OUTPUT -m mac --mac-source 00:11:22:33:44:55", 1, INVAL);
	fails("-t nat -A POSTROUTING -m mac --mac-source 00:11:22:33:44:55", 1, INVAL);
}
END_TEST

START_TEST(pkttype)
{
	canon_t("", "INPUT", "-A INPUT -m pkttype --pkt-type unicast",
		"-A INPUT -m pkttype --pkt-type unicast");
	canon_t("", "INPUT", "-A INPUT -m pkttype ! --pkt-type BROADCAST -j DROP",
		"-A INPUT -m pkttype ! --pkt-type broadcast -j DROP");
	canon_t("", "INPUT", "-A INPUT -m pkttype --pkt-type host",
		"-A INPUT -m pkttype --pkt-type unicast");
	canon_t("", "INPUT", "-A INPUT -m pkttype --pkt-type mcast",
		"-A INPUT -m pkttype --pkt-type multicast");
	canon_t("", "INPUT", "-A INPUT -m pkttype --pkt-type otherhost",
		"-A INPUT -m pkttype --pkt-type otherhost");
	ck_assert_str_eq(listed("INPUT", "-A INPUT -m pkttype ! --pkt-type multicast", false),
			 " PKTTYPE != multicast");
	ck_assert_str_eq(listed("INPUT", "-A INPUT -m pkttype --pkt-type bcast", true),
			 " PKTTYPE = broadcast");
	fails("-A INPUT -m pkttype", 2, "pkttype: option \"--pkt-type\" must be specified\n");
	fails("-A INPUT -m pkttype --pkt-type foo", 2, "Bad packet type 'foo'");
	fails("-A INPUT -m pkttype --pkt-type outgoing", 2, "Bad packet type 'outgoing'");
	fails("-A INPUT -m pkttype --pkt-type unicast --pkt-type unicast", 2,
	      "pkttype: option \"--pkt-type\" can only be used once.\n");
}
END_TEST

START_TEST(addrtype)
{
	canon_t("", "INPUT", "-A INPUT -m addrtype --dst-type LOCAL",
		"-A INPUT -m addrtype --dst-type LOCAL");
	canon_t("", "INPUT",
		"-A INPUT -m addrtype ! --src-type local,broadcast ! --dst-type unicast",
		"-A INPUT -m addrtype ! --src-type LOCAL,BROADCAST ! --dst-type UNICAST");
	canon_t("", "INPUT", "-A INPUT -m addrtype --dst-type UNICAST --limit-iface-in",
		"-A INPUT -m addrtype --dst-type UNICAST --limit-iface-in");
	canon_t("", "OUTPUT", "-A OUTPUT -m addrtype --src-type LOC --limit-iface-out",
		"-A OUTPUT -m addrtype --src-type LOCAL --limit-iface-out");
	canon_t("", "INPUT",
		"-A INPUT -m addrtype --src-type "
		"XRESOLVE,NAT,THROW,PROHIBIT,UNREACHABLE,BLACKHOLE,ANYCAST,UNSPEC",
		"-A INPUT -m addrtype --src-type "
		"UNSPEC,ANYCAST,BLACKHOLE,UNREACHABLE,PROHIBIT,THROW,NAT,XRESOLVE");
	canon_t("nat", "POSTROUTING",
		"-t nat -A POSTROUTING -m addrtype --src-type LOCAL --limit-iface-out",
		"-A POSTROUTING -m addrtype --src-type LOCAL --limit-iface-out");
	ck_assert_str_eq(listed("INPUT",
				"-A INPUT -m addrtype ! --src-type LOCAL --dst-type "
				"MULTICAST,BROADCAST --limit-iface-in",
				false),
			 " ADDRTYPE match src-type !LOCAL dst-type BROADCAST,MULTICAST limit-in");
	ck_assert_str_eq(listed("INPUT", "-A INPUT -m addrtype --dst-type LOCAL", true),
			 " ADDRTYPE match dst-type LOCAL");
	fails("-A INPUT -m addrtype", 2, "addrtype: you must specify --src-type or --dst-type");
	fails("-A INPUT -m addrtype --limit-iface-in", 2,
	      "addrtype: you must specify --src-type or --dst-type");
	fails("-A INPUT -m addrtype --limit-iface-out --limit-iface-in", 2,
	      "addrtype: you must specify --src-type or --dst-type");
	fails("-A INPUT -m addrtype --dst-type FOO", 2, "addrtype: bad type \"FOO\"");
	fails("-A INPUT -m addrtype --src-type LOCAL,FOO,BAR", 2, "addrtype: bad type `FOO,BAR'");
	fails("-A INPUT -m addrtype --src-type LOCAL,", 2, "addrtype: bad type \"\"");
	fails("-A INPUT -m addrtype --src-type LOCAL --limit-iface-in --limit-iface-out", 2,
	      "addrtype: option \"--limit-iface-in\" cannot be used together with "
	      "\"--limit-iface-out\".\n");
	fails("-A INPUT -m addrtype ! --limit-iface-in --src-type LOCAL", 2,
	      "addrtype: option \"--limit-iface-in\" cannot be inverted.\n");
	fails("-A OUTPUT -m addrtype --dst-type LOCAL --limit-iface-in", 1, INVAL);
	fails("-A INPUT -m addrtype --dst-type LOCAL --limit-iface-out", 1, INVAL);
	fails("-t nat -A PREROUTING -m addrtype --src-type LOCAL --limit-iface-out", 1, INVAL);
}
END_TEST

START_TEST(owner)
{
	canon_t("", "OUTPUT", "-A OUTPUT -m owner --uid-owner 0",
		"-A OUTPUT -m owner --uid-owner 0");
	canon_t("", "OUTPUT", "-A OUTPUT -m owner --uid-owner root --gid-owner root",
		"-A OUTPUT -m owner --uid-owner 0 --gid-owner 0");
	canon_t("", "OUTPUT", "-A OUTPUT -m owner ! --uid-owner 1000-2000 ! --gid-owner 5:7",
		"-A OUTPUT -m owner ! --uid-owner 1000-2000 ! --gid-owner 5-7");
	canon_t("", "OUTPUT", "-A OUTPUT -m owner --gid-owner 10 --suppl-groups --socket-exists",
		"-A OUTPUT -m owner --socket-exists --gid-owner 10 --suppl-groups");
	canon_t("", "OUTPUT", "-A OUTPUT -m owner ! --socket-exists",
		"-A OUTPUT -m owner ! --socket-exists");
	canon_t("", "OUTPUT", "-A OUTPUT -m owner --uid-owner 0x10",
		"-A OUTPUT -m owner --uid-owner 16");
	canon_t("mangle", "POSTROUTING", "-t mangle -A POSTROUTING -m owner --uid-owner 4294967294",
		"-A POSTROUTING -m owner --uid-owner 4294967294");
	ck_assert_str_eq(listed("OUTPUT",
				"-A OUTPUT -m owner --uid-owner 0 ! --gid-owner 1 --suppl-groups",
				false),
			 " owner UID match root ! owner GID match daemon incl. suppl. groups");
	ck_assert_str_eq(
	    listed("OUTPUT", "-A OUTPUT -m owner ! --socket-exists --uid-owner 5-6", true),
	    " ! owner socket exists owner UID match 5-6");
	fails("-A OUTPUT -m owner", 2,
	      "owner: At least one of --uid-owner, --gid-owner or --socket-exists is required");
	fails("-A OUTPUT -m owner --suppl-groups", 2,
	      "owner: Bad value for \"--suppl-groups\" option: \"you need to use --gid-owner "
	      "first\"");
	fails("-A OUTPUT -m owner --uid-owner nosuchuser", 2,
	      "owner: Bad value for \"--uid-owner\" option: \"nosuchuser\"");
	fails("-A OUTPUT -m owner --uid-owner 4294967295", 2,
	      "owner: Bad value for \"--uid-owner\" option: \"4294967295\"");
	fails("-A OUTPUT -m owner --uid-owner 5-", 2,
	      "owner: Bad value for \"--uid-owner\" option: \"5-\"");
	fails("-A OUTPUT -m owner --gid-owner 1 ! --suppl-groups", 2,
	      "owner: option \"--suppl-groups\" cannot be inverted.\n");
	fails("-A OUTPUT -m owner --uid-owner 0 --uid-owner 1", 2,
	      "owner: option \"--uid-owner\" can only be used once.\n");
	fails("-A OUTPUT -m owner --uid-owner 5-3", 1, INVAL);
	fails("-A INPUT -m owner --uid-owner 0", 1, INVAL);
	fails("-t nat -A PREROUTING -m owner --uid-owner 0", 1, INVAL);
}
END_TEST

START_TEST(physdev)
{
	canon_t("", "FORWARD", "-A FORWARD -m physdev --physdev-in eth0",
		"-A FORWARD -m physdev --physdev-in eth0");
	canon_t("", "FORWARD", "-A FORWARD -m physdev ! --physdev-in eth0 ! --physdev-out eth1",
		"-A FORWARD -m physdev ! --physdev-in eth0 ! --physdev-out eth1");
	canon_t("", "FORWARD",
		"-A FORWARD -m physdev --physdev-is-bridged --physdev-out veth+ --physdev-is-out "
		"--physdev-in eth0 ! --physdev-is-in",
		"-A FORWARD -m physdev ! --physdev-is-in --physdev-in eth0 --physdev-is-out "
		"--physdev-out veth+ --physdev-is-bridged");
	canon_t("", "OUTPUT", "-A OUTPUT -m physdev --physdev-is-bridged --physdev-out eth0",
		"-A OUTPUT -m physdev --physdev-out eth0 --physdev-is-bridged");
	canon_t("", "INPUT", "-A INPUT -m physdev --physdev-out eth0",
		"-A INPUT -m physdev --physdev-out eth0");
	ck_assert_str_eq(
	    listed("INPUT", "-A INPUT -m physdev ! --physdev-in eth0 --physdev-is-bridged", false),
	    " PHYSDEV match ! --physdev-in eth0 --physdev-is-bridged");
	ck_assert_str_eq(listed("INPUT", "-A INPUT -m physdev --physdev-is-in", true),
			 " PHYSDEV match --physdev-is-in");
	fails("-A FORWARD -m physdev", 2, "PHYSDEV: no physdev option specified");
	fails("-A FORWARD -m physdev --physdev-out veth123456789012", 2,
	      "interface name `veth123456789012' must be shorter than IFNAMSIZ (15)");
	fails("-A FORWARD -m physdev --physdev-in eth0 --physdev-in eth1", 2,
	      "physdev: option \"--physdev-in\" can only be used once.\n");
	fails("-A OUTPUT -m physdev --physdev-out eth0", 1, INVAL);
	fails("-A OUTPUT -m physdev ! --physdev-is-bridged --physdev-is-out", 1, INVAL);
}
END_TEST

/* -D and -C compare the whole match data, as iptables does. */
START_TEST(check_delete)
{
	ok("-A INPUT -m iprange --src-range 10.0.0.5");
	ok("-C INPUT -m iprange --src-range 10.0.0.5-10.0.0.5");
	fails("-C INPUT -m iprange ! --src-range 10.0.0.5", 1,
	      "Bad rule (does a matching rule exist in that chain?)");
	ok("-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED");
	ok("-D INPUT -m conntrack --ctstate rel,est");
	ok("-A INPUT -m mark --mark 5/0xffffffff");
	ok("-D INPUT -m mark --mark 0x5");
	ok("-A INPUT -m state --state NEW");
	fails("-D INPUT -m conntrack --ctstate NEW", 1,
	      "Bad rule (does a matching rule exist in that chain?)");
	ok("-D INPUT -m state --state NEW");
	ok("-A OUTPUT -m owner --uid-owner root");
	ok("-D OUTPUT -m owner --uid-owner 0-0");
	ok("-A INPUT -m comment --comment abc");
	fails("-D INPUT -m comment --comment abd", 1,
	      "Bad rule (does a matching rule exist in that chain?)");
	ok("-D INPUT -m comment --comment abc");
	/* "5:0" keeps a high port of 0, unlike "5". */
	ok("-A INPUT -m conntrack --ctorigsrcport 5:0");
	fails("-D INPUT -m conntrack --ctorigsrcport 5", 1,
	      "Bad rule (does a matching rule exist in that chain?)");
	ok("-D INPUT -m conntrack --ctorigsrcport 5:0");
	ck_assert_str_eq(run("-S", NULL), "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n"
					  "-A INPUT -m iprange --src-range 10.0.0.5-10.0.0.5\n");
}
END_TEST

/* A match restricted to some hooks is checked against every chain the rule is reachable
 * from, through jumps. */
START_TEST(hooks_through_jumps)
{
	ok("-N c");
	ok("-A c -m mac --mac-source 00:11:22:33:44:55");
	ok("-A INPUT -j c");
	fails("-A OUTPUT -j c", 1, INVAL);
	ok("-N o");
	ok("-A o -m owner --uid-owner 0");
	ok("-A OUTPUT -j o");
	fails("-A FORWARD -j o", 1, INVAL);
	ok("-N p");
	ok("-A p -m physdev --physdev-out eth0");
	ok("-A FORWARD -j p");
	fails("-I OUTPUT -j p", 1, INVAL);
	ok("-N a");
	ok("-A a -m addrtype --src-type LOCAL --limit-iface-in");
	ok("-A INPUT -j a");
	fails("-A OUTPUT -j a", 1, INVAL);
}
END_TEST

/* The comment is cut to 255 bytes; save output quotes it as iptables-save does. */
START_TEST(comment_long_and_save)
{
	char cmd[1024], expect[1024];
	char text[301];
	memset(text, 'z', 300);
	text[300] = '\0';
	snprintf(cmd, sizeof(cmd), "-A INPUT -m comment --comment %s", text);
	ok(cmd);
	snprintf(expect, sizeof(expect), "-P INPUT ACCEPT\n-A INPUT -m comment --comment %.255s\n",
		 text);
	ck_assert_str_eq(run("-S INPUT", NULL), expect);
	ok("-F INPUT");
	ok("-A INPUT -m comment --comment \"say \\\"hi\\\"\" -j ACCEPT");
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ck_assert_int_eq(pf_ruleset_save(rs, "filter", 0, f, &err), 0);
	fclose(f);
	ck_assert_str_eq(buf,
			 "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n"
			 ":OUTPUT ACCEPT [0:0]\n"
			 "-A INPUT -m comment --comment \"say \\\"hi\\\"\" -j ACCEPT\nCOMMIT\n");
	free(buf);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("ext_meta");
	struct {
		const char *name;
		const TTest *test;
	} tests[] = {
	    {"iprange_canonical", iprange_canonical},
	    {"iprange_list", iprange_list},
	    {"iprange_errors", iprange_errors},
	    {"conntrack_canonical", conntrack_canonical},
	    {"conntrack_list", conntrack_list},
	    {"conntrack_errors", conntrack_errors},
	    {"state", state},
	    {"mark", mark},
	    {"connmark", connmark},
	    {"comment", comment},
	    {"mac", mac},
	    {"pkttype", pkttype},
	    {"addrtype", addrtype},
	    {"owner", owner},
	    {"physdev", physdev},
	    {"check_delete", check_delete},
	    {"hooks_through_jumps", hooks_through_jumps},
	    {"comment_long_and_save", comment_long_and_save},
	};
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		TCase *tc = tcase_create(tests[i].name);
		tcase_add_checked_fixture(tc, fixture_setup, fixture_teardown);
		tcase_add_test(tc, tests[i].test);
		suite_add_tcase(s, tc);
	}
	return s;
}

int main(void)
{
	return run_suite(suite());
}
