/*
 * log.h - the operational (debug) log: levels, module prefixes, stderr or
 * syslog. This is NOT the audit log: audit rows are data and go through
 * audit.h.
 *
 * Each .c file defines VG_LOG_MODULE (e.g. "CAM") before including this
 * header; the macros prefix every line with it. The _warn/_err forms
 * append strerror(errno), the _warnx/_errx forms do not (err(3) style).
 * Footage never goes into a log line: log sizes, counts and times only.
 */
#ifndef VIGIL_LOG_H
#define VIGIL_LOG_H

#include <stdarg.h>

enum vg_log_level {
	VG_LOG_ERROR = 0,
	VG_LOG_WARN,
	VG_LOG_INFO,
	VG_LOG_DEBUG,
};

/* Where log lines go. A sink may be installed by tests to capture lines. */
typedef void (*vg_log_sink_fn)(enum vg_log_level level, const char *module,
			       const char *line, void *ud);

/* Configure: ident for syslog, use_syslog != 0 sends to syslog(3) instead
 * of stderr, lines above max_level are discarded before formatting. */
void vg_log_init(const char *ident, int use_syslog, enum vg_log_level max_level);
void vg_log_set_level(enum vg_log_level max_level);
/* Install (or, with NULL, remove) an extra sink; it sees every line kept. */
void vg_log_set_sink(vg_log_sink_fn fn, void *ud);
/* Parse "error", "warn", "info", "debug"; -1 if unknown. */
int vg_log_level_parse(const char *name);

void vg_log_write(enum vg_log_level level, const char *module, int errnum,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void vg_log_vwrite(enum vg_log_level level, const char *module, int errnum,
		   const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

#ifndef VG_LOG_MODULE
#define VG_LOG_MODULE "vigil"
#endif

#include <errno.h>
#define vg_err(...) vg_log_write(VG_LOG_ERROR, VG_LOG_MODULE, errno, __VA_ARGS__)
#define vg_errx(...) vg_log_write(VG_LOG_ERROR, VG_LOG_MODULE, 0, __VA_ARGS__)
#define vg_warn(...) vg_log_write(VG_LOG_WARN, VG_LOG_MODULE, errno, __VA_ARGS__)
#define vg_warnx(...) vg_log_write(VG_LOG_WARN, VG_LOG_MODULE, 0, __VA_ARGS__)
#define vg_info(...) vg_log_write(VG_LOG_INFO, VG_LOG_MODULE, 0, __VA_ARGS__)
#define vg_debug(...) vg_log_write(VG_LOG_DEBUG, VG_LOG_MODULE, 0, __VA_ARGS__)

#endif
