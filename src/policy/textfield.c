/*
 * textfield.c - length and character rules for free text from outside.
 * See textfield.h.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "vigil/err.h"
#include "vigil/textfield.h"

static const struct {
	const char *field;
	size_t max;
} limits[] = {
	{ "purpose", VG_TEXT_PURPOSE_MAX },
	{ "reference", VG_TEXT_REFERENCE_MAX },
	{ "organisation", VG_TEXT_ORGANISATION_MAX },
	{ "recipient", VG_TEXT_NAME_MAX },
	{ "cmd", VG_TEXT_NAME_MAX },
	{ "user", VG_TEXT_NAME_MAX },
	{ "camera", VG_TEXT_NAME_MAX },
	{ "cameras", VG_TEXT_NAME_MAX },
	{ "action", VG_TEXT_NAME_MAX },
	{ "review_by", VG_TEXT_NAME_MAX },
	{ "reason", VG_TEXT_REASON_MAX },
	{ "police_decision", VG_TEXT_REASON_MAX },
	{ "victim_wishes", VG_TEXT_REASON_MAX },
	{ "dest", VG_TEXT_PATH_MAX },
	{ "iso", VG_TEXT_PATH_MAX },
	{ "image", VG_TEXT_PATH_MAX },
	{ "images", VG_TEXT_PATH_MAX },
	{ "device", VG_TEXT_PATH_MAX },
};

size_t vg_textfield_limit(const char *field)
{
	for (size_t i = 0; field != NULL && i < sizeof(limits) / sizeof(limits[0]); i++)
		if (strcmp(field, limits[i].field) == 0)
			return limits[i].max;
	return VG_TEXT_OTHER_MAX;
}

/* Length of the valid UTF-8 character at s (n bytes left) and its code
 * point; 0 if it is not valid. */
static size_t utf8_char(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t need, k;
	unsigned c = s[0];

	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if (c >= 0xc2 && c <= 0xdf) {
		need = 1;
		*cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 2;
		*cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3;
		*cp = c & 0x07;
	} else {
		return 0;
	}
	if (need >= n)
		return 0;
	for (k = 1; k <= need; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		*cp = (*cp << 6) | (s[k] & 0x3f);
	}
	if ((need == 2 && (*cp < 0x800 || (*cp >= 0xd800 && *cp <= 0xdfff))) ||
	    (need == 3 && (*cp < 0x10000 || *cp > 0x10ffff)))
		return 0;
	return need + 1;
}

static int is_control(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f);
}

int vg_textfield_check(const char *field, const char *s, size_t len, char *why,
		       size_t whylen)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t max = vg_textfield_limit(field), i = 0;

	if (len > max) {
		snprintf(why, whylen, "refused: %s is %zu bytes long; at most %zu are kept in the "
			 "permanent audit log: say it shorter", field, len, max);
		return -VG_EINVAL;
	}
	while (i < len) {
		uint32_t cp;
		size_t n;

		if (u[i] == 0) {
			snprintf(why, whylen, "refused: %s holds a NUL byte (at byte %zu); write "
				 "plain text", field, i);
			return -VG_EINVAL;
		}
		n = utf8_char(u + i, len - i, &cp);
		if (n == 0) {
			snprintf(why, whylen, "refused: %s is not valid UTF-8 (at byte %zu); write "
				 "it in UTF-8 text", field, i);
			return -VG_EINVAL;
		}
		if (is_control(cp)) {
			snprintf(why, whylen, "refused: %s holds a control character (U+%04X at "
				 "byte %zu); write one line of plain text", field, (unsigned)cp, i);
			return -VG_EINVAL;
		}
		i += n;
	}
	return 0;
}

void vg_textfield_excerpt(const char *s, size_t len, char *out, size_t cap)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, o = 0;

	if (cap == 0)
		return;
	while (i < len && i < VG_TEXT_EXCERPT) {
		uint32_t cp = 0;
		size_t n = utf8_char(u + i, len - i, &cp);
		char tmp[8];

		if (n == 0 || is_control(cp) || u[i] == '"' || u[i] == '\\') {
			if (n == 0 || is_control(cp))
				snprintf(tmp, sizeof(tmp), "\\x%02x", u[i]);
			else
				snprintf(tmp, sizeof(tmp), "\\%c", u[i]);
			n = 1;
		} else {
			if (i + n > VG_TEXT_EXCERPT)
				break;
			memcpy(tmp, s + i, n);
			tmp[n] = '\0';
		}
		if (o + strlen(tmp) + 4 > cap)
			break;
		memcpy(out + o, tmp, strlen(tmp));
		o += strlen(tmp);
		i += n;
	}
	if (i < len && o + 4 <= cap) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}
