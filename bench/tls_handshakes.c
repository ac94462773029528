/* LD_PRELOAD'ed into wrk by bench/run.sh for its TLS "new connection per request" rows.
 *
 * wrk (OpenSSL) ends a connection with SSL_shutdown and SSL_clear and reuses the SSL object
 * for the next one. SSL_clear keeps the session, so with TLS 1.3 session tickets every new
 * connection after the first offers that ticket and the server resumes it: a run of
 * `wrk -H 'Connection: close' https://...` measures resumed handshakes (no certificate, no
 * signature), not full ones. This wraps two of libssl's functions:
 *
 *   - SSL_clear: with TLS_NO_RESUME=1 it drops the kept session after the real SSL_clear, so
 *     the next ClientHello offers no ticket and every handshake is a full one (ECDHE and the
 *     server's certificate and signature), whatever the server's ticket settings;
 *   - SSL_connect: it counts each completed handshake as full or resumed (SSL_session_reused,
 *     the server's answer to the ticket offered), written as "FULL RESUMED" to
 *     $TLS_HANDSHAKES_OUT when wrk exits: the run's own check of what it measured.
 *
 *   cc -O2 -shared -fPIC -o tls_handshakes.so bench/tls_handshakes.c -ldl   (no -lssl: wrk has it)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

/* libssl's own, resolved in wrk's process: no OpenSSL headers needed to build this. */
typedef struct ssl_st SSL;
typedef struct ssl_session_st SSL_SESSION;
int SSL_session_reused(const SSL *s);
int SSL_set_session(SSL *s, SSL_SESSION *session);

static unsigned long full, resumed;

int SSL_connect(SSL *s) {
  static int (*real)(SSL *);
  if (!real) real = (int (*)(SSL *))dlsym(RTLD_NEXT, "SSL_connect");
  int r = real(s);
  if (r == 1) __atomic_fetch_add(SSL_session_reused(s) ? &resumed : &full, 1, __ATOMIC_RELAXED);
  return r;
}

int SSL_clear(SSL *s) {
  static int (*real)(SSL *);
  if (!real) real = (int (*)(SSL *))dlsym(RTLD_NEXT, "SSL_clear");
  int r = real(s);
  const char *no = getenv("TLS_NO_RESUME");
  if (no && *no == '1') SSL_set_session(s, NULL);
  return r;
}

__attribute__((destructor)) static void report(void) {
  const char *out = getenv("TLS_HANDSHAKES_OUT");
  if (!out || full + resumed == 0) return; /* not wrk (e.g. timeout or env before it) */
  FILE *f = fopen(out, "w");
  if (!f) return;
  fprintf(f, "%lu %lu\n", full, resumed);
  fclose(f);
}
