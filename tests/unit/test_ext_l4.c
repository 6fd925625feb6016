/*
 * test_ext_l4.c - unit tests of the layer-3/4 header matches: tcp, udp, sctp, icmp,
 * multiport, tcpmss, length, ttl, tos and dscp. For each: canonical -S output of valid rules,
 * -L summaries (with and without -n) and iptables' messages and exit codes for bad input.
 * Expected strings were taken from iptables-legacy 1.8.9.
 */
#include "helpers.h"

/* Append `cmd` (an -A INPUT ... line) to an empty INPUT and compare -S INPUT's rule line. */
static void canon(const char *cmd, const char *rule)
{
	char expect[4096];
	ok("-F INPUT");
	ok(cmd);
	snprintf(expect, sizeof(expect), "-P INPUT ACCEPT\n%s\n", rule);
	ck_assert_str_eq(run("-S INPUT", NULL), expect);
}

/* ---- tcp ---- */

START_TEST(tcp_canonical)
{
	canon("-A INPUT -p tcp --dport 22 -j ACCEPT",
	      "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT");
	canon("-A INPUT -p tcp --destination-port ssh", "-A INPUT -p tcp -m tcp --dport 22");
	canon("-A INPUT -p tcp --sport 1024: --dport :1023",
	      "-A INPUT -p tcp -m tcp --sport 1024:65535 --dport 0:1023");
	canon("-A INPUT -p tcp ! --source-port 0x10", "-A INPUT -p tcp -m tcp ! --sport 16");
	canon("-A INPUT -p tcp --sport :", "-A INPUT -p tcp -m tcp");
	canon("-A INPUT -p tcp ! --tcp-option 8 --sport 1:2",
	      "-A INPUT -p tcp -m tcp --sport 1:2 ! --tcp-option 8");
	canon("-A INPUT -p tcp -m tcp", "-A INPUT -p tcp -m tcp");
	canon("-A INPUT -p tcp ! --syn",
	      "-A INPUT -p tcp -m tcp ! --tcp-flags FIN,SYN,RST,ACK SYN");
}
END_TEST

START_TEST(tcp_flags_two_words)
{
	/* --tcp-flags takes two words (needs the core's PF_ARG_TWO). */
	canon("-A INPUT -p tcp --tcp-flags syn,ack ack",
	      "-A INPUT -p tcp -m tcp --tcp-flags SYN,ACK ACK");
	canon("-A INPUT -p tcp --tcp-flags ALL NONE",
	      "-A INPUT -p tcp -m tcp --tcp-flags FIN,SYN,RST,PSH,ACK,URG NONE");
	canon("-A INPUT -p tcp ! --tcp-flags NONE NONE",
	      "-A INPUT -p tcp -m tcp ! --tcp-flags NONE NONE");
	canon("-A INPUT -p tcp --tcp-flags SYN,SYN,FIN SYN,FIN -j DROP",
	      "-A INPUT -p tcp -m tcp --tcp-flags FIN,SYN FIN,SYN -j DROP");
	fails("-A INPUT -p tcp --tcp-flags FOO SYN", 2, "Unknown TCP flag `FOO'");
	fails("-A INPUT -p tcp --tcp-flags SYN ! SYN", 2, "--tcp-flags requires two args.");
	ck_assert_str_eq(listed("INPUT", "-A INPUT -p tcp --tcp-flags syn,ack ack", false),
			 " tcp flags:SYN,ACK/ACK");
	ck_assert_str_eq(listed("INPUT", "-A INPUT -p tcp --tcp-flags syn,ack ack", true),
			 " tcp flags:0x12/0x10");
}
END_TEST

START_TEST(tcp_list)
{
	ck_assert_str_eq(listed("INPUT", "-A INPUT -p tcp --dport 22", false), " tcp dpt:ssh");
	ck_assert_str_eq(listed("INPUT", "-A INPUT -p tcp --dport 22", true), " tcp dpt:22");
	ck_assert_str_eq(listed("INPUT", "-A INPUT -p tcp ! --tcp-option 8 --sport 1:2", true),
			 " tcp spts:1:2 option=!8");
	ck_assert_str_eq(listed("INPUT", "-A INPUT -p tcp ! --syn", false),
			 " tcp flags:!FIN,SYN,RST,ACK/SYN");
	ck_assert_str_eq(listed("INPUT", "-A INPUT -p tcp ! --syn", true), " tcp flags:!0x17/0x02");
	/* Inverted full range: not saved, but listed. */
	ck_assert_str_eq(listed("INPUT", "-A INPUT -p tcp ! --sport :", true),
			 " tcp spts:!0:65535");
}
END_TEST

START_TEST(tcp_errors)
{
	fails("-A INPUT -p tcp --dport 22 --dport 23", 2, "Only one `--destination-port' allowed");
	fails("-A INPUT -p tcp --syn --syn", 2, "Only one of `--syn' or `--tcp-flags'  allowed");
	fails("-A INPUT -p tcp --tcp-flags SYN", 2, "--tcp-flags requires two args.");
	fails("-A INPUT -p tcp --tcp-option 0", 2, "Bad TCP option \"0\"");
	fails("-A INPUT -p tcp --dport 1:2:3", 2, "invalid port/service `2:3' specified");
	fails("-A INPUT -p tcp --dport 5:1", 2, "invalid portrange (min > max)");
	fails("-A INPUT -p tcp --sport \"\"", 2, "invalid port/service `' specified");
	fails("-A INPUT -m tcp --dport 22", 1, INVAL);
	fails("-A INPUT ! -p tcp --dport 22", 1, INVAL);
	fails("-A INPUT -p udp -m tcp --dport 22", 1, INVAL);
}
END_TEST

/* ---- udp ---- */

START_TEST(udp_canonical)
{
	canon("-A INPUT -p udp --dport 53 --sport 1:1023",
	      "-A INPUT -p udp -m udp --sport 1:1023 --dport 53");
	canon("-A INPUT -p udp ! --sport bootps ! --dport 67:68",
	      "-A INPUT -p udp -m udp ! --sport 67 ! --dport 67:68");
	canon("-A INPUT -p udp --dport 5:1", "-A INPUT -p udp -m udp --dport 5:1");
	canon("-A INPUT -p udp --sport :0", "-A INPUT -p udp -m udp --sport 0");
	canon("-A INPUT -p udp --sport 010", "-A INPUT -p udp -m udp --sport 10");
	canon("-A INPUT -p udp --dport 65536", "-A INPUT -p udp -m udp --dport 0");
	canon("-A INPUT -p udp -m udp", "-A INPUT -p udp -m udp");
	ck_assert_str_eq(listed("INPUT", "-A INPUT -p udp ! --sport 67 ! --dport 67:68", false),
			 " udp spt:!bootps dpts:!bootps:bootpc");
	ck_assert_str_eq(listed("INPUT", "-A INPUT -p udp ! --sport 67 ! --dport 67:68", true),
			 " udp spt:!67 dpts:!67:68");
}
END_TEST

START_TEST(udp_errors)
{
	fails("-A INPUT -p udp --dport 53 --destination-port 54", 2,
	      "udp: option \"--destination-port\" can only be used once.\n");
	fails("-A INPUT -p udp --dport 1:2:3", 2,
	      "udp: Too many components for option \"--destination-port\" (max: 2)\n");
	fails("-A INPUT -p udp --sport 0x10", 2, "Port \"0x10\" does not resolve to anything.\n");
	fails("-A INPUT -p udplite -m udp --dport 5", 1, INVAL);
}
END_TEST

/* ---- sctp ---- */

START_TEST(sctp_canonical)
{
	canon("-A INPUT -p sctp --dport 80 --sport 1:2",
	      "-A INPUT -p sctp -m sctp --sport 1:2 --dport 80");
	canon("-A INPUT -p sctp --sport : --dport 0:65535",
	      "-A INPUT -p sctp -m sctp --sport 0:65535 --dport 0:65535");
	canon("-A INPUT -p sctp -m sctp", "-A INPUT -p sctp -m sctp");
	ck_assert_str_eq(listed("INPUT", "-A INPUT -p sctp ! --sport 1:2 ! --dport 5", true),
			 " sctp spts:!1:2 dpt:!5");
	fails("-A INPUT -p sctp --dport 1 --dport 2", 2, "Only one `--destination-port' allowed");
	fails("-A INPUT -p sctp --dport 70000", 2, "invalid port/service `70000' specified");
	fails("-A INPUT -m sctp --dport 1", 1, INVAL);
}
END_TEST

START_TEST(sctp_chunks_two_words)
{
	/* --chunk-types takes two words (needs the core's PF_ARG_TWO). */
	canon("-A INPUT -p sctp ! --chunk-types any SHUTDOWN_COMPLETE",
	      "-A INPUT -p sctp -m sctp ! --chunk-types any SHUTDOWN_COMPLETE");
	canon("-A INPUT -p sctp --chunk-types ANY all",
	      "-A INPUT -p sctp -m sctp --chunk-types any ALL");
	canon("-A INPUT -p sctp --chunk-types any data:iubeIUBE",
	      "-A INPUT -p sctp -m sctp --chunk-types any DATA:IUBE");
	canon("-A INPUT -p sctp --chunk-types any DATA:B,ABORT:t,SHUTDOWN_COMPLETE:T,INIT",
	      "-A INPUT -p sctp -m sctp --chunk-types any DATA:B,INIT,ABORT:t,SHUTDOWN_COMPLETE:T");
	canon("-A INPUT -p sctp --chunk-types any ,",
	      "-A INPUT -p sctp -m sctp --chunk-types any NONE");
	ck_assert_str_eq(
	    listed("INPUT", "-A INPUT -p sctp --chunk-types only DATA:Be,ABORT:T", false),
	    " sctp only DATA:Be,ABORT:T");
	ck_assert_str_eq(
	    listed("INPUT", "-A INPUT -p sctp --chunk-types only DATA:Be,ABORT:T", true),
	    " sctp only 0x0000:Be,0x0006:T");
	ck_assert_str_eq(listed("INPUT", "-A INPUT -p sctp ! --chunk-types all INIT,SACK", true),
			 " sctp ! all 0x0001,0x0003");
	fails("-A INPUT -p sctp --chunk-types none INIT", 2,
	      "Match type has to be one of \"ALL\", \"ANY\" or \"ONLY\"");
	fails("-A INPUT -p sctp --chunk-types any ALL,INIT", 2, "Unknown sctp chunk `ALL'");
	fails("-A INPUT -p sctp --chunk-types any INIT:T", 2, "Invalid flags for chunk type 1");
	fails("-A INPUT -p sctp --chunk-types any -j ACCEPT", 2, "--chunk-types requires two args");
	fails("-A INPUT -p sctp --chunk-types any INIT --chunk-types any INIT", 2,
	      "Only one `--chunk-types' allowed");
}
END_TEST

/* ---- icmp ---- */

START_TEST(icmp_canonical)
{
	canon("-A INPUT -p icmp --icmp-type echo-request -j ACCEPT",
	      "-A INPUT -p icmp -m icmp --icmp-type 8 -j ACCEPT");
	canon("-A INPUT -p icmp ! --icmp-type any", "-A INPUT -p icmp -m icmp ! --icmp-type any");
	canon("-A INPUT -p icmp --icmp-type 255", "-A INPUT -p icmp -m icmp --icmp-type any");
	canon("-A INPUT -p icmp --icmp-type port-unr", "-A INPUT -p icmp -m icmp --icmp-type 3/3");
	canon("-A INPUT -p icmp --icmp-type tos-host-redirect",
	      "-A INPUT -p icmp -m icmp --icmp-type 5/3");
	canon("-A INPUT -p icmp --icmp-type 3/0", "-A INPUT -p icmp -m icmp --icmp-type 3/0");
	canon("-A INPUT -p icmp --icmp-type \"8/ 0x10\"",
	      "-A INPUT -p icmp -m icmp --icmp-type 8/16");
	canon("-A INPUT -p icmp --icmp-type 010", "-A INPUT -p icmp -m icmp --icmp-type 8");
}
END_TEST

START_TEST(icmp_list)
{
	ck_assert_str_eq(listed("INPUT", "-A INPUT -p icmp --icmp-type 8", false),
			 " icmp echo-request");
	ck_assert_str_eq(listed("INPUT", "-A INPUT -p icmp --icmp-type 8", true), " icmptype 8");
	ck_assert_str_eq(listed("INPUT", "-A INPUT -p icmp ! --icmp-type 8", false),
			 " icmp !echo-request");
	ck_assert_str_eq(listed("INPUT", "-A INPUT -p icmp ! --icmp-type 8", true),
			 " icmp !type 8");
	ck_assert_str_eq(listed("INPUT", "-A INPUT -p icmp --icmp-type 3/16", false),
			 " icmptype 3 code 16");
	ck_assert_str_eq(listed("INPUT", "-A INPUT -p icmp --icmp-type 255/3", true),
			 " icmptype 255 code 3");
	ck_assert_str_eq(listed("INPUT", "-A INPUT -p icmp --icmp-type any", true),
			 " icmptype 255");
}
END_TEST

START_TEST(icmp_errors)
{
	fails("-A INPUT -p icmp --icmp-type echo", 2,
	      "Ambiguous ICMP type `echo': `echo-reply' or `echo-request'?");
	fails("-A INPUT -p icmp --icmp-type foo", 2, "Unknown ICMP type `foo'");
	fails("-A INPUT -p icmp --icmp-type 3/256", 2, "Unknown ICMP code `3/256'");
	fails("-A INPUT -p icmp --icmp-type 5/3/4", 2, "unknown character /");
	fails("-A INPUT -p icmp --icmp-type 8 --icmp-type 0", 2,
	      "icmp: option \"--icmp-type\" can only be used once.\n");
	fails("-A INPUT -p icmp -m icmp", 2, "icmp: option \"--icmp-type\" must be specified\n");
	fails("-A INPUT -m icmp --icmp-type 8", 1, INVAL);
}
END_TEST

/* ---- multiport ---- */

START_TEST(multiport_canonical)
{
	canon("-A INPUT -p tcp -m multiport --dports ssh,http,https -j ACCEPT",
	      "-A INPUT -p tcp -m multiport --dports 22,80,443 -j ACCEPT");
	canon("-A INPUT -p udp -m multiport --sports 53,123,1000:2000",
	      "-A INPUT -p udp -m multiport --sports 53,123,1000:2000");
	canon("-A INPUT -p tcp -m multiport ! --ports 1:1023,5",
	      "-A INPUT -p tcp -m multiport ! --ports 1:1023,5");
	canon("-A INPUT -p tcp -m multiport --destination-ports 8000:8080,9000",
	      "-A INPUT -p tcp -m multiport --dports 8000:8080,9000");
	canon("-A INPUT -p tcp -m multiport --source-ports 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15",
	      "-A INPUT -p tcp -m multiport --sports 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15");
	canon("-A INPUT -p 6 -m multiport --dports 0x16,010",
	      "-A INPUT -p tcp -m multiport --dports 22,8");
	canon("-A INPUT -p dccp -m multiport --dports 5",
	      "-A INPUT -p dccp -m multiport --dports 5");
	ck_assert_str_eq(
	    listed("INPUT", "-A INPUT -p tcp -m multiport ! --dports 1:1023,25", false),
	    " multiport dports  !tcpmux:1023,smtp");
	ck_assert_str_eq(listed("INPUT", "-A INPUT -p tcp -m multiport ! --dports 1:1023,25", true),
			 " multiport dports  !1:1023,25");
}
END_TEST

START_TEST(multiport_errors)
{
	fails("-A INPUT -p tcp -m multiport --dports 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16", 2,
	      "too many ports specified");
	fails("-A INPUT -p tcp -m multiport --dports 1:2,3:4,5:6,7:8,9:10,11:12,13:14,15:16", 2,
	      "too many ports specified");
	fails("-A INPUT -m multiport --dports 22,80", 2,
	      "multiport needs `-p tcp', `-p udp', `-p udplite', `-p sctp' or `-p dccp'");
	fails("-A INPUT ! -p tcp -m multiport --dports 22", 2,
	      "multiport only works with TCP, UDP, UDPLITE, SCTP and DCCP");
	fails("-A INPUT -p tcp -m multiport --dports 22 --sports 80", 2,
	      "multiport: option \"--source-ports\" cannot be used together with "
	      "\"--destination-ports\".\n");
	fails("-A INPUT -p tcp -m multiport --dports 22 --destination-ports 80", 2,
	      "multiport: option \"--destination-ports\" can only be used once.\n");
	fails("-A INPUT -p tcp -m multiport", 2, "multiport expection an option");
	fails("-A INPUT -p tcp -m multiport --dports 5:5", 2, "invalid portrange specified");
	fails("-A INPUT -p udp -m multiport --dports domain,http", 2,
	      "invalid port/service `http' specified");
}
END_TEST

/* ---- tcpmss, length ---- */

START_TEST(tcpmss_length)
{
	canon("-A INPUT -p tcp -m tcpmss --mss 1400", "-A INPUT -p tcp -m tcpmss --mss 1400");
	canon("-A INPUT -p tcp -m tcpmss ! --mss :536", "-A INPUT -p tcp -m tcpmss ! --mss 0:536");
	canon("-A INPUT -p tcp -m tcpmss --mss 5:5", "-A INPUT -p tcp -m tcpmss --mss 5");
	canon("-A INPUT -p tcp -m tcpmss --mss \"\"", "-A INPUT -p tcp -m tcpmss --mss 0");
	ck_assert_str_eq(listed("INPUT", "-A INPUT -p tcp -m tcpmss ! --mss 536:", true),
			 " tcpmss match !536:65535");
	fails("-A INPUT -p tcp -m tcpmss --mss 1500:1000", 2, "tcpmss: invalid range given");
	fails("-A INPUT -p tcp -m tcpmss --mss 65536", 2,
	      "tcpmss: bad value for option \"--mss\" near \"65536\", or out of range "
	      "(0-65535).\n");
	fails("-A INPUT -p tcp -m tcpmss", 2, "tcpmss: option \"--mss\" must be specified\n");
	fails("-A INPUT -p udp -m tcpmss --mss 1400", 1, INVAL);

	canon("-A INPUT -m length ! --length 64:", "-A INPUT -m length ! --length 64:65535");
	canon("-A INPUT -m length --length 100:50", "-A INPUT -m length --length 100:50");
	canon("-A INPUT -m length --length 0x10:010", "-A INPUT -m length --length 16:8");
	canon("-A INPUT -m length ! --length 5:5", "-A INPUT -m length ! --length 5");
	ck_assert_str_eq(listed("INPUT", "-A INPUT -m length ! --length 5", false), " length !5");
	ck_assert_str_eq(listed("INPUT", "-A INPUT -m length --length :256", true),
			 " length 0:256");
	fails("-A INPUT -m length --length 1:2:3", 2,
	      "length: Too many components for option \"--length\" (max: 2)\n");
	fails("-A INPUT -m length --length 1:2x", 2,
	      "length: Argument to \"--length\" has unexpected characters near \"x\".\n");
	fails("-A INPUT -m length --length 5 --length 6", 2,
	      "length: option \"--length\" can only be used once.\n");
	fails("-A INPUT -m length", 2, "length: option \"--length\" must be specified\n");
}
END_TEST

/* ---- ttl ---- */

START_TEST(ttl)
{
	canon("-A INPUT -m ttl --ttl-eq 64", "-A INPUT -m ttl --ttl-eq 64");
	canon("-A INPUT -m ttl ! --ttl-eq 1", "-A INPUT -m ttl ! --ttl-eq 1");
	canon("-A INPUT -m ttl --ttl-lt 0x10", "-A INPUT -m ttl --ttl-lt 16");
	canon("-A INPUT -m ttl --ttl-gt 255", "-A INPUT -m ttl --ttl-gt 255");
	canon("-A INPUT -m ttl ! --ttl 5", "-A INPUT -m ttl ! --ttl-eq 5");
	ck_assert_str_eq(listed("INPUT", "-A INPUT -m ttl ! --ttl-eq 1", false),
			 " TTL match TTL != 1");
	ck_assert_str_eq(listed("INPUT", "-A INPUT -m ttl --ttl-lt 10", true),
			 " TTL match TTL < 10");
	ck_assert_str_eq(listed("INPUT", "-A INPUT -m ttl --ttl-gt 10", true),
			 " TTL match TTL > 10");
	fails("-A INPUT -m ttl ! --ttl-lt 5", 2, "ttl: option \"--ttl-lt\" cannot be inverted.\n");
	fails("-A INPUT -m ttl --ttl-eq 256", 2,
	      "ttl: bad value for option \"--ttl-eq\", or out of range (0-255).\n");
	fails("-A INPUT -m ttl --ttl-eq 1 --ttl-gt 2", 2,
	      "ttl: option \"--ttl-gt\" cannot be used together with \"--ttl-eq\".\n");
	fails("-A INPUT -m ttl --ttl-lt 1 --ttl-gt 2", 2,
	      "ttl: option \"--ttl-lt\" cannot be used together with \"--ttl-gt\".\n");
	fails("-A INPUT -m ttl --ttl 5 --ttl-eq 6", 2,
	      "ttl: option \"--ttl-eq\" can only be used once.\n");
	fails("-A INPUT -m ttl", 2,
	      "TTL match: You must specify one of `--ttl-eq', `--ttl-lt', `--ttl-gt");
}
END_TEST

/* ---- tos ---- */

START_TEST(tos)
{
	canon("-A INPUT -m tos --tos Minimize-Delay", "-A INPUT -m tos --tos 0x10/0x3f");
	canon("-A INPUT -m tos --tos normal-service", "-A INPUT -m tos --tos 0x00/0x3f");
	canon("-A INPUT -m tos ! --tos 0x08", "-A INPUT -m tos ! --tos 0x08/0xff");
	canon("-A INPUT -m tos --tos 16", "-A INPUT -m tos --tos 0x10/0xff");
	canon("-A INPUT -m tos --tos 0/0", "-A INPUT -m tos --tos 0x00/0x00");
	ck_assert_str_eq(listed("INPUT", "-A INPUT -m tos --tos 0x10/0x3f", false),
			 " tos match Minimize-Delay");
	ck_assert_str_eq(listed("INPUT", "-A INPUT -m tos --tos 0x10/0x3f", true),
			 " tos match0x10/0x3f");
	ck_assert_str_eq(listed("INPUT", "-A INPUT -m tos ! --tos Minimize-Cost", false),
			 " tos match! Minimize-Cost");
	ck_assert_str_eq(listed("INPUT", "-A INPUT -m tos ! --tos 0x08", false),
			 " tos match!0x08/0xff");
	fails("-A INPUT -m tos --tos 0x100", 2, "Symbolic name \"0x100\" is unknown");
	fails("-A INPUT -m tos --tos 0x10/0x100", 2, "Illegal value: \"0x10/0x100\"");
	fails("-A INPUT -m tos --tos 3x", 2, "Illegal value: \"3x\"");
	fails("-A INPUT -m tos --tos 1 --tos 2", 2,
	      "tos: option \"--tos\" can only be used once.\n");
	fails("-A INPUT -m tos", 2, "tos: option \"--tos\" must be specified\n");
}
END_TEST

/* ---- dscp ---- */

START_TEST(dscp)
{
	canon("-A INPUT -m dscp --dscp 46", "-A INPUT -m dscp --dscp 0x2e");
	canon("-A INPUT -m dscp ! --dscp 0", "-A INPUT -m dscp ! --dscp 0x00");
	canon("-A INPUT -m dscp --dscp-class ef", "-A INPUT -m dscp --dscp 0x2e");
	canon("-A INPUT -m dscp ! --dscp-class AF41", "-A INPUT -m dscp ! --dscp 0x22");
	canon("-A INPUT -m dscp --dscp-class CS7", "-A INPUT -m dscp --dscp 0x38");
	ck_assert_str_eq(listed("INPUT", "-A INPUT -m dscp ! --dscp 0x22", false),
			 " DSCP match !0x22");
	ck_assert_str_eq(listed("INPUT", "-A INPUT -m dscp --dscp 63", true), " DSCP match 0x3f");
	fails("-A INPUT -m dscp --dscp 64", 2,
	      "dscp: bad value for option \"--dscp\", or out of range (0-63).\n");
	fails("-A INPUT -m dscp --dscp-class XX", 2, "Invalid DSCP value `XX'");
	fails("-A INPUT -m dscp --dscp-class EF --dscp 1", 2,
	      "dscp: option \"--dscp\" cannot be used together with \"--dscp-class\".\n");
	fails("-A INPUT -m dscp --dscp 1 --dscp 2", 2,
	      "dscp: option \"--dscp\" can only be used once.\n");
	fails("-A INPUT -m dscp", 2, "DSCP match: Parameter --dscp is required");
}
END_TEST

/* ---- rule identity (-C/-D compare the match data) ---- */

START_TEST(check_delete)
{
	ok("-A INPUT -p tcp --dport ssh -j ACCEPT");
	ok("-A INPUT -p udp --sport 53:54");
	ok("-A INPUT -p icmp --icmp-type ping");
	ok("-A INPUT -p tcp -m multiport --dports 1:5,80");
	ok("-A INPUT -m tos --tos Minimize-Delay");
	ok("-C INPUT -p tcp -m tcp --dport 22 -j ACCEPT");
	ok("-C INPUT -p udp --source-port 53:54");
	ok("-C INPUT -p icmp --icmp-type 8");
	ok("-C INPUT -p tcp -m multiport --destination-ports 1:5,80");
	ok("-C INPUT -m tos --tos 0x10/0x3f");
	fails("-C INPUT -m tos --tos 0x10", 1,
	      "Bad rule (does a matching rule exist in that chain?)");
	ok("-D INPUT -p icmp --icmp-type echo-request");
	ok("-D INPUT -p tcp --dport 22 -j ACCEPT");
	ck_assert_str_eq(run("-S INPUT", NULL), "-P INPUT ACCEPT\n"
						"-A INPUT -p udp -m udp --sport 53:54\n"
						"-A INPUT -p tcp -m multiport --dports 1:5,80\n"
						"-A INPUT -m tos --tos 0x10/0x3f\n");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("ext_l4");
	struct {
		const char *name;
		const TTest *test;
	} tests[] = {
	    {"tcp_canonical", tcp_canonical},
	    {"tcp_list", tcp_list},
	    {"tcp_errors", tcp_errors},
	    {"udp_canonical", udp_canonical},
	    {"udp_errors", udp_errors},
	    {"sctp_canonical", sctp_canonical},
	    {"icmp_canonical", icmp_canonical},
	    {"icmp_list", icmp_list},
	    {"icmp_errors", icmp_errors},
	    {"multiport_canonical", multiport_canonical},
	    {"multiport_errors", multiport_errors},
	    {"tcpmss_length", tcpmss_length},
	    {"ttl", ttl},
	    {"tos", tos},
	    {"dscp", dscp},
	    {"check_delete", check_delete},
	};
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		TCase *tc = tcase_create(tests[i].name);
		tcase_add_checked_fixture(tc, fixture_setup, fixture_teardown);
		tcase_add_test(tc, tests[i].test);
		suite_add_tcase(s, tc);
	}
	/* Options taking two words: they need the core's PF_ARG_TWO support. */
	TCase *tc = tcase_create("two_word_options");
	tcase_add_checked_fixture(tc, fixture_setup, fixture_teardown);
	tcase_add_test(tc, tcp_flags_two_words);
	tcase_add_test(tc, sctp_chunks_two_words);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
