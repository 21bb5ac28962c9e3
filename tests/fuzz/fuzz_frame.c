/*
 * fuzz_frame.c - the control socket's frame reader: bytes from a client
 * go through vg_proto_header and vg_proto_recv (over a socket pair, as
 * vigild and vigilctl read them) until the stream ends or is refused.
 */
#include "fuzz_common.h"

#include <sys/socket.h>

#include "vigil/err.h"
#include "vigil/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2];

	if (size >= 8) {
		enum vg_frame_type type;
		uint32_t len;
		const char *why;

		if (vg_proto_header(data, &type, &len, &why) == 0) {
			if (len > VG_PROTO_MAX)
				abort();
		} else if (why == NULL) {
			abort();
		}
	}
	/* The socket buffer holds the whole input: no writer thread needed. */
	if (size > 100 * 1024 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	{
		int big = 512 * 1024;

		setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
		setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	}
	if (size > 0 && write(sv[0], data, size) != (ssize_t)size) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	close(sv[0]);
	for (;;) {
		enum vg_frame_type type;
		char *buf;
		size_t len;

		if (vg_proto_recv(sv[1], &type, &buf, &len) != 0)
			break;
		if (buf[len] != '\0' || len > VG_PROTO_MAX)
			abort();
		free(buf);
	}
	close(sv[1]);
	return 0;
}
