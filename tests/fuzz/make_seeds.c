/*
 * make_seeds.c - seed corpora for the fuzz harnesses (tests/fuzz/README),
 * made from what the tests make: a small real recording cut into clips by
 * the segmenter, exported to a folder and to an ISO image, and the
 * requests and frames of the control-socket tests.
 *
 *   make_seeds OUTDIR    writes OUTDIR/{clip,verify,iso,frame,request}/
 *
 * The clips are encrypted with the fuzzers' fixed test master key
 * (FUZZ_MASTER_BYTE), so mutated seeds get past the key check.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include "vigil/catalog.h"
#include "vigil/crypto.h"
#include "vigil/encoder.h"
#include "vigil/export.h"
#include "vigil/proto.h"
#include "vigil/segmenter.h"
#include "vigil/sign.h"
#include "vigil/timeutil.h"
#include "fuzz_common.h"

#define W 160
#define H 120
#define FPS 10
#define FRAMES 25

static void put(const char *dir, const char *name, const void *p, size_t n)
{
	char path[1200];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fuzz_write(path, p, n);
}

static uint8_t *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p = NULL;
	long len;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc((size_t)len + 1);
	if (p != NULL && fread(p, 1, (size_t)len, f) != (size_t)len) {
		free(p);
		p = NULL;
	}
	fclose(f);
	*n = (size_t)len;
	return p;
}

/* The packed-folder format fuzz_verify.c unpacks. */
static void pack_dir(const char *dir, const char *out)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	FILE *f = fopen(out, "wb");

	while (d != NULL && f != NULL && (e = readdir(d)) != NULL) {
		char path[1200];
		uint8_t *p, h[4];
		size_t n, nl = strlen(e->d_name);

		if (e->d_name[0] == '.' || nl > 255)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		p = slurp(path, &n);
		if (p == NULL)
			continue;
		fputc((int)nl, f);
		fwrite(e->d_name, 1, nl, f);
		h[0] = (uint8_t)(n >> 24);
		h[1] = (uint8_t)(n >> 16);
		h[2] = (uint8_t)(n >> 8);
		h[3] = (uint8_t)n;
		fwrite(h, 1, 4, f);
		fwrite(p, 1, n, f);
		free(p);
	}
	if (d != NULL)
		closedir(d);
	if (f != NULL)
		fclose(f);
}

struct clip_seed {
	const char *out;
	const char *data;
	int n;
};

static int clip_seed(const struct vg_clip *c, void *ud)
{
	struct clip_seed *s = ud;
	char path[1200], name[64];
	uint8_t *file, *seed;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", s->data, c->path);
	file = slurp(path, &n);
	if (file == NULL)
		return 0;
	seed = malloc(n + VG_WRAPPED_KEY_LEN);
	memcpy(seed, c->wrapped_key, VG_WRAPPED_KEY_LEN);
	memcpy(seed + VG_WRAPPED_KEY_LEN, file, n);
	snprintf(name, sizeof(name), "clip-%d", s->n++);
	put(s->out, name, seed, n + VG_WRAPPED_KEY_LEN);
	/* and one cut short, as a crash leaves it */
	snprintf(name, sizeof(name), "clip-%d-cut", s->n);
	put(s->out, name, seed, (n + VG_WRAPPED_KEY_LEN) * 2 / 3);
	free(seed);
	free(file);
	return 0;
}

static void frames_and_requests(const char *fr, const char *rq)
{
	static const char *const reqs[] = {
		"{\"cmd\":\"hello\"}",
		"{\"cmd\":\"status\"}",
		"{\"cmd\":\"clips\",\"camera\":\"cam\",\"from_us\":1,\"to_us\":2}",
		"{\"cmd\":\"view\",\"clip\":12,\"purpose\":\"p\",\"reference\":\"r\"}",
		"{\"cmd\":\"export\",\"cameras\":[\"a\",\"b\"],\"redact\":[[1,2,3,4]]}",
		"{\"cmd\":\"audit.show\",\"json\":1,\"since_us\":-1}",
		"{\"cmd\":7}", "[\"cmd\"]", "{\"cmd\":\"no.such\"}", "{}", "{\"a\":{\"b\":[1,2,{}]}}",
	};
	char name[32];

	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		size_t n = strlen(reqs[i]);
		uint8_t h[8] = { VG_PROTO_VERSION, VG_FRAME_JSON, 0, 0, 0, 0, (uint8_t)(n >> 8),
				 (uint8_t)n };
		uint8_t buf[600];

		snprintf(name, sizeof(name), "req-%zu", i);
		put(rq, name, reqs[i], n);
		memcpy(buf, h, 8);
		memcpy(buf + 8, reqs[i], n);
		/* two frames back to back, and a DATA and END frame */
		memcpy(buf + 8 + n, buf, 8 + n);
		snprintf(name, sizeof(name), "frame-%zu", i);
		put(fr, name, buf, 2 * (8 + n));
	}
	{
		uint8_t end[8 + 11] = { VG_PROTO_VERSION, VG_FRAME_END, 0, 0, 0, 0, 0, 11 };

		memcpy(end + 8, "{\"ok\":true}", 11);
		put(fr, "frame-end", end, sizeof(end));
	}
}

int main(int argc, char **argv)
{
	struct vg_encoder_params ep = {
		.encoder = "libx264", .preset = "ultrafast", .crf = 30, .gop = FPS,
		.width = W, .height = H, .in_fmt = AV_PIX_FMT_YUV420P,
		.fps_num = FPS, .fps_den = 1, .time_base = { 1, 90000 }, .threads = 1,
	};
	uint8_t master[VG_MASTER_KEY_LEN];
	char tmp[256], data[300], db[320], dest[300], sub[6][1200], why[256], path[1400];
	struct vg_catalog *cat;
	struct vg_encoder *enc;
	struct vg_segmenter *seg;
	struct vg_sign_key *key;
	AVCodecParameters *par = avcodec_parameters_alloc();
	AVFrame *fr = av_frame_alloc();
	AVPacket *pkt = av_packet_alloc();
	int64_t t0 = INT64_C(1790000000) * VG_US_PER_S, frame_us = VG_US_PER_S / FPS;
	const char *kinds[] = { "clip", "verify", "iso", "frame", "request", "config" };
	struct vg_export_result res;
	struct clip_seed cs;

	if (argc != 2) {
		fprintf(stderr, "usage: make_seeds OUTDIR\n");
		return 2;
	}
	av_log_set_level(AV_LOG_ERROR);
	mkdir(argv[1], 0755);
	for (int i = 0; i < 6; i++) {
		snprintf(sub[i], sizeof(sub[i]), "%s/%s", argv[1], kinds[i]);
		mkdir(sub[i], 0755);
	}
	frames_and_requests(sub[3], sub[4]);
	snprintf(tmp, sizeof(tmp), "/tmp/vigil-seeds.XXXXXX");
	if (mkdtemp(tmp) == NULL)
		return 1;
	snprintf(data, sizeof(data), "%s/data", tmp);
	snprintf(dest, sizeof(dest), "%s/usb", tmp);
	snprintf(db, sizeof(db), "%s/catalog.db", data);
	mkdir(data, 0700);
	mkdir(dest, 0700);
	memset(master, FUZZ_MASTER_BYTE, sizeof(master));
	if (vg_catalog_open(&cat, db) < 0 || vg_sign_key_generate(&key) < 0 ||
	    vg_encoder_open(&enc, &ep, why, sizeof(why)) < 0) {
		fprintf(stderr, "make_seeds: cannot set up: %s\n", why);
		return 1;
	}
	fr->format = AV_PIX_FMT_YUV420P;
	fr->width = W;
	fr->height = H;
	av_frame_get_buffer(fr, 0);
	avcodec_parameters_from_context(par, vg_encoder_context(enc));
	{
		struct vg_segmenter_params sp = {
			.camera = "cam", .data_dir = data, .master = master, .cat = cat,
			.segment_us = 1 * VG_US_PER_S, .fragment_us = VG_US_PER_S / 2,
			.codecpar = par, .time_base = ep.time_base, .base_utc_us = t0,
			.frame_us = frame_us, .encoder_name = "libx264",
		};
		if (vg_segmenter_new(&seg, &sp) < 0)
			return 1;
	}
	for (int i = 0; i <= FRAMES; i++) {
		if (i < FRAMES) {
			av_frame_make_writable(fr);
			for (int p = 0; p < 3; p++)
				memset(fr->data[p], (i * 7 + p * 50) & 0xff,
				       (size_t)fr->linesize[p] * (p ? H / 2 : H));
			fr->pts = av_rescale_q(i * frame_us, (AVRational){ 1, 1000000 }, ep.time_base);
		}
		vg_encoder_send(enc, i < FRAMES ? fr : NULL);
		while (vg_encoder_receive(enc, pkt) == 0) {
			if (vg_segmenter_write(seg, pkt) < 0)
				return 1;
			av_packet_unref(pkt);
		}
	}
	vg_segmenter_finish(seg);
	vg_segmenter_free(seg);
	cs.out = sub[0];
	cs.data = data;
	cs.n = 0;
	vg_catalog_clips_after(cat, 0, 100, clip_seed, &cs);
	{
		const struct vg_export_camera cam = { "cam", "seed" };
		struct vg_export_request q = {
			.cameras = &cam, .n_cameras = 1, .from_us = t0,
			.to_us = t0 + 3600 * VG_US_PER_S, .recipient = "police",
			.reason = "fuzz seeds", .exporter_login = "seed", .reference = "SEED-1",
			.dest_dir = dest, .device_id = "seed", .firmware_version = "seed",
		};
		struct vg_export_ctx c = { .cat = cat, .data_dir = data, .master = master,
					   .key = key };

		if (vg_export_run(&c, &q, &res) < 0) {
			fprintf(stderr, "make_seeds: export failed: %s\n", res.why);
			return 1;
		}
		snprintf(path, sizeof(path), "%s/SEED-1", dest);
		{
			char out[1300];

			snprintf(out, sizeof(out), "%s/export-folder", sub[1]);
			pack_dir(path, out);
		}
		snprintf(path, sizeof(path), "%s/seed.iso", tmp);
		q.reference = "SEED-2";
		q.dest_dir = NULL;
		q.iso_path = path;
		if (vg_export_run(&c, &q, &res) < 0) {
			fprintf(stderr, "make_seeds: ISO export failed: %s\n", res.why);
			return 1;
		}
		{
			size_t n;
			uint8_t *iso = slurp(path, &n);

			if (iso != NULL)
				put(sub[2], "export.iso", iso, n);
			free(iso);
		}
	}
	{
		char cmd[700];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
		if (system(cmd) != 0)
			fprintf(stderr, "make_seeds: cannot remove %s\n", tmp);
	}
	av_packet_free(&pkt);
	av_frame_free(&fr);
	avcodec_parameters_free(&par);
	vg_encoder_free(enc);
	vg_sign_key_free(key);
	vg_catalog_close(cat);
	printf("seeds in %s\n", argv[1]);
	return 0;
}
