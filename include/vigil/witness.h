/*
 * witness.h - the off-box witness of the audit log: every signed checkpoint
 * (audit.h) goes to a standard syslog collector as an RFC 5424 message over
 * TLS (RFC 5425, octet-counted framing), with mutual TLS (mbedTLS): the box
 * shows a client certificate and accepts only a collector whose certificate
 * the configured CA signed for the configured host name. rsyslog with its
 * gtls driver is the reference receiver (docs/audit-format.md section 7).
 *
 * The queue is the audit database's checkpoint table itself, which is
 * already durable and append-only; the only state of the sender is its
 * cursor, DATA/witness.state (the id of the last checkpoint sent, written
 * atomically). So a collector outage or a vigild restart loses nothing, the
 * backlog goes out in order on reconnect, and the queue costs no disk beyond
 * the log. On every new connection the last checkpoint sent before is sent
 * again: syslog over TCP has no acknowledgement, and a message written just
 * before the collector died may be lost; duplicates are harmless to the
 * verifier.
 *
 * One thread; struct vg_witness is opaque; status may be read from any
 * thread.
 */
#ifndef VIGIL_WITNESS_H
#define VIGIL_WITNESS_H

#include <stdint.h>

#include "vigil/audit.h"
#include "vigil/config.h"

struct vg_witness;

struct vg_witness_status {
	int connected;		/* a TLS session to the collector is up */
	int64_t backlog;	/* checkpoints signed but not yet sent */
	int64_t sent_seq;	/* the seq the last sent checkpoint covers (-1: none) */
	int64_t sent_us;	/* when it was sent (0: not since start) */
	char last_error[256];	/* the last failure, in a sentence ("" if none) */
};

/*
 * Start sending the checkpoints of a (borrowed) to the collector in cfg
 * (borrowed; cfg->host must be set). state_path is the cursor file;
 * hostname and app identify the box in the RFC 5424 header. 0 or a
 * negative code (the certificates are read at once: an unreadable one is
 * an error here, with a sentence in the log, not a silent retry).
 */
int vg_witness_start(struct vg_witness **out, struct vg_audit *a,
		     const struct vg_witness_config *cfg, const char *state_path,
		     const char *hostname);

/* A checkpoint was just signed: send it now rather than at the next poll. */
void vg_witness_kick(struct vg_witness *w);

void vg_witness_status(struct vg_witness *w, struct vg_witness_status *st);

/* Try for up to timeout_ms to send what is left (the stop checkpoint),
 * then end the thread and free. NULL is a no-op. */
void vg_witness_stop(struct vg_witness *w, int timeout_ms);

/* One RFC 5425 frame for cp: "LEN SP <85>1 TIME HOST vigild - checkpoint
 * [vigil-checkpoint@32473 ...] vigil audit checkpoint". Length as snprintf. */
size_t vg_witness_frame(const struct vg_audit_checkpoint *cp, const char *hostname,
			char *buf, size_t cap);

#endif
