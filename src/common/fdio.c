/* fdio.c - whole writes to a file descriptor (fdio.h). */
#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#include "vigil/err.h"
#include "vigil/fdio.h"

int vg_write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -vg_err_from_errno(errno);
		if (n == 0)
			return -VG_EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
