/*
 * proto.h - framing of the control socket between vigilctl and vigild.
 *
 * Every frame is an 8-byte header followed by a payload:
 *   byte 0     protocol version (VG_PROTO_VERSION)
 *   byte 1     type: 'J' a JSON object (request or reply),
 *                    'D' a chunk of footage bytes (replies only),
 *                    'E' end of a data stream (payload: JSON status)
 *   bytes 2-3  zero
 *   bytes 4-7  payload length, big-endian, at most VG_PROTO_MAX
 * The length is checked before anything is read; a wrong version, type or
 * length closes the connection (-VG_EPROTO).
 */
#ifndef VIGIL_PROTO_H
#define VIGIL_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define VG_PROTO_VERSION 1
#define VG_PROTO_MAX (1024 * 1024)

enum vg_frame_type {
	VG_FRAME_JSON = 'J',
	VG_FRAME_DATA = 'D',
	VG_FRAME_END = 'E',
};

/* Send one frame (all of it, retrying on EINTR). */
int vg_proto_send(int fd, enum vg_frame_type type, const void *buf, size_t len);

/* Receive one frame. *buf is malloc'd, NUL-terminated (the NUL is not
 * counted in *len); the caller frees it. Returns 0, 1 on a clean EOF
 * before any byte of a frame, or a negative VG_E* code. */
int vg_proto_recv(int fd, enum vg_frame_type *type, char **buf, size_t *len);

/* Check an 8-byte frame header (version, type, zero bytes, length at most
 * VG_PROTO_MAX) and decode it: 0, or -VG_EPROTO with *why (if not NULL)
 * naming what was wrong ("version", "type", "reserved bytes", "length").
 * For readers that wait with their own deadline (vigild's control server). */
int vg_proto_header(const uint8_t h[8], enum vg_frame_type *type, uint32_t *len,
		    const char **why);

/* Descriptors passed with a frame (SCM_RIGHTS on a Unix socket): how
 * vigilctl hands vigild a destination it opened with the user's own
 * rights. At most VG_PROTO_MAX_FDS per frame. */
#define VG_PROTO_MAX_FDS 128

/* Send one frame with nfds descriptors attached (the sender keeps its own
 * copies). */
int vg_proto_send_fds(int fd, enum vg_frame_type type, const void *buf, size_t len,
		      const int *fds, int nfds);

/* Receive one frame as vg_proto_recv(), and the descriptors that came with
 * it: up to max into fds (close-on-exec), their number in *nfds; any more
 * are closed, and a control message too large to hold fails the frame
 * (-VG_EPROTO). On any failure no descriptor is left open (*nfds = 0). */
int vg_proto_recv_fds(int fd, enum vg_frame_type *type, char **buf, size_t *len, int *fds,
		      int max, int *nfds);

#endif
