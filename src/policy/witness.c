/*
 * witness.c - checkpoints to an off-box syslog collector over mutual TLS.
 * See witness.h. mbedTLS does the TLS (it is already vigil's crypto
 * library, and a hand-written TLS is out of the question); the framing is
 * RFC 5425's octet counting, so any RFC 5425 collector reads it.
 */
#define VG_LOG_MODULE "WIT"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "vigil/err.h"
#include "vigil/log.h"
#include "vigil/timeutil.h"
#include "vigil/witness.h"

#define STATE_MAGIC "vigil-witness-state 1"
#define CONNECT_TIMEOUT_MS 5000
#define IO_TIMEOUT_MS 10000
#define POLL_MS 5000		/* look for checkpoints signed elsewhere (export, report) */
#define BACKOFF_MAX_MS 10000

struct vg_witness {
	struct vg_audit *audit;
	char *host, *state_path, *hostname;
	char *tls_name;		/* the name the collector's certificate must carry */
	int port;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int kicked, stopping;
	int64_t deadline_ms;	/* when stopping: give up at this time */
	struct vg_witness_status st;	/* under lock */
	int64_t sent_id;	/* the cursor (thread only, mirrored in the file) */
	/* TLS */
	mbedtls_net_context net;
	mbedtls_ssl_context ssl;
	mbedtls_ssl_config conf;
	mbedtls_x509_crt ca, crt;
	mbedtls_pk_context pk;
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	int up;
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_error(struct vg_witness *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_error(struct vg_witness *w, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	int changed;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&w->lock);
	changed = strcmp(msg, w->st.last_error) != 0;
	snprintf(w->st.last_error, sizeof(w->st.last_error), "%s", msg);
	pthread_mutex_unlock(&w->lock);
	if (changed)	/* once per change, not every retry */
		vg_warnx("audit witness %s:%d: %s", w->host, w->port, msg);
}

size_t vg_witness_frame(const struct vg_audit_checkpoint *cp, const char *hostname,
			char *buf, size_t cap)
{
	char sd[512], msg[768], ts[40];
	time_t secs = (time_t)(cp->time_us / 1000000);
	struct tm tm;
	int n;

	vg_audit_format_cp_sd(cp, sd, sizeof(sd));
	gmtime_r(&secs, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	/* PRI 85 = authpriv.notice; the time is the checkpoint's own. */
	n = snprintf(msg, sizeof(msg), "<85>1 %s.%06dZ %s vigild - checkpoint %s vigil audit "
		     "checkpoint seq %" PRId64, ts, (int)(cp->time_us % 1000000),
		     hostname[0] ? hostname : "-", sd, cp->seq);
	return (size_t)snprintf(buf, cap, "%d %s", n, msg);
}

/* ---- the cursor ---- */

static int64_t state_load(const char *path)
{
	char buf[128];
	long long id;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return 0;	/* never sent: the whole table is the backlog */
	if (fread(buf, 1, sizeof(buf) - 1, f) == 0 ||
	    sscanf(buf, STATE_MAGIC "\nsent_id %lld", &id) != 1 || id < 0) {
		fclose(f);
		vg_warnx("%s is not a witness state file; sending every checkpoint again "
			 "(duplicates are harmless)", path);
		return 0;
	}
	fclose(f);
	return id;
}

static void state_save(struct vg_witness *w, int64_t seq)
{
	char tmp[1100], buf[128];
	int fd, n;

	snprintf(tmp, sizeof(tmp), "%s.tmp", w->state_path);
	n = snprintf(buf, sizeof(buf), STATE_MAGIC "\nsent_id %" PRId64 "\nsent_seq %" PRId64
		     "\n", w->sent_id, seq);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, buf, (size_t)n) != n || fsync(fd) != 0) {
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		set_error(w, "cannot write %s: the next start may send some checkpoints again",
			  w->state_path);
		return;
	}
	close(fd);
	if (rename(tmp, w->state_path) != 0)
		unlink(tmp);
}

/* ---- TLS ---- */

static void tls_close(struct vg_witness *w)
{
	if (!w->up)
		return;
	mbedtls_ssl_close_notify(&w->ssl);
	mbedtls_ssl_free(&w->ssl);
	mbedtls_net_free(&w->net);
	w->up = 0;
	pthread_mutex_lock(&w->lock);
	w->st.connected = 0;
	pthread_mutex_unlock(&w->lock);
}

/* TCP connect with a timeout (a collector that drops SYNs must not hold a
 * clean stop for minutes), trying each address of host. */
static int tcp_connect(struct vg_witness *w)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res, *ai;
	char port[8];
	int fd = -1, rc;

	snprintf(port, sizeof(port), "%d", w->port);
	rc = getaddrinfo(w->host, port, &hints, &res);
	if (rc != 0) {
		set_error(w, "cannot resolve the collector's name: %s", gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		struct pollfd p;
		int err = 0;
		socklen_t len = sizeof(err);

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		p = (struct pollfd){ .fd = fd, .events = POLLOUT };
		if (errno == EINPROGRESS && poll(&p, 1, CONNECT_TIMEOUT_MS) == 1 &&
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		set_error(w, "cannot connect to the collector (is it running and reachable?)");
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

static int tls_open(struct vg_witness *w)
{
	char err[160];
	int fd, rc;
	uint32_t flags;

	fd = tcp_connect(w);
	if (fd < 0)
		return -1;
	mbedtls_net_init(&w->net);
	w->net.fd = fd;
	mbedtls_ssl_init(&w->ssl);
	if (mbedtls_ssl_setup(&w->ssl, &w->conf) != 0 ||
	    mbedtls_ssl_set_hostname(&w->ssl, w->tls_name) != 0) {
		mbedtls_ssl_free(&w->ssl);
		mbedtls_net_free(&w->net);
		set_error(w, "cannot set up TLS (out of memory?)");
		return -1;
	}
	mbedtls_ssl_set_bio(&w->ssl, &w->net, mbedtls_net_send, mbedtls_net_recv,
			    mbedtls_net_recv_timeout);
	while ((rc = mbedtls_ssl_handshake(&w->ssl)) != 0) {
		if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
			continue;
		flags = mbedtls_ssl_get_verify_result(&w->ssl);
		mbedtls_strerror(rc, err, sizeof(err));
		set_error(w, "the TLS handshake failed: %s%s%s%s", err,
			  flags ? " (the collector's certificate is not signed by the configured "
			  "CA, or does not carry the name " : "", flags ? w->tls_name : "",
			  flags ? ": check the witness block's ca and name)" : "");
		mbedtls_ssl_free(&w->ssl);
		mbedtls_net_free(&w->net);
		return -1;
	}
	w->up = 1;
	pthread_mutex_lock(&w->lock);
	w->st.connected = 1;
	w->st.last_error[0] = '\0';
	pthread_mutex_unlock(&w->lock);
	vg_info("audit witness: connected to %s:%d (TLS, collector certificate verified)",
		w->host, w->port);
	return 0;
}

/* The collector never writes to us: readable means it closed or died. */
static int peer_gone(struct vg_witness *w)
{
	struct pollfd p = { .fd = w->net.fd, .events = POLLIN | POLLRDHUP };

	return poll(&p, 1, 0) == 1;
}

static int tls_write_all(struct vg_witness *w, const char *buf, size_t len)
{
	while (len > 0) {
		int n = mbedtls_ssl_write(&w->ssl, (const unsigned char *)buf, len);

		if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* ---- the thread ---- */

struct pass {
	struct vg_witness *w;
	int64_t unsent;
};

static int send_one(const struct vg_audit_checkpoint *cp, void *ud)
{
	struct pass *p = ud;
	struct vg_witness *w = p->w;
	char frame[1024];
	size_t n;

	if (w->up && peer_gone(w)) {
		set_error(w, "the collector closed the connection; reconnecting");
		tls_close(w);
	}
	if (!w->up) {
		p->unsent++;
		return 0;
	}
	n = vg_witness_frame(cp, w->hostname, frame, sizeof(frame));
	if (n >= sizeof(frame) || tls_write_all(w, frame, n) < 0) {
		set_error(w, "sending to the collector failed; will reconnect and resend");
		tls_close(w);
		p->unsent++;
		return 0;
	}
	if (cp->id > w->sent_id)
		w->sent_id = cp->id;
	state_save(w, cp->seq);
	pthread_mutex_lock(&w->lock);
	w->st.sent_seq = cp->seq;
	w->st.sent_us = vg_time_now_us();
	pthread_mutex_unlock(&w->lock);
	return 0;
}

static void *witness_main(void *arg)
{
	struct vg_witness *w = arg;
	int64_t next_try = 0, backoff = 1000;
	int fresh = 0;

	for (;;) {
		struct pass p = { w, 0 };
		int64_t after = w->sent_id, now, wait_ms = POLL_MS;
		int stopping;

		/* A new connection first resends the last checkpoint sent: it
		 * may have died with the old one. */
		if (fresh && after > 0)
			after--;
		fresh = 0;
		if (vg_audit_checkpoints(w->audit, after, send_one, &p) < 0)
			set_error(w, "cannot read the checkpoints from the audit log");
		now = mono_ms();
		if (p.unsent > 0 && !w->up && now >= next_try) {
			if (tls_open(w) == 0) {
				backoff = 1000;
				fresh = 1;
				continue;
			}
			next_try = now + backoff;
			backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
		}
		pthread_mutex_lock(&w->lock);
		w->st.backlog = p.unsent;
		stopping = w->stopping;
		if (stopping && (p.unsent == 0 || mono_ms() >= w->deadline_ms)) {
			pthread_mutex_unlock(&w->lock);
			break;
		}
		if (p.unsent > 0 && !w->up)
			wait_ms = next_try - mono_ms();
		if (stopping && wait_ms > 200)
			wait_ms = 200;
		if (!w->kicked && wait_ms > 0) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += wait_ms / 1000;
			ts.tv_nsec += (wait_ms % 1000) * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&w->cond, &w->lock, &ts);
		}
		w->kicked = 0;
		pthread_mutex_unlock(&w->lock);
	}
	if (w->st.backlog > 0)
		vg_warnx("audit witness: stopping with %" PRId64 " checkpoint(s) not yet sent; they "
			 "go first at the next start", w->st.backlog);
	tls_close(w);
	return NULL;
}

static void tls_free(struct vg_witness *w)
{
	mbedtls_ssl_config_free(&w->conf);
	mbedtls_x509_crt_free(&w->ca);
	mbedtls_x509_crt_free(&w->crt);
	mbedtls_pk_free(&w->pk);
	mbedtls_ctr_drbg_free(&w->drbg);
	mbedtls_entropy_free(&w->entropy);
}

static void wfree(struct vg_witness *w)
{
	tls_free(w);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w->host);
	free(w->tls_name);
	free(w->state_path);
	free(w->hostname);
	free(w);
}

int vg_witness_start(struct vg_witness **out, struct vg_audit *a,
		     const struct vg_witness_config *cfg, const char *state_path,
		     const char *hostname)
{
	struct vg_witness *w;
	const char *what = NULL, *path = NULL;

	*out = NULL;
	if (a == NULL || cfg == NULL || cfg->host == NULL || state_path == NULL)
		return -VG_EINVAL;
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return -VG_ENOMEM;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	mbedtls_ssl_config_init(&w->conf);
	mbedtls_x509_crt_init(&w->ca);
	mbedtls_x509_crt_init(&w->crt);
	mbedtls_pk_init(&w->pk);
	mbedtls_entropy_init(&w->entropy);
	mbedtls_ctr_drbg_init(&w->drbg);
	w->audit = a;
	w->port = cfg->port > 0 ? cfg->port : 6514;
	w->host = strdup(cfg->host);
	w->tls_name = strdup(cfg->name != NULL ? cfg->name : cfg->host);
	w->state_path = strdup(state_path);
	w->hostname = strdup(hostname ? hostname : "-");
	w->st.sent_seq = -1;
	if (w->host == NULL || w->tls_name == NULL || w->state_path == NULL ||
	    w->hostname == NULL) {
		wfree(w);
		return -VG_ENOMEM;
	}
	if (mbedtls_x509_crt_parse_file(&w->ca, cfg->ca) != 0)
		what = "the CA certificate", path = cfg->ca;
	else if (mbedtls_x509_crt_parse_file(&w->crt, cfg->cert) != 0)
		what = "the box's certificate", path = cfg->cert;
	else if (mbedtls_pk_parse_keyfile(&w->pk, cfg->key, NULL) != 0)
		what = "the box's private key", path = cfg->key;
	if (what != NULL) {
		vg_errx("audit witness: cannot read %s %s (a PEM file vigild's user may read); "
			"fix the witness block of the config", what, path);
		wfree(w);
		return -VG_ECONFIG;
	}
	if (mbedtls_ctr_drbg_seed(&w->drbg, mbedtls_entropy_func, &w->entropy,
				  (const unsigned char *)"vigil-witness", 13) != 0 ||
	    mbedtls_ssl_config_defaults(&w->conf, MBEDTLS_SSL_IS_CLIENT,
					MBEDTLS_SSL_TRANSPORT_STREAM,
					MBEDTLS_SSL_PRESET_DEFAULT) != 0 ||
	    mbedtls_ssl_conf_own_cert(&w->conf, &w->crt, &w->pk) != 0) {
		vg_errx("audit witness: cannot set up TLS (the certificate and key do not match?)");
		wfree(w);
		return -VG_ECRYPTO;
	}
	/* Mutual TLS 1.2 or later; the collector's certificate must chain to
	 * the CA and carry tls_name (mbedTLS 2.28 matches DNS names, not IP
	 * addresses: a collector reached by address is checked by name). */
	mbedtls_ssl_conf_authmode(&w->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&w->conf, &w->ca, NULL);
	mbedtls_ssl_conf_rng(&w->conf, mbedtls_ctr_drbg_random, &w->drbg);
	mbedtls_ssl_conf_min_version(&w->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
				     MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_read_timeout(&w->conf, IO_TIMEOUT_MS);
	w->sent_id = state_load(w->state_path);
	if (pthread_create(&w->thread, NULL, witness_main, w) != 0) {
		wfree(w);
		return -VG_ENOMEM;
	}
	vg_info("audit witness: sending checkpoints to %s:%d (cursor %s, from checkpoint id %"
		PRId64 ")", w->host, w->port, w->state_path, w->sent_id);
	*out = w;
	return 0;
}

void vg_witness_kick(struct vg_witness *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->kicked = 1;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

void vg_witness_status(struct vg_witness *w, struct vg_witness_status *st)
{
	pthread_mutex_lock(&w->lock);
	*st = w->st;
	pthread_mutex_unlock(&w->lock);
}

void vg_witness_stop(struct vg_witness *w, int timeout_ms)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = 1;
	w->deadline_ms = mono_ms() + timeout_ms;
	w->kicked = 1;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	wfree(w);
}
