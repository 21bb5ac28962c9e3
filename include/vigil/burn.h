/*
 * burn.h - puts an export's ISO image (export.h, docs/export-format.md)
 * onto an optical disc with xorriso, then reads the disc back and checks it
 * is the image, byte for byte (SHA-256 of the image's length).
 *
 * Who may burn what is NOT decided here: the caller runs the access policy,
 * checks the image is an intact export of this device (verify.h) and audits
 * the outcome.
 *
 * xorriso is started without a shell (posix_spawnp, PATH lookup) as
 *   xorriso -no_rc -as cdrecord -v dev=TARGET IMAGE
 * with TARGET the drive (/dev/srN) or, for a regular file, "stdio:PATH".
 * No blanking: a non-blank disc is refused, never erased, and the session
 * is closed (no -multi), so a write-once disc cannot be added to later.
 * xorriso's messages are read through a pipe into memory only. A drive is
 * reloaded (tray out and in) if the kernel does not see the new disc's size
 * after writing, and ejected after a good read-back. vigild's user needs
 * read and write access to the drive (the cdrom group on Debian).
 *
 * Every function returns 0 or a negative VG_E* code unless stated.
 */
#ifndef VIGIL_BURN_H
#define VIGIL_BURN_H

#include <stdint.h>

/* Read-back progress: bytes of the disc read out of the image's size. */
typedef void (*vg_burn_progress_fn)(uint64_t done, uint64_t total, void *ud);

/* Test seam: called after xorriso wrote the disc, before the read-back, with
 * the device path. A non-zero return fails the burn as a write error would
 * (-VG_EIO). Tests use it to damage a file target as a bad disc would. */
typedef int (*vg_burn_fault_fn)(const char *device, void *ud);

/* What to burn where. Every pointer is borrowed for the call only. */
struct vg_burn_request {
	const char *image;		/* the ISO image: a regular file */
	const char *device;		/* an optical drive, e.g. /dev/sr0 */
	int allow_file;			/* device may be a regular file (made if
					 * absent): xorriso's "stdio:" target */
	vg_burn_progress_fn progress;	/* may be NULL */
	void *progress_ud;
	vg_burn_fault_fn fault;		/* NULL outside tests */
	void *fault_ud;
	/* given = 1: image_fd and device_fd, opened by the requester's
	 * vigilctl with the requester's own rights, are used and image and
	 * device only name them in messages. Nothing is opened by path but a
	 * drive's /dev node (found from the descriptor's device number, for
	 * xorriso and the tray); xorriso gets the descriptors (as /dev/fd/3
	 * and, for a file, stdio:/dev/fd/4). Neither is ever waited on: a
	 * FIFO or anything else is refused by fstat. */
	int given;
	int image_fd;			/* a regular file, readable */
	int device_fd;			/* a block device, or with allow_file a
					 * regular file open read-write */
};

/* What happened; filled in on success and on failure. */
struct vg_burn_result {
	uint64_t bytes;			/* the image's size: what was compared */
	double write_seconds;		/* xorriso's run */
	double verify_seconds;		/* reading the disc back + hashing */
	char image_sha256[65];		/* hex; "" if the image was not read */
	char why[256];			/* a sentence on failure saying what to do */
};

/*
 * Burn q->image onto q->device and read it back. res (required) is filled
 * in both cases. Returns 0 when the disc holds exactly the image;
 * -VG_ENOENT if the image is missing or xorriso is not installed;
 * -VG_EINVAL if the image is not a regular file, or the device is neither
 * an optical drive nor (with allow_file) a regular file or new path;
 * -VG_ENODEV if the drive holds no disc or cannot be opened; -VG_ENOSPC if
 * the image does not fit on the disc; -VG_EFORMAT if the disc is not blank
 * or not writable; -VG_EIO if xorriso failed otherwise or the disc could
 * not be read back in full; -VG_EAUTH if the disc reads back different from
 * the image. why says which, in plain English.
 */
int vg_burn_image(const struct vg_burn_request *q, struct vg_burn_result *res);

#endif
