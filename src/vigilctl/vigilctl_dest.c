/*
 * vigilctl_dest.c - the destination of an export or a burn, made or
 * opened by vigilctl with the user's own rights and handed to vigild as
 * descriptors (SCM_RIGHTS; the exchange is described in
 * src/vigild/ctl_dest.h). vigild writes only through them, so an export
 * lands only where the person asking may write.
 *
 *   folder: DEST/REF.incomplete is made (mode 2770, group vigild's, so
 *           that vigild may write in it); renamed DEST/REF and opened up
 *           (0755) once vigild says the export is good.
 *   iso:    IMAGE(s).incomplete are made (0644) beside a staging folder
 *           (2770) that vigild empties; renamed when good.
 *   burn:   the image is opened for reading and the device (a drive, or
 *           with --force a file, made if absent) for writing, without
 *           blocking: a FIFO is refused at once, never waited on.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "vigil/proto.h"
#include "ctlclient.h"

#define MAX_MADE (2 + 100)

static char made_file[PATH_MAX];	/* a burn target vigilctl made */

struct ctl_made {
	int dirfd;			/* the folder they were made in */
	int kind;			/* 'f' folder, 'i' iso, 'b' burn */
	char names[MAX_MADE][300];	/* .incomplete names; for an ISO [0] is staging */
	int n;
	char where[PATH_MAX];		/* for messages */
};

/* A name vigild asks for: one plain component, nothing else. */
static int plain_name(const char *s)
{
	return s && s[0] && strchr(s, '/') == NULL && strcmp(s, ".") != 0 && strcmp(s, "..") != 0 &&
	       strlen(s) < 300;
}

/* ... and one that ends ".incomplete" (renamed without it when good). */
static int incomplete_name(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return plain_name(s) && n > strlen(".incomplete") &&
	       strcmp(s + n - strlen(".incomplete"), ".incomplete") == 0;
}

static int answer(struct ctl *c, const char *error, const int *fds, int n)
{
	struct json_object *o = json_object_new_object();
	const char *s;
	int ret;

	json_object_object_add(o, "ok", json_object_new_boolean(error == NULL));
	if (error)
		json_object_object_add(o, "error", json_object_new_string(error));
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	ret = vg_proto_send_fds(c->fd, VG_FRAME_JSON, s, strlen(s), fds, n);
	json_object_put(o);
	return ret < 0 ? -1 : 0;
}

/* A folder vigild may write in: group vigild's, 2770. On a file system
 * without owners (FAT) neither applies and is not needed. */
static void share(struct ctl *c, int fd)
{
	if (c->daemon_gid >= 0 && fchown(fd, (uid_t)-1, (gid_t)c->daemon_gid) < 0 && errno != EPERM)
		return;
	fchmod(fd, 02770);
}

static void why_open(char *out, size_t len, const char *what, const char *path, int err)
{
	if (err == EACCES || err == EPERM || err == EROFS)
		snprintf(out, len, "refused: you may not write %s in %s (%s); exports go only "
			 "where you yourself may write", what, path, strerror(err));
	else if (err == ENOTDIR)
		snprintf(out, len, "refused: %s is not a folder", path);
	else if (err == EEXIST)
		snprintf(out, len, "refused: %s in %s already exists; choose another place or "
			 "remove it", what, path);
	else
		snprintf(out, len, "refused: cannot use %s: %s", path, strerror(err));
}

static void undo(struct ctl_made *m, int upto)
{
	for (int i = upto - 1; i >= 0; i--)
		if (unlinkat(m->dirfd, m->names[i], 0) < 0)
			unlinkat(m->dirfd, m->names[i], AT_REMOVEDIR);
}

static int make_folder(struct ctl *c, struct ctl_made *m, struct json_object *need)
{
	const char *dest = ctl_get_str(need, "dest"), *name = ctl_get_str(need, "name");
	char why[PATH_MAX + 200], final[300];
	struct stat st;
	int fd;

	if (!incomplete_name(name) || dest[0] != '/')
		return answer(c, "vigild asked for a folder with an unusable name", NULL, 0);
	snprintf(m->where, sizeof(m->where), "%s", dest);
	m->dirfd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (m->dirfd < 0) {
		why_open(why, sizeof(why), "", dest, errno);
		if (errno == ENOENT)
			snprintf(why, sizeof(why), "refused: %s does not exist (is the USB stick "
				 "mounted?)", dest);
		return answer(c, why, NULL, 0);
	}
	snprintf(final, sizeof(final), "%.*s", (int)(strlen(name) - strlen(".incomplete")), name);
	if (fstatat(m->dirfd, final, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		snprintf(why, sizeof(why), "refused: %s/%s already exists", dest, final);
		return answer(c, why, NULL, 0);
	}
	if (mkdirat(m->dirfd, name, 0700) < 0) {
		why_open(why, sizeof(why), name, dest, errno);
		return answer(c, why, NULL, 0);
	}
	snprintf(m->names[m->n++], sizeof(m->names[0]), "%s", name);
	fd = openat(m->dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		why_open(why, sizeof(why), name, dest, errno);
		undo(m, m->n);
		m->n = 0;
		return answer(c, why, NULL, 0);
	}
	share(c, fd);
	m->kind = 'f';
	{
		int ret = answer(c, NULL, &fd, 1);

		close(fd);
		return ret;
	}
}

static int make_iso(struct ctl *c, struct ctl_made *m, struct json_object *need)
{
	const char *iso = ctl_get_str(need, "iso"), *staging = ctl_get_str(need, "staging");
	struct json_object *imgs;
	int fds[MAX_MADE + 1], nf = 0, ret = 0;
	char dir[PATH_MAX], why[PATH_MAX + 200];
	char *slash;
	size_t n;

	if (!json_object_object_get_ex(need, "images", &imgs) ||
	    !json_object_is_type(imgs, json_type_array) || !plain_name(staging) || iso[0] != '/' ||
	    (n = json_object_array_length(imgs)) < 1 || n > MAX_MADE - 1)
		return answer(c, "vigild asked for images with unusable names", NULL, 0);
	snprintf(dir, sizeof(dir), "%s", iso);
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	snprintf(m->where, sizeof(m->where), "%s", dir);
	m->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (m->dirfd < 0) {
		why_open(why, sizeof(why), "", dir, errno);
		return answer(c, why, NULL, 0);
	}
	fds[nf++] = m->dirfd;
	if (mkdirat(m->dirfd, staging, 0700) < 0) {
		why_open(why, sizeof(why), staging, dir, errno);
		return answer(c, why, NULL, 0);
	}
	snprintf(m->names[m->n++], sizeof(m->names[0]), "%s", staging);
	fds[nf] = openat(m->dirfd, staging, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fds[nf] < 0) {
		ret = errno;
		why_open(why, sizeof(why), staging, dir, errno);
	} else {
		share(c, fds[nf++]);
	}
	for (size_t i = 0; i < n && ret == 0; i++) {
		const char *name = json_object_get_string(json_object_array_get_idx(imgs, i));
		char final[300];
		struct stat st;

		if (!incomplete_name(name)) {
			ret = EINVAL;
			snprintf(why, sizeof(why), "vigild asked for an image with an unusable name");
			break;
		}
		snprintf(final, sizeof(final), "%.*s", (int)(strlen(name) - strlen(".incomplete")),
			 name);
		if (fstatat(m->dirfd, final, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			ret = EEXIST;
			snprintf(why, sizeof(why), "refused: %s/%s already exists", dir, final);
			break;
		}
		fds[nf] = openat(m->dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
				 0644);
		if (fds[nf] < 0) {
			ret = errno;
			why_open(why, sizeof(why), name, dir, errno);
			break;
		}
		fchmod(fds[nf], 0644);	/* whatever the umask: it is for the recipient */
		snprintf(m->names[m->n++], sizeof(m->names[0]), "%s", name);
		nf++;
	}
	if (ret != 0) {
		for (int i = 1; i < nf; i++)
			close(fds[i]);
		undo(m, m->n);
		m->n = 0;
		return answer(c, why, NULL, 0);
	}
	m->kind = 'i';
	ret = answer(c, NULL, fds, nf);
	for (int i = 1; i < nf; i++)
		close(fds[i]);
	return ret;
}

/* Image for reading, device for writing; neither may block (a FIFO). */
static int open_burn(struct ctl *c, struct json_object *need)
{
	const char *image = ctl_get_str(need, "image"), *device = ctl_get_str(need, "device");
	int force = (int)ctl_get_int(need, "force");
	char why[PATH_MAX + 200];
	struct stat st;
	int fds[2] = { -1, -1 }, ret;

	fds[0] = open(image, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fds[0] < 0) {
		snprintf(why, sizeof(why), "refused: cannot open the image %s: %s", image,
			 strerror(errno));
		return answer(c, why, NULL, 0);
	}
	if (fstat(fds[0], &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fds[0]);
		snprintf(why, sizeof(why), "refused: %s is not an image file (make one with "
			 "vigilctl export --iso FILE)", image);
		return answer(c, why, NULL, 0);
	}
	/* A file made here is removed again if nothing is burned into it. */
	fds[1] = force ? open(device, O_RDWR | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | O_CREAT |
			      O_EXCL, 0644) : -1;
	if (fds[1] >= 0) {
		/* xorriso (as vigild's user) reads the disc back too */
		fchmod(fds[1], 0644);
		snprintf(made_file, sizeof(made_file), "%s", device);
	}
	else
		fds[1] = open(device, O_RDWR | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fds[1] < 0) {
		int e = errno;

		close(fds[0]);
		if (e == ENOENT)
			snprintf(why, sizeof(why), "refused: there is no drive %s (is the DVD "
				 "writer plugged in?)", device);
		else
			snprintf(why, sizeof(why), "refused: you may not write to %s (%s)", device,
				 strerror(e));
		return answer(c, why, NULL, 0);
	}
	if (fstat(fds[1], &st) < 0 || !(S_ISBLK(st.st_mode) || (force && S_ISREG(st.st_mode)))) {
		int reg = S_ISREG(st.st_mode);

		close(fds[0]);
		close(fds[1]);
		made_file[0] = '\0';
		if (reg)
			snprintf(why, sizeof(why), "refused: %s is a file, not a DVD writer; add "
				 "--force to write the disc image into a file (it is recorded in "
				 "the audit log)", device);
		else
			snprintf(why, sizeof(why), "refused: %s is not a DVD writer (give e.g. "
				 "/dev/sr0)", device);
		return answer(c, why, NULL, 0);
	}
	ret = answer(c, NULL, fds, 2);
	close(fds[0]);
	close(fds[1]);
	return ret;
}

int ctl_dest_answer(struct ctl *c, struct json_object *need)
{
	const char *kind = ctl_get_str(need, "need");

	if (strcmp(kind, "burn") == 0)
		return open_burn(c, need);
	if (c->made == NULL) {
		c->made = calloc(1, sizeof(*c->made));
		if (c->made == NULL)
			return answer(c, "vigilctl is out of memory", NULL, 0);
		c->made->dirfd = -1;
	} else {	/* one destination per request */
		ctl_dest_finish(c, 0);
		return ctl_dest_answer(c, need);
	}
	if (strcmp(kind, "folder") == 0)
		return make_folder(c, c->made, need);
	if (strcmp(kind, "iso") == 0)
		return make_iso(c, c->made, need);
	return answer(c, "vigilctl does not know what vigild asks for (is vigild newer?)", NULL, 0);
}

int ctl_dest_finish(struct ctl *c, int ok)
{
	struct ctl_made *m = c->made;
	int ret = 0;

	if (made_file[0]) {
		struct stat st;

		if (!ok && stat(made_file, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0)
			unlink(made_file);
		made_file[0] = '\0';
	}
	if (m == NULL)
		return 0;
	c->made = NULL;
	if (m->kind == 'f' && m->n == 1) {
		char final[300];
		int fd;

		snprintf(final, sizeof(final), "%.*s",
			 (int)(strlen(m->names[0]) - strlen(".incomplete")), m->names[0]);
		if (ok) {
			fd = openat(m->dirfd, m->names[0], O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
				    O_CLOEXEC);
			if (fd >= 0) {
				fchmod(fd, 0755);
				close(fd);
			}
			if (renameat(m->dirfd, m->names[0], m->dirfd, final) < 0) {
				fprintf(stderr, "vigilctl: the export is good but cannot be renamed "
					"%s/%s (%s): rename %s/%s yourself\n", m->where, final,
					strerror(errno), m->where, m->names[0]);
				ret = EXIT_REFUSED;
			}
			fsync(m->dirfd);
		} else {
			/* Empty: refused before anything was written. A folder
			 * with files keeps its .incomplete name and says why. */
			unlinkat(m->dirfd, m->names[0], AT_REMOVEDIR);
		}
	} else if (m->kind == 'i') {
		unlinkat(m->dirfd, m->names[0], AT_REMOVEDIR);	/* staging: emptied by vigild */
		for (int i = 1; i < m->n; i++) {
			char final[300];
			struct stat st;

			snprintf(final, sizeof(final), "%.*s",
				 (int)(strlen(m->names[i]) - strlen(".incomplete")), m->names[i]);
			if (ok && renameat(m->dirfd, m->names[i], m->dirfd, final) < 0) {
				fprintf(stderr, "vigilctl: cannot rename %s/%s (%s)\n", m->where,
					m->names[i], strerror(errno));
				ret = EXIT_REFUSED;
			} else if (!ok && fstatat(m->dirfd, m->names[i], &st,
						  AT_SYMLINK_NOFOLLOW) == 0 && st.st_size == 0) {
				unlinkat(m->dirfd, m->names[i], 0);	/* never written */
			}
		}
		fsync(m->dirfd);
	}
	if (m->dirfd >= 0)
		close(m->dirfd);
	free(m);
	return ret;
}
