/*
 * ctl_dest.c - descriptors from the requester, and the checks on them
 * (see ctl_dest.h).
 */
#define VG_LOG_MODULE "CTL"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vigil/err.h"
#include "vigil/proto.h"
#include "ctl_dest.h"

const char *ctl_dest_base(const char *path)
{
	const char *s = strrchr(path, '/');

	return s && s[1] ? s + 1 : path;
}

int ctl_dest_ask(struct req *r, struct json_object *need, int *fds, int want, char *why,
		 size_t len)
{
	const char *s = json_object_to_json_string_ext(need, JSON_C_TO_STRING_PLAIN);
	enum vg_frame_type type;
	struct json_object *ans = NULL, *v;
	char *buf = NULL;
	size_t n;
	int got = 0, ret;

	ret = s ? vg_proto_send(r->c->fd, VG_FRAME_DATA, s, strlen(s)) : -VG_ENOMEM;
	json_object_put(need);
	if (ret < 0) {
		snprintf(why, len, "the connection to vigilctl broke");
		return ret;
	}
	ret = vg_proto_recv_fds(r->c->fd, &type, &buf, &n, fds, want, &got);
	if (ret != 0) {
		snprintf(why, len, "vigilctl did not hand over the destination (%s)",
			 ret == 1 ? "it hung up" : vg_strerror(ret));
		return ret == 1 ? -VG_EPROTO : ret;
	}
	if (type == VG_FRAME_JSON)
		ans = json_tokener_parse(buf);
	free(buf);
	if (ans && json_object_object_get_ex(ans, "error", &v) &&
	    json_object_is_type(v, json_type_string)) {
		/* The requester's own rights said no: nothing is written. */
		snprintf(why, len, "%s", json_object_get_string(v));
		ret = -VG_EDENIED;
	} else if (ans == NULL || got != want) {
		snprintf(why, len, "vigilctl handed over %d descriptor(s) where %d were needed",
			 got, want);
		ret = -VG_EPROTO;
	}
	json_object_put(ans);
	if (ret < 0) {
		for (int i = 0; i < got; i++)
			close(fds[i]);
		return ret;
	}
	return 0;
}

/* 1 if the folder fd is top or lies beneath it (walking up ".."). */
static int beneath(int fd, const struct stat *top)
{
	int cur = fcntl(fd, F_DUPFD_CLOEXEC, 3), hit = 0;

	for (int depth = 0; cur >= 0 && depth < 512; depth++) {
		struct stat st, up;
		int parent;

		if (fstat(cur, &st) < 0)
			break;
		if (st.st_dev == top->st_dev && st.st_ino == top->st_ino) {
			hit = 1;
			break;
		}
		parent = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (parent < 0 || fstat(parent, &up) < 0) {
			if (parent >= 0)
				close(parent);
			hit = -1;	/* cannot tell: refuse */
			break;
		}
		close(cur);
		cur = parent;
		if (up.st_dev == st.st_dev && up.st_ino == st.st_ino)
			break;	/* the root */
	}
	if (cur >= 0)
		close(cur);
	return hit;
}

/* 1 if fd is vigild's data or runtime folder or beneath one. */
static int own_folder(struct req *r, int fd)
{
	const char *data = ctl_env(r)->data_dir;
	const char *sock = r->cfg ? r->cfg->socket_path : NULL;
	struct stat top;

	if (data && stat(data, &top) == 0 && beneath(fd, &top) != 0)
		return 1;
	if (sock) {
		char run[1024];
		char *slash;

		snprintf(run, sizeof(run), "%s", sock);
		slash = strrchr(run, '/');
		if (slash && slash != run) {
			*slash = '\0';
			if (stat(run, &top) == 0 && beneath(fd, &top) != 0)
				return 1;
		}
	}
	return 0;
}

static int is_empty(int fd)
{
	int k = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	DIR *d = k >= 0 ? fdopendir(k) : NULL;
	struct dirent *de;
	int empty = 1;

	if (d == NULL) {
		if (k >= 0)
			close(k);
		return 0;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			empty = 0;
	closedir(d);
	return empty;
}

int ctl_dest_folder(struct req *r, int fd, int fresh, const char *label, char *why, size_t len)
{
	struct stat st;

	if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(why, len, "refused: %s is not a folder", label);
		return -VG_EINVAL;
	}
	if (own_folder(r, fd)) {
		snprintf(why, len, "refused: %s is inside vigild's own data or runtime folder; "
			 "exports go onto removable media", label);
		return -VG_EPERM;
	}
	if (fresh && r->c->uid != 0 && st.st_uid != r->c->uid) {
		snprintf(why, len, "refused: %s was not made by %s", label, r->login);
		return -VG_EPERM;
	}
	if (fresh && !is_empty(fd)) {
		snprintf(why, len, "refused: %s is not empty", label);
		return -VG_EEXIST;
	}
	return 0;
}

int ctl_dest_named(int dirfd, const char *name, int fd)
{
	struct stat a, b;

	if (fstat(fd, &a) < 0 || fstatat(dirfd, name, &b, AT_SYMLINK_NOFOLLOW) < 0)
		return -VG_ENOENT;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino ? 0 : -VG_EINVAL;
}

int ctl_dest_new_file(struct req *r, int dirfd, const char *name, int fd, const char *label,
		      char *why, size_t len)
{
	struct stat st;
	int fl = fcntl(fd, F_GETFL);

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(why, len, "refused: %s is not a regular file", label);
		return -VG_EINVAL;
	}
	if (st.st_size != 0 || st.st_nlink != 1 ||
	    (r->c->uid != 0 && st.st_uid != r->c->uid)) {
		snprintf(why, len, "refused: %s is not a new file made by %s", label, r->login);
		return -VG_EPERM;
	}
	if (fl < 0 || (fl & O_ACCMODE) != O_RDWR) {
		snprintf(why, len, "refused: %s was not opened for reading and writing", label);
		return -VG_EINVAL;
	}
	if (ctl_dest_named(dirfd, name, fd) < 0) {
		snprintf(why, len, "refused: %s is not in the folder handed over with it", label);
		return -VG_EINVAL;
	}
	return 0;
}

/* ---- a file given as a burn target: not one of vigild's own ---- */

static __thread struct stat want_file;

static int same_file(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)p;
	(void)flag;
	(void)ftw;
	return sb->st_dev == want_file.st_dev && sb->st_ino == want_file.st_ino;
}

int ctl_dest_not_own_file(struct req *r, int fd, const char *label, char *why, size_t len)
{
	const char *data = ctl_env(r)->data_dir;
	const char *sock = r->cfg ? r->cfg->socket_path : NULL;
	char run[1024] = "";

	if (fstat(fd, &want_file) < 0)
		return -VG_EINVAL;
	if (sock) {
		char *slash;

		snprintf(run, sizeof(run), "%s", sock);
		slash = strrchr(run, '/');
		if (slash && slash != run)
			*slash = '\0';
		else
			run[0] = '\0';
	}
	/* Walked without following symlinks or leaving the file system:
	 * device and inode say whether it is one of them. */
	if ((data && nftw(data, same_file, 16, FTW_PHYS | FTW_MOUNT) == 1) ||
	    (run[0] && nftw(run, same_file, 16, FTW_PHYS | FTW_MOUNT) == 1)) {
		snprintf(why, len, "refused: %s is in vigild's data folder or runtime folder; "
			 "give a DVD writer", label);
		return -VG_EPERM;
	}
	return 0;
}

int ctl_dest_passes_fds(struct req *r)
{
	struct json_object *v;

	if (!json_object_object_get_ex(r->in, "pass_fds", &v))
		return 0;
	if (json_object_is_type(v, json_type_boolean))
		return json_object_get_boolean(v);
	return json_object_is_type(v, json_type_int) && json_object_get_int64(v) != 0;
}
