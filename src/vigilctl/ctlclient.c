/* ctlclient.c - vigilctl's side of the control socket. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vigil/config.h"
#include "vigil/fdio.h"
#include "vigil/proto.h"
#include "ctlclient.h"

/* ---- talking to vigild ---- */

int ctl_connect(struct ctl *c)
{
	struct sockaddr_un sa;
	struct vg_config *cfg = NULL;
	char path[sizeof(sa.sun_path)];

	/* The socket's path is in the config if we may read it; a file with
	 * errors (say one vigild refused on SIGHUP, still running the old)
	 * still names its socket, so read what can be read. */
	snprintf(path, sizeof(path), "/run/vigil/vigil.sock");
	if (c->socket_path) {
		snprintf(path, sizeof(path), "%s", c->socket_path);
	} else if (vg_config_read(c->config_path, &cfg, NULL, NULL) < 0 &&
		   access(c->config_path, R_OK) == 0 && !c->quiet) {
		fprintf(stderr, "vigilctl: note: %s has errors ('vigilctl config check %s' lists "
				"them); %s\n", c->config_path, c->config_path,
			cfg != NULL && cfg->socket_line > 0 ? "using the socket it names" :
			"trying the default socket");
	}
	if (c->socket_path == NULL && cfg != NULL && cfg->socket_path != NULL &&
	    strlen(cfg->socket_path) < sizeof(path))
		snprintf(path, sizeof(path), "%s", cfg->socket_path);
	vg_config_free(cfg);
	/* A connection vigild closes is reported in words (and exit status
	 * EXIT_DROPPED), not by dying of SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path));
	{
		struct stat st;

		/* vigild's group: what an export folder is shared with */
		c->daemon_gid = stat(path, &st) == 0 ? (int)st.st_gid : -1;
	}
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (c->fd >= 0)
			close(c->fd);
		c->fd = -1;
		if (c->quiet)
			return -1;
		if (errno == EACCES)
			fprintf(stderr, "vigilctl: not allowed to reach vigild on %s: ask your "
					"administrator to add your account to vigil's group\n", path);
		else
			fprintf(stderr, "vigilctl: vigild is not running (nothing answers on %s); "
					"footage can only be reached through it: start it with "
					"'systemctl start vigild'\n", path);
		return -1;
	}
	/* Each session starts with a hello, so that every use of vigilctl is
	 * in the audit log as a login (session.login), even one whose request
	 * is then malformed. */
	{
		struct json_object *req = json_object_new_object();
		struct json_object *o;

		json_object_object_add(req, "cmd", json_object_new_string("hello"));
		if (ctl_send(c, req) < 0) {
			c->dropped = 1;
			fprintf(stderr, "vigilctl: vigild closed the connection at once (busy or "
					"stopping?); try again in a minute\n");
			return EXIT_DROPPED;
		}
		o = ctl_read_reply(c);
		if (o == NULL && c->dropped)
			return EXIT_DROPPED;
		json_object_put(o);
	}
	return 0;
}

int ctl_send(struct ctl *c, struct json_object *req)
{
	const char *s;
	int ret;

	if (c->purpose)
		json_object_object_add(req, "purpose", json_object_new_string(c->purpose));
	if (c->reference)
		json_object_object_add(req, "reference", json_object_new_string(c->reference));
	s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	ret = vg_proto_send(c->fd, VG_FRAME_JSON, s, strlen(s));
	json_object_put(req);
	return ret;
}

/* Read the JSON reply; prints the daemon's refusal and returns NULL on
 * {"ok": false}. */
/* The reply frame (buf is taken): the object, or NULL with the refusal or
 * the problem printed. */
static struct json_object *reply_object(struct ctl *c, enum vg_frame_type type, char *buf)
{
	struct json_object *o, *ok, *err, *busy;

	o = type == VG_FRAME_JSON ? json_tokener_parse(buf) : NULL;
	free(buf);
	if (o == NULL || !json_object_object_get_ex(o, "ok", &ok)) {
		json_object_put(o);
		fprintf(stderr, "vigilctl: vigild sent an unreadable answer\n");
		return NULL;
	}
	if (!json_object_get_boolean(ok)) {
		/* Refused for want of a free connection, not by the policy. */
		if (json_object_object_get_ex(o, "busy", &busy) && json_object_get_boolean(busy))
			c->dropped = 1;
		json_object_object_get_ex(o, "error", &err);
		fprintf(stderr, "vigilctl: %s\n", err ? json_object_get_string(err) : "refused");
		json_object_put(o);
		return NULL;
	}
	return o;
}

struct json_object *ctl_read_reply(struct ctl *c)
{
	enum vg_frame_type type;
	char *buf;
	size_t len;

	if (vg_proto_recv(c->fd, &type, &buf, &len) != 0) {
		c->dropped = 1;
		fprintf(stderr, "vigilctl: vigild closed the connection without an answer (busy, "
				"stopping, or the request was too long in coming); try again\n");
		return NULL;
	}
	return reply_object(c, type, buf);
}

void ctl_human_bytes(double b, char *out, size_t len)
{
	if (b >= 1e9)
		snprintf(out, len, "%.2f GB", b / 1e9);
	else if (b >= 1e6)
		snprintf(out, len, "%.1f MB", b / 1e6);
	else
		snprintf(out, len, "%.0f kB", b / 1e3);
}

struct bar {
	const char *label;	/* "export", "read back" */
	int tty;
	int last_tenth;		/* plain lines: the last 10% step printed */
	int drawn;
	double total;		/* the first total vigild gave: shown throughout */
};

/* One progress line from vigild: {"done","total","elapsed_us"}. */
static void show_progress(struct bar *b, const char *line)
{
	struct json_object *o = json_tokener_parse(line);
	double done, total, secs, rate, left;
	char d[32], t[32], r[32];
	int pct, tenth, unfinished;

	if (o == NULL)
		return;
	done = (double)ctl_get_int(o, "done");
	total = (double)ctl_get_int(o, "total");
	secs = (double)ctl_get_int(o, "elapsed_us") / 1e6;
	unfinished = done < total;
	json_object_put(o);
	if (total <= 0)
		return;
	/* A total that changes half way reads as a mistake: keep the first
	 * (vigild's estimate) and hold at 99 % if the work runs past it. */
	if (b->total > 0)
		total = b->total;
	b->total = total;
	if (done > total)
		done = total;
	pct = (int)(done * 100.0 / total);
	if (pct == 100 && unfinished)
		pct = 99;
	rate = secs > 0 ? done / secs : 0;
	left = rate > 0 ? (total - done) / rate : 0;
	ctl_human_bytes(done, d, sizeof(d));
	ctl_human_bytes(total, t, sizeof(t));
	ctl_human_bytes(rate, r, sizeof(r));
	if (b->tty) {
		char bar[31];
		int fill = pct * 30 / 100;

		for (int i = 0; i < 30; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[30] = '\0';
		fprintf(stderr, "\r[%s] %3d%%  %s of %s  %s/s  %d:%02d left ", bar, pct, d, t, r,
			(int)left / 60, (int)left % 60);
		b->drawn = 1;
		return;
	}
	tenth = pct / 10;
	if (tenth > b->last_tenth) {
		b->last_tenth = tenth;
		fprintf(stderr, "%s: %d%% (%s of %s, %s/s, about %d s left)\n", b->label, pct, d,
			t, r, (int)left);
	}
}

struct json_object *ctl_await_reply(struct ctl *c, const char *label, const char *hint)
{
	struct bar b = { .label = label, .tty = isatty(STDERR_FILENO), .last_tenth = 0 };

	for (;;) {
		enum vg_frame_type type;
		char *buf;
		size_t len;

		if (vg_proto_recv(c->fd, &type, &buf, &len) != 0) {
			c->dropped = 1;
			if (b.drawn)
				fputc('\n', stderr);
			fprintf(stderr, "vigilctl: the connection to vigild broke during the %s; %s\n",
				label, hint);
			return NULL;
		}
		if (type == VG_FRAME_DATA && strstr(buf, "\"need\"") != NULL) {
			struct json_object *need = json_tokener_parse(buf);

			free(buf);
			if (need && ctl_dest_answer(c, need) < 0) {
				json_object_put(need);
				fprintf(stderr, "vigilctl: lost the connection to vigild\n");
				return NULL;
			}
			json_object_put(need);
			continue;
		}
		if (type == VG_FRAME_DATA) {
			show_progress(&b, buf);
			free(buf);
			continue;
		}
		if (b.drawn)
			fputc('\n', stderr);
		return reply_object(c, type, buf);
	}
}

struct json_object *ctl_request(struct ctl *c, const char *cmd, struct json_object *req)
{
	json_object_object_add(req, "cmd", json_object_new_string(cmd));
	if (ctl_send(c, req) < 0) {
		c->dropped = 1;
		fprintf(stderr, "vigilctl: lost the connection to vigild (it closed it: busy or "
				"stopping?); try again\n");
		return NULL;
	}
	return ctl_read_reply(c);
}

struct json_object *ctl_range_request(struct ctl *c)
{
	struct json_object *r = json_object_new_object();

	if (c->camera)
		json_object_object_add(r, "camera", json_object_new_string(c->camera));
	if (c->from)
		json_object_object_add(r, "from_us", json_object_new_int64(c->from));
	if (c->to)
		json_object_object_add(r, "to_us", json_object_new_int64(c->to));
	return r;
}

const char *ctl_get_str(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : "";
}

int64_t ctl_get_int(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0;
}

int ctl_open_output(const char *out)
{
	int fd;

	if (strcmp(out, "-") == 0)
		return STDOUT_FILENO;
	fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		fprintf(stderr, "vigilctl: cannot create %s: %m (it must not exist yet)\n", out);
	return fd;
}

int ctl_receive(struct ctl *c, int fd, const char *out, struct json_object **end)
{
	*end = NULL;
	for (;;) {
		enum vg_frame_type type;
		char *buf;
		size_t len;
		int ret;

		if (vg_proto_recv(c->fd, &type, &buf, &len) != 0) {
			c->dropped = 1;
			fprintf(stderr, "vigilctl: the connection to vigild broke before the end\n");
			return EXIT_REFUSED;
		}
		if (type != VG_FRAME_DATA) {
			*end = type == VG_FRAME_END ? json_tokener_parse(buf) : NULL;
			free(buf);
			return 0;
		}
		ret = vg_write_all(fd, buf, len);
		free(buf);
		if (ret < 0) {
			fprintf(stderr, "vigilctl: cannot write %s: %m\n", out);
			return EXIT_REFUSED;
		}
	}
}

int ctl_close_output(int fd, const char *out, int ret)
{
	if (fd == STDOUT_FILENO)
		return ret;
	if (close(fd) < 0 && ret == 0)
		ret = EXIT_REFUSED;
	if (ret != 0)
		unlink(out);	/* never leave half a clip or picture that looks whole */
	return ret;
}

int ctl_absolute_path(const char *path, int may_be_new, char out[PATH_MAX])
{
	char dir[PATH_MAX], real[PATH_MAX];
	const char *slash, *base;

	if (realpath(path, out) != NULL)
		return 0;
	if (!may_be_new || errno != ENOENT) {
		fprintf(stderr, "vigilctl: %s: %m\n", path);
		return -1;
	}
	slash = strrchr(path, '/');
	if (slash == NULL) {
		snprintf(dir, sizeof(dir), ".");
		base = path;
	} else {
		snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
		base = slash + 1;
	}
	if (base[0] == '\0' || realpath(dir, real) == NULL) {
		fprintf(stderr, "vigilctl: %s: %m\n", path);
		return -1;
	}
	if ((size_t)snprintf(out, PATH_MAX, "%s/%s", strcmp(real, "/") == 0 ? "" : real, base) >=
	    PATH_MAX) {
		fprintf(stderr, "vigilctl: %s: the path is too long\n", path);
		return -1;
	}
	return 0;
}
