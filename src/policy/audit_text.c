/* vigil - the audit log's text forms, read without the database: the
 * head file's numbers and a collector's copy of a checkpoint. Kept apart
 * from audit.c so that vigilctl (which links no SQLite and no footage
 * code) can read a witness file. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/audit.h"
#include "vigil/err.h"
#include "audit_text.h"

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int vg_audit_parse_hex(const char *s, size_t n, uint8_t *out, size_t cap, size_t *outlen)
{
	size_t i;

	if (n % 2 != 0 || n / 2 > cap)
		return -1;
	for (i = 0; i < n / 2; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	*outlen = n / 2;
	return 0;
}

int vg_audit_parse_i64(const char *s, size_t n, int64_t *out)
{
	char tmp[32], *end;
	long long v;

	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	errno = 0;
	v = strtoll(tmp, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

/* The quoted value of NAME="..." inside the element at p (no escapes
 * occur in these values: digits and hex only). */
static const char *sd_value(const char *p, const char *end, const char *name, size_t *len)
{
	size_t nl = strlen(name);

	for (const char *q = p; q + nl + 2 < end; q++) {
		if (q[-1] == ' ' && strncmp(q, name, nl) == 0 && q[nl] == '=' && q[nl + 1] == '"') {
			const char *v = q + nl + 2, *e = memchr(v, '"', (size_t)(end - v));

			if (e == NULL)
				return NULL;
			*len = (size_t)(e - v);
			return v;
		}
	}
	return NULL;
}

int vg_audit_parse_witness(const char *line, struct vg_audit_checkpoint *cp)
{
	const char *p = strstr(line, "[" CP_SD_ID " "), *end, *v;
	size_t len, hl;

	if (p == NULL)
		return 0;
	end = strchr(p, ']');
	if (end == NULL)
		return -VG_EFORMAT;
	memset(cp, 0, sizeof(*cp));
	p += strlen("[" CP_SD_ID);
	if ((v = sd_value(p, end, "seq", &len)) == NULL || vg_audit_parse_i64(v, len, &cp->seq) < 0 ||
	    (v = sd_value(p, end, "time_us", &len)) == NULL ||
	    vg_audit_parse_i64(v, len, &cp->time_us) < 0 ||
	    (v = sd_value(p, end, "hash", &len)) == NULL ||
	    vg_audit_parse_hex(v, len, cp->hash, VG_AUDIT_HASH_LEN, &hl) < 0 || hl != VG_AUDIT_HASH_LEN ||
	    (v = sd_value(p, end, "sig", &len)) == NULL ||
	    vg_audit_parse_hex(v, len, cp->sig, sizeof(cp->sig), &cp->sig_len) < 0 || cp->seq < 0)
		return -VG_EFORMAT;
	return 1;
}
