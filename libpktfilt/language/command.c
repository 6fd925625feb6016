/*
 * command.c - parse and run one iptables command line (iptables' do_command4): options and
 * their conflicts, extension loading and option dispatch, address expansion, and the table
 * operations (-A -C -D -I -R -L -S -F -Z -N -X -P -E), with iptables' messages.
 */
#include "language/command.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "language/print.h"
#include "language/xtutil.h"
#include "util/error.h"

enum {
	CMD_NONE = 0,
	CMD_INSERT = 1 << 0,
	CMD_DELETE = 1 << 1,
	CMD_DELETE_NUM = 1 << 2,
	CMD_REPLACE = 1 << 3,
	CMD_APPEND = 1 << 4,
	CMD_LIST = 1 << 5,
	CMD_FLUSH = 1 << 6,
	CMD_ZERO = 1 << 7,
	CMD_NEW_CHAIN = 1 << 8,
	CMD_DELETE_CHAIN = 1 << 9,
	CMD_SET_POLICY = 1 << 10,
	CMD_RENAME_CHAIN = 1 << 11,
	CMD_LIST_RULES = 1 << 12,
	CMD_ZERO_NUM = 1 << 13,
	CMD_CHECK = 1 << 14,
};
#define NUMBER_OF_CMD 15
static const char cmdflags[NUMBER_OF_CMD] = {'I', 'D', 'D', 'R', 'A', 'L', 'F', 'Z',
					      'N', 'X', 'P', 'E', 'S', 'Z', 'C'};
#define CMD_IDRAC (CMD_INSERT | CMD_DELETE | CMD_REPLACE | CMD_APPEND | CMD_CHECK)

enum {
	OPT_NUMERIC = 1 << 0,
	OPT_SOURCE = 1 << 1,
	OPT_DESTINATION = 1 << 2,
	OPT_PROTOCOL = 1 << 3,
	OPT_JUMP = 1 << 4,
	OPT_VERBOSE = 1 << 5,
	OPT_EXPANDED = 1 << 6,
	OPT_VIANAMEIN = 1 << 7,
	OPT_VIANAMEOUT = 1 << 8,
	OPT_LINENUMBERS = 1 << 9,
	OPT_COUNTERS = 1 << 10,
	OPT_FRAGMENT = 1 << 11,
};
#define NUMBER_OF_OPT 12
static const char optchars[NUMBER_OF_OPT] = {'n', 's', 'd', 'p', 'j', 'v',
					     'x', 'i', 'o', '0', 'c', 'f'};
static const int inverse_for_options[NUMBER_OF_OPT] = {
	0, PF_INV_SRCIP, PF_INV_DSTIP, PF_INV_PROTO, 0, 0, 0, PF_INV_VIA_IN, PF_INV_VIA_OUT,
	0, 0, PF_INV_FRAG};
static const unsigned options_v_commands[NUMBER_OF_OPT] = {
	CMD_LIST,
	CMD_IDRAC,
	CMD_IDRAC,
	CMD_IDRAC,
	CMD_IDRAC,
	~0u,
	CMD_LIST,
	CMD_IDRAC,
	CMD_IDRAC,
	CMD_LIST,
	CMD_INSERT | CMD_REPLACE | CMD_APPEND | CMD_SET_POLICY,
	CMD_IDRAC,
};

/* Core long options; short letter or a code >= 256. */
enum { LONG_LINENUMBERS = 256, LONG_IPV4, LONG_IPV6, LONG_MODPROBE_ONLY };
enum core_arg { A_NONE, A_REQ, A_OPT };
struct core_opt {
	const char *name;
	int code;
	enum core_arg arg;
};
static const struct core_opt core_opts[] = {
	{"append", 'A', A_REQ},
	{"delete", 'D', A_REQ},
	{"check", 'C', A_REQ},
	{"insert", 'I', A_REQ},
	{"replace", 'R', A_REQ},
	{"list", 'L', A_OPT},
	{"list-rules", 'S', A_OPT},
	{"flush", 'F', A_OPT},
	{"zero", 'Z', A_OPT},
	{"new-chain", 'N', A_REQ},
	{"delete-chain", 'X', A_OPT},
	{"rename-chain", 'E', A_REQ},
	{"policy", 'P', A_REQ},
	{"source", 's', A_REQ},
	{"destination", 'd', A_REQ},
	{"src", 's', A_REQ},
	{"dst", 'd', A_REQ},
	{"protocol", 'p', A_REQ},
	{"in-interface", 'i', A_REQ},
	{"jump", 'j', A_REQ},
	{"table", 't', A_REQ},
	{"match", 'm', A_REQ},
	{"numeric", 'n', A_NONE},
	{"out-interface", 'o', A_REQ},
	{"verbose", 'v', A_NONE},
	{"wait", 'w', A_OPT},
	{"wait-interval", 'W', A_OPT},
	{"exact", 'x', A_NONE},
	{"fragments", 'f', A_NONE},
	{"fragment", 'f', A_NONE},
	{"version", 'V', A_NONE},
	{"help", 'h', A_OPT},
	{"line-numbers", LONG_LINENUMBERS, A_NONE},
	{"modprobe", 'M', A_REQ},
	{"set-counters", 'c', A_REQ},
	{"goto", 'g', A_REQ},
	{"ipv4", '4', A_NONE},
	{"ipv6", '6', A_NONE},
	{NULL, 0, A_NONE},
};
/* Short options: letter -> argument kind. */
static enum core_arg short_arg(int c, bool *known)
{
	*known = true;
	switch (c) {
	case 'A': case 'C': case 'D': case 'R': case 'I': case 'M': case 'N': case 'E':
	case 'P': case 'o': case 'p': case 's': case 'd': case 'j': case 'i': case 't':
	case 'm': case 'c': case 'g':
		return A_REQ;
	case 'L': case 'S': case 'F': case 'Z': case 'X': case 'h': case 'w': case 'W':
		return A_OPT;
	case 'V': case 'f': case 'b': case 'v': case 'n': case 'x': case '4': case '6':
		return A_NONE;
	default:
		*known = false;
		return A_NONE;
	}
}

/* One loaded extension instance during parsing. */
struct loaded {
	const struct pf_ext *ext;
	struct pf_ext_inst *inst; /* in the rule (matches) or &rule->target */
	uint64_t seen;
};

struct cmd_state {
	struct pf_ruleset *rs;
	struct pf_table *forced_table; /* restore: the table of the block */
	int argc;
	char *const *argv;
	int optind;
	struct pf_error *err;
	bool unknown_args; /* words left after "--" */
	bool wait, wait_interval; /* -w, -W seen */

	unsigned command;
	unsigned options;
	const char *chain;
	const char *newname;
	const char *policy;
	unsigned rulenum;
	bool has_rulenum;
	const char *table;
	const char *shost, *dhost;
	const char *protocol;
	const char *jumpto;
	bool proto_used;
	int verbose;
	bool invert;
	struct pf_counters counters;

	struct pf_rule *rule;
	struct loaded loaded[64]; /* matches then (maybe) the target, in load order */
	unsigned nloaded;
	bool has_target_ext;

	struct pf_cmd_log *log; /* pf_ruleset_command_ex: every change, to undo or describe */
	struct pf_table *t;	/* the table the command works on */
};

static char cmd2char(unsigned cmd)
{
	for (int i = 0; i < NUMBER_OF_CMD; i++)
		if (cmd & (1u << i))
			return cmdflags[i];
	return '?';
}

static int add_command(struct cmd_state *st, unsigned newcmd, unsigned othercmds)
{
	if (st->invert)
		return pf_err_param(st->err, "unexpected '!' flag");
	if (st->command & ~othercmds)
		return pf_err_param(st->err, "Cannot use -%c with -%c", cmd2char(newcmd),
				    cmd2char(st->command & ~othercmds));
	st->command |= newcmd;
	return 0;
}

static int opt_index(unsigned option)
{
	int i = 0;
	while ((1u << i) != option)
		i++;
	return i;
}

static int set_option(struct cmd_state *st, unsigned option)
{
	int i = opt_index(option);
	if (st->options & option)
		return pf_err_param(st->err, "multiple -%c flags not allowed", optchars[i]);
	st->options |= option;
	if (st->invert) {
		if (!inverse_for_options[i])
			return pf_err_param(st->err, "cannot have ! before -%c", optchars[i]);
		st->rule->ip.invflags |= (uint8_t)inverse_for_options[i];
	}
	return 0;
}

static bool has_arg(const struct cmd_state *st)
{
	return st->optind < st->argc && st->argv[st->optind][0] != '-' &&
	       st->argv[st->optind][0] != '!';
}

static int parse_rulenumber(struct cmd_state *st, const char *s, unsigned *out)
{
	uint64_t v;
	if (!pf_strtoui(s, 1, 0x7fffffff, &v))
		return pf_err_param(st->err, "Invalid rule number `%s'", s);
	*out = (unsigned)v;
	return 0;
}

static int parse_interface(struct cmd_state *st, const char *arg, char *name, uint8_t *plus)
{
	size_t len = strlen(arg);
	if (len >= PF_IFNAMSIZ)
		return pf_err_param(st->err,
				    "interface name `%s' must be shorter than IFNAMSIZ (%i)", arg,
				    PF_IFNAMSIZ - 1);
	memset(name, 0, PF_IFNAMSIZ);
	*plus = 0;
	if (len == 0)
		return 0;
	if (strpbrk(arg, "/ "))
		pf_err_warn(st->err,
			    "Warning: weird character in interface `%s' ('/' and ' ' are not "
			    "allowed by the kernel).",
			    arg);
	/* "+" stays "+" with an empty mask: every interface; -L shows it, -S does not. */
	memcpy(name, arg, len);
	if (arg[len - 1] == '+')
		*plus = 1;
	return 0;
}

static struct loaded *load_ext(struct cmd_state *st, const struct pf_ext *ext)
{
	if (st->nloaded >= sizeof(st->loaded) / sizeof(st->loaded[0])) {
		pf_err_param(st->err, "too many matches");
		return NULL;
	}
	struct loaded *l = &st->loaded[st->nloaded];
	memset(l, 0, sizeof(*l));
	l->ext = ext;
	if (ext->kind == PF_EXT_MATCH) {
		if (!pf_rule_add_match(st->rule, ext))
			goto nomem;
	} else {
		if (pf_rule_set_target_ext(st->rule, ext))
			goto nomem;
		st->has_target_ext = true;
	}
	st->nloaded++;
	return l;
nomem:
	pf_err_set(st->err, PF_ERR_RESOURCE, PF_STYLE_PLAIN, "Memory allocation problem");
	return NULL;
}

static struct pf_ext_inst *loaded_inst(struct cmd_state *st, unsigned idx)
{
	/* Matches are stored in the rule in load order; the target separately. */
	const struct loaded *l = &st->loaded[idx];
	if (l->ext->kind == PF_EXT_TARGET)
		return &st->rule->target;
	unsigned m = 0;
	for (unsigned i = 0; i < idx; i++)
		if (st->loaded[i].ext->kind == PF_EXT_MATCH)
			m++;
	return &st->rule->matches[m];
}

/* Load the protocol's match (-p tcp, then --dport) when an option is unknown. */
static bool load_proto(struct cmd_state *st)
{
	if (!st->protocol)
		return false;
	char buf[64];
	const char *name = NULL;
	int p = pf_parse_proto(st->protocol);
	if (p > 0)
		name = pf_proto_name((uint16_t)p, buf, sizeof(buf));
	if (!name)
		return false;
	const struct pf_ext *ext = pf_ext_find(name, PF_EXT_MATCH);
	if (!ext)
		return false;
	if (st->proto_used)
		return false;
	st->proto_used = true;
	return load_ext(st, ext) != NULL;
}

static int run_ext_option(struct cmd_state *st, unsigned which, const struct pf_ext_option *o,
			  const char *arg, const char *arg2)
{
	struct loaded *l = &st->loaded[which];
	struct pf_ext_inst *inst = loaded_inst(st, which);
	if (!(o->flags & PF_OPT_NOCHECK)) {
		/* xtables_option_parse names the first option declared with this id. */
		const struct pf_ext_option *first = l->ext->options;
		while (first->id != o->id)
			first++;
		if (!(o->flags & PF_OPT_MULTI) && (l->seen & (1ull << o->id)))
			return pf_err_param(st->err,
					    "%s: option \"--%s\" can only be used once.\n",
					    l->ext->name, first->name);
		if (st->invert && !(o->flags & PF_OPT_INVERT))
			return pf_err_param(st->err, "%s: option \"--%s\" cannot be inverted.\n",
					    l->ext->name, first->name);
	}
	struct pf_parse_ctx ctx = {
		.ext = l->ext,
		.data = inst->data,
		.id = o->id,
		.name = o->name,
		.arg = arg,
		.arg2 = arg2,
		.invert = st->invert,
		.seen = l->seen,
		.rule = st->rule,
		.table = st->table,
		.err = st->err,
	};
	if (l->ext->parse && l->ext->parse(&ctx))
		return -1;
	l->seen |= 1ull << o->id;
	st->invert = false;
	return 0;
}

/* A long option resolved as getopt_long does over iptables' merged list: core options first,
 * then the loaded extensions' options, most recently loaded first; an exact name wins, else a
 * prefix shared by one option only (aliases of one option count once). */
struct resolved {
	const struct core_opt *core;	/* a core option, or */
	unsigned which;			/* the loaded extension ... */
	const struct pf_ext_option *eo; /* ... and its option */
};

static bool same_option(const struct resolved *a, const struct resolved *b)
{
	if (a->core || b->core)
		return a->core && b->core && a->core->code == b->core->code &&
		       a->core->arg == b->core->arg;
	return a->which == b->which && a->eo->id == b->eo->id && a->eo->arg == b->eo->arg;
}

static int resolve_long(struct cmd_state *st, const char *name, size_t namelen,
			struct resolved *out)
{
	struct resolved first = {0}, cand;
	int found = 0;
	for (int pass = 0; pass < 2; pass++) {
		for (const struct core_opt *o = core_opts; o->name; o++) {
			bool hit = pass == 0 ? strlen(o->name) == namelen &&
						       !strncmp(o->name, name, namelen)
					     : !strncmp(o->name, name, namelen);
			if (!hit)
				continue;
			cand = (struct resolved){o, 0, NULL};
			if (pass == 0) {
				*out = cand;
				return 1;
			}
			if (!found++)
				first = cand;
			else if (!same_option(&first, &cand))
				return -1;
		}
		for (int i = (int)st->nloaded - 1; i >= 0; i--) {
			for (const struct pf_ext_option *o = st->loaded[i].ext->options; o && o->name;
			     o++) {
				bool hit = pass == 0 ? strlen(o->name) == namelen &&
							       !strncmp(o->name, name, namelen)
						     : !strncmp(o->name, name, namelen);
				if (!hit)
					continue;
				cand = (struct resolved){NULL, (unsigned)i, o};
				if (pass == 0) {
					*out = cand;
					return 1;
				}
				if (!found++)
					first = cand;
				else if (!same_option(&first, &cand))
					return -1;
			}
		}
	}
	if (found)
		*out = first;
	return found ? 1 : 0;
}

static int handle_ext_option(struct cmd_state *st, const struct resolved *r, const char *word,
			     const char *eq)
{
	const struct pf_ext_option *o = r->eo;
	const char *arg = NULL;
	if (o->arg == PF_ARG_NONE) {
		if (eq)
			return pf_err_param(st->err, "unknown option \"%s\"", word);
	} else if (eq) {
		arg = eq + 1;
	} else if (o->arg == PF_ARG_REQUIRED || o->arg == PF_ARG_TWO) {
		if (st->optind >= st->argc)
			return pf_err_param(st->err, "option \"%s\" requires an argument", word);
		arg = st->argv[st->optind++];
	} else if (has_arg(st)) {
		arg = st->argv[st->optind++];
	}
	const char *arg2 = NULL;
	if (o->arg == PF_ARG_TWO && has_arg(st))
		arg2 = st->argv[st->optind++];
	return run_ext_option(st, r->which, o, arg, arg2);
}

static int command_match(struct cmd_state *st, const char *name)
{
	if (st->invert)
		return pf_err_param(st->err, "unexpected ! flag before --match");
	const struct pf_ext *ext = pf_ext_find(name, PF_EXT_MATCH);
	if (!ext)
		return pf_err_param(st->err, "Couldn't load match `%s':No such file or directory\n",
				    name);
	return load_ext(st, ext) ? 0 : -1;
}

static bool is_standard_target(const char *name)
{
	return strcmp(name, "ACCEPT") == 0 || strcmp(name, "DROP") == 0 ||
	       strcmp(name, "QUEUE") == 0 || strcmp(name, "RETURN") == 0;
}

/* iptables' check of a -j/-g name (and of a target in restore). */
static int check_target_name(struct cmd_state *st, const char *name)
{
	size_t len = strlen(name);
	if (len > PF_CHAIN_USER_MAXNAMELEN)
		return pf_err_param(st->err, "Invalid target name `%s' (%u chars max)", name,
				    PF_CHAIN_USER_MAXNAMELEN);
	for (size_t i = 0; i < len; i++)
		if (isspace((unsigned char)name[i]))
			return pf_err_param(st->err, "Invalid target name `%s'", name);
	return 0;
}

/* iptables' assert_valid_chain_name, for -N. */
static int check_new_chain_name(struct cmd_state *st, const char *name)
{
	if (strlen(name) > PF_CHAIN_USER_MAXNAMELEN)
		return pf_err_param(st->err, "chain name `%s' too long (must be under %u chars)",
				    name, PF_CHAIN_USER_MAXNAMELEN + 1);
	if (name[0] == '-' || name[0] == '!')
		return pf_err_param(st->err, "chain name not allowed to start with `%c'", name[0]);
	if (name[0] == '\0' || is_standard_target(name) || pf_ext_find(name, PF_EXT_TARGET))
		return pf_err_param(st->err, "chain name may not clash with target name");
	for (const char *p = name; *p; p++)
		if (isspace((unsigned char)*p))
			return pf_err_param(st->err, "Invalid chain name `%s'", name);
	return 0;
}

static int command_jump(struct cmd_state *st, const char *name)
{
	if (set_option(st, OPT_JUMP))
		return -1;
	if (check_target_name(st, name))
		return -1;
	st->jumpto = name;
	if (is_standard_target(name))
		return 0;
	const struct pf_ext *ext = pf_ext_find(name, PF_EXT_TARGET);
	if (ext && !load_ext(st, ext))
		return -1;
	return 0;
}

static int parse_short_or_long(struct cmd_state *st, int code, const char *optarg,
			       const char *word)
{
	struct pf_rule *r = st->rule;
	/* iptables 1.8.9 reads the value of -p -s -d -i -o -j from argv[optind - 1], the last word
	 * getopt consumed, not from optarg: "-s1.2.3.4" and "--source=1.2.3.4" hand it the whole
	 * word (and fail there), "-s 1.2.3.4" the address. Drop-in means the same. */
	if (optarg && strchr("psdioj", code) && st->optind > 0)
		optarg = st->argv[st->optind - 1];
	switch (code) {
	case 'A':
		if (add_command(st, CMD_APPEND, CMD_NONE))
			return -1;
		st->chain = optarg;
		break;
	case 'C':
		if (add_command(st, CMD_CHECK, CMD_NONE))
			return -1;
		st->chain = optarg;
		break;
	case 'D':
		if (add_command(st, CMD_DELETE, CMD_NONE))
			return -1;
		st->chain = optarg;
		if (has_arg(st)) {
			if (parse_rulenumber(st, st->argv[st->optind++], &st->rulenum))
				return -1;
			st->command = CMD_DELETE_NUM;
		}
		break;
	case 'R':
		if (add_command(st, CMD_REPLACE, CMD_NONE))
			return -1;
		st->chain = optarg;
		if (has_arg(st)) {
			if (parse_rulenumber(st, st->argv[st->optind++], &st->rulenum))
				return -1;
		} else {
			return pf_err_param(st->err, "-%c requires a rule number",
					    cmd2char(CMD_REPLACE));
		}
		break;
	case 'I':
		if (add_command(st, CMD_INSERT, CMD_NONE))
			return -1;
		st->chain = optarg;
		if (has_arg(st)) {
			if (parse_rulenumber(st, st->argv[st->optind++], &st->rulenum))
				return -1;
		} else {
			st->rulenum = 1;
		}
		break;
	case 'L':
		if (add_command(st, CMD_LIST, CMD_ZERO | CMD_ZERO_NUM))
			return -1;
		if (optarg)
			st->chain = optarg;
		else if (has_arg(st))
			st->chain = st->argv[st->optind++];
		if (has_arg(st)) {
			if (parse_rulenumber(st, st->argv[st->optind++], &st->rulenum))
				return -1;
		}
		break;
	case 'S':
		if (add_command(st, CMD_LIST_RULES, CMD_ZERO | CMD_ZERO_NUM))
			return -1;
		if (optarg)
			st->chain = optarg;
		else if (has_arg(st))
			st->chain = st->argv[st->optind++];
		if (has_arg(st)) {
			if (parse_rulenumber(st, st->argv[st->optind++], &st->rulenum))
				return -1;
		}
		break;
	case 'F':
		if (add_command(st, CMD_FLUSH, CMD_NONE))
			return -1;
		if (optarg)
			st->chain = optarg;
		else if (has_arg(st))
			st->chain = st->argv[st->optind++];
		break;
	case 'Z':
		if (add_command(st, CMD_ZERO, CMD_LIST | CMD_LIST_RULES))
			return -1;
		if (optarg)
			st->chain = optarg;
		else if (has_arg(st))
			st->chain = st->argv[st->optind++];
		if (has_arg(st)) {
			if (parse_rulenumber(st, st->argv[st->optind++], &st->rulenum))
				return -1;
			st->command = (st->command & ~CMD_ZERO) | CMD_ZERO_NUM;
		}
		break;
	case 'N':
		if (add_command(st, CMD_NEW_CHAIN, CMD_NONE))
			return -1;
		if (check_new_chain_name(st, optarg))
			return -1;
		st->chain = optarg;
		break;
	case 'X':
		if (add_command(st, CMD_DELETE_CHAIN, CMD_NONE))
			return -1;
		if (optarg)
			st->chain = optarg;
		else if (has_arg(st))
			st->chain = st->argv[st->optind++];
		break;
	case 'E':
		if (add_command(st, CMD_RENAME_CHAIN, CMD_NONE))
			return -1;
		st->chain = optarg;
		if (has_arg(st))
			st->newname = st->argv[st->optind++];
		else
			return pf_err_param(st->err,
					    "-%c requires old-chain-name and new-chain-name",
					    cmd2char(CMD_RENAME_CHAIN));
		break;
	case 'P':
		if (add_command(st, CMD_SET_POLICY, CMD_NONE))
			return -1;
		st->chain = optarg;
		if (has_arg(st))
			st->policy = st->argv[st->optind++];
		else
			return pf_err_param(st->err, "-%c requires a chain and a policy",
					    cmd2char(CMD_SET_POLICY));
		break;
	case 'h':
		st->command |= 1u << 30; /* help: handled by the front-end */
		break;
	case 'p': {
		if (set_option(st, OPT_PROTOCOL))
			return -1;
		int p = pf_parse_proto(optarg);
		if (p < 0)
			return pf_err_param(st->err, "unknown protocol \"%s\" specified", optarg);
		r->ip.proto = (uint16_t)p;
		st->protocol = optarg;
		if (p == 0 && (r->ip.invflags & PF_INV_PROTO))
			return pf_err_param(st->err, "rule would never match protocol");
		break;
	}
	case 's':
		if (set_option(st, OPT_SOURCE))
			return -1;
		st->shost = optarg;
		break;
	case 'd':
		if (set_option(st, OPT_DESTINATION))
			return -1;
		st->dhost = optarg;
		break;
	case 'g':
		if (set_option(st, OPT_JUMP))
			return -1;
		r->ip.flags |= PF_F_GOTO;
		if (check_target_name(st, optarg))
			return -1;
		st->jumpto = optarg;
		break;
	case 'j':
		if (command_jump(st, optarg))
			return -1;
		break;
	case 'i':
		if (optarg[0] == '\0')
			return pf_err_param(st->err,
					    "Empty interface is likely to be undesired");
		if (set_option(st, OPT_VIANAMEIN))
			return -1;
		if (parse_interface(st, optarg, r->ip.iniface, &r->ip.iniface_plus))
			return -1;
		break;
	case 'o':
		if (optarg[0] == '\0')
			return pf_err_param(st->err,
					    "Empty interface is likely to be undesired");
		if (set_option(st, OPT_VIANAMEOUT))
			return -1;
		if (parse_interface(st, optarg, r->ip.outiface, &r->ip.outiface_plus))
			return -1;
		break;
	case 'f':
		if (set_option(st, OPT_FRAGMENT))
			return -1;
		r->ip.flags |= PF_F_FRAG;
		break;
	case 'v':
		if (!st->verbose && set_option(st, OPT_VERBOSE))
			return -1;
		st->verbose++;
		break;
	case 'm':
		if (command_match(st, optarg))
			return -1;
		break;
	case 'n':
		if (set_option(st, OPT_NUMERIC))
			return -1;
		break;
	case 't':
		if (st->invert)
			return pf_err_param(st->err, "unexpected ! flag before --table");
		if (st->forced_table)
			return pf_err_set(st->err, PF_ERR_PARAM, PF_STYLE_RAW,
					  "The -t option cannot be used in iptables-restore.");
		st->table = optarg;
		break;
	case 'x':
		if (set_option(st, OPT_EXPANDED))
			return -1;
		break;
	case 'V':
		st->command |= 1u << 29; /* version: handled by the front-end */
		break;
	case 'W':
		pf_err_warn(st->err, "Ignoring deprecated --wait-interval option.");
		st->wait_interval = true;
		if (!optarg && has_arg(st))
			st->optind++;
		break;
	case 'w':
		/* The lock is the front-end's business; accepted and ignored here. */
		st->wait = true;
		if (!optarg && has_arg(st))
			st->optind++;
		break;
	case 'M':
	case '4':
		break;
	case '6': /* this is not the IPv6 binary: iptables only points at the help */
		return pf_err_set(st->err, PF_ERR_PARAM, PF_STYLE_HINT_ONLY, "%s", "");
	case LONG_LINENUMBERS:
		if (set_option(st, OPT_LINENUMBERS))
			return -1;
		break;
	case 'c': {
		if (set_option(st, OPT_COUNTERS))
			return -1;
		const char *pcnt = optarg;
		const char *bcnt = pcnt[0] ? strchr(pcnt + 1, ',') : NULL;
		if (bcnt)
			bcnt++;
		if (!bcnt && has_arg(st))
			bcnt = st->argv[st->optind++];
		if (!bcnt)
			return pf_err_param(st->err, "-c requires packet and byte counter");
		unsigned long long v;
		if (sscanf(pcnt, "%llu", &v) != 1)
			return pf_err_param(st->err, "-c packet counter not numeric");
		st->counters.pkts = v;
		if (sscanf(bcnt, "%llu", &v) != 1)
			return pf_err_param(st->err, "-c byte counter not numeric");
		st->counters.bytes = v;
		break;
	}
	default:
		return pf_err_param(st->err, "unknown option \"%s\"", word);
	}
	st->invert = false;
	return 0;
}

static int parse_argv(struct cmd_state *st)
{
	while (st->optind < st->argc) {
		const char *word = st->argv[st->optind++];
		if (!strcmp(word, "--")) {
			/* getopt stops here; iptables complains later about what is left. */
			st->unknown_args = st->optind < st->argc;
			return 0;
		}
		if (word[0] == '-' && word[1] == '-' && word[2] != '\0') {
			const char *name = word + 2;
			const char *eq = strchr(name, '=');
			size_t namelen = eq ? (size_t)(eq - name) : strlen(name);
			struct resolved r;
			int f = resolve_long(st, name, namelen, &r);
			if (f != 1) {
				/* Unknown: maybe an option of the protocol's match (-p tcp --dport). */
				if (load_proto(st))
					f = resolve_long(st, name, namelen, &r);
				else if (st->err->code)
					return -1;
			}
			if (f != 1)
				return pf_err_param(st->err, "unknown option \"%s\"", word);
			if (!r.core) {
				if (handle_ext_option(st, &r, word, eq))
					return -1;
				continue;
			}
			const struct core_opt *hit = r.core;
			const char *arg = NULL;
			if (hit->arg == A_NONE && eq)
				return pf_err_param(st->err, "unknown option \"%s\"", word);
			if (eq) {
				arg = eq + 1;
			} else if (hit->arg == A_REQ) {
				if (st->optind >= st->argc)
					return pf_err_param(st->err,
							    "option \"%s\" requires an argument",
							    word);
				arg = st->argv[st->optind++];
			}
			if (parse_short_or_long(st, hit->code, arg, word))
				return -1;
			continue;
		}
		if (word[0] == '-' && word[1] != '\0' && word[1] != '-') {
			/* A cluster of short options: -nvL, -jACCEPT, -A INPUT. */
			for (const char *p = word + 1; *p; p++) {
				bool known;
				enum core_arg a = short_arg((unsigned char)*p, &known);
				char optname[3] = {'-', *p, '\0'};
				if (!known) {
					if (load_proto(st))
						return pf_err_param(st->err, "unknown option \"%s\"",
								    word);
					return pf_err_param(st->err, "unknown option \"%s\"", optname);
				}
				const char *arg = NULL;
				if (a != A_NONE && p[1]) {
					arg = p + 1;
				} else if (a == A_REQ) {
					if (st->optind >= st->argc)
						return pf_err_param(st->err,
								    "option \"%s\" requires an argument",
								    word);
					arg = st->argv[st->optind++];
				}
				if (parse_short_or_long(st, (unsigned char)*p, arg, word))
					return -1;
				if (arg && a != A_NONE && p[1])
					break;
			}
			continue;
		}
		if (word[0] == '!' && word[1] == '\0') {
			if (st->invert)
				return pf_err_param(st->err, "multiple consecutive ! not allowed");
			st->invert = true;
			continue;
		}
		return pf_err_set(st->err, PF_ERR_PARAM, PF_STYLE_HINT_ONLY, "Bad argument `%s'",
				  word);
	}
	return 0;
}

static int final_checks(struct cmd_state *st)
{
	for (unsigned i = 0; i < st->nloaded; i++) {
		struct loaded *l = &st->loaded[i];
		if (!l->ext->final_check)
			continue;
		struct pf_ext_inst *inst = loaded_inst(st, i);
		struct pf_parse_ctx ctx = {
			.ext = l->ext,
			.data = inst->data,
			.seen = l->seen,
			.rule = st->rule,
			.table = st->table,
			.err = st->err,
		};
		if (l->ext->final_check(&ctx))
			return -1;
	}
	return 0;
}

/* ---- the change log ---- */

static int table_err(struct cmd_state *st, const char *msg);

/* Room for k more records, before the changes are made (so that every change made is
 * logged). */
static int log_reserve_n(struct cmd_state *st, size_t k)
{
	struct pf_cmd_log *log = st->log;
	if (!log || log->n + k <= log->cap)
		return 0;
	size_t cap = log->cap ? log->cap * 2 : 8;
	while (cap < log->n + k)
		cap *= 2;
	struct pf_cmd_rec *v = realloc(log->v, cap * sizeof(*v));
	if (!v)
		return pf_err_set(st->err, PF_ERR_RESOURCE, PF_STYLE_TABLE,
				  "Memory allocation problem");
	log->v = v;
	log->cap = cap;
	return 0;
}

static int log_reserve(struct cmd_state *st)
{
	return log_reserve_n(st, 1);
}

/* Record a change (room reserved); NULL without a log. */
static struct pf_cmd_rec *log_add(struct cmd_state *st, enum pf_change_op op, struct pf_chain *c)
{
	struct pf_cmd_log *log = st->log;
	if (!log || log->n == log->cap)
		return NULL;
	struct pf_cmd_rec *rec = &log->v[log->n++];
	memset(rec, 0, sizeof(*rec));
	rec->ch.op = op;
	rec->ch.table = st->t->def->name;
	rec->t = st->t;
	rec->c = c;
	if (c)
		snprintf(rec->ch.chain, sizeof(rec->ch.chain), "%s", c->name);
	return rec;
}

/* Take rule pos out of c without freeing it (reference count kept right). */
static struct pf_rule *detach_rule(struct pf_chain *c, size_t pos)
{
	struct pf_rule *r = c->rules[pos];
	if (r->tkind == PF_TARGET_CHAIN && r->jump)
		r->jump->refcount--;
	memmove(&c->rules[pos], &c->rules[pos + 1], (c->nrules - pos - 1) * sizeof(*c->rules));
	c->nrules--;
	return r;
}

/* Put r in place of rule pos of c; returns the rule taken out (reference counts kept). */
static struct pf_rule *swap_rule(struct pf_chain *c, size_t pos, struct pf_rule *r)
{
	struct pf_rule *old = c->rules[pos];
	if (r->tkind == PF_TARGET_CHAIN && r->jump)
		r->jump->refcount++;
	if (old->tkind == PF_TARGET_CHAIN && old->jump)
		old->jump->refcount--;
	c->rules[pos] = r;
	return old;
}

/* The changes themselves. On failure nothing changed (r is still the caller's). */
static int change_insert(struct cmd_state *st, struct pf_chain *c, size_t pos, struct pf_rule *r)
{
	if (log_reserve(st))
		return -1;
	if (pf_chain_insert_rule(c, pos, r))
		return table_err(st, "Memory allocation problem");
	struct pf_cmd_rec *rec = log_add(st, PF_CHANGE_INSERT, c);
	if (rec) {
		rec->ch.pos = pos;
		rec->ch.rule = r;
	}
	return 0;
}

static int change_delete(struct cmd_state *st, struct pf_chain *c, size_t pos)
{
	if (log_reserve(st))
		return -1;
	if (!st->log) {
		pf_chain_delete_rule(c, pos);
		return 0;
	}
	struct pf_rule *old = detach_rule(c, pos);
	struct pf_cmd_rec *rec = log_add(st, PF_CHANGE_DELETE, c);
	rec->ch.pos = pos;
	rec->old = old;
	return 0;
}

static int change_replace(struct cmd_state *st, struct pf_chain *c, size_t pos, struct pf_rule *r)
{
	if (log_reserve(st))
		return -1;
	if (!st->log) {
		pf_chain_replace_rule(c, pos, r);
		return 0;
	}
	struct pf_rule *old = swap_rule(c, pos, r);
	struct pf_cmd_rec *rec = log_add(st, PF_CHANGE_REPLACE, c);
	rec->ch.pos = pos;
	rec->ch.rule = r;
	rec->old = old;
	return 0;
}

static int change_flush(struct cmd_state *st, struct pf_chain *c)
{
	if (log_reserve(st))
		return -1;
	if (!st->log) {
		pf_chain_flush(c);
		return 0;
	}
	struct pf_cmd_rec *rec = log_add(st, PF_CHANGE_FLUSH, c);
	rec->ch.count = c->nrules;
	for (size_t k = 0; k < c->nrules; k++)
		if (c->rules[k]->tkind == PF_TARGET_CHAIN && c->rules[k]->jump)
			c->rules[k]->jump->refcount--;
	rec->saved = c->rules;
	rec->nsaved = c->nrules;
	rec->capsaved = c->cap;
	c->rules = NULL;
	c->nrules = c->cap = 0;
	return 0;
}

/* A change that is never taken back (nothing can fail after it): described only. */
static struct pf_cmd_rec *change_note(struct cmd_state *st, enum pf_change_op op,
				      struct pf_chain *c)
{
	if (log_reserve(st))
		return NULL;
	return log_add(st, op, c);
}

void pf_cmd_log_undo(struct pf_cmd_log *log)
{
	while (log->n) {
		struct pf_cmd_rec *rec = &log->v[--log->n];
		struct pf_chain *c = rec->c;
		switch (rec->ch.op) {
		case PF_CHANGE_INSERT:
			pf_rule_free(detach_rule(c, rec->ch.pos));
			break;
		case PF_CHANGE_DELETE:
			/* the array has room: the rule came out of it */
			pf_chain_insert_rule(c, rec->ch.pos, rec->old);
			rec->old = NULL;
			break;
		case PF_CHANGE_REPLACE:
			pf_rule_free(swap_rule(c, rec->ch.pos, rec->old));
			rec->old = NULL;
			break;
		case PF_CHANGE_FLUSH:
			pf_chain_flush(c);
			free(c->rules);
			c->rules = rec->saved;
			c->nrules = rec->nsaved;
			c->cap = rec->capsaved;
			for (size_t k = 0; k < c->nrules; k++)
				if (c->rules[k]->tkind == PF_TARGET_CHAIN && c->rules[k]->jump)
					c->rules[k]->jump->refcount++;
			rec->saved = NULL;
			break;
		case PF_CHANGE_NEW_CHAIN:
			pf_chain_destroy(rec->t, c);
			break;
		default:
			break;
		}
	}
}

void pf_cmd_log_free(struct pf_cmd_log *log)
{
	for (size_t i = 0; i < log->n; i++) {
		pf_rule_free(log->v[i].old);
		for (size_t k = 0; k < log->v[i].nsaved; k++)
			pf_rule_free(log->v[i].saved[k]);
		free(log->v[i].saved);
	}
	free(log->v);
	memset(log, 0, sizeof(*log));
}

/* ---- operations ---- */

static int table_err(struct cmd_state *st, const char *msg)
{
	return pf_err_table(st->err, msg);
}

static struct pf_chain *need_chain(struct cmd_state *st, struct pf_table *t)
{
	struct pf_chain *c = pf_chain_find(t, st->chain);
	if (!c)
		table_err(st, "No chain/target/match by that name");
	return c;
}

static void emit(FILE *out, struct pf_strbuf *sb)
{
	if (out && sb->len)
		fwrite(sb->buf, 1, sb->len, out);
	pf_sb_reset(sb);
}

static int do_list(struct cmd_state *st, struct pf_table *t, FILE *out)
{
	unsigned fmt = PF_FMT_OPTIONS;
	if (!(st->options & OPT_VERBOSE))
		fmt |= PF_FMT_NOCOUNTS;
	else
		fmt |= PF_FMT_VIA;
	if (st->options & OPT_NUMERIC)
		fmt |= PF_FMT_NUMERIC;
	if (!(st->options & OPT_EXPANDED))
		fmt |= PF_FMT_KILOMEGAGIGA;
	if (st->options & OPT_LINENUMBERS)
		fmt |= PF_FMT_LINENUMBERS;
	struct pf_chain *only = NULL;
	if (st->chain && !(only = need_chain(st, t)))
		return -1;
	struct pf_strbuf sb;
	pf_sb_init(&sb);
	bool found = false;
	for (size_t i = 0; i < t->nchains; i++) {
		struct pf_chain *c = t->chains[i];
		if (only && c != only)
			continue;
		if (found)
			pf_sb_putc(&sb, '\n');
		if (!st->rulenum) /* -L CHAIN N prints the rule alone */
			pf_list_header(&sb, c, fmt);
		for (size_t k = 0; k < c->nrules; k++) {
			if (st->rulenum && k + 1 != st->rulenum)
				continue;
			pf_list_rule(&sb, c->rules[k], (unsigned)k + 1, fmt);
		}
		found = true;
		emit(out, &sb);
	}
	pf_sb_free(&sb);
	return 0;
}

static void zero_chain(struct pf_chain *c)
{
	c->pcnt.pkts = c->pcnt.bytes = 0;
	for (size_t k = 0; k < c->nrules; k++)
		c->rules[k]->cnt.pkts = c->rules[k]->cnt.bytes = 0;
}

static int zero_rule(struct cmd_state *st, struct pf_chain *c, size_t pos)
{
	struct pf_cmd_rec *rec = change_note(st, PF_CHANGE_ZERO, c);
	if (st->log && !rec)
		return -1;
	if (rec) {
		rec->ch.pos = pos;
		rec->ch.has_pos = 1;
	}
	c->rules[pos]->cnt = (struct pf_counters){0, 0};
	return 0;
}

/* -Z [CHAIN]: zero the counters of one chain or of all, each announced with -v. */
static int zero_chains(struct cmd_state *st, struct pf_table *t, FILE *out)
{
	struct pf_chain *only = NULL;
	if (st->chain && !(only = need_chain(st, t)))
		return -1;
	if (!change_note(st, PF_CHANGE_ZERO, only) && st->log) /* only NULL: every chain */
		return -1;
	struct pf_strbuf sb;
	pf_sb_init(&sb);
	for (size_t i = 0; i < t->nchains; i++) {
		if (only && t->chains[i] != only)
			continue;
		if (st->verbose)
			pf_sb_printf(&sb, "Zeroing chain `%s'\n", t->chains[i]->name);
		zero_chain(t->chains[i]);
	}
	emit(out, &sb);
	pf_sb_free(&sb);
	return 0;
}

static void rules_spec_of_chain(struct pf_strbuf *sb, const struct pf_chain *c, unsigned rulenum,
				bool counters)
{
	for (size_t k = 0; k < c->nrules; k++) {
		if (rulenum && k + 1 != rulenum)
			continue;
		pf_rule_save_line(sb, c, c->rules[k], false, counters, false);
	}
}

static int do_list_rules(struct cmd_state *st, struct pf_table *t, FILE *out)
{
	bool counters = st->options & OPT_VERBOSE;
	struct pf_chain *only = NULL;
	if (st->chain && !(only = need_chain(st, t)))
		return -1;
	struct pf_strbuf sb;
	pf_sb_init(&sb);
	/* Chain declarations first (policies, -N), unless one rule was asked for. */
	if (!st->rulenum) {
		for (size_t i = 0; i < t->nchains; i++) {
			struct pf_chain *c = t->chains[i];
			if (only && c != only)
				continue;
			if (c->builtin) {
				pf_sb_printf(&sb, "-P %s %s", c->name, pf_policy_name(c->policy));
				if (counters)
					pf_sb_printf(&sb, " -c %llu %llu",
						     (unsigned long long)c->pcnt.pkts,
						     (unsigned long long)c->pcnt.bytes);
				pf_sb_putc(&sb, '\n');
			} else {
				pf_sb_printf(&sb, "-N %s\n", c->name);
			}
		}
	}
	for (size_t i = 0; i < t->nchains; i++) {
		struct pf_chain *c = t->chains[i];
		if (only && c != only)
			continue;
		rules_spec_of_chain(&sb, c, st->rulenum, counters);
		emit(out, &sb);
	}
	emit(out, &sb);
	pf_sb_free(&sb);
	return 0;
}

/* Build one concrete rule (one source x destination pair) from the parsed template. */
static struct pf_rule *instantiate(struct cmd_state *st, uint32_t s, uint32_t sm, uint32_t d,
				   uint32_t dm)
{
	struct pf_rule *r = pf_rule_clone(st->rule);
	if (!r)
		return NULL;
	r->ip.src = s;
	r->ip.smsk = sm;
	r->ip.dst = d;
	r->ip.dmsk = dm;
	return r;
}

static int rule_commands(struct cmd_state *st, struct pf_table *t, FILE *out)
{
	struct pf_rule *tmpl = st->rule;
	uint32_t *saddrs = NULL, *smasks = NULL, *daddrs = NULL, *dmasks = NULL;
	unsigned ns = 0, nd = 0;
	int rc = -1;
	struct pf_chain *c = NULL, *jchain = NULL;
	/* iptables' order: addresses (end of do_parse), then the checks of do_command4 once the
	 * table is open: -o/-i against the chain name, the target, then the chain itself. */
	if (pf_parse_ipv4_list(st->shost ? st->shost : "0.0.0.0/0", &saddrs, &smasks, &ns,
			       st->err))
		goto out;
	if (pf_parse_ipv4_list(st->dhost ? st->dhost : "0.0.0.0/0", &daddrs, &dmasks, &nd,
			       st->err))
		goto out;
	if ((ns > 1 || nd > 1) && (tmpl->ip.invflags & (PF_INV_SRCIP | PF_INV_DSTIP))) {
		pf_err_param(st->err,
			     "! not allowed with multiple source or destination IP addresses");
		goto out;
	}
	if (st->command == CMD_REPLACE && (ns != 1 || nd != 1)) {
		pf_err_param(st->err, "Replacement rule does not specify a unique address");
		goto out;
	}
	/* -o with incoming, -i with outgoing chains (by name, as iptables checks). */
	if ((!strcmp(st->chain, "PREROUTING") || !strcmp(st->chain, "INPUT")) &&
	    (st->options & OPT_VIANAMEOUT)) {
		pf_err_param(st->err, "Can't use -%c with %s\n", 'o', st->chain);
		goto out;
	}
	if ((!strcmp(st->chain, "POSTROUTING") || !strcmp(st->chain, "OUTPUT")) &&
	    (st->options & OPT_VIANAMEIN)) {
		pf_err_param(st->err, "Can't use -%c with %s\n", 'i', st->chain);
		goto out;
	}
	const char *jumpto = st->jumpto ? st->jumpto : "";
	jchain = jumpto[0] ? pf_chain_find(t, jumpto) : NULL;
	if (st->has_target_ext && jchain) {
		/* iptables: "Warning: using chain X, not extension" and the chain wins. */
		free(tmpl->target.data);
		tmpl->target.data = NULL;
		tmpl->target.ext = NULL;
		st->has_target_ext = false;
	}
	if (!st->has_target_ext) {
		if (jumpto[0] == '\0') {
			tmpl->tkind = PF_TARGET_NONE;
		} else if (jchain) {
			tmpl->tkind = PF_TARGET_CHAIN;
			tmpl->jump = jchain;
		} else if (tmpl->ip.flags & PF_F_GOTO) {
			/* -g takes chains only, not even ACCEPT or RETURN. */
			pf_err_param(st->err, "goto '%s' is not a chain", jumpto);
			goto out;
		} else if (is_standard_target(jumpto)) {
			tmpl->tkind = PF_TARGET_VERDICT;
			tmpl->verdict = !strcmp(jumpto, "ACCEPT") ? PF_VERDICT_ACCEPT
					: !strcmp(jumpto, "DROP") ? PF_VERDICT_DROP
					: !strcmp(jumpto, "RETURN") ? PF_VERDICT_RETURN
								    : PF_VERDICT_QUEUE;
		} else {
			pf_err_param(st->err, "Couldn't load target `%s':No such file or directory\n",
				     jumpto);
			goto out;
		}
	}
	if (st->options & OPT_COUNTERS)
		tmpl->cnt = st->counters;

	/* libiptc's messages depend on the function that failed last: -D/-C on a missing chain
	 * is "Bad rule", and a rule jumping to a user chain is looked up through iptc_is_chain,
	 * so its absence reads "No chain/target/match by that name". */
	const char *no_rule = tmpl->tkind == PF_TARGET_CHAIN
				      ? "No chain/target/match by that name"
				      : "Bad rule (does a matching rule exist in that chain?)";
	c = pf_chain_find(t, st->chain);
	if (!c) {
		table_err(st, st->command & (CMD_DELETE | CMD_CHECK)
				      ? "Bad rule (does a matching rule exist in that chain?)"
				      : "No chain/target/match by that name");
		goto out;
	}
	if (jchain && jchain->builtin && tmpl->tkind == PF_TARGET_CHAIN) {
		/* The kernel refuses jumps to built-in chains at commit. */
		pf_err_table(st->err, pf_table_strerror(EINVAL));
		goto out;
	}

	struct pf_strbuf sb;
	pf_sb_init(&sb);
	rc = 0;
	for (unsigned i = 0; i < ns && rc == 0; i++) {
		for (unsigned j = 0; j < nd && rc == 0; j++) {
			/* The last pair takes the template itself; earlier ones a copy. */
			bool last = i == ns - 1 && j == nd - 1;
			struct pf_rule *r;
			if (last) {
				r = tmpl;
				r->ip.src = saddrs[i];
				r->ip.smsk = smasks[i];
				r->ip.dst = daddrs[j];
				r->ip.dmsk = dmasks[j];
				st->rule = NULL;
			} else {
				r = instantiate(st, saddrs[i], smasks[i], daddrs[j], dmasks[j]);
			}
			if (!r) {
				rc = pf_err_set(st->err, PF_ERR_RESOURCE, PF_STYLE_TABLE,
						"Memory allocation problem");
				break;
			}
			if (st->verbose && out) {
				pf_list_rule(&sb, r, 0,
					     PF_FMT_NOCOUNTS | PF_FMT_OPTIONS | PF_FMT_VIA |
						     PF_FMT_NUMERIC | PF_FMT_NOTABLE);
				emit(out, &sb);
			}
			switch (st->command) {
			case CMD_APPEND:
				if (change_insert(st, c, c->nrules, r))
					rc = -1;
				else
					r = NULL;
				break;
			case CMD_INSERT:
				if (st->rulenum - 1 > c->nrules) {
					rc = table_err(st, "Index of insertion too big");
					break;
				}
				if (change_insert(st, c, st->rulenum - 1, r))
					rc = -1;
				else
					r = NULL;
				break;
			case CMD_REPLACE:
				if (st->rulenum - 1 >= c->nrules) {
					rc = table_err(st, "Index of replacement too big");
					break;
				}
				if (change_replace(st, c, st->rulenum - 1, r))
					rc = -1;
				else
					r = NULL;
				break;
			case CMD_DELETE:
			case CMD_CHECK: {
				size_t k;
				/* Rules are separate allocations: fetch ahead, the search is
				 * memory bound on long chains. */
				for (k = 0; k < c->nrules; k++) {
					if (k + 24 < c->nrules)
						__builtin_prefetch(c->rules[k + 24]);
					if (pf_rule_equal(c->rules[k], r))
						break;
				}
				if (k == c->nrules)
					rc = table_err(st, no_rule);
				else if (st->command == CMD_DELETE && change_delete(st, c, k))
					rc = -1;
				break;
			}
			}
			if (r)
				pf_rule_free(r);
		}
	}
	pf_sb_free(&sb);
out:
	free(saddrs);
	free(daddrs);
	return rc;
}

static int generic_opt_check(struct cmd_state *st)
{
	for (int i = 0; i < NUMBER_OF_OPT; i++) {
		/* Legal when any of the given commands allows it (-L -Z -n is fine). */
		if ((st->options & (1u << i)) && !(options_v_commands[i] & st->command))
			return pf_err_param(st->err, "Illegal option `-%c' with this command",
					    optchars[i]);
	}
	return 0;
}

static int delete_chain(struct cmd_state *st, struct pf_table *t, struct pf_chain *c)
{
	if (c->builtin)
		return table_err(st, pf_table_strerror(EINVAL));
	if (c->refcount)
		return table_err(st, "Too many links");
	if (c->nrules)
		return table_err(st, "Directory not empty");
	if (st->log && !change_note(st, PF_CHANGE_DELETE_CHAIN, c))
		return -1;
	pf_chain_destroy(t, c);
	return 0;
}

static int execute(struct cmd_state *st, struct pf_table *t, FILE *out)
{
	struct pf_chain *c;
	struct pf_strbuf sb;
	switch (st->command) {
	case CMD_APPEND:
	case CMD_INSERT:
	case CMD_REPLACE:
	case CMD_DELETE:
	case CMD_CHECK:
		return rule_commands(st, t, out);
	case CMD_DELETE_NUM:
		if (!(c = need_chain(st, t)))
			return -1;
		if (st->rulenum > c->nrules)
			return table_err(st, "Index of deletion too big");
		return change_delete(st, c, st->rulenum - 1);
	case CMD_FLUSH:
		if (st->chain) {
			if (!(c = need_chain(st, t)))
				return -1;
			return change_flush(st, c);
		}
		pf_sb_init(&sb);
		int frc = 0;
		for (size_t i = 0; i < t->nchains && !frc; i++) {
			if (st->verbose)
				pf_sb_printf(&sb, "Flushing chain `%s'\n", t->chains[i]->name);
			frc = change_flush(st, t->chains[i]);
		}
		emit(out, &sb);
		pf_sb_free(&sb);
		return frc;
	case CMD_ZERO:
		return zero_chains(st, t, out);
	case CMD_ZERO_NUM:
		if (!(c = need_chain(st, t)))
			return -1;
		if (st->rulenum > c->nrules)
			return table_err(st, "Index of counter too big");
		return zero_rule(st, c, st->rulenum - 1);
	case CMD_LIST:
	case CMD_LIST | CMD_ZERO:
	case CMD_LIST | CMD_ZERO_NUM:
		if (do_list(st, t, out))
			return -1;
		if (st->command & CMD_ZERO) {
			if (zero_chains(st, t, out))
				return -1;
		} else if (st->command & CMD_ZERO_NUM) {
			c = pf_chain_find(t, st->chain);
			if (c && st->rulenum <= c->nrules && zero_rule(st, c, st->rulenum - 1))
				return -1;
		}
		return 0;
	case CMD_LIST_RULES:
	case CMD_LIST_RULES | CMD_ZERO:
	case CMD_LIST_RULES | CMD_ZERO_NUM:
		if (do_list_rules(st, t, out))
			return -1;
		if ((st->command & CMD_ZERO) && zero_chains(st, t, out))
			return -1;
		return 0;
	case CMD_NEW_CHAIN:
		if (pf_chain_find(t, st->chain))
			return table_err(st, "Chain already exists");
		if (log_reserve(st))
			return -1;
		if (!(c = pf_chain_create(t, st->chain)))
			return table_err(st, "Memory allocation problem");
		log_add(st, PF_CHANGE_NEW_CHAIN, c);
		return 0;
	case CMD_DELETE_CHAIN:
		if (st->chain) {
			if (!(c = need_chain(st, t)))
				return -1;
			return delete_chain(st, t, c);
		}
		/* Every user chain, in order, as iptables' for_each_chain: one that cannot go is
		 * skipped, and the command fails with the error of the last such (nothing is
		 * committed then). Whether a chain can go does not depend on the others (only
		 * empty chains go, and they refer to none), so the chains are tried first and
		 * deleted only when all can go. */
		pf_sb_init(&sb);
		int failed = 0;
		for (size_t i = t->nbuiltin; i < t->nchains; i++) {
			c = t->chains[i];
			if (st->verbose)
				pf_sb_printf(&sb, "Deleting chain `%s'\n", c->name);
			if (c->refcount)
				failed = table_err(st, "Too many links");
			else if (c->nrules)
				failed = table_err(st, "Directory not empty");
		}
		if (!failed)
			failed = log_reserve_n(st, t->nchains - t->nbuiltin);
		while (!failed && t->nchains > t->nbuiltin)
			failed = delete_chain(st, t, t->chains[t->nbuiltin]);
		emit(out, &sb);
		pf_sb_free(&sb);
		return failed;
	case CMD_RENAME_CHAIN:
		/* libiptc's order: EEXIST, ENOENT, then EINVAL for a name the kernel cannot hold. */
		if (pf_chain_find(t, st->newname) || is_standard_target(st->newname))
			return table_err(st, "File exists");
		if (!(c = need_chain(st, t)))
			return -1;
		if (c->builtin)
			return table_err(st, "No chain/target/match by that name");
		if (strlen(st->newname) > PF_CHAIN_MAXNAMELEN)
			return table_err(st, "Invalid argument. Run `dmesg' for more information");
		struct pf_cmd_rec *rec = change_note(st, PF_CHANGE_RENAME_CHAIN, c);
		if (st->log && !rec)
			return -1;
		if (rec)
			snprintf(rec->ch.new_name, sizeof(rec->ch.new_name), "%s", st->newname);
		return pf_chain_rename(t, c, st->newname);
	case CMD_SET_POLICY:
		c = pf_chain_find(t, st->chain);
		if (!c || !c->builtin)
			return table_err(st, "Bad built-in chain name");
		if (strcmp(st->policy, "ACCEPT") && strcmp(st->policy, "DROP"))
			return table_err(st, "Bad policy name. Run `dmesg' for more information");
		struct pf_cmd_rec *prec = change_note(st, PF_CHANGE_POLICY, c);
		if (st->log && !prec)
			return -1;
		if (prec)
			snprintf(prec->ch.policy, sizeof(prec->ch.policy), "%s", st->policy);
		c->policy = !strcmp(st->policy, "DROP") ? PF_VERDICT_DROP : PF_VERDICT_ACCEPT;
		if (st->options & OPT_COUNTERS)
			c->pcnt = st->counters;
		return 0;
	default:
		return pf_err_param(st->err, "no command specified");
	}
}

/* The kernel's commit checks (pf_table_check). With a log of single-rule changes to a table
 * that passed them before, only what the changes can break is checked: the rules put in,
 * unless a jump was put in or a rule that ended a chain's walk was taken out (then the
 * whole table: loops, and rules newly reached from a hook). */
static int check_table(struct cmd_state *st, struct pf_table *t)
{
	if (!st->log)
		return pf_table_check(t, st->err);
	bool whole = false;
	for (size_t i = 0; i < st->log->n && !whole; i++) {
		const struct pf_cmd_rec *rec = &st->log->v[i];
		if ((rec->ch.op == PF_CHANGE_INSERT || rec->ch.op == PF_CHANGE_REPLACE) &&
		    rec->ch.rule->tkind == PF_TARGET_CHAIN)
			whole = true;
		if (rec->old && pf_rule_ends_walk(rec->old))
			whole = true;
	}
	if (whole)
		return pf_table_check(t, st->err);
	for (size_t i = 0; i < st->log->n; i++) {
		const struct pf_cmd_rec *rec = &st->log->v[i];
		if ((rec->ch.op == PF_CHANGE_INSERT || rec->ch.op == PF_CHANGE_REPLACE) &&
		    pf_table_check_rule(t, rec->c, rec->ch.rule, st->err))
			return -1;
	}
	return 0;
}

int pf_cmd_run(struct pf_ruleset *rs, struct pf_table *forced_table, int argc, char *const argv[],
	       FILE *out, struct pf_error *err, unsigned *flags_out, struct pf_cmd_log *log)
{
	struct cmd_state st;
	memset(&st, 0, sizeof(st));
	/* Clear the error but keep the warnings of earlier lines (restore). */
	err->code = PF_OK;
	err->style = PF_STYLE_PARAM;
	err->line = 0;
	err->message[0] = '\0';
	st.rs = rs;
	st.forced_table = forced_table;
	st.argc = argc;
	st.argv = argv;
	st.optind = 1;
	st.err = err;
	st.log = log;
	st.table = forced_table ? forced_table->def->name : "filter";
	st.rule = pf_rule_new();
	int rc = -1;
	if (!st.rule) {
		pf_err_set(err, PF_ERR_RESOURCE, PF_STYLE_PLAIN, "Memory allocation problem");
		goto out;
	}
	if (parse_argv(&st))
		goto out;
	if (flags_out) {
		*flags_out = 0;
		if (st.command & (1u << 30))
			*flags_out |= PF_CMD_HELP;
		if (st.command & (1u << 29))
			*flags_out |= PF_CMD_VERSION;
		if (*flags_out) {
			rc = 0;
			goto out;
		}
	}
	if (!strcmp(st.table, "nat") &&
	    ((st.policy && !strcmp(st.policy, "DROP")) || (st.jumpto && !strcmp(st.jumpto, "DROP")))) {
		pf_err_param(err, "\nThe \"nat\" table is not intended for filtering, the use of "
				  "DROP is therefore inhibited.\n\n");
		goto out;
	}
	if (final_checks(&st))
		goto out;
	if (st.unknown_args) {
		pf_err_param(err, "unknown arguments found on commandline");
		goto out;
	}
	if (st.wait_interval && !st.wait) {
		pf_err_param(err, "--wait-interval only makes sense with --wait\n");
		goto out;
	}
	if (!st.command) {
		pf_err_param(err, "no command specified");
		goto out;
	}
	if (st.invert) {
		pf_err_param(err, "nothing appropriate following !");
		goto out;
	}
	if (generic_opt_check(&st))
		goto out;
	if (st.chain && strlen(st.chain) > PF_CHAIN_USER_MAXNAMELEN) {
		pf_err_param(err, "chain name `%s' too long (must be under %u chars)", st.chain,
			     PF_CHAIN_USER_MAXNAMELEN + 1);
		goto out;
	}
	struct pf_table *t = forced_table ? forced_table : pf_table_get(rs, st.table);
	if (!t) {
		pf_err_set(err, PF_ERR_VERSION, PF_STYLE_PLAIN,
			   "can't initialize iptables table `%s': Table does not exist (do you need "
			   "to insmod?)\nPerhaps iptables or your kernel needs to be upgraded.",
			   st.table);
		goto out;
	}
	/* Even a listing instantiates a table, as the kernel does: that is a change to keep. */
	bool fresh_table = t->touch_seq == 0;
	st.t = t;
	if (fresh_table && log && !change_note(&st, PF_CHANGE_TABLE, NULL))
		goto out;
	pf_table_touch(rs, t);
	if (execute(&st, t, out))
		goto out;
	/* Restore checks the whole table once, at COMMIT. */
	if (!forced_table && check_table(&st, t))
		goto out;
	if (st.command & ~(unsigned)(CMD_LIST | CMD_LIST_RULES | CMD_CHECK)) {
		/* libiptc's commit keeps rule counters but not the policies' (only a policy
		 * given -c in this very command keeps what it was given): iptables-legacy shows
		 * [0:0] on every built-in chain after any change. Restore does its own. */
		if (!forced_table) {
			bool keep = st.command == CMD_SET_POLICY && (st.options & OPT_COUNTERS);
			/* (only described: a failure to describe it fails nothing) */
			struct pf_error before = *err;
			if (log && !change_note(&st, PF_CHANGE_POLICY_COUNTERS,
						keep ? pf_chain_find(t, st.chain) : NULL))
				*err = before;
			for (size_t i = 0; i < t->nbuiltin; i++)
				if (!(keep && !strcmp(t->chains[i]->name, st.chain)))
					t->chains[i]->pcnt = (struct pf_counters){0, 0};
		}
		rs->generation++;
	} else if (fresh_table) {
		rs->generation++;
	}
	rc = 0;
out:
	pf_rule_free(st.rule);
	return rc;
}
