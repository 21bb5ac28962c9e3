/*
 * keystore.c - load or create the box's master key file.
 *
 * The key file is opened without following symlinks and checked through
 * the open descriptor (fstat), so a file swapped between the check and the
 * read is never used. Every refusal fills why with a sentence that says
 * what is wrong and what to run.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VG_LOG_MODULE "KEY"
#include "vigil/crypto.h"
#include "vigil/err.h"
#include "vigil/keystore.h"
#include "vigil/log.h"

static void say(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void say(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || whylen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

static void errtext(int e, char *buf, size_t len)
{
	/* GNU strerror_r may return a static string instead of filling buf. */
	const char *s = strerror_r(e, buf, len);

	if (s != buf)
		snprintf(buf, len, "%s", s);
}

static int fsync_parent(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	int fd, ret = 0;

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else if ((size_t)(slash - path) < sizeof(dir))
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	else
		return -VG_EINVAL;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -vg_err_from_errno(errno);
	if (fsync(fd) < 0)
		ret = -vg_err_from_errno(errno);
	close(fd);
	return ret;
}

static int key_create(const char *path, uint8_t key[VG_MASTER_KEY_LEN], char *why,
		      size_t whylen)
{
	char ebuf[128];
	int fd;
	int ret;
	ssize_t n;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -vg_err_from_errno(errno);
		errtext(errno, ebuf, sizeof(ebuf));
		say(why, whylen, "cannot create master key file %s: %s", path, ebuf);
		return ret;
	}
	/* The umask may only have narrowed 0600; make it exact anyway. */
	if (fchmod(fd, 0600) < 0)
		goto syserr;
	ret = vg_crypto_random(key, VG_MASTER_KEY_LEN);
	if (ret < 0) {
		say(why, whylen, "cannot draw random bytes for a new master key");
		goto fail;
	}
	n = write(fd, key, VG_MASTER_KEY_LEN);
	if (n != VG_MASTER_KEY_LEN) {
		if (n >= 0)
			errno = EIO;
		goto syserr;
	}
	if (fsync(fd) < 0)
		goto syserr;
	if (close(fd) < 0) {
		fd = -1;
		goto syserr;
	}
	fd = -1;
	ret = fsync_parent(path);
	if (ret < 0) {
		say(why, whylen, "cannot fsync the directory of %s: %s", path, vg_strerror(ret));
		goto fail;
	}
	return 0;
syserr:
	ret = -vg_err_from_errno(errno);
	errtext(errno, ebuf, sizeof(ebuf));
	say(why, whylen, "cannot write master key file %s: %s", path, ebuf);
fail:
	if (fd >= 0)
		close(fd);
	unlink(path);
	vg_wipe(key, VG_MASTER_KEY_LEN);
	return ret;
}

static int key_read(int fd, const char *path, uint8_t key[VG_MASTER_KEY_LEN], char *why,
		    size_t whylen)
{
	char ebuf[128];
	struct stat st;
	uint8_t buf[VG_MASTER_KEY_LEN + 1];
	size_t got = 0;
	ssize_t n;
	int ret = 0;

	if (fstat(fd, &st) < 0) {
		ret = -vg_err_from_errno(errno);
		errtext(errno, ebuf, sizeof(ebuf));
		say(why, whylen, "cannot stat master key file %s: %s", path, ebuf);
		return ret;
	}
	if (!S_ISREG(st.st_mode)) {
		say(why, whylen, "master key file %s is not a regular file; "
		    "point the configuration at the key file itself", path);
		return -VG_EPERM;
	}
	if (st.st_uid != geteuid()) {
		say(why, whylen, "master key file %s is owned by uid %u, not by uid %u that "
		    "vigil runs as; run: chown %u %s", path, (unsigned)st.st_uid,
		    (unsigned)geteuid(), (unsigned)geteuid(), path);
		return -VG_EPERM;
	}
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		say(why, whylen, "master key file %s has mode %04o, so other users may read or "
		    "change it; run: chmod 600 %s", path, (unsigned)(st.st_mode & 07777), path);
		return -VG_EPERM;
	}
	while (got < sizeof(buf)) {
		n = read(fd, buf + got, sizeof(buf) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -vg_err_from_errno(errno);
			errtext(errno, ebuf, sizeof(ebuf));
			say(why, whylen, "cannot read master key file %s: %s", path, ebuf);
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got != VG_MASTER_KEY_LEN) {
		say(why, whylen, "master key file %s holds %s%zu bytes, not %d: it is damaged or "
		    "not a vigil key; restore it from its backup (clips it wrapped cannot be "
		    "read without it)", path, got > VG_MASTER_KEY_LEN ? "more than " : "",
		    got > VG_MASTER_KEY_LEN ? (size_t)VG_MASTER_KEY_LEN : got,
		    VG_MASTER_KEY_LEN);
		ret = -VG_EFORMAT;
		goto out;
	}
	memcpy(key, buf, VG_MASTER_KEY_LEN);
out:
	vg_wipe(buf, sizeof(buf));
	return ret;
}

int vg_keystore_load(const char *path, int create, uint8_t key[VG_MASTER_KEY_LEN],
		     int *created, char *why, size_t whylen)
{
	char ebuf[128];
	int attempt;
	int fd = -1;
	int ret;

	if (created != NULL)
		*created = 0;
	say(why, whylen, "no error");
	/* Two rounds: a racing creator may win O_EXCL, then we load its file. */
	for (attempt = 0; attempt < 2; attempt++) {
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		if (fd >= 0)
			break;
		if (errno == ELOOP) {
			say(why, whylen, "master key file %s is a symbolic link, which vigil "
			    "refuses (it could be pointed at another file); replace the link "
			    "with the key file itself: mv \"$(readlink -f %s)\" %s",
			    path, path, path);
			ret = -VG_EPERM;
			goto out;
		}
		if (errno != ENOENT || !create) {
			ret = -vg_err_from_errno(errno);
			errtext(errno, ebuf, sizeof(ebuf));
			say(why, whylen, "cannot open master key file %s: %s", path, ebuf);
			goto out;
		}
		ret = key_create(path, key, why, whylen);
		if (ret == 0) {
			if (created != NULL)
				*created = 1;
			vg_info("created a new master key in %s", path);
			goto out;
		}
		if (ret != -VG_EEXIST)
			goto out;
	}
	if (fd < 0) {
		ret = -VG_EIO;
		say(why, whylen, "master key file %s keeps appearing and vanishing", path);
		goto out;
	}
	ret = key_read(fd, path, key, why, whylen);
out:
	if (fd >= 0)
		close(fd);
	if (ret < 0) {
		vg_wipe(key, VG_MASTER_KEY_LEN);
		vg_warnx("%s", why != NULL && whylen > 0 ? why : vg_strerror(ret));
	}
	return ret;
}

void vg_keystore_fingerprint(const uint8_t key[VG_MASTER_KEY_LEN], char out[17])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t h[VG_SHA256_DIGEST_LEN];
	int i;

	vg_sha256(key, VG_MASTER_KEY_LEN, h);
	for (i = 0; i < 8; i++) {
		out[2 * i] = hex[h[i] >> 4];
		out[2 * i + 1] = hex[h[i] & 0x0f];
	}
	out[16] = '\0';
	vg_wipe(h, sizeof(h));
}
