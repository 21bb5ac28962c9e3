/*
 * isofs.h - shared use of libisofs within one process.
 *
 * libisofs keeps process-wide state: iso_init() sets it up and
 * iso_finish() frees it, under every image still in use. The exporter
 * (writing images) and the verifier (reading them) can run at the same
 * time in vigild (two control connections), so neither may call those
 * two directly: each use is bracketed by vg_isofs_get() and
 * vg_isofs_put(), which count users and initialise on the first and
 * finish on the last.
 */
#ifndef VIGIL_ISOFS_H
#define VIGIL_ISOFS_H

/* 0, or -VG_EFORMAT if libisofs cannot be initialised. */
int vg_isofs_get(void);
/* After a successful vg_isofs_get(), when the caller's images are gone. */
void vg_isofs_put(void);

#endif
