/*
 * warmup.h - cameras take turns to start their encoders.
 *
 * An encoder's first pictures cost several times what later ones do: x264
 * allocates and zeroes its frames, builds its cost tables and codes the
 * first keyframe. Measured on 2 cores (docs/performance.md, "Start-up
 * turns"), 8 cameras starting at once took 150-380 ms a picture for their
 * first four, against 10-15 ms later; every camera's queue filled to its
 * start-up budget and the box kept that memory for the rest of the run.
 *
 * So at most `limit` cameras (the box's cores) warm up at once. A camera
 * takes a turn before it opens its source and hands it back once its
 * encoder has taken its first VG_WARMUP_FRAMES pictures, or its session
 * ended. A turn held too long (a camera that opened but sends nothing)
 * does not hold the others back: when no turn has been given or handed
 * back for the stall time (VG_WARMUP_STALL_MS in vigild), the next camera
 * in line goes anyway.
 *
 * Thread-safe. A turn is an int owned by its camera (0: none held), read
 * and written only under the gate's lock, so the thread that takes it and
 * the one that hands it back may differ.
 */
#ifndef VIGIL_WARMUP_H
#define VIGIL_WARMUP_H

#define VG_WARMUP_FRAMES 4
#define VG_WARMUP_STALL_MS 1000

struct vg_warmup;

/* A gate letting limit (>= 1) cameras warm up at once, with this stall
 * time; NULL if out of memory. */
struct vg_warmup *vg_warmup_new(int limit, int stall_ms);
void vg_warmup_free(struct vg_warmup *g);

/*
 * Wait for a turn and set *turn. Returns 1 with the turn held, 0 when
 * cancelled(ud) said so (checked at every wake-up; vg_warmup_wake wakes
 * the waiters). A NULL gate gives the turn at once.
 */
int vg_warmup_begin(struct vg_warmup *g, int *turn, int (*cancelled)(void *ud), void *ud);

/* Hand a turn back; a no-op if *turn is not held (safe to call twice). */
void vg_warmup_end(struct vg_warmup *g, int *turn);

/* Wake every waiter to check its cancelled() again (a camera stopping). */
void vg_warmup_wake(struct vg_warmup *g);

/* Turns held now, and cameras waiting for one (for tests and logs). */
int vg_warmup_busy(struct vg_warmup *g);
int vg_warmup_waiting(struct vg_warmup *g);

#endif
