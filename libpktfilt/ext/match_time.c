/*
 * match_time.c - the time match: daytime, weekdays, days of the month and a date range
 * (--timestart/--timestop, --weekdays, --monthdays, --datestart/--datestop, --kerneltz,
 * --contiguous), as libxt_time and the kernel's xt_time. Dates are UTC seconds.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "engine/eval.h"
#include "ext/ext.h"
#include "language/xtutil.h"
#include "model/model.h"

#define TIME_ALL_MONTHDAYS 0xFFFFFFFEu
#define TIME_ALL_WEEKDAYS 0xFE
#define TIME_MIN_DAYTIME 0
#define TIME_MAX_DAYTIME (24 * 60 * 60 - 1)
#define TIME_LOCAL_TZ 0x1
#define TIME_CONTIGUOUS 0x2

/* The kernel's struct xt_time_info. */
struct time_info {
	uint32_t date_start;
	uint32_t date_stop;
	uint32_t daytime_start;
	uint32_t daytime_stop;
	uint32_t monthdays_match;
	uint8_t weekdays_match;
	uint8_t flags;
};

enum {
	O_DATE_START,
	O_DATE_STOP,
	O_TIME_START,
	O_TIME_STOP,
	O_TIME_CONTIGUOUS,
	O_MONTHDAYS,
	O_WEEKDAYS,
	O_LOCAL_TZ,
	O_UTC,
	O_KERNEL_TZ,
};
#define F(o) (1ull << (o))

static const struct pf_ext_option time_opts[] = {
    {"datestart", O_DATE_START, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"datestop", O_DATE_STOP, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"timestart", O_TIME_START, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"timestop", O_TIME_STOP, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"contiguous", O_TIME_CONTIGUOUS, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"weekdays", O_WEEKDAYS, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"monthdays", O_MONTHDAYS, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"localtz", O_LOCAL_TZ, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"utc", O_UTC, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"kerneltz", O_KERNEL_TZ, PF_ARG_NONE, PF_OPT_NOCHECK},
    {.name = NULL},
};

static const struct pf_xt_optspec time_specs[] = {
    {"datestart", O_DATE_START, 0, 0, false},
    {"datestop", O_DATE_STOP, 0, 0, false},
    {"timestart", O_TIME_START, 0, 0, false},
    {"timestop", O_TIME_STOP, 0, 0, false},
    {"contiguous", O_TIME_CONTIGUOUS, 0, 0, false},
    {"weekdays", O_WEEKDAYS, 0, 0, false},
    {"monthdays", O_MONTHDAYS, 0, 0, false},
    {"localtz", O_LOCAL_TZ, F(O_UTC), 0, false},
    {"utc", O_UTC, F(O_LOCAL_TZ) | F(O_KERNEL_TZ), 0, false},
    {"kerneltz", O_KERNEL_TZ, F(O_UTC), 0, false},
    {.name = NULL},
};

static const char *const week_days[] = {NULL, "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};

static void time_init(void *data)
{
	struct time_info *info = data;
	info->monthdays_match = TIME_ALL_MONTHDAYS;
	info->weekdays_match = TIME_ALL_WEEKDAYS;
	info->daytime_start = TIME_MIN_DAYTIME;
	info->daytime_stop = TIME_MAX_DAYTIME;
	info->date_start = 0;
	info->date_stop = INT_MAX;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1..12). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, unsigned *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (unsigned)(yoe + era * 400 + (*m <= 2));
}

/* "YYYY[-MM[-DD[Thh[:mm[:ss]]]]]" in UTC, each part as strtoul reads it; a zero month or
 * day rolls back as mktime does. */
static int parse_date(const char *os, uint32_t *out, struct pf_error *err)
{
	unsigned vals[6] = {0, 1, 1, 0, 0, 0};
	static const char seps[6] = {'-', '-', 'T', ':', ':', '\0'};
	static const unsigned maxv[6] = {2038, 12, 31, 23, 59, 59};
	const char *s = os;
	for (int i = 0; i < 6; i++) {
		char *e;
		vals[i] = (unsigned)strtoul(s, &e, 10);
		if ((*e != seps[i] && *e != '\0') || vals[i] > maxv[i] ||
		    (i == 0 && vals[0] < 1970))
			return pf_err_param(err,
					    "Invalid date \"%s\" specified. Should be "
					    "YYYY[-MM[-DD[Thh[:mm[:ss]]]]]",
					    os);
		if (*e == '\0')
			break;
		s = e + 1;
	}
	int64_t year = vals[0];
	unsigned month = vals[1];
	if (month == 0) {
		year--;
		month = 12;
	}
	int64_t t = (days_from_civil(year, month, 1) + (int64_t)vals[2] - 1) * 86400 +
		    vals[3] * 3600 + vals[4] * 60 + vals[5];
	if (t < 0)
		return pf_err_set(err, PF_ERR_OTHER, PF_STYLE_PLAIN, "mktime returned an error");
	*out = (uint32_t)t;
	return 0;
}

static int parse_daytime(const char *s, uint32_t *out, struct pf_error *err)
{
	unsigned hour, minute, second = 0;
	char *e;
	hour = (unsigned)strtoul(s, &e, 10);
	if (*e != ':' || hour > 23)
		goto bad;
	s = e + 1;
	minute = (unsigned)strtoul(s, &e, 10);
	if ((*e != ':' && *e != '\0') || minute > 59)
		goto bad;
	if (*e != '\0') {
		s = e + 1;
		second = (unsigned)strtoul(s, &e, 10);
		if (*e != '\0' || second > 59)
			goto bad;
	}
	*out = 60 * 60 * hour + 60 * minute + second;
	return 0;
bad:
	return pf_err_param(err,
			    "invalid time \"%s\" specified, should be hh:mm[:ss] format and within "
			    "the boundaries",
			    s);
}

/* The next comma-separated segment of *arg, truncated to buflen - 1 characters. */
static const char *next_seg(char *buf, size_t buflen, const char **arg)
{
	if (*arg == NULL || **arg == '\0')
		return NULL;
	const char *sep = strchr(*arg, ',');
	size_t n = sep ? (size_t)(sep - *arg) : strlen(*arg);
	if (n > buflen - 1)
		n = buflen - 1;
	memcpy(buf, *arg, n);
	buf[n] = '\0';
	*arg = sep ? sep + 1 : NULL;
	return buf;
}

static int parse_monthdays(const char *arg, uint32_t *out, struct pf_error *err)
{
	char day[3];
	uint32_t ret = 0;
	while (next_seg(day, sizeof(day), &arg)) {
		char *e;
		unsigned i = (unsigned)strtoul(day, &e, 0);
		if ((*e != ',' && *e != '\0') || i > 31)
			return pf_err_param(err, "%s is not a valid day for --monthdays", day);
		ret |= 1u << i;
	}
	*out = ret;
	return 0;
}

static int parse_weekdays(const char *arg, uint8_t *out, struct pf_error *err)
{
	char day[4];
	unsigned ret = 0;
	while (next_seg(day, sizeof(day), &arg)) {
		char *e;
		unsigned i = (unsigned)strtoul(day, &e, 0);
		if (*e == '\0') {
			if (i == 0)
				return pf_err_param(err,
						    "No, the week does NOT begin with Sunday.");
			ret |= 1u << (i & 31); /* x86 shifts by the count modulo 32 */
			continue;
		}
		bool valid = false;
		for (i = 1; i < 8; ++i)
			if (strncmp(day, week_days[i], 2) == 0) {
				ret |= 1u << i;
				valid = true;
			}
		if (!valid)
			return pf_err_param(err, "%s is not a valid day specifier", day);
	}
	*out = (uint8_t)ret;
	return 0;
}

static int time_parse(struct pf_parse_ctx *ctx)
{
	struct time_info *info = ctx->data;
	const char *opt = "";
	for (const struct pf_xt_optspec *sp = time_specs; sp->name; sp++)
		if ((int)sp->id == ctx->id)
			opt = sp->name;
	bool invertible = ctx->id == O_WEEKDAYS || ctx->id == O_MONTHDAYS;
	if (pf_xt_opt_check(ctx->err, "time", opt, ctx->seen & F(ctx->id), ctx->invert, invertible))
		return -1;
	switch (ctx->id) {
	case O_DATE_START:
		return parse_date(ctx->arg, &info->date_start, ctx->err);
	case O_DATE_STOP:
		return parse_date(ctx->arg, &info->date_stop, ctx->err);
	case O_TIME_START:
		return parse_daytime(ctx->arg, &info->daytime_start, ctx->err);
	case O_TIME_STOP:
		return parse_daytime(ctx->arg, &info->daytime_stop, ctx->err);
	case O_TIME_CONTIGUOUS:
		info->flags |= TIME_CONTIGUOUS;
		return 0;
	case O_LOCAL_TZ:
		pf_err_warn(ctx->err, "WARNING: --localtz is being replaced by --kerneltz, since "
				      "\"local\" is ambiguous. Note the kernel timezone has caveats - "
				      "see manpage for details.");
		/* fall through */
	case O_KERNEL_TZ:
		info->flags |= TIME_LOCAL_TZ;
		return 0;
	case O_MONTHDAYS:
		if (parse_monthdays(ctx->arg, &info->monthdays_match, ctx->err))
			return -1;
		if (ctx->invert)
			info->monthdays_match ^= TIME_ALL_MONTHDAYS;
		return 0;
	case O_WEEKDAYS:
		if (parse_weekdays(ctx->arg, &info->weekdays_match, ctx->err))
			return -1;
		if (ctx->invert)
			info->weekdays_match ^= TIME_ALL_WEEKDAYS;
		return 0;
	}
	return 0;
}

static int time_final(struct pf_parse_ctx *ctx)
{
	const struct time_info *info = ctx->data;
	if ((ctx->seen & F(O_TIME_CONTIGUOUS)) && info->daytime_start < info->daytime_stop)
		return pf_err_param(ctx->err,
				    "time: --contiguous only makes sense when stoptime is "
				    "smaller than starttime");
	return pf_xt_options_fcheck("time", time_specs, ctx->seen, ctx->err);
}

/* " [command ]YYYY-MM-DD(T| )hh:mm:ss"; nothing for 0 (iptables' "not set"). */
static void put_date(struct pf_strbuf *out, uint32_t date, const char *command)
{
	unsigned y, mo, d;
	if (date == 0)
		return;
	civil_from_days(date / 86400, &y, &mo, &d);
	unsigned secs = date % 86400;
	if (command)
		pf_sb_printf(out, " %s %04u-%02u-%02uT%02u:%02u:%02u", command, y, mo, d,
			     secs / 3600, secs / 60 % 60, secs % 60);
	else
		pf_sb_printf(out, " %04u-%02u-%02u %02u:%02u:%02u", y, mo, d, secs / 3600,
			     secs / 60 % 60, secs % 60);
}

static void put_monthdays(struct pf_strbuf *out, uint32_t mask, bool human)
{
	static const char *const sfx[10] = {"th", "st", "nd", "rd", "th",
					    "th", "th", "th", "th", "th"};
	unsigned n = 0;
	pf_sb_putc(out, ' ');
	for (unsigned i = 1; i <= 31; ++i) {
		if (!(mask & (1u << i)))
			continue;
		if (n++ > 0)
			pf_sb_putc(out, ',');
		pf_sb_printf(out, "%u%s", i, human ? sfx[i % 10] : "");
	}
}

static void put_weekdays(struct pf_strbuf *out, unsigned mask)
{
	unsigned n = 0;
	pf_sb_putc(out, ' ');
	for (unsigned i = 1; i <= 7; ++i)
		if (mask & (1u << i))
			pf_sb_printf(out, "%s%s", n++ > 0 ? "," : "", week_days[i]);
}

static void put_daytime(struct pf_strbuf *out, const char *fmt, uint32_t t)
{
	pf_sb_printf(out, fmt, t / 3600, t / 60 % 60, t % 60);
}

static void time_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct time_info *info = ctx->data;
	pf_sb_puts(out, " TIME");
	if (info->daytime_start != TIME_MIN_DAYTIME || info->daytime_stop != TIME_MAX_DAYTIME) {
		put_daytime(out, " from %02u:%02u:%02u", info->daytime_start);
		put_daytime(out, " to %02u:%02u:%02u", info->daytime_stop);
	}
	if (info->weekdays_match != TIME_ALL_WEEKDAYS) {
		pf_sb_puts(out, " on");
		put_weekdays(out, info->weekdays_match);
	}
	if (info->monthdays_match != TIME_ALL_MONTHDAYS) {
		pf_sb_puts(out, " on");
		put_monthdays(out, info->monthdays_match, true);
	}
	if (info->date_start != 0) {
		pf_sb_puts(out, " starting from");
		put_date(out, info->date_start, NULL);
	}
	if (info->date_stop != INT_MAX) {
		pf_sb_puts(out, " until date");
		put_date(out, info->date_stop, NULL);
	}
	if (!(info->flags & TIME_LOCAL_TZ))
		pf_sb_puts(out, " UTC");
	if (info->flags & TIME_CONTIGUOUS)
		pf_sb_puts(out, " contiguous");
}

static void time_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct time_info *info = ctx->data;
	if (info->daytime_start != TIME_MIN_DAYTIME || info->daytime_stop != TIME_MAX_DAYTIME) {
		put_daytime(out, " --timestart %02u:%02u:%02u", info->daytime_start);
		put_daytime(out, " --timestop %02u:%02u:%02u", info->daytime_stop);
	}
	if (info->monthdays_match != TIME_ALL_MONTHDAYS) {
		pf_sb_puts(out, " --monthdays");
		put_monthdays(out, info->monthdays_match, false);
	}
	if (info->weekdays_match != TIME_ALL_WEEKDAYS) {
		pf_sb_puts(out, " --weekdays");
		put_weekdays(out, info->weekdays_match);
	}
	/* iptables prints the default --datestop too (it only skips 0). */
	put_date(out, info->date_start, "--datestart");
	put_date(out, info->date_stop, "--datestop");
	if (info->flags & TIME_LOCAL_TZ)
		pf_sb_puts(out, " --kerneltz");
	if (info->flags & TIME_CONTIGUOUS)
		pf_sb_puts(out, " --contiguous");
}

/* ---- evaluation ---- */

#define SECS_PER_DAY 86400

/* The day of the month as xt_time's localtime_3 finds it: the year from a table that ends
 * with 2039 (later dates count on in 2039's December), then the month from the days before
 * each month; kept in 8 bits as the kernel keeps it. */
static uint8_t time_monthday(uint64_t dse)
{
	static const uint16_t before_month[2][12] = {
	    {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334},
	    {0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335},
	};
	unsigned year = 2039;
	int64_t first;
	while ((first = days_from_civil(year, 1, 1)) > (int64_t)dse && year > 1970)
		year--;
	uint64_t w = dse - (uint64_t)first;
	bool leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
	int i = 11;
	while (i > 0 && before_month[leap][i] > w)
		i--;
	return (uint8_t)(w - before_month[leap][i] + 1);
}

/* time_mt (xt_time.c), on meta->now_ns (the wall clock, UTC) in whole seconds, shifted by the
 * kernel's timezone with --kerneltz. The date range bounds it; the daytime range holds when
 * start < stop and the time of day lies in [start, stop], or when start >= stop and it does
 * not lie strictly between stop and start (across midnight; start == stop: all day). With
 * --contiguous a time of day up to stop counts as the previous day for the day tests. Then
 * the weekday (1 Monday .. 7 Sunday) and the day of the month must be in their sets. */
static bool time_match(struct pf_eval *ev, const void *data, void *state)
{
	const struct time_info *info = data;
	(void)state;
	int64_t stamp = (int64_t)(ev->meta->now_ns / 1000000000ull);
	if (info->flags & TIME_LOCAL_TZ)
		stamp -= 60 * (int64_t)pf_eval_config(ev)->tz_minuteswest;
	if (stamp < (int64_t)info->date_start || stamp > (int64_t)info->date_stop)
		return false;
	uint32_t daytime = (uint32_t)((uint64_t)stamp % SECS_PER_DAY);
	if (info->daytime_start < info->daytime_stop) {
		if (daytime < info->daytime_start || daytime > info->daytime_stop)
			return false;
	} else {
		if (daytime < info->daytime_start && daytime > info->daytime_stop)
			return false;
		if ((info->flags & TIME_CONTIGUOUS) && daytime <= info->daytime_stop)
			stamp -= SECS_PER_DAY;
	}
	uint64_t dse = (uint64_t)stamp / SECS_PER_DAY;
	unsigned weekday = (unsigned)((4 + dse - 1) % 7 + 1); /* 1970-01-01 was a Thursday */
	if (!(info->weekdays_match & (1u << weekday)))
		return false;
	if (info->monthdays_match != TIME_ALL_MONTHDAYS) {
		uint8_t mday = time_monthday(dse);
		if (!(info->monthdays_match & (1u << (mday & 31)))) /* x86 shift count */
			return false;
	}
	return true;
}

const struct pf_ext pf_match_time = {
    .name = "time",
    .kind = PF_EXT_MATCH,
    .revision = 0,
    .data_size = sizeof(struct time_info),
    .options = time_opts,
    .init = time_init,
    .parse = time_parse,
    .final_check = time_final,
    .save = time_save,
    .print = time_print,
    .match = time_match,
};
