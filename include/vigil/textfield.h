/*
 * textfield.h - the rules for every free-text field that comes from outside
 * (a control request's purpose, reference, organisation, recipient,
 * reason...) before anything is written: the audit log is permanent, so
 * what it keeps must be bounded and readable.
 *
 * A field is refused if it is longer than its limit (bytes of UTF-8), holds
 * a NUL, is not valid UTF-8 (no overlong forms, no surrogates, nothing
 * above U+10FFFF), or holds a control character (U+0000-U+001F, U+007F,
 * U+0080-U+009F): one line of plain text. docs/access-policy.md lists the
 * limits.
 */
#ifndef VIGIL_TEXTFIELD_H
#define VIGIL_TEXTFIELD_H

#include <stddef.h>

#define VG_TEXT_PURPOSE_MAX 500		/* --purpose */
#define VG_TEXT_REFERENCE_MAX 64	/* --reference: ASB-2024-0042 and the like */
#define VG_TEXT_ORGANISATION_MAX 200	/* export --organisation */
#define VG_TEXT_NAME_MAX 200		/* recipient, user, camera, action, cmd... */
#define VG_TEXT_REASON_MAX 1000		/* hold and export reasons, police decision,
					 * victim's wishes */
#define VG_TEXT_PATH_MAX 4096		/* dest, iso, image, device: file names */
#define VG_TEXT_OTHER_MAX 1000		/* any other string a request carries */
#define VG_TEXT_EXCERPT 40		/* bytes of a refused value kept in the audit row */

/* The limit for a request field named field. */
size_t vg_textfield_limit(const char *field);

/*
 * Check len bytes at s (which may hold NULs) as the field named field.
 * 0 if acceptable; -VG_EINVAL and a sentence naming the field, the rule and
 * what to do in why (whylen bytes) otherwise.
 */
int vg_textfield_check(const char *field, const char *s, size_t len, char *why,
		       size_t whylen);

/* A short, safe form of a refused value for the audit row and the log: at
 * most VG_TEXT_EXCERPT bytes of it, cut on a character boundary, with every
 * byte that breaks a rule shown as \xHH, "..." if cut. out gets at most
 * cap bytes (4 * VG_TEXT_EXCERPT + 8 is enough), NUL-terminated. */
void vg_textfield_excerpt(const char *s, size_t len, char *out, size_t cap);

#endif
