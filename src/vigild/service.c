/* service.c - privilege drop, sd_notify and the hardware watchdog. */
#define VG_LOG_MODULE "SVC"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/watchdog.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vigil/err.h"
#include "vigil/log.h"
#include "vigil/service.h"

int vg_service_drop_root(const char *user, char *why, size_t whylen)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (geteuid() != 0)
		return 0;
	if (getpwnam_r(user, &pw, buf, sizeof(buf), &res) != 0 || res == NULL) {
		snprintf(why, whylen, "vigild was started as root but the account '%s' does not "
			 "exist: create it (useradd --system %s) or set user = \"...\" in the "
			 "configuration", user, user);
		return -VG_EPERM;
	}
	if (pw.pw_uid == 0) {
		/* Only when the config says so explicitly (test images). */
		vg_warnx("running as root because the configuration says user = \"%s\": "
			 "not for a box in the field", user);
		return 0;
	}
	/* Groups first, while we still may: initgroups brings in video. */
	if (initgroups(pw.pw_name, pw.pw_gid) < 0 || setresgid(pw.pw_gid, pw.pw_gid, pw.pw_gid) < 0 ||
	    setresuid(pw.pw_uid, pw.pw_uid, pw.pw_uid) < 0) {
		snprintf(why, whylen, "cannot become %s: %m", user);
		return -VG_EPERM;
	}
	/* Verify: every id changed and root cannot come back. */
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0 || ru != pw.pw_uid ||
	    eu != pw.pw_uid || su != pw.pw_uid || rg != pw.pw_gid || eg != pw.pw_gid ||
	    sg != pw.pw_gid || setuid(0) == 0) {
		snprintf(why, whylen, "the switch to %s did not take fully; refusing to run", user);
		return -VG_EPERM;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		vg_warn("cannot set no_new_privs");
	vg_info("running as %s (uid %u, gid %u)", user, (unsigned)pw.pw_uid, (unsigned)pw.pw_gid);
	return 0;
}

void vg_service_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	socklen_t len;
	int fd;

	if (path == NULL || path[0] == '\0' || strlen(path) >= sizeof(sa.sun_path))
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path));
	if (sa.sun_path[0] == '@')	/* abstract namespace */
		sa.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, len) < 0)
		vg_debug("sd_notify %s failed", state);
	close(fd);
}

int vg_watchdog_open(const char *path)
{
	int fd, timeout = 0;

	if (path == NULL || access(path, F_OK) < 0)
		return -1;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		vg_warn("cannot open the hardware watchdog %s", path);
		return -1;
	}
	if (ioctl(fd, WDIOC_GETTIMEOUT, &timeout) == 0)
		vg_info("hardware watchdog %s armed (timeout %d s)", path, timeout);
	return fd;
}

void vg_watchdog_feed(int fd)
{
	if (fd >= 0 && ioctl(fd, WDIOC_KEEPALIVE, 0) < 0 && write(fd, "\0", 1) < 0)
		vg_debug("watchdog keep-alive failed");
}

void vg_watchdog_close(int fd)
{
	if (fd < 0)
		return;
	/* "Magic close": a clean stop must not reboot the box. */
	if (write(fd, "V", 1) < 0)
		vg_warn("cannot disarm the hardware watchdog");
	close(fd);
}
