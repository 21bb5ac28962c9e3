/*
 * log.c - the operational log. One mutex serialises writers so lines from
 * camera threads never interleave; the level is checked before formatting
 * so debug lines cost nothing when off.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>

#include "vigil/log.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static enum vg_log_level log_max = VG_LOG_INFO;
static int log_syslog;
static vg_log_sink_fn log_sink;
static void *log_sink_ud;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void vg_log_init(const char *ident, int use_syslog, enum vg_log_level max_level)
{
	pthread_mutex_lock(&log_lock);
	if (log_syslog)
		closelog();
	log_syslog = use_syslog;
	log_max = max_level;
	if (use_syslog)
		openlog(ident ? ident : "vigil", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	pthread_mutex_unlock(&log_lock);
}

void vg_log_set_level(enum vg_log_level max_level)
{
	pthread_mutex_lock(&log_lock);
	log_max = max_level;
	pthread_mutex_unlock(&log_lock);
}

void vg_log_set_sink(vg_log_sink_fn fn, void *ud)
{
	pthread_mutex_lock(&log_lock);
	log_sink = fn;
	log_sink_ud = ud;
	pthread_mutex_unlock(&log_lock);
}

int vg_log_level_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcasecmp(name, level_names[i]) == 0)
			return (int)i;
	if (strcasecmp(name, "warning") == 0)
		return VG_LOG_WARN;
	return -1;
}

void vg_log_vwrite(enum vg_log_level level, const char *module, int errnum,
		   const char *fmt, va_list ap)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	char line[1024];
	char errbuf[128];
	int n;

	if (level > log_max)	/* racy read is fine: worst case one line */
		return;
	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return;
	if (errnum != 0 && (size_t)n < sizeof(line)) {
		/* strerror_r (GNU) may or may not use errbuf */
		const char *e = strerror_r(errnum, errbuf, sizeof(errbuf));

		snprintf(line + n, sizeof(line) - (size_t)n, ": %s", e);
	}

	pthread_mutex_lock(&log_lock);
	if (log_syslog) {
		syslog(prio[level], "%s: %s", module, line);
	} else {
		struct timespec ts;
		struct tm tm;
		char stamp[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ldZ %-5s %s: %s\n", stamp, ts.tv_nsec / 1000000,
			level_names[level], module, line);
	}
	if (log_sink)
		log_sink(level, module, line, log_sink_ud);
	pthread_mutex_unlock(&log_lock);
}

void vg_log_write(enum vg_log_level level, const char *module, int errnum,
		  const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vg_log_vwrite(level, module, errnum, fmt, ap);
	va_end(ap);
}
