/*
 * keystore.h - the box's master key file.
 *
 * The master key (32 random bytes) wraps every clip key. It lives in one
 * file, created on first start with mode 0600 by the daemon's user. A key
 * file that group or others can read or write, or that is not owned by the
 * caller, is refused (-VG_EPERM) with a message saying how to fix it; so
 * is a symbolic link or anything but a regular file. A key file that is not
 * exactly 32 bytes is refused with -VG_EFORMAT (it is never replaced by a
 * fresh key: that would make every existing clip unreadable).
 */
#ifndef VIGIL_KEYSTORE_H
#define VIGIL_KEYSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/clipfile.h"

/* Load path into key, or create it (0600, O_EXCL, fsync) if it does not
 * exist and create != 0. *created (may be NULL) says which happened.
 * why/whylen receive a human explanation on failure. */
int vg_keystore_load(const char *path, int create, uint8_t key[VG_MASTER_KEY_LEN],
		     int *created, char *why, size_t whylen);

/* Hex of the first 8 bytes of SHA-256(key): safe to show, identifies the key. */
void vg_keystore_fingerprint(const uint8_t key[VG_MASTER_KEY_LEN], char out[17]);

/* Overwrite a key buffer in a way the compiler cannot elide. */
void vg_wipe(void *p, size_t n);

#endif
