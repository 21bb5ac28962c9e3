/*
 * ctl_dest.h - where vigild may write for a request: only through
 * descriptors the requester's vigilctl opened (or made) with the
 * requester's own rights and passed over the socket (SCM_RIGHTS), never
 * by a path it was sent. Private to vigild (ctl_export.c, ctl_burn.c).
 *
 * The exchange, inside one request: vigild sends a DATA frame
 *   {"need": KIND, ...what to make...}
 * and vigilctl answers with one JSON frame, {"ok": true} carrying the
 * descriptors, or {"ok": false, "error": "..."} when it could not make
 * them (the requester's own rights said no). Every descriptor is then
 * checked on the descriptor itself (fstat, not the path): the kind
 * (folder, regular file, block device), that a new one is new (empty,
 * owned by the requester), and that it is not vigild's data folder or
 * runtime folder or anything beneath them (device and inode, walking up
 * through "..").
 */
#ifndef VIGIL_CTL_DEST_H
#define VIGIL_CTL_DEST_H

#include <stddef.h>

#include <json-c/json.h>

#include "control_impl.h"

/* A request from a raw client that names a path without saying it will
 * pass descriptors ("pass_fds": true) is refused with this sentence. */
#define CTL_DEST_RAW_PATH "refused: vigild writes only through a folder, image or device " \
	"that vigilctl opens with your own rights and hands over; a request that only " \
	"names a path is refused. Use vigilctl"

/* 1 if the request says its client will pass descriptors
 * ("pass_fds": true or 1). */
int ctl_dest_passes_fds(struct req *r);

/* Send need (consumed) and receive exactly want descriptors into fds.
 * 0, or negative with a sentence in why (nothing is left open). */
int ctl_dest_ask(struct req *r, struct json_object *need, int *fds, int want, char *why,
		 size_t len);

/* 0 if fd is a folder vigild may write beneath for this requester: a
 * folder ("not a folder" otherwise), not vigild's own; with fresh, also
 * empty and owned by the requester (or the requester is root). */
int ctl_dest_folder(struct req *r, int fd, int fresh, const char *label, char *why, size_t len);

/* 0 if fd is a new, empty regular file open for reading and writing,
 * owned by the requester (or root), whose name in the folder dirfd is
 * name (so it lies in that folder, which ctl_dest_folder checked). */
int ctl_dest_new_file(struct req *r, int dirfd, const char *name, int fd, const char *label,
		      char *why, size_t len);

/* 0 unless the file fd is one of vigild's own, in its data or runtime
 * folder (device and inode; those folders are walked without following
 * symlinks): -VG_EPERM with the sentence. */
int ctl_dest_not_own_file(struct req *r, int fd, const char *label, char *why, size_t len);

/* 0 if fd is a folder named name in dirfd (the same inode). */
int ctl_dest_named(int dirfd, const char *name, int fd);

/* The last component of path ("/a/b.iso" -> "b.iso"); path if none. */
const char *ctl_dest_base(const char *path);

#endif
