/*
 * timeutil.h - clocks and UTC timestamps in microseconds.
 *
 * vigil stores every time as int64 microseconds since the Unix epoch, UTC.
 * Text forms are ISO 8601 in UTC ("2026-11-29T14:03:07.250000Z"); local
 * time (GMT/BST) is only ever shown to people, never stored.
 */
#ifndef VIGIL_TIMEUTIL_H
#define VIGIL_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

#define VG_US_PER_S INT64_C(1000000)

int64_t vg_time_now_us(void);		/* CLOCK_REALTIME */
int64_t vg_time_mono_us(void);		/* CLOCK_MONOTONIC */

/* "2026-11-29T14:03:07.250000Z" (27 chars + NUL); buf of at least 32. */
void vg_time_format(int64_t us, char *buf, size_t len);
/* "20261129T140307Z": for file names. */
void vg_time_format_compact(int64_t us, char *buf, size_t len);

/*
 * Parse a time given by a person: "2026-11-29T14:03:07Z", "2026-11-29 14:03",
 * "2026-11-29" (midnight UTC), fractions of a second, a trailing "Z" or
 * none (always UTC), "now", or a time relative to now: "-90s", "-30m",
 * "-2h", "-7d". Returns 0 or -VG_EINVAL.
 */
int vg_time_parse(const char *s, int64_t now_us, int64_t *out);

/* The kernel's view of the clock (ntp_adjtime): 1 if synchronised (by
 * NTP or another time source), 0 if not; *esterror_us the estimated
 * error. Evidence needs the time on a picture to be right (HO, ICO). */
int vg_clock_synced(int64_t *esterror_us);

/* Local midnight (the box's time zone, GMT/BST) at the start of the date
 * "YYYY-MM-DD", in UTC microseconds; -VG_EINVAL if not such a date. */
int vg_time_local_date(const char *date, int64_t *out);

/* The box's time zone (the config's timezone, e.g. "Europe/London"): 1 if
 * its rules are installed (a TZif file under $TZDIR or
 * /usr/share/zoneinfo; without it the C library silently uses UTC), else
 * 0. path receives the file looked for. */
int vg_time_zone_installed(const char *zone, char *path, size_t len);

/* Make zone the process's local time (TZ, tzset): the overlay, the
 * config's dates and the local times in messages follow it. Only before
 * threads start (setenv is not thread-safe). 0 or -VG_EINVAL. */
int vg_time_set_zone(const char *zone);

#endif
