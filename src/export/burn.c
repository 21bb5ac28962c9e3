/*
 * burn.c - an export image onto a disc with xorriso, then read back.
 */
#define VG_LOG_MODULE "BRN"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/cdrom.h>
#include <linux/fs.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vigil/burn.h"
#include "vigil/crypto.h"
#include "vigil/err.h"
#include "vigil/log.h"
#include "vigil/timeutil.h"

#define CHUNK (1024 * 1024)
#define LINE_MAX_LEN 512
#define RELOAD_WAIT_US (60 * INT64_C(1000000))

extern char **environ;

/* What xorriso said, kept line by line from its stderr. */
struct xmsg {
	char line[LINE_MAX_LEN];	/* the line being read */
	size_t len;
	char cause[LINE_MAX_LEN];	/* the first specific SORRY/FAILURE/FATAL */
	char last[LINE_MAX_LEN];	/* the last non-empty line */
};

static double seconds_since(int64_t t0)
{
	return (double)(vg_time_mono_us() - t0) / 1e6;
}

/* ---- xorriso's messages ---- */

static void end_line(struct xmsg *m)
{
	m->line[m->len] = '\0';
	m->len = 0;
	if (m->line[0] == '\0')
		return;
	snprintf(m->last, sizeof(m->last), "%s", m->line);
	if (m->cause[0] != '\0')
		return;
	/* The generic closing lines repeat that something failed; the line
	 * before them says what. */
	if (strstr(m->line, "-abort_on") || strstr(m->line, "could not be performed"))
		return;
	if (strstr(m->line, ": SORRY :") || strstr(m->line, ": FAILURE :") ||
	    strstr(m->line, ": FATAL :"))
		snprintf(m->cause, sizeof(m->cause), "%s", m->line);
}

static void feed(struct xmsg *m, const char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == '\n' || buf[i] == '\r')
			end_line(m);
		else if (m->len < sizeof(m->line) - 1)
			m->line[m->len++] = buf[i];
	}
}

static int has(const char *s, const char *word)
{
	return strcasestr(s, word) != NULL;
}

/* Turn xorriso's complaint into a code and a sentence. */
static int explain(const struct xmsg *m, const char *dev, uint64_t bytes, char *why, size_t len)
{
	const char *said = m->cause[0] ? m->cause : m->last;
	double mb = (double)bytes / 1e6;

	if (has(said, "no media") || has(said, "not present") || has(said, "no medium") ||
	    has(said, "medium not present")) {
		snprintf(why, len, "no disc in %s: insert a blank DVD-R and try again", dev);
		return -VG_ENODEV;
	}
	if (has(said, "free space") || has(said, "too small") || has(said, "too large") ||
	    has(said, "exceeds") || has(said, "not enough")) {
		snprintf(why, len, "the disc in %s is too small for this %.0f MB image: insert a "
			 "larger blank disc (a DVD-R holds 4700 MB)", dev, mb);
		return -VG_ENOSPC;
	}
	if (has(said, "not blank") || has(said, "with data") || has(said, "need blank") ||
	    has(said, "is closed") || has(said, "not writeable") || has(said, "not writable") ||
	    has(said, "unsuitable") || has(said, "appendable")) {
		snprintf(why, len, "the disc in %s is not blank or cannot be written: insert a "
			 "blank DVD-R (vigil never erases a disc) and try again (xorriso: %.120s)",
			 dev, said);
		return -VG_EFORMAT;
	}
	if (has(said, "Cannot acquire drive") || has(said, "Cannot access") ||
	    has(said, "Permission denied") || has(said, "busy")) {
		snprintf(why, len, "cannot use the drive %s: check it is a DVD writer, that no "
			 "other program is using it and that vigild's user may (cdrom group) "
			 "(xorriso: %.120s)", dev, said);
		return -VG_ENODEV;
	}
	snprintf(why, len, "writing to %s failed: %.160s; try another blank disc", dev,
		 said[0] ? said : "xorriso gave no reason");
	return -VG_EIO;
}

/* Run xorriso on argv, its stderr and stdout into m; 0 if it exited 0.
 * fd3 / fd4 (if not -1) become its descriptors 3 and 4. */
static int run_xorriso(char *const argv[], struct xmsg *m, int fd3, int fd4)
{
	posix_spawn_file_actions_t fa;
	char buf[4096];
	pid_t pid;
	int p[2], st = 0, ret;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -vg_err_from_errno(errno);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	if (fd3 >= 0)
		posix_spawn_file_actions_adddup2(&fa, fd3, 3);
	if (fd4 >= 0)
		posix_spawn_file_actions_adddup2(&fa, fd4, 4);
	ret = posix_spawnp(&pid, "xorriso", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (ret != 0) {
		close(p[0]);
		return ret == ENOENT ? -VG_ENOENT : -vg_err_from_errno(ret);
	}
	for (;;) {
		ssize_t n = read(p[0], buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		feed(m, buf, (size_t)n);
	}
	end_line(m);
	close(p[0]);
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR)
			return -VG_EIO;
	}
	if (WIFSIGNALED(st))
		snprintf(m->last, sizeof(m->last), "xorriso was killed by signal %d",
			 WTERMSIG(st));
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -VG_EIO;
}

/* ---- the image and the device ---- */

/* SHA-256 of the first size bytes of fd (from offset 0); -VG_ETRUNC if it
 * ends early. Progress is reported when fn is set. */
static int hash_fd(int fd, uint64_t size, uint8_t out[VG_SHA256_DIGEST_LEN],
		   vg_burn_progress_fn fn, void *ud)
{
	struct vg_sha256 s;
	uint8_t *buf = malloc(CHUNK);
	uint64_t done = 0;
	int ret = 0;

	if (buf == NULL)
		return -VG_ENOMEM;
	vg_sha256_init(&s);
	while (done < size) {
		size_t want = size - done < CHUNK ? (size_t)(size - done) : CHUNK;
		ssize_t n = pread(fd, buf, want, (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -vg_err_from_errno(errno);
			break;
		}
		if (n == 0) {
			ret = -VG_ETRUNC;
			break;
		}
		vg_sha256_update(&s, buf, (size_t)n);
		done += (uint64_t)n;
		if (fn)
			fn(done, size, ud);
	}
	free(buf);
	if (vg_sha256_final(&s, out) < 0 && ret == 0)
		ret = -VG_ECRYPTO;
	return ret;
}

/* 1 if fd is an optical drive (the kernel's CD-ROM driver answers). */
static int is_optical(const char *dev)
{
	int fd = open(dev, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	int ok;

	if (fd < 0)
		return 0;
	ok = ioctl(fd, CDROM_GET_CAPABILITY, 0) >= 0;
	close(fd);
	return ok;
}

/* The kernel often keeps a blank disc's size (0) after a burn until the
 * disc is reloaded: take the tray out and in, then wait for the disc. */
static void reload_drive(const char *dev)
{
	int64_t until = vg_time_mono_us() + RELOAD_WAIT_US;
	int fd = open(dev, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return;
	vg_info("reloading %s so that the kernel sees the written disc", dev);
	if (ioctl(fd, CDROMEJECT, 0) < 0 || ioctl(fd, CDROMCLOSETRAY, 0) < 0)
		vg_warn("%s: cannot reload the tray (slot-loading drive?)", dev);
	/* Polling the drive, not synchronising threads: the drive spins up
	 * in its own time and says so only when asked. */
	while (vg_time_mono_us() < until &&
	       ioctl(fd, CDROM_DRIVE_STATUS, CDSL_CURRENT) != CDS_DISC_OK) {
		struct timespec ts = { .tv_sec = 0, .tv_nsec = 500000000 };

		nanosleep(&ts, NULL);
	}
	close(fd);
}

static uint64_t device_size(int fd, int blk)
{
	struct stat st;
	uint64_t sz = 0;

	if (blk)
		return ioctl(fd, BLKGETSIZE64, &sz) == 0 ? sz : 0;
	return fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* Open the device for reading back, with nothing of it in the page cache,
 * and at least size bytes long if it can be. */
static int open_readback(const char *dev, int blk, uint64_t size)
{
	int fd = open(dev, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -vg_err_from_errno(errno);
	if (blk && device_size(fd, blk) < size) {
		close(fd);
		reload_drive(dev);
		fd = open(dev, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -vg_err_from_errno(errno);
	}
	/* What is read must come from the medium, not from what xorriso just
	 * wrote through the cache: flush it, then drop it. */
	if (!blk)
		fdatasync(fd);
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	return fd;
}

static void eject(const char *dev)
{
	int fd = open(dev, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return;
	if (ioctl(fd, CDROMEJECT, 0) < 0)
		vg_debug("%s: could not eject the disc", dev);
	close(fd);
}

/* 0 if the device may be written: an optical drive, or with allow_file a
 * regular file or a new path in an existing folder. *blk says which. */
static int check_device(const struct vg_burn_request *q, int *blk, char *why, size_t len)
{
	struct stat st;

	*blk = 0;
	if (strncmp(q->device, "stdio:", 6) == 0) {
		snprintf(why, len, "give the device as a path (%s is xorriso's syntax)", q->device);
		return -VG_EINVAL;
	}
	if (stat(q->device, &st) == 0) {
		if (S_ISBLK(st.st_mode)) {
			if (!is_optical(q->device)) {
				snprintf(why, len, "%s is not an optical drive: give the DVD "
					 "writer, e.g. /dev/sr0", q->device);
				return -VG_EINVAL;
			}
			*blk = 1;
			return 0;
		}
		if (S_ISREG(st.st_mode) && q->allow_file)
			return 0;
		snprintf(why, len, "%s is not a DVD writer: give the drive, e.g. /dev/sr0",
			 q->device);
		return -VG_EINVAL;
	}
	if (errno == ENOENT && q->allow_file) {
		char dir[1100];
		char *slash;

		/* xorriso makes the file, but only in an existing folder. */
		snprintf(dir, sizeof(dir), "%s", q->device);
		slash = strrchr(dir, '/');
		if (slash == NULL)
			snprintf(dir, sizeof(dir), ".");
		else if (slash == dir)
			slash[1] = '\0';
		else
			*slash = '\0';
		if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
			return 0;
		snprintf(why, len, "cannot write %s: the folder %s does not exist", q->device, dir);
		return -VG_ENOENT;
	}
	if (errno == ENOENT)
		snprintf(why, len, "there is no drive %s: is the DVD writer plugged in? "
			 "(ls /dev/sr*)", q->device);
	else
		snprintf(why, len, "cannot look at %s: %s", q->device,
			 vg_strerror(-vg_err_from_errno(errno)));
	return errno == ENOENT ? -VG_ENODEV : -vg_err_from_errno(errno);
}

/* The /dev node of a block device number, from sysfs (DEVNAME), checked
 * to be that device. 0, or -VG_ENODEV. */
static int dev_node(dev_t rdev, char *out, size_t len)
{
	char p[96], line[256];
	struct stat st;
	FILE *f;
	int ret = -VG_ENODEV;

	snprintf(p, sizeof(p), "/sys/dev/block/%u:%u/uevent", major(rdev), minor(rdev));
	f = fopen(p, "re");
	if (f == NULL)
		return ret;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "DEVNAME=", 8) == 0 && strchr(line + 8, '/') == NULL) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(out, len, "/dev/%s", line + 8);
			if (stat(out, &st) == 0 && S_ISBLK(st.st_mode) && st.st_rdev == rdev)
				ret = 0;
		}
	}
	fclose(f);
	return ret;
}

/* check_device() for a given descriptor: node is the drive's /dev path. */
static int check_device_fd(const struct vg_burn_request *q, int *blk, char *node, size_t nlen,
			   char *why, size_t len)
{
	struct stat st;

	*blk = 0;
	if (fstat(q->device_fd, &st) < 0) {
		snprintf(why, len, "cannot look at %s", q->device);
		return -VG_EINVAL;
	}
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(q->device_fd, CDROM_GET_CAPABILITY, 0) < 0 ||
		    dev_node(st.st_rdev, node, nlen) < 0) {
			snprintf(why, len, "%s is not an optical drive: give the DVD writer, e.g. "
				 "/dev/sr0", q->device);
			return -VG_EINVAL;
		}
		*blk = 1;
		return 0;
	}
	if (S_ISREG(st.st_mode) && q->allow_file) {
		int fl = fcntl(q->device_fd, F_GETFL);

		if (fl < 0 || (fl & O_ACCMODE) != O_RDWR) {
			snprintf(why, len, "%s was not opened for reading and writing", q->device);
			return -VG_EINVAL;
		}
		return 0;
	}
	snprintf(why, len, "%s is not a DVD writer: give the drive, e.g. /dev/sr0", q->device);
	return -VG_EINVAL;
}

static int read_back(const struct vg_burn_request *q, const char *dev, int blk, uint64_t size,
		     const uint8_t want[VG_SHA256_DIGEST_LEN], struct vg_burn_result *res)
{
	uint8_t got[VG_SHA256_DIGEST_LEN];
	int fd, ret;

	if (q->given && !blk) {	/* the file, through the descriptor given */
		fd = fcntl(q->device_fd, F_DUPFD_CLOEXEC, 3);
		if (fd >= 0) {
			fdatasync(fd);
			posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		} else {
			fd = -vg_err_from_errno(errno);
		}
	} else {
		fd = open_readback(dev, blk, size);
	}
	if (fd < 0) {
		snprintf(res->why, sizeof(res->why), "%s was written but cannot be opened to read "
			 "it back (%s): take the disc out, put it back and check it with "
			 "vigilctl verify %s", q->device, vg_strerror(fd), q->device);
		return fd == -VG_ENOENT ? -VG_EIO : fd;
	}
	ret = hash_fd(fd, size, got, q->progress, q->progress_ud);
	close(fd);
	if (ret == -VG_ETRUNC) {
		snprintf(res->why, sizeof(res->why), "the disc in %s reads back shorter than the "
			 "image: it may be faulty; take it out, put it back and check it with "
			 "vigilctl verify %s, or burn another disc", q->device, q->device);
		return -VG_EIO;
	}
	if (ret < 0) {
		snprintf(res->why, sizeof(res->why), "the disc in %s cannot be read back (%s): "
			 "the disc is probably faulty; burn another one", q->device,
			 vg_strerror(ret));
		return ret == -VG_ENOMEM || ret == -VG_ECRYPTO ? ret : -VG_EIO;
	}
	if (memcmp(got, want, sizeof(got)) != 0) {
		snprintf(res->why, sizeof(res->why), "the disc in %s reads back different from the "
			 "image: it is faulty; do not hand it over, destroy it and burn another "
			 "disc", q->device);
		return -VG_EAUTH;
	}
	return 0;
}

int vg_burn_image(const struct vg_burn_request *q, struct vg_burn_result *res)
{
	char target[1100];
	char *argv[] = { "xorriso", "-no_rc", "-as", "cdrecord", "-v", NULL, NULL, NULL };
	uint8_t want[VG_SHA256_DIGEST_LEN];
	struct xmsg *m = NULL;
	struct stat st;
	char node[300] = "";
	const char *dev;
	int64_t t0;
	int fd = -1, blk = 0, ret;

	dev = q ? q->device : NULL;
	memset(res, 0, sizeof(*res));
	if (q == NULL || q->image == NULL || q->device == NULL ||
	    (q->given && (q->image_fd < 0 || q->device_fd < 0))) {
		snprintf(res->why, sizeof(res->why), "name the image and the device");
		return -VG_EINVAL;
	}
	fd = q->given ? fcntl(q->image_fd, F_DUPFD_CLOEXEC, 3)
		      : open(q->image, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		ret = -vg_err_from_errno(errno);
		snprintf(res->why, sizeof(res->why), "cannot open the image %s: %s", q->image,
			 vg_strerror(ret));
		return ret;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) {
		snprintf(res->why, sizeof(res->why), "%s is not an image file (make one with "
			 "vigilctl export --iso FILE)", q->image);
		ret = -VG_EINVAL;
		goto out;
	}
	res->bytes = (uint64_t)st.st_size;
	if (q->given) {
		ret = check_device_fd(q, &blk, node, sizeof(node), res->why, sizeof(res->why));
		dev = node;
	} else {
		ret = check_device(q, &blk, res->why, sizeof(res->why));
		dev = q->device;
	}
	if (ret < 0)
		goto out;
	/* The image's hash before writing: what the disc must read back as,
	 * and what the audit row records. */
	ret = hash_fd(fd, res->bytes, want, NULL, NULL);
	if (ret < 0) {
		snprintf(res->why, sizeof(res->why), "cannot read the image %s: %s", q->image,
			 vg_strerror(ret));
		goto out;
	}
	vg_hex(want, sizeof(want), res->image_sha256);
	m = calloc(1, sizeof(*m));
	if (m == NULL) {
		ret = -VG_ENOMEM;
		snprintf(res->why, sizeof(res->why), "out of memory");
		goto out;
	}
	if (q->given) {
		/* xorriso works on the descriptors: a drive by its /dev node
		 * (found from the descriptor), a file as fd 4, the image as 3 */
		snprintf(target, sizeof(target), "dev=%s", blk ? node : "stdio:/dev/fd/4");
		argv[6] = "/dev/fd/3";
	} else {
		snprintf(target, sizeof(target), "dev=%s%s", blk ? "" : "stdio:", q->device);
		argv[6] = (char *)q->image;
	}
	argv[5] = target;
	vg_info("burning %s (%llu bytes) to %s", q->image, (unsigned long long)res->bytes,
		q->device);
	t0 = vg_time_mono_us();
	ret = run_xorriso(argv, m, q->given ? fd : -1, q->given && !blk ? q->device_fd : -1);
	res->write_seconds = seconds_since(t0);
	if (ret == -VG_ENOENT) {
		snprintf(res->why, sizeof(res->why), "xorriso is not installed (apt-get install "
			 "xorriso)");
		goto out;
	}
	if (ret < 0) {
		ret = explain(m, q->device, res->bytes, res->why, sizeof(res->why));
		vg_warnx("xorriso failed on %s: %s", q->device, m->cause[0] ? m->cause : m->last);
		goto out;
	}
	if (q->fault && q->fault(q->device, q->fault_ud) != 0) {
		snprintf(res->why, sizeof(res->why), "writing to %s failed; try another blank disc",
			 q->device);
		ret = -VG_EIO;
		goto out;
	}
	t0 = vg_time_mono_us();
	ret = read_back(q, dev, blk, res->bytes, want, res);
	res->verify_seconds = seconds_since(t0);
	/* xorriso may complain and still exit 0: its reason is better than
	 * "reads back shorter". */
	if (ret < 0 && ret != -VG_EAUTH && m->cause[0] != '\0')
		ret = explain(m, q->device, res->bytes, res->why, sizeof(res->why));
	if (ret < 0) {
		vg_warnx("%s", res->why);
		goto out;
	}
	vg_info("%s written to %s and read back identical in %.1f + %.1f s", q->image, q->device,
		res->write_seconds, res->verify_seconds);
	if (blk)
		eject(dev);	/* ready for the next disc */
out:
	if (fd >= 0)
		close(fd);
	free(m);
	return ret;
}
