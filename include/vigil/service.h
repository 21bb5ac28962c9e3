/*
 * service.h - what running as a system service takes: dropping root,
 * telling systemd we are ready and alive, and feeding the hardware
 * watchdog.
 *
 * The sd_notify protocol is one datagram to $NOTIFY_SOCKET; it is written
 * here rather than linking libsystemd so that the same binary runs on
 * boards without systemd (the busybox test image) with nothing extra.
 */
#ifndef VIGIL_SERVICE_H
#define VIGIL_SERVICE_H

#include <stddef.h>

/*
 * If running as root, become user (and its groups, e.g. video for the
 * cameras): setgroups/initgroups, setresgid, setresuid, then check that
 * root cannot be regained, and set no_new_privs. Not root: nothing to do
 * (returns 0). A user whose uid is 0 (user = "root", for test images
 * only) keeps root with a warning. -VG_EPERM with why filled when the user is unknown or the
 * drop fails: the caller must then refuse to run.
 */
int vg_service_drop_root(const char *user, char *why, size_t whylen);

/* Send state ("READY=1", "WATCHDOG=1", "STOPPING=1", "STATUS=...") to the
 * service manager if $NOTIFY_SOCKET is set; otherwise do nothing. */
void vg_service_notify(const char *state);

/* The hardware watchdog. Open it (before dropping root) if path exists;
 * returns -1 when there is none. */
int vg_watchdog_open(const char *path);
/* One keep-alive. */
void vg_watchdog_feed(int fd);
/* Disarm on a clean stop (magic close) and close. */
void vg_watchdog_close(int fd);

#endif
