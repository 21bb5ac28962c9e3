/*
 * fdio.h - whole writes to a file descriptor.
 *
 * write(2) may write less than asked (a pipe, a socket, a signal); every
 * part of vigil that must put all of a buffer on a descriptor (the control
 * protocol, clip files, export files, vigilctl's outputs) goes through
 * here, so short writes and EINTR are handled in one place.
 */
#ifndef VIGIL_FDIO_H
#define VIGIL_FDIO_H

#include <stddef.h>

/* Write all len bytes of buf to fd, retrying after EINTR and short
 * writes. 0 on success, else a negative VG_E* code (from errno; -VG_EIO
 * if the descriptor takes nothing). */
int vg_write_all(int fd, const void *buf, size_t len);

#endif
