/* proto.c - length-checked frames on the control socket. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vigil/err.h"
#include "vigil/fdio.h"
#include "vigil/proto.h"

/* 0 when len bytes were read, 1 on EOF at the first byte, else an error. */
static int read_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, p + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -vg_err_from_errno(errno);
		if (n == 0)
			return got == 0 ? 1 : -VG_EPROTO;
		got += (size_t)n;
	}
	return 0;
}

int vg_proto_send(int fd, enum vg_frame_type type, const void *buf, size_t len)
{
	uint8_t h[8] = { VG_PROTO_VERSION, (uint8_t)type, 0, 0 };
	int ret;

	if (len > VG_PROTO_MAX)
		return -VG_EINVAL;
	h[4] = (uint8_t)(len >> 24);
	h[5] = (uint8_t)(len >> 16);
	h[6] = (uint8_t)(len >> 8);
	h[7] = (uint8_t)len;
	ret = vg_write_all(fd, h, sizeof(h));
	if (ret == 0 && len > 0)
		ret = vg_write_all(fd, buf, len);
	return ret;
}

int vg_proto_recv(int fd, enum vg_frame_type *type, char **buf, size_t *len)
{
	uint8_t h[8];
	uint32_t n;
	char *p;
	int ret;

	*buf = NULL;
	*len = 0;
	ret = read_all(fd, h, sizeof(h));
	if (ret != 0)
		return ret;
	n = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 | h[7];
	if (h[0] != VG_PROTO_VERSION || h[2] != 0 || h[3] != 0 || n > VG_PROTO_MAX ||
	    (h[1] != VG_FRAME_JSON && h[1] != VG_FRAME_DATA && h[1] != VG_FRAME_END))
		return -VG_EPROTO;
	p = malloc((size_t)n + 1);
	if (p == NULL)
		return -VG_ENOMEM;
	ret = read_all(fd, p, n);
	if (ret != 0) {
		free(p);
		return ret == 1 ? -VG_EPROTO : ret;
	}
	p[n] = '\0';
	*type = (enum vg_frame_type)h[1];
	*buf = p;
	*len = n;
	return 0;
}

int vg_proto_header(const uint8_t h[8], enum vg_frame_type *type, uint32_t *len,
		    const char **why)
{
	uint32_t n = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 | h[7];
	const char *bad = NULL;

	if (h[0] != VG_PROTO_VERSION)
		bad = "version";
	else if (h[1] != VG_FRAME_JSON && h[1] != VG_FRAME_DATA && h[1] != VG_FRAME_END)
		bad = "type";
	else if (h[2] != 0 || h[3] != 0)
		bad = "reserved bytes";
	else if (n > VG_PROTO_MAX)
		bad = "length";
	if (why != NULL)
		*why = bad;
	if (bad != NULL)
		return -VG_EPROTO;
	*type = (enum vg_frame_type)h[1];
	*len = n;
	return 0;
}

/* ---- descriptors (SCM_RIGHTS) ---- */

int vg_proto_send_fds(int fd, enum vg_frame_type type, const void *buf, size_t len,
		      const int *fds, int nfds)
{
	uint8_t h[8] = { VG_PROTO_VERSION, (uint8_t)type, 0, 0 };
	union {
		struct cmsghdr align;
		char b[CMSG_SPACE(sizeof(int) * VG_PROTO_MAX_FDS)];
	} ctl;
	struct iovec iov = { .iov_base = h, .iov_len = sizeof(h) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (len > VG_PROTO_MAX || nfds < 0 || nfds > VG_PROTO_MAX_FDS)
		return -VG_EINVAL;
	h[4] = (uint8_t)(len >> 24);
	h[5] = (uint8_t)(len >> 16);
	h[6] = (uint8_t)(len >> 8);
	h[7] = (uint8_t)len;
	if (nfds > 0) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		m.msg_control = ctl.b;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	}
	/* The descriptors ride on the header's first byte(s). */
	do
		n = sendmsg(fd, &m, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -vg_err_from_errno(errno);
	if ((size_t)n < sizeof(h)) {
		int ret = vg_write_all(fd, h + n, sizeof(h) - (size_t)n);

		if (ret < 0)
			return ret;
	}
	return len > 0 ? vg_write_all(fd, buf, len) : 0;
}

/* Keep the descriptors of one control message (up to max), close the rest. */
static void take_fds(struct msghdr *m, int *fds, int max, int *nfds)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		size_t k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int f;

			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*nfds < max)
				fds[(*nfds)++] = f;
			else
				close(f);
		}
	}
}

int vg_proto_recv_fds(int fd, enum vg_frame_type *type, char **buf, size_t *len, int *fds,
		      int max, int *nfds)
{
	uint8_t h[8];
	size_t got = 0;
	uint32_t n;
	char *p;
	int ret;

	*buf = NULL;
	*len = 0;
	*nfds = 0;
	while (got < sizeof(h)) {
		union {
			struct cmsghdr align;
			char b[CMSG_SPACE(sizeof(int) * VG_PROTO_MAX_FDS)];
		} ctl;
		struct iovec iov = { .iov_base = h + got, .iov_len = sizeof(h) - got };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
				    .msg_controllen = sizeof(ctl.b) };
		ssize_t r = recvmsg(fd, &m, MSG_CMSG_CLOEXEC);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -vg_err_from_errno(errno);
			goto fail;
		}
		take_fds(&m, fds, max, nfds);
		if (m.msg_flags & MSG_CTRUNC) {	/* more than we can hold: refuse */
			ret = -VG_EPROTO;
			goto fail;
		}
		if (r == 0) {
			ret = got == 0 ? 1 : -VG_EPROTO;
			goto fail;
		}
		got += (size_t)r;
	}
	n = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 | h[7];
	if (h[0] != VG_PROTO_VERSION || h[2] != 0 || h[3] != 0 || n > VG_PROTO_MAX ||
	    (h[1] != VG_FRAME_JSON && h[1] != VG_FRAME_DATA && h[1] != VG_FRAME_END)) {
		ret = -VG_EPROTO;
		goto fail;
	}
	p = malloc((size_t)n + 1);
	if (p == NULL) {
		ret = -VG_ENOMEM;
		goto fail;
	}
	ret = read_all(fd, p, n);
	if (ret != 0) {
		free(p);
		ret = ret == 1 ? -VG_EPROTO : ret;
		goto fail;
	}
	p[n] = '\0';
	*type = (enum vg_frame_type)h[1];
	*buf = p;
	*len = n;
	return 0;
fail:
	for (int i = 0; i < *nfds; i++)
		close(fds[i]);
	*nfds = 0;
	return ret;
}
