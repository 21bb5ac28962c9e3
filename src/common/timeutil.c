/* timeutil.c - clocks, UTC formatting and parsing of times people type. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timex.h>
#include <time.h>

#include "vigil/err.h"
#include "vigil/timeutil.h"

static int64_t clock_us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * VG_US_PER_S + ts.tv_nsec / 1000;
}

int64_t vg_time_now_us(void)
{
	return clock_us(CLOCK_REALTIME);
}

int64_t vg_time_mono_us(void)
{
	return clock_us(CLOCK_MONOTONIC);
}

/* Floor division so that times before 1970 format correctly too. */
static void split_us(int64_t us, time_t *sec, long *frac)
{
	int64_t s = us / VG_US_PER_S;
	int64_t f = us % VG_US_PER_S;

	if (f < 0) {
		f += VG_US_PER_S;
		s -= 1;
	}
	*sec = (time_t)s;
	*frac = (long)f;
}

void vg_time_format(int64_t us, char *buf, size_t len)
{
	struct tm tm;
	time_t sec;
	long frac;
	char base[24];

	split_us(us, &sec, &frac);
	gmtime_r(&sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%06ldZ", base, frac);
}

void vg_time_format_compact(int64_t us, char *buf, size_t len)
{
	struct tm tm;
	time_t sec;
	long frac;

	split_us(us, &sec, &frac);
	gmtime_r(&sec, &tm);
	strftime(buf, len, "%Y%m%dT%H%M%SZ", &tm);
}

static int parse_relative(const char *s, int64_t now_us, int64_t *out)
{
	char *end;
	long long n = strtoll(s + 1, &end, 10);
	int64_t unit;

	if (end == s + 1 || n < 0)
		return -VG_EINVAL;
	switch (*end) {
	case 's':
		unit = VG_US_PER_S;
		break;
	case 'm':
		unit = 60 * VG_US_PER_S;
		break;
	case 'h':
		unit = 3600 * VG_US_PER_S;
		break;
	case 'd':
		unit = 86400 * VG_US_PER_S;
		break;
	default:
		return -VG_EINVAL;
	}
	if (end[1] != '\0' || n > 100LL * 366 * 86400)
		return -VG_EINVAL;
	*out = now_us - (int64_t)n * unit;
	return 0;
}

/* Read exactly n digits into *v. */
static const char *digits(const char *p, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)p[i]))
			return NULL;
		*v = *v * 10 + (p[i] - '0');
	}
	return p + n;
}

int vg_clock_synced(int64_t *esterror_us)
{
	struct timex tx;
	int state;

	memset(&tx, 0, sizeof(tx));	/* modes 0: read only */
	state = ntp_adjtime(&tx);
	if (esterror_us)
		*esterror_us = tx.esterror;
	return state != TIME_ERROR && state >= 0 && !(tx.status & STA_UNSYNC);
}

int vg_time_local_date(const char *date, int64_t *out)
{
	int64_t utc;
	struct tm tm;
	time_t t;

	if (strlen(date) != 10 || vg_time_parse(date, 0, &utc) < 0)
		return -VG_EINVAL;
	t = (time_t)(utc / VG_US_PER_S);
	gmtime_r(&t, &tm);
	tm.tm_isdst = -1;	/* let the zone rules say whether BST applies */
	t = mktime(&tm);
	*out = (int64_t)t * VG_US_PER_S;
	return 0;
}

int vg_time_parse(const char *s, int64_t now_us, int64_t *out)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	struct tm tm;
	int y, mo, d, h = 0, mi = 0, sec = 0;
	long frac = 0;
	const char *p = s;
	time_t t;

	if (strcmp(s, "now") == 0) {
		*out = now_us;
		return 0;
	}
	if (s[0] == '-')
		return parse_relative(s, now_us, out);

	p = digits(p, 4, &y);
	if (p == NULL || *p++ != '-')
		return -VG_EINVAL;
	p = digits(p, 2, &mo);
	if (p == NULL || *p++ != '-')
		return -VG_EINVAL;
	p = digits(p, 2, &d);
	if (p == NULL)
		return -VG_EINVAL;
	if (*p == 'T' || *p == ' ') {
		p = digits(p + 1, 2, &h);
		if (p == NULL || *p++ != ':')
			return -VG_EINVAL;
		p = digits(p, 2, &mi);
		if (p == NULL)
			return -VG_EINVAL;
		if (*p == ':') {
			p = digits(p + 1, 2, &sec);
			if (p == NULL)
				return -VG_EINVAL;
			if (*p == '.') {
				long scale = 100000;

				p++;
				if (!isdigit((unsigned char)*p))
					return -VG_EINVAL;
				while (isdigit((unsigned char)*p)) {
					frac += (*p - '0') * scale;
					scale /= 10;
					p++;
				}
			}
		}
	}
	if (*p == 'Z')
		p++;
	if (*p != '\0')
		return -VG_EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 60)
		return -VG_EINVAL;
	if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return -VG_EINVAL;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	*out = (int64_t)t * VG_US_PER_S + frac;
	return 0;
}

int vg_time_zone_installed(const char *zone, char *path, size_t len)
{
	const char *dir = getenv("TZDIR");
	char magic[4];
	FILE *fp;
	int ok;

	if (dir == NULL || dir[0] == '\0')
		dir = "/usr/share/zoneinfo";
	snprintf(path, len, "%s/%s", dir, zone != NULL ? zone : "");
	if (zone == NULL || zone[0] == '\0' || strstr(zone, "..") != NULL)
		return 0;
	fp = fopen(path, "rb");
	if (fp == NULL)
		return 0;
	ok = fread(magic, 1, 4, fp) == 4 && memcmp(magic, "TZif", 4) == 0;
	fclose(fp);
	return ok;
}

int vg_time_set_zone(const char *zone)
{
	if (zone == NULL || zone[0] == '\0' || setenv("TZ", zone, 1) != 0)
		return -VG_EINVAL;
	tzset();
	return 0;
}
