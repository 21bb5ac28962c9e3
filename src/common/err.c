/* err.c - descriptions for vigil's error codes. */
#include <errno.h>
#include <stdlib.h>

#include "vigil/err.h"

static const char *const messages[VG_ELAST] = {
	[VG_OK] = "success",
	[VG_ENOMEM] = "out of memory",
	[VG_EINVAL] = "invalid argument or input",
	[VG_EIO] = "input/output error",
	[VG_ENODEV] = "device not present",
	[VG_ENODATA] = "no data within the timeout",
	[VG_EAGAIN] = "try again",
	[VG_ENOSPC] = "no space left on storage",
	[VG_EAUTH] = "authentication failed (tampered or corrupt data)",
	[VG_ETRUNC] = "data ends early (truncated)",
	[VG_EFORMAT] = "unsupported format",
	[VG_ECODEC] = "encoder, decoder or muxer failure",
	[VG_EDB] = "database failure",
	[VG_ECONFIG] = "invalid configuration",
	[VG_EPERM] = "not permitted or unsafe file permissions",
	[VG_EDENIED] = "refused by the access policy",
	[VG_ENOENT] = "not found",
	[VG_EEXIST] = "already exists",
	[VG_ECRYPTO] = "cryptographic library failure",
	[VG_EPROTO] = "malformed protocol message",
};

const char *vg_strerror(int err)
{
	int e = abs(err);

	if (e >= VG_ELAST || messages[e] == NULL)
		return "unknown error";
	return messages[e];
}

int vg_err_from_errno(int errnum)
{
	switch (errnum) {
	case ENOMEM:
		return VG_ENOMEM;
	case ENODEV:
	case ENXIO:
		return VG_ENODEV;
	case EAGAIN:
	case EINTR:
		return VG_EAGAIN;
	case ENOSPC:
	case EDQUOT:
		return VG_ENOSPC;
	case ENOENT:
		return VG_ENOENT;
	case EEXIST:
		return VG_EEXIST;
	case EACCES:
	case EPERM:
		return VG_EPERM;
	case EINVAL:
		return VG_EINVAL;
	default:
		return VG_EIO;
	}
}
