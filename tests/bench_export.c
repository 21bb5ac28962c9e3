/*
 * bench_export.c - export throughput against `cp` + `sync` + `sha256sum`
 * of the same bytes on the same filesystem (issue 7's benchmark).
 *
 * Usage: bench_export [MB] [DIR] [REPS]   (default 200 MB under /tmp, 3 reps)
 *        bench_export --footage MB DATA_DIR
 *
 * With --footage it only makes the footage, for vigild itself to export
 * (tests/bench/export-e2e.sh: the user's view, `vigilctl export` timed from
 * the shell): clips of MB megabytes ending a few minutes ago in DATA_DIR,
 * with DATA_DIR/master.key and DATA_DIR/catalog.db where vigild's config
 * defaults look for them.
 *
 * The baseline and the export take turns REPS times (each export to a new
 * folder, each copy deleted after) and the best time of each is compared:
 * on a shared box other work only ever makes a run slower, so the minimum
 * is the figure least disturbed by it. The median is printed too.
 *
 * The footage: one GOP (2 s at 15 fps, 1280x720, x264 ultrafast, noisy
 * pictures so that packets are camera-sized) is encoded once and its packets
 * fed to the real segmenter again and again with advancing timestamps until
 * the clips hold MB megabytes: valid, decodable clips of an ordinary size,
 * made in seconds instead of encoding an hour. Throughput is per byte, so
 * an hour of one camera (about 900 MB at 2 Mbit/s) behaves the same.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vigil/audit.h"
#include "vigil/catalog.h"
#include "vigil/crypto.h"
#include "vigil/encoder.h"
#include "vigil/export.h"
#include "vigil/keystore.h"
#include "vigil/segmenter.h"
#include "vigil/sign.h"
#include "vigil/timeutil.h"

#define W 1280
#define H 720
#define FPS 15
#define GOP (2 * FPS)

static double now(void)
{
	return (double)vg_time_mono_us() / 1e6;
}

static int run(const char *cmd)
{
	int r = system(cmd);

	if (r != 0)
		fprintf(stderr, "bench_export: \"%s\" failed\n", cmd);
	return r;
}

#define MAX_REPS 20

/* CPU seconds (user + system) of this process (who = RUSAGE_SELF: every
 * thread) or of its finished children (RUSAGE_CHILDREN: the baseline). */
static double cpu_s(int who)
{
	struct rusage ru;

	getrusage(who, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Best and median of n times; with base, the ratio of the rates (base's
 * best against this best, base's median against this median). */
static void report(const char *what, double mbytes, const double *v, const double *base, int n)
{
	double s[MAX_REPS], b[MAX_REPS];

	memcpy(s, v, (size_t)n * sizeof(*s));
	qsort(s, (size_t)n, sizeof(*s), cmp_d);
	printf("%s %6.2f s %6.1f MB/s [%6.2f s %6.1f MB/s]", what, s[0], mbytes / s[0],
	       s[n / 2], mbytes / s[n / 2]);
	if (base) {
		memcpy(b, base, (size_t)n * sizeof(*b));
		qsort(b, (size_t)n, sizeof(*b), cmp_d);
		printf("  ratio %.2f [%.2f]", b[0] / s[0], b[n / 2] / s[n / 2]);
	}
	printf("\n");
}

int main(int argc, char **argv)
{
	long mb = argc > 1 ? atol(argv[1]) : 200;
	const char *base_dir = argc > 2 ? argv[2] : "/tmp";
	struct vg_encoder_params ep = {
		.encoder = "libx264", .preset = "ultrafast", .crf = 20, .gop = GOP,
		.width = W, .height = H, .in_fmt = AV_PIX_FMT_YUV420P,
		.fps_num = FPS, .fps_den = 1, .time_base = { 1, 90000 }, .threads = 0,
	};
	uint8_t master[VG_MASTER_KEY_LEN];
	char dir[256], data[300], db[320], dest[300], cmd[1200], why[256];
	struct vg_catalog *cat;
	struct vg_encoder *enc;
	struct vg_segmenter *seg;
	struct vg_sign_key *key;
	AVCodecParameters *par = avcodec_parameters_alloc();
	AVFrame *fr = av_frame_alloc();
	AVPacket *gop[GOP + 8], *pkt = av_packet_alloc();
	int ngop = 0;
	uint64_t fed = 0;
	int64_t t0 = INT64_C(1790000000) * VG_US_PER_S, frame_us = VG_US_PER_S / FPS;
	int64_t k = 0;
	int reps = argc > 3 ? atoi(argv[3]) : 3;
	int footage_only = argc > 3 && strcmp(argv[1], "--footage") == 0;
	double c0, cp_cpu = 0, exp_cpu = 0;
	double t, cp_s[MAX_REPS], exp_s[MAX_REPS], wr_s[MAX_REPS], rb_s[MAX_REPS];
	struct vg_export_result res;

	if (reps < 1 || reps > MAX_REPS)
		reps = 3;
	av_log_set_level(AV_LOG_ERROR);
	if (footage_only) {
		int created = 0;

		mb = atol(argv[2]);
		snprintf(data, sizeof(data), "%s", argv[3]);
		snprintf(db, sizeof(db), "%s/catalog.db", data);
		snprintf(dest, sizeof(dest), "%s/master.key", data);
		mkdir(data, 0700);
		if (mb <= 0 || vg_keystore_load(dest, 1, master, &created, why, sizeof(why)) < 0) {
			fprintf(stderr, "bench_export: --footage MB DATA_DIR: %s\n",
				mb <= 0 ? "MB must be positive" : why);
			return 1;
		}
	} else {
		snprintf(dir, sizeof(dir), "%s/vigil-bench-export.XXXXXX", base_dir);
		if (mkdtemp(dir) == NULL)
			return 1;
		snprintf(data, sizeof(data), "%s/data", dir);
		snprintf(dest, sizeof(dest), "%s/usb", dir);
		snprintf(db, sizeof(db), "%s/catalog.db", data);
		mkdir(data, 0700);
		mkdir(dest, 0700);
		vg_crypto_random(master, sizeof(master));
	}
	if (vg_catalog_open(&cat, db) < 0 || vg_sign_key_generate(&key) < 0 ||
	    vg_encoder_open(&enc, &ep, why, sizeof(why)) < 0)
		return 1;
	fr->format = AV_PIX_FMT_YUV420P;
	fr->width = W;
	fr->height = H;
	av_frame_get_buffer(fr, 0);
	for (int i = 0; i <= GOP; i++) {
		if (i < GOP) {
			av_frame_make_writable(fr);
			for (int p = 0; p < 3; p++)
				vg_crypto_random(fr->data[p], (size_t)fr->linesize[p] * (p ? H / 2 : H));
			fr->pts = av_rescale_q(i * frame_us, (AVRational){ 1, 1000000 }, ep.time_base);
			fr->pict_type = i == 0 ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
		}
		vg_encoder_send(enc, i < GOP ? fr : NULL);
		while (vg_encoder_receive(enc, pkt) == 0 && ngop < GOP + 8) {
			gop[ngop] = av_packet_clone(pkt);
			ngop++;
			av_packet_unref(pkt);
		}
	}
	avcodec_parameters_from_context(par, vg_encoder_context(enc));
	if (footage_only) {
		/* End a few minutes ago: vigild's retention keeps it, and
		 * "--from -24h --to now" covers it. */
		uint64_t gop_bytes = 0;
		int64_t gops;

		for (int i = 0; i < ngop; i++)
			gop_bytes += (uint64_t)gop[i]->size;
		gops = gop_bytes ? (int64_t)((uint64_t)mb * 1000000 / gop_bytes + 1) : 1;
		t0 = vg_time_now_us() - gops * ngop * frame_us - 300 * VG_US_PER_S;
	}
	{
		struct vg_segmenter_params sp = {
			.camera = "cam", .data_dir = data, .master = master, .cat = cat,
			.segment_us = 60 * VG_US_PER_S, .fragment_us = VG_US_PER_S,
			.codecpar = par, .time_base = ep.time_base, .base_utc_us = t0,
			.frame_us = frame_us, .encoder_name = "libx264",
		};
		if (vg_segmenter_new(&seg, &sp) < 0)
			return 1;
	}
	/* Packet bytes fed: the clips are this plus a little container overhead. */
	while (fed < (uint64_t)mb * 1000000) {
		for (int i = 0; i < ngop; i++, k++) {
			av_packet_ref(pkt, gop[i]);
			pkt->pts = pkt->dts = av_rescale_q(k * frame_us, (AVRational){ 1, 1000000 },
							   ep.time_base);
			fed += (uint64_t)pkt->size;
			if (vg_segmenter_write(seg, pkt) < 0)
				return 1;
			av_packet_unref(pkt);
		}
	}
	vg_segmenter_finish(seg);
	vg_segmenter_free(seg);
	snprintf(cmd, sizeof(cmd), "du -sb %s/clips | cut -f1", data);
	printf("footage: %lld frames (%.0f s at %d fps, %dx%d), clips in %s\n", (long long)k,
	       (double)k / FPS, FPS, W, H, data);
	fflush(stdout);
	run(cmd);
	if (footage_only) {
		vg_catalog_close(cat);
		return 0;
	}

	for (int rep = 0; rep < reps; rep++) {
		const struct vg_export_camera cam = { "cam", "bench" };
		struct vg_export_request q = {
			.cameras = &cam, .n_cameras = 1, .from_us = t0,
			.to_us = t0 + 24 * 3600 * VG_US_PER_S, .recipient = "police",
			.reason = "benchmark", .exporter_login = "bench",
			.dest_dir = dest, .device_id = "bench", .firmware_version = "bench",
		};
		struct vg_export_ctx c = { .cat = cat, .data_dir = data, .master = master,
					   .key = key };
		char ref[32];

		/* Baseline: cp + sync + sha256sum of the same clip files, read
		 * cold as the export reads them. */
		run("sync");
		run("echo 3 > /proc/sys/vm/drop_caches 2>/dev/null; true");
		c0 = cpu_s(RUSAGE_CHILDREN);
		t = now();
		snprintf(cmd, sizeof(cmd), "mkdir %s/cp && cp -r %s/clips %s/cp/ && sync && "
			 "find %s/cp -type f -exec sha256sum {} + > /dev/null", dir, data, dir, dir);
		if (run(cmd) != 0)
			return 1;
		cp_s[rep] = now() - t;
		cp_cpu = cpu_s(RUSAGE_CHILDREN) - c0;
		snprintf(cmd, sizeof(cmd), "rm -rf %s/cp; sync", dir);
		run(cmd);

		run("echo 3 > /proc/sys/vm/drop_caches 2>/dev/null; true");
		snprintf(ref, sizeof(ref), "BENCH-%d", rep);
		q.reference = ref;
		c0 = cpu_s(RUSAGE_SELF);
		t = now();
		if (vg_export_run(&c, &q, &res) < 0) {
			fprintf(stderr, "export failed: %s\n", res.why);
			return 1;
		}
		exp_s[rep] = now() - t;
		exp_cpu = cpu_s(RUSAGE_SELF) - c0;
		wr_s[rep] = res.write_seconds;
		rb_s[rep] = res.readback_seconds;
		printf("rep %d: cp+sync+sha256sum %.2f s, export write %.2f s + read-back %.2f s "
		       "= %.2f s; CPU s: cp %.2f, export %.2f\n", rep + 1, cp_s[rep], wr_s[rep], rb_s[rep],
		       exp_s[rep], cp_cpu, exp_cpu);
		fflush(stdout);
		snprintf(cmd, sizeof(cmd), "rm -rf %s/%s; sync", dest, ref);
		run(cmd);
	}
	{
		double mbytes = (double)res.bytes / 1e6;

		printf("exported %.1f MB in %d files; best of %d (median in brackets)\n", mbytes,
		       res.files, reps);
		report("cp + sync + sha256sum:         ", mbytes, cp_s, cp_s, reps);
		report("export, write phase only:      ", mbytes, wr_s, cp_s, reps);
		report("export, read-back check only:  ", mbytes, rb_s, NULL, reps);
		report("export, whole (with read-back):", mbytes, exp_s, cp_s, reps);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	run(cmd);
	for (int i = 0; i < ngop; i++)
		av_packet_free(&gop[i]);
	av_packet_free(&pkt);
	av_frame_free(&fr);
	avcodec_parameters_free(&par);
	vg_encoder_free(enc);
	vg_sign_key_free(key);
	vg_catalog_close(cat);
	return 0;
}
