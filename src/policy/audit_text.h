/* vigil - private to the audit module: text parsing shared by audit.c
 * (the head file) and audit_text.c (a witness line). */
#ifndef VIGIL_AUDIT_TEXT_H
#define VIGIL_AUDIT_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* The structured-data id of a checkpoint in a syslog message. */
#define CP_SD_ID "vigil-checkpoint@32473"

/* n lower-case hex digits at s into out (at most cap bytes); 0 or -1. */
int vg_audit_parse_hex(const char *s, size_t n, uint8_t *out, size_t cap, size_t *outlen);
/* n decimal digits at s into *out; 0 or -1. */
int vg_audit_parse_i64(const char *s, size_t n, int64_t *out);

#endif
