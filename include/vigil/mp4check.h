/*
 * mp4check.h - the structure of an exported MP4 (docs/export-format.md)
 * checked without decoding it, for vg_verify_export: what the hashes and
 * the signature cannot say is whether the file the recorder signed is a
 * well-formed video at all, and how many pictures it holds.
 *
 * Checked: the top-level boxes tile the file exactly (ftyp first, one
 * moov, at least one mdat); every track's sample table is consistent
 * (stsz, stsc, stco/co64, stss) and every sample lies inside an mdat; in
 * the H.264 track every sample is a whole sequence of length-prefixed NAL
 * units (avcC's length size) with a valid header, and the first sample is
 * a keyframe holding an IDR picture. The picture count is the video
 * track's sample count.
 *
 * No libavcodec: vigilctl, which runs this for `vigilctl verify`, links no
 * decoder (scripts/checksrc.sh), and a receiving agency checks the same
 * structure with ffprobe or MP4Box. Every number read from the file is
 * range-checked before it is used in arithmetic.
 */
#ifndef VIGIL_MP4CHECK_H
#define VIGIL_MP4CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Read up to n bytes at off into buf: the count read (short only at the
 * end), or a negative VG_E* code. */
typedef ssize_t (*vg_mp4_read_fn)(void *ud, void *buf, size_t n, int64_t off);

struct vg_mp4_info {
	int64_t pictures;	/* samples of the H.264 track */
	int64_t keyframes;	/* of which sync samples */
	int tracks;
};

/*
 * Check the MP4 of size bytes that read() returns. 0 if it is well formed
 * (info filled); -VG_EFORMAT with why (a sentence, NUL-terminated, may be
 * NULL) saying what is wrong; another negative VG_E* code if it could not
 * be read.
 */
int vg_mp4_check(vg_mp4_read_fn read, void *ud, int64_t size, struct vg_mp4_info *info,
		 char *why, size_t whylen);

#endif
