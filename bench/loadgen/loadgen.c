/*
 * loadgen: the benchmark's WebSocket load generator.
 *
 * One thread, one epoll loop, non-blocking sockets with TCP_NODELAY. It is an
 * RFC 6455 client (with RFC 7692 permessage-deflate) that is strict about what
 * it receives: the 101 and its Sec-WebSocket-Accept, every frame header, the
 * payload's content and order. Anything wrong is counted as an error and the
 * run is reported with "ok":false, never as a number.
 *
 * It must not be the bottleneck, so the hot path does no allocation: one
 * shared 4 MiB read buffer (a connection keeps only the tail of an incomplete
 * frame), one write per connection per batch, payloads prepared at start-up
 * (pre-compressed for --deflate) and masked while they are copied into the
 * connection's output buffer.
 *
 * The command line and the JSON line it prints are the contract with the
 * runner: bench/README.md, "The load generator's contract". Built by
 * bench/loadgen/build.ts:  cc -O2 -o bench/out/loadgen bench/loadgen/loadgen.c -lz
 *
 * What each mode checks:
 * - every mode: the 101 (status, Upgrade, Connection, Sec-WebSocket-Accept,
 *   only the extension and subprotocol offered), frame headers (unmasked,
 *   known opcodes, minimal lengths, control-frame rules, RSV bits, fragment
 *   sequence), UTF-8 of text, close codes; pings are answered.
 * - echo: each reply is byte-for-byte the message sent, in order, same opcode.
 * - fanout/chat: payloads carry (publisher, seq, send time); per connection
 *   and publisher, seqs arrive in order with none lost or repeated.
 * - all: at the end, nothing sent is left unanswered, and each connection
 *   completes the closing handshake.
 * Several nodes (--ports A,B,C, chat modes only): connection i goes to the
 * i-th port modulo their count, so members and publishers (connections
 * 0..P-1) are spread evenly and every node has publishers; a message is
 * complete once every member on every node has it.
 * Latency: the monotonic clock, into a log-linear histogram (~1.5% buckets).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

/* ------------------------------------------------------------------------ */
/* Small utilities                                                          */

#define GBUF_SIZE (4u << 20)       /* shared read buffer */
#define CARRY_COPY_MAX (256u << 10) /* a bigger partial frame is read in place */
#define MAX_HANDSHAKE 16384
#define MAX_SETUP_INFLIGHT 256     /* connections handshaking at once */
#define CLOSE_WAIT_NS (3ull * 1000000000ull)
#define MAX_ERROR_DETAILS 5
#define ABORT_AFTER_ERRORS 1000
#define PAYLOAD_HEADER 28          /* fanout/chat: 4 hex publisher, 12 hex seq, 12 hex time */
#define PROBE_PUB 0xffffu          /* the publisher id of a barrier probe */
#define MAX_PORTS 64               /* --ports: nodes of one chat */

static const char WS_GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("loadgen: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(2);
}

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q) die("out of memory (%zu bytes)", n);
  return q;
}

static void *xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p) die("out of memory");
  return p;
}

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t next_pow2(uint64_t v) {
  uint64_t p = 1;
  while (p < v) p <<= 1;
  return p;
}

/* ------------------------------------------------------------------------ */
/* PRNG: xoshiro256**. Masks and handshake keys come from here, seeded from */
/* /dev/urandom. RFC 6455 §5.3 wants masks a server cannot predict; this is */
/* a test client talking to our own servers on loopback, where a fast PRNG  */
/* seeded from the kernel's entropy is plenty. Not for production clients. */

static uint64_t rng_s[4];

static uint64_t rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(void) {
  uint64_t r = rotl64(rng_s[1] * 5, 7) * 9;
  uint64_t t = rng_s[1] << 17;
  rng_s[2] ^= rng_s[0];
  rng_s[3] ^= rng_s[1];
  rng_s[1] ^= rng_s[2];
  rng_s[0] ^= rng_s[3];
  rng_s[2] ^= t;
  rng_s[3] = rotl64(rng_s[3], 45);
  return r;
}

static void rng_seed(uint64_t seed) {
  for (int i = 0; i < 4; i++) { /* splitmix64 */
    uint64_t z = (seed += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    rng_s[i] = z ^ (z >> 31);
  }
}

static uint64_t urandom64(void) {
  uint64_t v = 0;
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0 || read(fd, &v, sizeof v) != (ssize_t)sizeof v) die("cannot read /dev/urandom");
  close(fd);
  return v;
}

/* ------------------------------------------------------------------------ */
/* SHA-1 (FIPS 180-4) and base64, for Sec-WebSocket-Accept (RFC 6455 §4.2.2) */

static uint32_t rol32(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

static void sha1_block(uint32_t h[5], const uint8_t *p) {
  uint32_t w[80];
  for (int t = 0; t < 16; t++)
    w[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16 | (uint32_t)p[4 * t + 2] << 8 | p[4 * t + 3];
  for (int t = 16; t < 80; t++) w[t] = rol32(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
  for (int t = 0; t < 80; t++) {
    uint32_t f, k;
    if (t < 20) f = (b & c) | (~b & d), k = 0x5a827999;
    else if (t < 40) f = b ^ c ^ d, k = 0x6ed9eba1;
    else if (t < 60) f = (b & c) | (b & d) | (c & d), k = 0x8f1bbcdc;
    else f = b ^ c ^ d, k = 0xca62c1d6;
    uint32_t tmp = rol32(a, 5) + f + e + k + w[t];
    e = d, d = c, c = rol32(b, 30), b = a, a = tmp;
  }
  h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
}

static void sha1(const uint8_t *data, size_t len, uint8_t out[20]) {
  uint32_t h[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};
  size_t i = 0;
  for (; i + 64 <= len; i += 64) sha1_block(h, data + i);
  uint8_t block[64];
  size_t rem = len - i;
  memcpy(block, data + i, rem);
  block[rem++] = 0x80;
  if (rem > 56) {
    memset(block + rem, 0, 64 - rem);
    sha1_block(h, block);
    rem = 0;
  }
  memset(block + rem, 0, 56 - rem);
  uint64_t bits = (uint64_t)len * 8;
  for (int k = 0; k < 8; k++) block[56 + k] = (uint8_t)(bits >> (56 - 8 * k));
  sha1_block(h, block);
  for (int k = 0; k < 5; k++) {
    out[4 * k] = (uint8_t)(h[k] >> 24);
    out[4 * k + 1] = (uint8_t)(h[k] >> 16);
    out[4 * k + 2] = (uint8_t)(h[k] >> 8);
    out[4 * k + 3] = (uint8_t)h[k];
  }
}

static size_t base64(const uint8_t *in, size_t n, char *out) {
  static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t o = 0, i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    out[o++] = tbl[v >> 18], out[o++] = tbl[(v >> 12) & 63], out[o++] = tbl[(v >> 6) & 63], out[o++] = tbl[v & 63];
  }
  if (n - i == 1) {
    uint32_t v = (uint32_t)in[i] << 16;
    out[o++] = tbl[v >> 18], out[o++] = tbl[(v >> 12) & 63], out[o++] = '=', out[o++] = '=';
  } else if (n - i == 2) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
    out[o++] = tbl[v >> 18], out[o++] = tbl[(v >> 12) & 63], out[o++] = tbl[(v >> 6) & 63], out[o++] = '=';
  }
  out[o] = 0;
  return o;
}

/* ------------------------------------------------------------------------ */
/* UTF-8 validation (RFC 3629 as RFC 6455 §8.1 requires), ASCII fast path.  */

static bool utf8_valid(const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    if (i + 8 <= n) {
      uint64_t w;
      memcpy(&w, s + i, 8);
      if (!(w & 0x8080808080808080ull)) {
        i += 8;
        continue;
      }
    }
    uint8_t c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) len = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef) len = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4) len = 4, cp = c & 0x07;
    else return false; /* continuation byte, overlong 2-byte lead, or > U+10FFFF */
    if (i + len > n) return false;
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xc0) != 0x80) return false;
      cp = cp << 6 | (s[i + k] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff))) return false; /* overlong */
    if (cp >= 0xd800 && cp <= 0xdfff) return false;                                             /* surrogate */
    i += len;
  }
  return true;
}

/* ------------------------------------------------------------------------ */
/* Latency histogram: log-linear, 64 sub-buckets per power of two (~1.5%).  */

#define HIST_SUB_BITS 6
#define HIST_BUCKETS ((64 - HIST_SUB_BITS) * (1 << HIST_SUB_BITS) + (1 << HIST_SUB_BITS))
static uint64_t hist[HIST_BUCKETS];
static uint64_t hist_count, hist_max;

static void hist_add(uint64_t ns) {
  unsigned idx;
  if (ns < (2u << HIST_SUB_BITS)) idx = (unsigned)ns;
  else {
    int msb = 63 - __builtin_clzll(ns);
    int shift = msb - HIST_SUB_BITS;
    idx = (unsigned)((shift) << HIST_SUB_BITS) + (unsigned)(ns >> shift);
  }
  hist[idx]++;
  hist_count++;
  if (ns > hist_max) hist_max = ns;
}

/* The value at quantile q, in microseconds (middle of its bucket). */
static double hist_quantile_us(double q) {
  if (hist_count == 0) return 0;
  uint64_t rank = (uint64_t)(q * (double)hist_count);
  if (rank >= hist_count) rank = hist_count - 1;
  uint64_t seen = 0;
  for (unsigned idx = 0; idx < HIST_BUCKETS; idx++) {
    seen += hist[idx];
    if (seen > rank) {
      if (idx < (2u << HIST_SUB_BITS)) return idx / 1000.0;
      unsigned shift = (idx >> HIST_SUB_BITS) - 1;
      uint64_t m = (idx & ((1u << HIST_SUB_BITS) - 1)) + (1u << HIST_SUB_BITS);
      double lo = (double)(m << shift), hi = (double)((m + 1) << shift), mid = (lo + hi) / 2;
      return (mid > (double)hist_max ? (double)hist_max : mid) / 1000.0;
    }
  }
  return hist_max / 1000.0;
}

/* ------------------------------------------------------------------------ */
/* Options                                                                  */

enum mode { M_ECHO, M_FANOUT, M_IDLE, M_CONNECT, M_CHAT_WSCHAT, M_CHAT_SIO };
static const char *mode_names[] = {"echo", "fanout", "idle", "connect", "chat-wschat", "chat-socketio"};

static struct {
  enum mode mode;
  const char *host, *port, *path;
  const char *ports[MAX_PORTS]; /* --port N, or the list of --ports */
  int n_ports;
  int conns, inflight, publishers;
  size_t size, max_message;
  bool binary, deflate;
  double warmup, duration, rate, timeout;
  bool have_seed;
  uint64_t seed;
} O;

static void usage(void) {
  fputs("usage: loadgen --mode echo|fanout|idle|connect|chat-wschat|chat-socketio --host H (--port N | --ports A,B,...)\n"
        "  [--path /p]\n"
        "  [--conns N] [--inflight K] [--size BYTES] [--binary] [--deflate] [--publishers P] [--rate R]\n"
        "  [--warmup S] [--duration S] [--timeout S] [--seed N] [--max-message BYTES]\n",
        stderr);
  exit(2);
}

static double num_arg(const char *name, const char *v, double lo, double hi) {
  char *end;
  errno = 0;
  double d = strtod(v, &end);
  if (errno || end == v || *end || !(d >= lo && d <= hi)) die("bad value for %s: '%s' (%g..%g)", name, v, lo, hi);
  return d;
}

/* --ports A,B,C: 1 to MAX_PORTS decimal ports (1-65535), none twice, nothing
   else in the list (no spaces, no empty items). The strings point into a
   copy of the argument, kept for the program's life. */
static void parse_ports(const char *v) {
  if (O.n_ports) die("--ports given twice");
  char *list = strdup(v);
  if (!list) die("out of memory");
  char *item = list;
  for (;;) {
    char *comma = strchr(item, ',');
    if (comma) *comma = 0;
    if (!*item) die("--ports: empty item in '%s'", v);
    size_t len = strlen(item);
    if (len > 5 || strspn(item, "0123456789") != len) die("--ports: '%s' is not a port number", item);
    long n = strtol(item, NULL, 10);
    if (n < 1 || n > 65535) die("--ports: %ld is not a port number (1-65535)", n);
    for (int k = 0; k < O.n_ports; k++)
      if (strtol(O.ports[k], NULL, 10) == n) die("--ports: %ld is listed twice", n);
    if (O.n_ports == MAX_PORTS) die("--ports: more than %d ports", MAX_PORTS);
    O.ports[O.n_ports++] = item;
    if (!comma) break;
    item = comma + 1;
  }
}

static void parse_args(int argc, char **argv) {
  O.mode = M_ECHO;
  O.host = "127.0.0.1";
  O.port = NULL;
  O.path = NULL;
  O.conns = 1;
  O.inflight = 1;
  O.publishers = 1;
  O.size = 32;
  O.max_message = 64u << 20;
  O.warmup = 1;
  O.duration = 5;
  O.rate = 1000;
  O.timeout = 10;
  bool have_mode = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define VAL() (v ? (i++, v) : (die("%s needs a value", a), ""))
    if (!strcmp(a, "--mode")) {
      const char *m = VAL();
      bool found = false;
      for (unsigned k = 0; k < sizeof mode_names / sizeof *mode_names; k++)
        if (!strcmp(m, mode_names[k])) O.mode = (enum mode)k, found = true;
      if (!found) die("unknown mode '%s'", m);
      have_mode = true;
    } else if (!strcmp(a, "--host")) O.host = VAL();
    else if (!strcmp(a, "--port")) O.port = VAL();
    else if (!strcmp(a, "--ports")) parse_ports(VAL());
    else if (!strcmp(a, "--path")) O.path = VAL();
    else if (!strcmp(a, "--conns")) O.conns = (int)num_arg(a, VAL(), 1, 1000000);
    else if (!strcmp(a, "--inflight")) O.inflight = (int)num_arg(a, VAL(), 1, 65536);
    else if (!strcmp(a, "--publishers")) O.publishers = (int)num_arg(a, VAL(), 1, 65535);
    else if (!strcmp(a, "--size")) O.size = (size_t)num_arg(a, VAL(), 0, 1 << 30);
    else if (!strcmp(a, "--max-message")) O.max_message = (size_t)num_arg(a, VAL(), 1024, (double)(1u << 31));
    else if (!strcmp(a, "--binary")) O.binary = true;
    else if (!strcmp(a, "--deflate")) O.deflate = true;
    else if (!strcmp(a, "--warmup")) O.warmup = num_arg(a, VAL(), 0, 86400);
    else if (!strcmp(a, "--duration")) O.duration = num_arg(a, VAL(), 0.001, 86400);
    else if (!strcmp(a, "--rate")) O.rate = num_arg(a, VAL(), 0.001, 1e9);
    else if (!strcmp(a, "--timeout")) O.timeout = num_arg(a, VAL(), 0.1, 86400);
    else if (!strcmp(a, "--seed")) O.seed = (uint64_t)num_arg(a, VAL(), 0, 1.8e19), O.have_seed = true;
    else if (!strcmp(a, "--help") || !strcmp(a, "-h")) usage();
    else die("unknown option '%s'", a);
#undef VAL
  }
  if (!have_mode || (!O.port && !O.n_ports)) usage();
  if (O.port && O.n_ports) die("--port and --ports are exclusive");
  if (O.n_ports && O.mode != M_CHAT_WSCHAT && O.mode != M_CHAT_SIO)
    die("--ports is for the chat modes (nodes sharing a room); use --port");
  if (O.port) O.ports[O.n_ports++] = O.port;
  if (!O.path) {
    if (O.mode == M_FANOUT) O.path = "/broadcast";
    else if (O.mode == M_CHAT_WSCHAT) O.path = "/r/bench";
    else if (O.mode == M_CHAT_SIO) O.path = "/socket.io/";
    else O.path = "/";
  }
  if (O.path[0] != '/') die("--path must start with '/'");
  for (const char *p = O.path; *p; p++)
    if ((unsigned char)*p <= 0x20 || *p == 0x7f) die("--path must not contain spaces or control characters");
  if (O.mode == M_FANOUT || O.mode == M_CHAT_WSCHAT || O.mode == M_CHAT_SIO) {
    if (O.publishers > O.conns) die("--publishers (%d) must not exceed --conns (%d)", O.publishers, O.conns);
    if (O.publishers < O.n_ports)
      die("--publishers (%d) must be at least the number of --ports (%d), so that every node has one", O.publishers,
          O.n_ports);
    if (O.size < PAYLOAD_HEADER) die("--size must be at least %d in this mode", PAYLOAD_HEADER);
    if (O.size > (O.mode == M_FANOUT ? 65536 : 60000)) die("--size too large for this mode");
  }
  if (O.size > O.max_message) die("--size exceeds --max-message");
}

/* ------------------------------------------------------------------------ */
/* Connections and global state                                            */

enum cstate { ST_FREE, ST_CONNECTING, ST_HANDSHAKE, ST_OPEN };
enum phase { PH_SETUP, PH_SYNC, PH_RUN, PH_HOLD, PH_DRAIN, PH_CLOSE, PH_DONE };

struct conn {
  int fd;
  uint32_t gen; /* epoll key = index | gen << 32, so a stale event never hits a reused slot */
  int idx;
  enum cstate st;
  uint32_t ev; /* registered epoll events */
  bool ready;  /* counted in n_ready (joined, for the chat modes) */
  bool done;   /* finished normally */
  bool synced; /* saw a barrier probe */
  bool dirty;  /* on the flush list */
  bool close_sent, close_recv;
  uint64_t t_start, deadline;
  char accept[32]; /* the Sec-WebSocket-Accept we expect */
  /* receive side */
  uint8_t *carry;
  size_t carry_len, carry_cap, need;
  bool in_msg, msg_rsv1;
  int msg_op;
  uint8_t *msg;
  size_t msg_len, msg_cap;
  /* permessage-deflate, as negotiated */
  bool deflate, server_no_ctx;
  int client_bits;
  z_stream *inf;
  /* send side */
  uint8_t *out;
  size_t out_off, out_len, out_cap;
  /* echo */
  uint64_t send_seq, recv_seq;
  /* socket.io: 0 awaiting engine.io open, 1 awaiting socket.io connect, 2 joined */
  int sio;
  int pub; /* publisher index, or -1 */
};

struct rec {
  uint64_t t;
  uint32_t remaining;
};

struct publisher {
  struct conn *c;
  uint64_t next, base; /* seqs [base, next) are in flight */
  uint64_t cap;        /* ring size, a power of two */
  struct rec *ring;
  uint64_t credits; /* messages to send at the next flush */
};

static struct conn *C;
static int N;
static struct publisher *P;
static int NP;
static uint64_t *expect;      /* fanout/chat: expect[conn * NP + pub] = next seq from pub */
static uint64_t *echo_ts;     /* echo: send times, ring of echo_ring per connection */
static uint64_t echo_ring;
static int ep = -1, pace_fd = -1;
static uint8_t *gbuf;
static uint64_t now, t_program, last_progress;
static enum phase phase;
static uint64_t t_run, t_meas0, t_meas1, t_phase_deadline, t_next_probe, probes_sent;
static bool aborted, meas_reached;
static int n_ready, n_failed, n_synced, n_alive, n_started, n_peak, n_deflate;
static struct conn **flush_list;
static int n_flush;
static uint64_t paced; /* chat: messages scheduled so far */
static uint64_t rr;    /* chat: round-robin publisher */

/* chat-wschat: message ids must be unique (the server drops a resent id), also
   across runs against one server, so they carry a per-run tag */
static uint32_t run_tag;

/* Where connections go: connection i to targets[i % n_targets]. */
static struct target {
  struct sockaddr_storage addr;
  socklen_t addr_len;
  char host_header[300];
} targets[MAX_PORTS];
static int n_targets;
static char request_target[2048];

/* results, counted over the measured window only */
static uint64_t errors, r_messages, r_deliveries, r_bytes, r_loops;
static char error_detail[2048];
static int n_details;

static bool measuring(uint64_t t) { return phase == PH_RUN && t >= t_meas0 && t < t_meas1; }

static void abort_run(void);

static void record_error(struct conn *c, const char *fmt, va_list ap) {
  errors++;
  if (n_details < MAX_ERROR_DETAILS) {
    size_t len = strlen(error_detail);
    if (len + 8 < sizeof error_detail) {
      if (n_details) len += (size_t)snprintf(error_detail + len, sizeof error_detail - len, "; ");
      if (c) len += (size_t)snprintf(error_detail + len, sizeof error_detail - len, "conn %d: ", c->idx);
      if (len < sizeof error_detail) vsnprintf(error_detail + len, sizeof error_detail - len, fmt, ap);
    }
    n_details++;
  }
}

static void error_run(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  record_error(NULL, fmt, ap);
  va_end(ap);
}

/* ------------------------------------------------------------------------ */
/* Output: framing, masking, batching                                       */

static void set_events(struct conn *c, uint32_t ev) {
  if (c->ev == ev || c->fd < 0) return;
  struct epoll_event e = {.events = ev, .data.u64 = (uint64_t)c->idx | (uint64_t)c->gen << 32};
  if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e) < 0) die("epoll_ctl: %s", strerror(errno));
  c->ev = ev;
}

static uint8_t *out_reserve(struct conn *c, size_t n) {
  if (c->out_off == c->out_len) c->out_off = c->out_len = 0;
  if (c->out_cap - c->out_len < n) {
    if (c->out_off) {
      memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
      c->out_len -= c->out_off;
      c->out_off = 0;
    }
    if (c->out_cap - c->out_len < n) {
      size_t cap = c->out_cap ? c->out_cap : 4096;
      while (cap - c->out_len < n) cap *= 2;
      c->out = xrealloc(c->out, cap);
      c->out_cap = cap;
    }
  }
  return c->out + c->out_len;
}

/* Copy while masking (RFC 6455 §5.3), eight bytes at a time: as cheap as memcpy. */
static void mask_copy(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4]) {
  uint32_t k32;
  memcpy(&k32, key, 4);
  uint64_t k64 = (uint64_t)k32 | (uint64_t)k32 << 32;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, src + i, 8);
    w ^= k64;
    memcpy(dst + i, &w, 8);
  }
  for (; i < n; i++) dst[i] = src[i] ^ key[i & 3];
}

/* Append one masked frame. b0 carries FIN, RSV1 and the opcode. */
static void put_frame(struct conn *c, uint8_t b0, const uint8_t *p, size_t n) {
  uint8_t *o = out_reserve(c, n + 14);
  size_t h = 0;
  o[h++] = b0;
  /* RFC 6455 §5.2: the minimal length encoding; §5.3: a client MUST mask every frame. */
  if (n < 126) o[h++] = (uint8_t)(0x80 | n);
  else if (n < 65536) o[h++] = 0x80 | 126, o[h++] = (uint8_t)(n >> 8), o[h++] = (uint8_t)n;
  else {
    o[h++] = 0x80 | 127;
    for (int k = 7; k >= 0; k--) o[h++] = (uint8_t)((uint64_t)n >> (8 * k));
  }
  uint32_t m = (uint32_t)(rng_next() >> 32);
  memcpy(o + h, &m, 4);
  mask_copy(o + h + 4, p, n, o + h);
  c->out_len += h + 4 + n;
}

static void conn_fail(struct conn *c, uint16_t code, const char *fmt, ...);

/* One write of everything queued; EPOLLOUT only while something is left. */
static void flush(struct conn *c) {
  if (c->fd < 0 || c->st == ST_CONNECTING) return;
  size_t left = c->out_len - c->out_off;
  if (left) {
    ssize_t w = send(c->fd, c->out + c->out_off, left, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EAGAIN || errno == EINTR) w = 0;
      else {
        if (c->close_recv) c->out_off = c->out_len; /* the server has gone after its close: fine */
        else conn_fail(c, 0, "write: %s", strerror(errno));
        return;
      }
    }
    c->out_off += (size_t)w;
    left -= (size_t)w;
  }
  set_events(c, left ? EPOLLIN | EPOLLOUT : EPOLLIN);
}

static void mark_dirty(struct conn *c) {
  if (!c->dirty && c->fd >= 0) {
    c->dirty = true;
    flush_list[n_flush++] = c;
  }
}

/* ------------------------------------------------------------------------ */
/* permessage-deflate (RFC 7692)                                            */

static z_stream *deflaters[16];
static uint8_t *zbuf, *ibuf;
static size_t zbuf_cap, ibuf_cap;

static z_stream *deflater(int bits) {
  if (!deflaters[bits]) {
    z_stream *z = xcalloc(1, sizeof *z);
    /* zlib turns a raw window of 8 into 9; with a server-imposed 8 we send
       stored blocks (level 0), which refer to nothing, so any window is fine. */
    int level = bits == 8 ? 0 : Z_DEFAULT_COMPRESSION;
    if (deflateInit2(z, level, Z_DEFLATED, -(bits == 8 ? 9 : bits), 8, Z_DEFAULT_STRATEGY) != Z_OK)
      die("deflateInit2 failed");
    deflaters[bits] = z;
  }
  return deflaters[bits];
}

/* Compress one message on its own (no context takeover: always decodable,
   whatever the server agreed). Returns a pointer into zbuf. */
static const uint8_t *compress_msg(int bits, const uint8_t *p, size_t n, size_t *outlen) {
  z_stream *z = deflater(bits);
  deflateReset(z);
  size_t need = deflateBound(z, n) + 64;
  if (zbuf_cap < need) zbuf = xrealloc(zbuf, need), zbuf_cap = need;
  z->next_in = (Bytef *)p;
  z->avail_in = (uInt)n;
  z->next_out = zbuf;
  z->avail_out = (uInt)zbuf_cap;
  /* RFC 7692 §7.2.1: compress, flush to a byte boundary... */
  if (deflate(z, Z_SYNC_FLUSH) != Z_OK || z->avail_in != 0 || z->avail_out == 0) die("deflate failed");
  size_t len = zbuf_cap - z->avail_out;
  /* ...and remove the 0x00 0x00 0xff 0xff the flush left at the end. */
  if (len < 4 || memcmp(zbuf + len - 4, "\0\0\xff\xff", 4)) die("deflate output lacks the sync-flush tail");
  *outlen = len - 4;
  return zbuf;
}

static bool conn_error(struct conn *c, uint16_t code, const char *fmt, ...);

/* Inflate one message into ibuf (RFC 7692 §7.2.2): append 0x00 0x00 0xff 0xff
   and decompress. Returns false (after failing the connection) on bad data. */
static bool inflate_msg(struct conn *c, const uint8_t *p, size_t n, size_t *outlen) {
  static const uint8_t tail[4] = {0, 0, 0xff, 0xff};
  z_stream *z = c->inf;
  size_t produced = 0;
  bool ended = false;
  for (int part = 0; part < 2 && !ended; part++) {
    z->next_in = (Bytef *)(part ? tail : p);
    z->avail_in = part ? 4 : (uInt)n;
    for (;;) {
      if (ibuf_cap - produced < 4096) {
        if (ibuf_cap > O.max_message + 8192)
          return conn_error(c, 1009, "inflated message larger than %zu bytes", O.max_message);
        ibuf_cap *= 2;
        ibuf = xrealloc(ibuf, ibuf_cap);
      }
      z->next_out = ibuf + produced;
      z->avail_out = (uInt)(ibuf_cap - produced);
      int rc = inflate(z, Z_SYNC_FLUSH);
      produced = (size_t)(z->next_out - ibuf);
      if (produced > O.max_message)
        return conn_error(c, 1009, "inflated message larger than %zu bytes", O.max_message);
      if (rc == Z_STREAM_END) {
        /* A block with BFINAL set (RFC 7692 §7.2.3.3) ends the stream: more
           payload after it starts a fresh one; our appended tail is dropped. */
        inflateReset(z);
        if (part == 0 && z->avail_in > 0) continue;
        ended = true;
        break;
      }
      if (rc == Z_BUF_ERROR) {
        if (z->avail_out == 0) continue;
        break;
      }
      if (rc != Z_OK) return conn_error(c, 1007, "inflate: %s", z->msg ? z->msg : "error");
      if (z->avail_in == 0 && z->avail_out != 0) break;
    }
  }
  /* RFC 7692 §7.1.1.1: without server_no_context_takeover the server may refer
     to earlier messages, so the stream is kept; with it, start afresh. */
  if (c->server_no_ctx) inflateReset(z);
  *outlen = produced;
  return true;
}

/* Send one data message, compressed when negotiated (RSV1 on the first frame, RFC 7692 §6). */
static void send_msg(struct conn *c, int op, const uint8_t *p, size_t n) {
  if (c->deflate) {
    size_t zl;
    const uint8_t *z = compress_msg(c->client_bits, p, n, &zl);
    put_frame(c, (uint8_t)(0x80 | 0x40 | op), z, zl);
  } else put_frame(c, (uint8_t)(0x80 | op), p, n);
}

static void send_close(struct conn *c, uint16_t code) {
  if (c->close_sent || c->fd < 0 || c->st != ST_OPEN) return;
  uint8_t p[2] = {(uint8_t)(code >> 8), (uint8_t)code};
  put_frame(c, 0x88, p, 2);
  c->close_sent = true;
}

/* ------------------------------------------------------------------------ */
/* Payloads                                                                 */

/* echo: a pool of distinct messages, each carrying its pool index, sent in
   order; the reply to the k-th message must equal pool[k % pool_n]. */
static uint8_t **pool;
static size_t pool_n;
static uint8_t **pool_z[16]; /* compressed, per client window size */
static size_t *pool_zlen[16];

static void put_hex(uint8_t *dst, uint64_t v, int digits) {
  static const char hx[] = "0123456789abcdef";
  for (int i = digits - 1; i >= 0; i--) dst[i] = (uint8_t)hx[v & 15], v >>= 4;
}

static bool get_hex(const uint8_t *s, int digits, uint64_t *v) {
  uint64_t r = 0;
  for (int i = 0; i < digits; i++) {
    uint8_t ch = s[i];
    unsigned d;
    if (ch >= '0' && ch <= '9') d = ch - '0';
    else if (ch >= 'a' && ch <= 'f') d = ch - 'a' + 10;
    else return false;
    r = r << 4 | d;
  }
  *v = r;
  return true;
}

static void build_pool(void) {
  size_t per = O.size ? O.size : 1;
  pool_n = (8u << 20) / per;
  if (pool_n < 16) pool_n = 16;
  if (pool_n > 1024) pool_n = 1024;
  pool = xcalloc(pool_n, sizeof *pool);
  static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  for (size_t k = 0; k < pool_n; k++) {
    uint8_t *m = xrealloc(NULL, O.size);
    if (O.deflate) {
      /* compressible JSON, as a chat or API would send */
      size_t o = 0;
      unsigned rec = 0;
      char tmp[160];
      while (o < O.size) {
        int l = snprintf(tmp, sizeof tmp,
                         "%s{\"id\":%u,\"user\":\"user%u\",\"room\":\"lobby\",\"text\":\"hello world, message %u\","
                         "\"tags\":[\"a\",\"b\"]}",
                         rec ? "," : "[", (unsigned)(k * 100 + rec), rec % 7, rec);
        size_t take = (size_t)l < O.size - o ? (size_t)l : O.size - o;
        memcpy(m + o, tmp, take);
        o += take, rec++;
      }
    } else if (O.binary) {
      for (size_t i = 0; i < O.size; i++) m[i] = (uint8_t)rng_next();
    } else {
      for (size_t i = 0; i < O.size; i++) m[i] = (uint8_t)alnum[rng_next() % (sizeof alnum - 1)];
    }
    if (O.size >= 8) put_hex(m, k, 8);
    pool[k] = m;
  }
}

static void build_pool_z(int bits) {
  if (pool_z[bits]) return;
  pool_z[bits] = xcalloc(pool_n, sizeof(uint8_t *));
  pool_zlen[bits] = xcalloc(pool_n, sizeof(size_t));
  for (size_t k = 0; k < pool_n; k++) {
    size_t zl;
    const uint8_t *z = compress_msg(bits, pool[k], O.size, &zl);
    pool_z[bits][k] = xrealloc(NULL, zl);
    memcpy(pool_z[bits][k], z, zl);
    pool_zlen[bits][k] = zl;
  }
}

/* fanout/chat: header (publisher, seq, send time in µs), then fixed padding. */
static uint8_t *pad;

static void build_pad(void) {
  pad = xrealloc(NULL, O.size + 1);
  for (size_t i = 0; i < O.size; i++) pad[i] = (uint8_t)('a' + (i * 7) % 26);
}

static void make_payload(uint8_t *dst, unsigned pub, uint64_t seq, uint64_t t) {
  put_hex(dst, pub, 4);
  put_hex(dst + 4, seq, 12);
  put_hex(dst + 16, ((t - t_program) / 1000) & 0xffffffffffffull, 12);
  memcpy(dst + PAYLOAD_HEADER, pad + PAYLOAD_HEADER, O.size - PAYLOAD_HEADER);
}

/* ------------------------------------------------------------------------ */
/* Connection life cycle                                                    */

static void conn_start(struct conn *c);
static void begin_close(void);

static void conn_release(struct conn *c) {
  if (c->fd >= 0) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    n_alive--;
  }
  c->st = ST_FREE;
  c->gen++;
  c->ev = 0;
  c->carry_len = c->need = 0;
  c->out_off = c->out_len = 0;
  c->in_msg = false;
  c->msg_len = 0;
  c->close_sent = c->close_recv = false;
  if (c->inf) inflateReset(c->inf);
}

/* RFC 6455 §7.1.7 "fail the WebSocket connection": count the error, send a
   close frame with the code when the connection is open (best effort), drop
   the TCP connection. Returns false so callers can `return conn_error(...)`. */
static bool conn_verror(struct conn *c, uint16_t code, const char *fmt, va_list ap) {
  record_error(c, fmt, ap);
  if (c->fd >= 0) {
    if (code && c->st == ST_OPEN && !c->close_sent) send_close(c, code);
    if (c->close_sent && c->out_len > c->out_off) /* best effort: the close frame (and what precedes it) */
      send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (c->ready) n_ready--, c->ready = false;
    conn_release(c);
    n_failed++;
  }
  /* Counting goes on only while every connection is sound; idle mode keeps
     holding the others (it reports the count it held). */
  if (O.mode != M_IDLE || errors > ABORT_AFTER_ERRORS) abort_run();
  return false;
}

static bool conn_error(struct conn *c, uint16_t code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  conn_verror(c, code, fmt, ap);
  va_end(ap);
  return false;
}

static void conn_fail(struct conn *c, uint16_t code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  conn_verror(c, code, fmt, ap);
  va_end(ap);
}

static void conn_start(struct conn *c) {
  const struct target *to = &targets[c->idx % n_targets];
  int fd = socket(to->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    conn_fail(c, 0, "socket: %s", strerror(errno));
    return;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->fd = fd;
  n_alive++;
  n_started++;
  c->t_start = now;
  c->deadline = now + (uint64_t)(O.timeout * 1e9);
  c->st = ST_CONNECTING;
  c->sio = 0;
  c->ev = EPOLLOUT;
  struct epoll_event e = {.events = EPOLLOUT, .data.u64 = (uint64_t)c->idx | (uint64_t)c->gen << 32};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) < 0) die("epoll_ctl: %s", strerror(errno));
  if (connect(fd, (const struct sockaddr *)&to->addr, to->addr_len) < 0 && errno != EINPROGRESS)
    conn_fail(c, 0, "connect: %s", strerror(errno));
  /* completion (or failure) is reported as EPOLLOUT */
}

static void send_handshake(struct conn *c) {
  uint8_t key[16];
  uint64_t r1 = rng_next(), r2 = rng_next();
  memcpy(key, &r1, 8);
  memcpy(key + 8, &r2, 8);
  char key64[32];
  base64(key, 16, key64);
  /* RFC 6455 §4.1: the accept value is base64(SHA-1(key + GUID)). */
  char cat[80];
  int cl = snprintf(cat, sizeof cat, "%s%s", key64, WS_GUID);
  uint8_t digest[20];
  sha1((const uint8_t *)cat, (size_t)cl, digest);
  base64(digest, 20, c->accept);
  char req[4096];
  int n = snprintf(req, sizeof req,
                   "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s%s\r\n",
                   request_target, targets[c->idx % n_targets].host_header, key64,
                   O.mode == M_CHAT_WSCHAT ? "Sec-WebSocket-Protocol: wschat.v1\r\n" : "",
                   O.deflate ? "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; "
                               "client_max_window_bits\r\n"
                             : "");
  memcpy(out_reserve(c, (size_t)n), req, (size_t)n);
  c->out_len += (size_t)n;
  c->st = ST_HANDSHAKE;
  flush(c);
}

/* ------------------------------------------------------------------------ */
/* The opening handshake's response (RFC 6455 §4.1, client side)            */

static bool ieq(const char *a, size_t an, const char *b) { return strlen(b) == an && !strncasecmp(a, b, an); }

static void trim(const char **s, size_t *n) {
  while (*n && (**s == ' ' || **s == '\t')) (*s)++, (*n)--;
  while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t')) (*n)--;
}

/* Does a comma-separated header value contain this token (case-insensitive)? */
static bool has_token(const char *v, size_t n, const char *tok) {
  size_t i = 0;
  while (i <= n) {
    size_t j = i;
    while (j < n && v[j] != ',') j++;
    const char *t = v + i;
    size_t tl = j - i;
    trim(&t, &tl);
    if (ieq(t, tl, tok)) return true;
    i = j + 1;
  }
  return false;
}

/* RFC 7692 §5 and §7.1: exactly the one extension we offered, with known,
   non-repeated parameters and valid values. */
static bool parse_extensions(struct conn *c, const char *v, size_t n, int *count) {
  size_t i = 0;
  while (i <= n) {
    size_t j = i;
    bool quoted = false;
    while (j < n && (quoted || v[j] != ',')) {
      if (v[j] == '"') quoted = !quoted;
      j++;
    }
    const char *e = v + i;
    size_t el = j - i;
    i = j + 1;
    trim(&e, &el);
    if (!el) return conn_error(c, 0, "handshake: empty element in Sec-WebSocket-Extensions");
    if (++*count > 1) return conn_error(c, 0, "handshake: more than one extension accepted");
    size_t k = 0;
    while (k < el && e[k] != ';') k++;
    const char *name = e;
    size_t nl = k;
    trim(&name, &nl);
    if (!O.deflate || !ieq(name, nl, "permessage-deflate"))
      return conn_error(c, 0, "handshake: extension '%.*s' was not offered", (int)nl, name);
    bool seen[4] = {false, false, false, false};
    c->deflate = true;
    c->client_bits = 15;
    while (k < el) {
      k++; /* skip ';' */
      size_t s = k;
      bool q = false;
      while (k < el && (q || e[k] != ';')) {
        if (e[k] == '"') q = !q;
        k++;
      }
      const char *p = e + s;
      size_t pl = k - s;
      trim(&p, &pl);
      const char *eq = memchr(p, '=', pl);
      const char *pn = p, *pv = NULL;
      size_t pnl = eq ? (size_t)(eq - p) : pl, pvl = 0;
      trim(&pn, &pnl);
      if (eq) {
        pv = eq + 1;
        pvl = (size_t)(p + pl - pv);
        trim(&pv, &pvl);
        if (pvl >= 2 && pv[0] == '"' && pv[pvl - 1] == '"') pv++, pvl -= 2;
      }
      int which = ieq(pn, pnl, "server_no_context_takeover")   ? 0
                  : ieq(pn, pnl, "client_no_context_takeover") ? 1
                  : ieq(pn, pnl, "server_max_window_bits")     ? 2
                  : ieq(pn, pnl, "client_max_window_bits")     ? 3
                                                               : -1;
      if (which < 0) return conn_error(c, 0, "handshake: unknown permessage-deflate parameter '%.*s'", (int)pnl, pn);
      if (seen[which]) return conn_error(c, 0, "handshake: repeated parameter '%.*s'", (int)pnl, pn);
      seen[which] = true;
      if (which <= 1) {
        if (eq) return conn_error(c, 0, "handshake: '%.*s' takes no value", (int)pnl, pn);
        if (which == 0) c->server_no_ctx = true;
        continue;
      }
      /* RFC 7692 §7.1.2: a window size is 8..15 (1*DIGIT, no leading zero);
         a response's client_max_window_bits must have a value. */
      int bits = 0;
      bool okv = pv && pvl >= 1 && pvl <= 2 && pv[0] != '0';
      for (size_t d = 0; okv && d < pvl; d++) okv = pv[d] >= '0' && pv[d] <= '9', bits = bits * 10 + (pv[d] - '0');
      if (!okv || bits < 8 || bits > 15)
        return conn_error(c, 0, "handshake: bad value for '%.*s': '%.*s'", (int)pnl, pn, (int)pvl, pv ? pv : "");
      if (which == 3) c->client_bits = bits;
    }
  }
  return true;
}

static void on_open(struct conn *c);

/* Returns false when the connection failed. */
static bool check_response(struct conn *c, const char *h, size_t len) {
  const char *eol = memmem(h, len, "\r\n", 2);
  size_t sl = (size_t)(eol - h);
  /* RFC 6455 §4.1: the status must be 101; anything else fails the handshake. */
  if (sl < 12 || memcmp(h, "HTTP/1.1 101", 12) || (sl > 12 && h[12] != ' '))
    return conn_error(c, 0, "handshake: expected 101, got '%.*s'", (int)(sl > 80 ? 80 : sl), h);
  bool upgrade = false, connection = false;
  int accepts = 0, protocols = 0, exts = 0;
  const char *p = eol + 2, *end = h + len - 2; /* the final empty line */
  while (p < end) {
    const char *le = memmem(p, (size_t)(end - p) + 2, "\r\n", 2);
    const char *colon = memchr(p, ':', (size_t)(le - p));
    if (!colon || colon == p) return conn_error(c, 0, "handshake: malformed header line '%.*s'", (int)(le - p), p);
    for (const char *q = p; q < colon; q++)
      if (*q <= ' ' || *q >= 0x7f) return conn_error(c, 0, "handshake: bad header name '%.*s'", (int)(colon - p), p);
    const char *name = p, *v = colon + 1;
    size_t nl = (size_t)(colon - p), vl = (size_t)(le - v);
    trim(&v, &vl);
    if (ieq(name, nl, "upgrade")) {
      if (!ieq(v, vl, "websocket")) return conn_error(c, 0, "handshake: Upgrade: '%.*s'", (int)vl, v);
      upgrade = true;
    } else if (ieq(name, nl, "connection")) {
      if (has_token(v, vl, "upgrade")) connection = true;
    } else if (ieq(name, nl, "sec-websocket-accept")) {
      accepts++;
      /* RFC 6455 §4.1 (4): the value must be exactly base64(SHA-1(key + GUID)). */
      if (vl != strlen(c->accept) || memcmp(v, c->accept, vl))
        return conn_error(c, 0, "handshake: Sec-WebSocket-Accept '%.*s', expected '%s'", (int)(vl > 40 ? 40 : vl), v,
                          c->accept);
    } else if (ieq(name, nl, "sec-websocket-extensions")) {
      if (!parse_extensions(c, v, vl, &exts)) return false;
    } else if (ieq(name, nl, "sec-websocket-protocol")) {
      protocols++;
      /* RFC 6455 §4.1 (6): only a subprotocol the client offered. */
      if (O.mode != M_CHAT_WSCHAT || !ieq(v, vl, "wschat.v1") || memcmp(v, "wschat.v1", 9))
        return conn_error(c, 0, "handshake: unexpected Sec-WebSocket-Protocol '%.*s'", (int)vl, v);
    }
    p = le + 2;
  }
  if (!upgrade) return conn_error(c, 0, "handshake: no 'Upgrade: websocket'");
  if (!connection) return conn_error(c, 0, "handshake: no 'Connection: Upgrade'");
  if (accepts != 1) return conn_error(c, 0, "handshake: %d Sec-WebSocket-Accept headers", accepts);
  if (protocols > 1) return conn_error(c, 0, "handshake: repeated Sec-WebSocket-Protocol");
  if (O.mode == M_CHAT_WSCHAT && protocols == 0) return conn_error(c, 0, "handshake: subprotocol wschat.v1 not selected");
  if (c->deflate) {
    if (!c->inf) {
      c->inf = xcalloc(1, sizeof *c->inf);
      if (inflateInit2(c->inf, -15) != Z_OK) die("inflateInit2 failed");
    }
    if (O.mode == M_ECHO) build_pool_z(c->client_bits);
  }
  return true;
}

/* ------------------------------------------------------------------------ */
/* Modes: what to send, and what each received message must be              */

static void echo_send(struct conn *c) {
  size_t k = c->send_seq % pool_n;
  int op = O.binary ? 2 : 1;
  if (c->deflate) put_frame(c, (uint8_t)(0x80 | 0x40 | op), pool_z[c->client_bits][k], pool_zlen[c->client_bits][k]);
  else put_frame(c, (uint8_t)(0x80 | op), pool[k], O.size);
  echo_ts[(uint64_t)c->idx * echo_ring + (c->send_seq & (echo_ring - 1))] = now;
  c->send_seq++;
}

static void progress(void) { last_progress = now; }

static bool on_echo(struct conn *c, int op, const uint8_t *d, size_t n) {
  if (c->recv_seq == c->send_seq) return conn_error(c, 1002, "echo: message %" PRIu64 " was never sent", c->recv_seq);
  size_t k = c->recv_seq % pool_n;
  if (op != (O.binary ? 2 : 1)) return conn_error(c, 1002, "echo: message %" PRIu64 " came back with opcode %d", c->recv_seq, op);
  if (n != O.size || memcmp(d, pool[k], n)) {
    if (n >= 8 && O.size >= 8) {
      uint64_t got;
      if (get_hex(d, 8, &got) && got != k)
        return conn_error(c, 1002, "echo: out of order: expected message #%zu (seq %" PRIu64 "), got #%" PRIu64, k,
                          c->recv_seq, got);
    }
    return conn_error(c, 1002, "echo: message %" PRIu64 " differs from what was sent (%zu bytes, sent %zu)", c->recv_seq,
                      n, O.size);
  }
  uint64_t sent = echo_ts[(uint64_t)c->idx * echo_ring + (c->recv_seq & (echo_ring - 1))];
  c->recv_seq++;
  progress();
  if (measuring(now)) {
    hist_add(now - sent);
    r_messages++, r_deliveries++, r_bytes += n;
  }
  if (phase == PH_RUN) echo_send(c);
  return true;
}

static void probe_send(void) {
  struct conn *c = P[0].c;
  uint8_t buf[256 + 65536];
  uint8_t payload[65536];
  make_payload(payload, PROBE_PUB, probes_sent, now);
  size_t n;
  if (O.mode == M_CHAT_WSCHAT)
    n = (size_t)snprintf((char *)buf, sizeof buf, "{\"type\":\"message\",\"id\":\"%08x-s%" PRIu64 "\",\"text\":\"%.*s\"}",
                         run_tag, probes_sent, (int)O.size, payload);
  else if (O.mode == M_CHAT_SIO) n = (size_t)snprintf((char *)buf, sizeof buf, "42[\"msg\",\"%.*s\"]", (int)O.size, payload);
  else memcpy(buf, payload, n = O.size);
  send_msg(c, O.binary && O.mode == M_FANOUT ? 2 : 1, buf, n);
  probes_sent++;
  mark_dirty(c);
}

/* Grow a chat publisher's ring (never while a fanout is bounded by --inflight). */
static void ring_grow(struct publisher *p) {
  uint64_t cap = p->cap * 2;
  struct rec *r = xcalloc(cap, sizeof *r);
  for (uint64_t s = p->base; s < p->next; s++) r[s & (cap - 1)] = p->ring[s & (p->cap - 1)];
  free(p->ring);
  p->ring = r;
  p->cap = cap;
}

/* Write a publisher's due messages, stamped now: one write per batch. */
static void publisher_send(struct publisher *p) {
  struct conn *c = p->c;
  if (c->fd < 0 || c->st != ST_OPEN || c->close_sent) return;
  uint8_t payload[65536];
  char buf[65536 + 256];
  uint64_t t = mono_ns();
  while (p->credits > 0) {
    /* a server that does not read is not fed without bound: wait for EPOLLOUT */
    if (c->out_len - c->out_off > (1u << 20)) break;
    if (p->next - p->base >= p->cap) ring_grow(p);
    uint64_t seq = p->next++;
    struct rec *r = &p->ring[seq & (p->cap - 1)];
    r->t = t;
    r->remaining = (uint32_t)N;
    make_payload(payload, (unsigned)(p - P), seq, t);
    if (O.mode == M_CHAT_WSCHAT) {
      int n = snprintf(buf, sizeof buf, "{\"type\":\"message\",\"id\":\"%08x-p%d-%" PRIu64 "\",\"text\":\"%.*s\"}",
                       run_tag, (int)(p - P), seq, (int)O.size, payload);
      send_msg(c, 1, (uint8_t *)buf, (size_t)n);
    } else if (O.mode == M_CHAT_SIO) {
      int n = snprintf(buf, sizeof buf, "42[\"msg\",\"%.*s\"]", (int)O.size, payload);
      send_msg(c, 1, (uint8_t *)buf, (size_t)n);
    } else send_msg(c, O.binary ? 2 : 1, payload, O.size);
    p->credits--;
  }
  flush(c);
}

/* A (publisher, seq, time) payload arrived on connection c. */
static bool on_delivery(struct conn *c, const uint8_t *d, size_t n) {
  uint64_t pub, seq, tus;
  if (n != O.size || !get_hex(d, 4, &pub) || !get_hex(d + 4, 12, &seq) || !get_hex(d + 16, 12, &tus))
    return conn_error(c, 1002, "delivery of %zu bytes with a malformed header '%.*s'", n, (int)(n < 28 ? n : 28), d);
  if (memcmp(d + PAYLOAD_HEADER, pad + PAYLOAD_HEADER, O.size - PAYLOAD_HEADER))
    return conn_error(c, 1002, "delivery from publisher %" PRIu64 " seq %" PRIu64 ": corrupted payload", pub, seq);
  if (pub == PROBE_PUB) {
    if (!c->synced) c->synced = true, n_synced++;
    progress();
    return true;
  }
  if (pub >= (uint64_t)NP) return conn_error(c, 1002, "delivery from unknown publisher %" PRIu64, pub);
  if (!c->synced) return conn_error(c, 1002, "delivery before the start barrier");
  uint64_t *e = &expect[(size_t)c->idx * (size_t)NP + pub];
  /* per publisher: every message, in order, exactly once */
  if (seq != *e)
    return conn_error(c, 1002, "publisher %" PRIu64 ": expected seq %" PRIu64 ", got %" PRIu64 " (%s)", pub, *e, seq,
                      seq > *e ? "lost messages" : "duplicate or reordered");
  (*e)++;
  struct publisher *p = &P[pub];
  if (seq < p->base || seq >= p->next) return conn_error(c, 1002, "publisher %" PRIu64 ": seq %" PRIu64 " not in flight", pub, seq);
  struct rec *r = &p->ring[seq & (p->cap - 1)];
  if (tus != (((r->t - t_program) / 1000) & 0xffffffffffffull))
    return conn_error(c, 1002, "publisher %" PRIu64 " seq %" PRIu64 ": wrong send time", pub, seq);
  progress();
  bool m = measuring(now);
  if (m) r_deliveries++, r_bytes += n;
  if (--r->remaining == 0) {
    /* the message is complete when the last connection has it */
    if (m) hist_add(now - r->t), r_messages++;
    while (p->base < p->next && p->ring[p->base & (p->cap - 1)].remaining == 0) p->base++;
    if (O.mode == M_FANOUT && phase == PH_RUN) {
      p->credits++;
      mark_dirty(p->c);
    }
  }
  return true;
}

static void set_ready(struct conn *c) {
  if (!c->ready) {
    c->ready = true;
    if (++n_ready > n_peak) n_peak = n_ready;
    if (c->deflate) n_deflate++;
  }
  progress();
}

static const uint8_t *find(const uint8_t *d, size_t n, const char *s) { return memmem(d, n, s, strlen(s)); }

static bool on_wschat(struct conn *c, int op, const uint8_t *d, size_t n) {
  if (op != 1) return conn_error(c, 1003, "wschat: binary message");
  const uint8_t *t = find(d, n, "\"type\":\"");
  if (!t) return conn_error(c, 1002, "wschat: message without a type: '%.*s'", (int)(n > 80 ? 80 : n), d);
  t += 8;
  size_t rest = n - (size_t)(t - d);
  if (rest > 8 && !memcmp(t, "message\"", 8)) {
    const uint8_t *x = find(d, n, "\"text\":\"");
    if (!x) return conn_error(c, 1002, "wschat: message event without text");
    x += 8;
    const uint8_t *q = memchr(x, '"', n - (size_t)(x - d));
    if (!q) return conn_error(c, 1002, "wschat: unterminated text");
    if (!c->ready) return true; /* history in the welcome is not ours to count */
    size_t tl = (size_t)(q - x);
    if (!on_delivery(c, x, tl)) return false;
    /* The sender must be the publisher the payload names. */
    uint64_t pub = 0;
    get_hex(x, 4, &pub);
    const uint8_t *nk = find(d, n, "\"nick\":\"");
    char want[32];
    int wl = snprintf(want, sizeof want, "m%d\"", pub == PROBE_PUB ? 0 : P[pub].c->idx);
    if (!nk || (size_t)(n - (size_t)(nk + 8 - d)) < (size_t)wl || memcmp(nk + 8, want, (size_t)wl))
      return conn_error(c, 1002, "wschat: message from publisher %" PRIu64 " has the wrong nick", pub);
    return true;
  }
  if (rest > 8 && !memcmp(t, "welcome\"", 8)) {
    set_ready(c);
    return true;
  }
  if (rest > 6 && !memcmp(t, "error\"", 6))
    return conn_error(c, 1000, "wschat: server error: '%.*s'", (int)(n > 160 ? 160 : n), d);
  return true; /* ack, members, notice, info... */
}

static bool on_sio(struct conn *c, int op, const uint8_t *d, size_t n) {
  if (op != 1) return conn_error(c, 1003, "socket.io: binary message");
  if (n == 0) return conn_error(c, 1002, "socket.io: empty engine.io packet");
  switch (d[0]) {
  case '0': /* engine.io open: connect to the default namespace */
    if (c->sio != 0) return conn_error(c, 1002, "socket.io: second open packet");
    if (n < 2 || d[1] != '{') return conn_error(c, 1002, "socket.io: bad open packet '%.*s'", (int)(n > 80 ? 80 : n), d);
    c->sio = 1;
    send_msg(c, 1, (const uint8_t *)"40", 2);
    return true;
  case '2': /* engine.io ping: pong with the same data */
    {
      uint8_t pong[256];
      if (n > sizeof pong) return conn_error(c, 1002, "socket.io: oversized ping");
      memcpy(pong, d, n);
      pong[0] = '3';
      send_msg(c, 1, pong, n);
      return true;
    }
  case '3':
  case '6':
    return true;
  case '1':
    return conn_error(c, 1000, "socket.io: engine.io close packet");
  case '4':
    break;
  default:
    return conn_error(c, 1002, "socket.io: unknown engine.io packet '%.*s'", (int)(n > 40 ? 40 : n), d);
  }
  if (n >= 2 && d[1] == '0') { /* socket.io CONNECT acknowledged: join the room */
    if (c->sio != 1) return conn_error(c, 1002, "socket.io: unexpected CONNECT");
    c->sio = 2;
    static const char join[] = "42[\"join\",\"bench\"]";
    send_msg(c, 1, (const uint8_t *)join, sizeof join - 1);
    set_ready(c);
    return true;
  }
  if (n >= 2 && d[1] == '2') {
    static const char pre[] = "42[\"msg\",\"";
    if (n < sizeof pre - 1 + 2 || memcmp(d, pre, sizeof pre - 1) || memcmp(d + n - 2, "\"]", 2))
      return conn_error(c, 1002, "socket.io: unexpected event '%.*s'", (int)(n > 80 ? 80 : n), d);
    if (c->sio != 2) return conn_error(c, 1002, "socket.io: event before joining");
    return on_delivery(c, d + sizeof pre - 1, n - (sizeof pre - 1) - 2);
  }
  return conn_error(c, 1002, "socket.io: unexpected packet '%.*s'", (int)(n > 80 ? 80 : n), d);
}

static bool on_message(struct conn *c, int op, const uint8_t *d, size_t n) {
  /* RFC 6455 §8.1: a text message must be valid UTF-8, else close with 1007. */
  if (op == 1 && !utf8_valid(d, n)) return conn_error(c, 1007, "text message is not valid UTF-8");
  if (c->close_sent && phase >= PH_DRAIN && O.mode != M_CONNECT) {
    /* late data while closing: validated above, not counted */
    if (O.mode == M_ECHO) return on_echo(c, op, d, n);
    return true;
  }
  switch (O.mode) {
  case M_ECHO:
    return on_echo(c, op, d, n);
  case M_FANOUT:
    if (op != (O.binary ? 2 : 1)) return conn_error(c, 1002, "fanout: delivery with opcode %d", op);
    return on_delivery(c, d, n);
  case M_CHAT_WSCHAT:
    return on_wschat(c, op, d, n);
  case M_CHAT_SIO:
    return on_sio(c, op, d, n);
  case M_IDLE:
  case M_CONNECT:
    return conn_error(c, 1002, "unexpected data message (%zu bytes)", n);
  }
  return true;
}

/* ------------------------------------------------------------------------ */
/* Frames (RFC 6455 §5)                                                     */

static bool valid_close_code(unsigned code) {
  /* RFC 6455 §7.4.1 and the IANA registry; 1005/1006/1015 never go on the wire. */
  if (code >= 1000 && code <= 1003) return true;
  if (code >= 1007 && code <= 1014) return true;
  return code >= 3000 && code <= 4999;
}

static bool on_control(struct conn *c, int op, const uint8_t *d, size_t n) {
  if (op == 0x9) { /* RFC 6455 §5.5.2: answer a ping with a pong carrying the same data */
    if (!c->close_sent) put_frame(c, 0x8a, d, n);
    return true;
  }
  if (op == 0xa) return true; /* unsolicited pong: ignored (§5.5.3) */
  /* close (§5.5.1) */
  unsigned code = 1005;
  if (n == 1) return conn_error(c, 1002, "close frame with a 1-byte payload");
  if (n >= 2) {
    code = (unsigned)d[0] << 8 | d[1];
    if (!valid_close_code(code)) return conn_error(c, 1002, "close frame with invalid code %u", code);
    if (!utf8_valid(d + 2, n - 2)) return conn_error(c, 1007, "close reason is not valid UTF-8");
  }
  c->close_recv = true;
  progress();
  if (!c->close_sent) {
    /* the server closed first: only expected from no server here */
    send_close(c, code == 1005 ? 1000 : (uint16_t)code);
    return conn_error(c, 0, "server closed the connection: code %u '%.*s'", code, (int)(n > 2 ? n - 2 : 0), d + 2);
  }
  return true;
}

/* Parse whole frames from buf; returns bytes consumed, or -1 if c failed. */
static ssize_t parse_frames(struct conn *c, uint8_t *buf, size_t len) {
  size_t pos = 0;
  uint32_t gen = c->gen;
  while (len - pos >= 2) {
    const uint8_t *h = buf + pos;
    bool fin = h[0] & 0x80;
    unsigned rsv = (h[0] >> 4) & 7;
    int op = h[0] & 15;
    uint64_t plen = h[1] & 127;
    size_t hl = 2;
    if (c->close_recv) return conn_error(c, 1002, "frame after the close frame"), -1;
    /* RFC 6455 §5.1: a client MUST close if it receives a masked frame. */
    if (h[1] & 0x80) return conn_error(c, 1002, "masked frame from the server"), -1;
    if (op >= 3 && op <= 7) return conn_error(c, 1002, "reserved opcode %d", op), -1;
    if (op >= 0xb) return conn_error(c, 1002, "reserved opcode %d", op), -1;
    if (op >= 8) {
      /* §5.5: control frames are not fragmented, carry <= 125 bytes, and (RFC 7692 §6) no RSV1 */
      if (!fin) return conn_error(c, 1002, "fragmented control frame"), -1;
      if (plen > 125) return conn_error(c, 1002, "control frame with %" PRIu64 "-byte payload", plen), -1;
      if (rsv) return conn_error(c, 1002, "RSV bits on a control frame"), -1;
    } else {
      /* §5.2: RSV bits are 0 unless an extension says otherwise; RFC 7692 §6:
         permessage-deflate's RSV1 goes on the first frame of a message only */
      if (rsv & 3) return conn_error(c, 1002, "RSV2/RSV3 set"), -1;
      if (rsv & 4) {
        if (!c->deflate) return conn_error(c, 1002, "RSV1 without permessage-deflate"), -1;
        if (op == 0) return conn_error(c, 1002, "RSV1 on a continuation frame"), -1;
      }
      /* §5.4: a continuation needs a message in progress; a new message must not start inside one */
      if (op == 0 && !c->in_msg) return conn_error(c, 1002, "continuation frame without a message"), -1;
      if (op != 0 && c->in_msg) return conn_error(c, 1002, "new data frame inside a fragmented message"), -1;
    }
    if (plen == 126) {
      if (len - pos < 4) break;
      plen = (uint64_t)h[2] << 8 | h[3];
      hl = 4;
      /* §5.2: the minimal number of bytes MUST be used to encode the length */
      if (plen < 126) return conn_error(c, 1002, "non-minimal 16-bit length %" PRIu64, plen), -1;
    } else if (plen == 127) {
      if (len - pos < 10) break;
      plen = 0;
      for (int k = 0; k < 8; k++) plen = plen << 8 | h[2 + k];
      hl = 10;
      if (plen >> 63) return conn_error(c, 1002, "64-bit length with the top bit set"), -1;
      if (plen < 65536) return conn_error(c, 1002, "non-minimal 64-bit length %" PRIu64, plen), -1;
    }
    if (plen > O.max_message || (op == 0 && c->msg_len + plen > O.max_message))
      return conn_error(c, 1009, "message larger than %zu bytes", O.max_message), -1;
    if (len - pos < hl + plen) break;
    const uint8_t *p = buf + pos + hl;
    size_t n = (size_t)plen;
    pos += hl + n;
    bool ok;
    if (op >= 8) ok = on_control(c, op, p, n);
    else if (fin && op != 0) {
      /* the common case: a whole message in one frame, handled in place */
      if (rsv & 4) {
        size_t il;
        ok = inflate_msg(c, p, n, &il) && on_message(c, op, ibuf, il);
      } else ok = on_message(c, op, p, n);
    } else {
      if (op != 0) c->in_msg = true, c->msg_op = op, c->msg_rsv1 = rsv & 4, c->msg_len = 0;
      if (c->msg_cap < c->msg_len + n) {
        size_t cap = c->msg_cap ? c->msg_cap : 65536;
        while (cap < c->msg_len + n) cap *= 2;
        c->msg = xrealloc(c->msg, cap);
        c->msg_cap = cap;
      }
      memcpy(c->msg + c->msg_len, p, n);
      c->msg_len += n;
      ok = true;
      if (fin) {
        c->in_msg = false;
        if (c->msg_rsv1) {
          size_t il;
          ok = inflate_msg(c, c->msg, c->msg_len, &il) && on_message(c, c->msg_op, ibuf, il);
        } else ok = on_message(c, c->msg_op, c->msg, c->msg_len);
      }
    }
    if (!ok || c->fd < 0 || c->gen != gen) return -1;
  }
  c->need = 0;
  if (len - pos >= 2) { /* a frame is incomplete: remember its size for the read path */
    const uint8_t *h = buf + pos;
    uint64_t plen = h[1] & 127;
    if (plen == 126 && len - pos >= 4) c->need = 4 + ((size_t)h[2] << 8 | h[3]);
    else if (plen == 127 && len - pos >= 10) {
      uint64_t l = 0;
      for (int k = 0; k < 8; k++) l = l << 8 | h[2 + k];
      c->need = 10 + (size_t)l;
    }
  }
  return (ssize_t)pos;
}

/* ------------------------------------------------------------------------ */
/* Events                                                                   */

static void carry_reserve(struct conn *c, size_t n) {
  if (c->carry_cap < n) {
    size_t cap = c->carry_cap ? c->carry_cap : 4096;
    while (cap < n) cap *= 2;
    c->carry = xrealloc(c->carry, cap);
    c->carry_cap = cap;
  }
}

static void loop_finished(struct conn *c);

static void on_eof(struct conn *c) {
  if (c->close_sent && c->close_recv) {
    loop_finished(c);
    return;
  }
  if (c->close_recv) { /* the server closed first; the error is already counted */
    conn_release(c);
    return;
  }
  if (c->st == ST_HANDSHAKE) conn_fail(c, 0, "connection closed during the handshake");
  else conn_fail(c, 0, "connection closed by the server without a close frame");
}

static void on_handshake_data(struct conn *c) {
  carry_reserve(c, MAX_HANDSHAKE + 1);
  ssize_t r = read(c->fd, c->carry + c->carry_len, MAX_HANDSHAKE + 1 - c->carry_len);
  if (r < 0) {
    if (errno != EAGAIN && errno != EINTR) conn_fail(c, 0, "read: %s", strerror(errno));
    return;
  }
  if (r == 0) {
    on_eof(c);
    return;
  }
  now = mono_ns();
  c->carry_len += (size_t)r;
  const uint8_t *e = memmem(c->carry, c->carry_len, "\r\n\r\n", 4);
  if (!e) {
    if (c->carry_len > MAX_HANDSHAKE) conn_fail(c, 0, "handshake: response head over %d bytes", MAX_HANDSHAKE);
    return;
  }
  size_t hlen = (size_t)(e - c->carry) + 4;
  if (!check_response(c, (const char *)c->carry, hlen)) return;
  c->st = ST_OPEN;
  c->carry_len -= hlen;
  memmove(c->carry, c->carry + hlen, c->carry_len);
  on_open(c);
  if (c->fd < 0) return;
  if (c->carry_len) { /* frames that came with the 101 */
    ssize_t used = parse_frames(c, c->carry, c->carry_len);
    if (used < 0) return;
    c->carry_len -= (size_t)used;
    memmove(c->carry, c->carry + used, c->carry_len);
  }
  flush(c);
}

static void on_readable(struct conn *c) {
  if (c->st == ST_HANDSHAKE) {
    on_handshake_data(c);
    return;
  }
  uint8_t *buf;
  size_t have, cap;
  bool in_carry = false;
  if (c->carry_len == 0) buf = gbuf, have = 0, cap = GBUF_SIZE;
  else if (c->carry_len <= CARRY_COPY_MAX && c->need <= GBUF_SIZE) {
    memcpy(gbuf, c->carry, c->carry_len);
    buf = gbuf, have = c->carry_len, cap = GBUF_SIZE;
  } else { /* a big frame in progress: read into the connection's own buffer */
    size_t want = c->carry_len + (256u << 10);
    if (c->need > want) want = c->need;
    carry_reserve(c, want);
    buf = c->carry, have = c->carry_len, cap = c->carry_cap, in_carry = true;
  }
  ssize_t r = read(c->fd, buf + have, cap - have);
  if (r < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    if (c->close_sent && c->close_recv) loop_finished(c);
    else conn_fail(c, 0, "read: %s", strerror(errno));
    return;
  }
  if (r == 0) {
    on_eof(c);
    return;
  }
  now = mono_ns();
  size_t total = have + (size_t)r;
  ssize_t used = parse_frames(c, buf, total);
  if (used < 0) return;
  size_t left = total - (size_t)used;
  if (in_carry) memmove(c->carry, c->carry + used, left);
  else if (left) {
    carry_reserve(c, left);
    memcpy(c->carry, buf + used, left);
  }
  c->carry_len = left;
  flush(c);
}

static void on_writable(struct conn *c) {
  if (c->st == ST_CONNECTING) {
    int err = 0;
    socklen_t el = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (err) {
      conn_fail(c, 0, "connect: %s", strerror(err));
      return;
    }
    set_events(c, EPOLLIN);
    send_handshake(c);
    return;
  }
  flush(c);
  if (c->fd >= 0 && c->pub >= 0 && P[c->pub].credits && phase == PH_RUN) mark_dirty(c);
}

/* ------------------------------------------------------------------------ */
/* Phases                                                                   */

static void start_more(void) {
  /* open connections a few hundred at a time, so a listen backlog never overflows */
  while (n_started < N && n_started - n_ready - n_failed < MAX_SETUP_INFLIGHT && phase == PH_SETUP) {
    struct conn *c = &C[n_started];
    conn_start(c);
  }
}

static void on_open(struct conn *c) {
  progress();
  if (O.mode == M_CONNECT) {
    if (phase != PH_RUN && phase != PH_DRAIN) return;
    send_close(c, 1000); /* open-handshake-close: close right away */
    return;
  }
  if (O.mode == M_CHAT_WSCHAT) {
    char join[64];
    int n = snprintf(join, sizeof join, "{\"type\":\"join\",\"nick\":\"m%d\"}", c->idx);
    send_msg(c, 1, (uint8_t *)join, (size_t)n);
    return; /* ready at the welcome */
  }
  if (O.mode == M_CHAT_SIO) return; /* ready once the namespace is connected */
  set_ready(c);
}

static void start_run(void) {
  phase = PH_RUN;
  t_run = now;
  /* Tells the runner that the warm-up starts now (every connection open and,
     for fanout and chat, past the start barrier), so it can time its CPU
     samples to the measured window. */
  printf("RUN\n");
  fflush(stdout);
  t_meas0 = now + (uint64_t)(O.warmup * 1e9);
  t_meas1 = t_meas0 + (uint64_t)(O.duration * 1e9);
  progress();
  if (O.mode == M_ECHO) {
    for (int i = 0; i < N; i++) {
      struct conn *c = &C[i];
      if (c->fd < 0) continue;
      for (int k = 0; k < O.inflight; k++) echo_send(c);
      flush(c);
    }
  } else if (O.mode == M_FANOUT) {
    for (int i = 0; i < NP; i++) {
      P[i].credits = (uint64_t)O.inflight;
      mark_dirty(P[i].c);
    }
  } else if (O.mode == M_CHAT_WSCHAT || O.mode == M_CHAT_SIO) {
    paced = 0;
    pace_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (pace_fd < 0) die("timerfd_create: %s", strerror(errno));
    /* one tick per message up to 1000/s, then 1 ms ticks with a batch each */
    uint64_t iv = O.rate <= 1000 ? (uint64_t)(1e9 / O.rate) : 1000000;
    struct itimerspec its = {.it_interval = {(time_t)(iv / 1000000000), (long)(iv % 1000000000)},
                             .it_value = {0, 1}};
    timerfd_settime(pace_fd, 0, &its, NULL);
    struct epoll_event e = {.events = EPOLLIN, .data.u64 = UINT64_MAX - 1};
    epoll_ctl(ep, EPOLL_CTL_ADD, pace_fd, &e);
  } else if (O.mode == M_CONNECT) {
    for (int i = 0; i < N; i++) conn_start(&C[i]);
  }
}

static void setup_done(void) {
  if (O.mode == M_IDLE) {
    phase = PH_HOLD;
    printf("READY %d\n", n_ready);
    fflush(stdout);
    struct epoll_event e = {.events = EPOLLIN, .data.u64 = UINT64_MAX - 2};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, 0, &e) < 0) {
      /* stdin is a regular file (or /dev/null): epoll cannot watch it; read it now */
      char tmp[4096];
      while (read(0, tmp, sizeof tmp) > 0) {
      }
      begin_close();
    }
    return;
  }
  if (O.mode == M_FANOUT || O.mode == M_CHAT_WSCHAT || O.mode == M_CHAT_SIO) {
    /* Barrier: publisher 0 sends probes until every connection has one, so
       that no connection joins the room after counting has begun. */
    phase = PH_SYNC;
    t_phase_deadline = now + (uint64_t)(O.timeout * 1e9);
    probe_send();
    t_next_probe = now + 100000000ull;
    return;
  }
  start_run();
}

static void begin_close(void) {
  if (phase >= PH_CLOSE) return;
  phase = PH_CLOSE;
  t_phase_deadline = now + CLOSE_WAIT_NS;
  if (pace_fd >= 0) epoll_ctl(ep, EPOLL_CTL_DEL, pace_fd, NULL), close(pace_fd), pace_fd = -1;
  for (int i = 0; i < N; i++) {
    struct conn *c = &C[i];
    if (c->fd < 0) continue;
    if (c->st != ST_OPEN) { /* still connecting: not ours to count any more */
      conn_release(c);
      continue;
    }
    if (!c->close_sent) {
      send_close(c, 1000); /* RFC 6455 §7.1.2: start the closing handshake */
      flush(c);
    }
  }
}

static void abort_run(void) {
  if (phase >= PH_CLOSE) return;
  aborted = true;
  if (phase == PH_RUN && now >= t_meas0) meas_reached = true, t_meas1 = now < t_meas1 ? now : t_meas1;
  begin_close();
}

/* A connection finished its closing handshake (server close frame + TCP close). */
static void loop_finished(struct conn *c) {
  progress();
  if (O.mode == M_CONNECT) {
    uint64_t t0 = c->t_start;
    conn_release(c);
    if (measuring(now)) hist_add(now - t0), r_loops++;
    if (phase == PH_RUN) conn_start(c);
    else c->done = true;
    return;
  }
  conn_release(c);
  c->done = true;
}

static bool outstanding(uint64_t *count) {
  uint64_t n = 0;
  if (O.mode == M_ECHO)
    for (int i = 0; i < N; i++) n += C[i].fd >= 0 ? C[i].send_seq - C[i].recv_seq : 0;
  else if (O.mode == M_FANOUT || O.mode == M_CHAT_WSCHAT || O.mode == M_CHAT_SIO)
    for (int i = 0; i < NP; i++) n += P[i].next - P[i].base;
  else if (O.mode == M_CONNECT)
    for (int i = 0; i < N; i++) n += C[i].fd >= 0;
  *count = n;
  return n > 0;
}

static void pace(void) {
  if (phase != PH_RUN || pace_fd < 0) return;
  uint64_t due = (uint64_t)((double)(now - t_run) * O.rate / 1e9) + 1;
  while (paced < due) {
    struct publisher *p = &P[rr++ % (uint64_t)NP];
    p->credits++;
    mark_dirty(p->c);
    paced++;
  }
}

static void housekeeping(void) {
  uint64_t tmo = (uint64_t)(O.timeout * 1e9);
  switch (phase) {
  case PH_SETUP:
    start_more();
    if (n_ready + n_failed == N && n_started == N) {
      if (O.mode != M_IDLE && n_failed) abort_run();
      else setup_done();
    }
    break;
  case PH_SYNC:
    if (n_synced == N) start_run();
    else if (now >= t_phase_deadline) {
      error_run("start barrier: only %d of %d connections got the probe within %.1f s", n_synced, N, O.timeout);
      abort_run();
    } else if (now >= t_next_probe) {
      probe_send();
      t_next_probe = now + 100000000ull;
    }
    break;
  case PH_RUN:
    if (now >= t_meas1) {
      meas_reached = true;
      phase = PH_DRAIN;
      t_phase_deadline = now + (tmo > CLOSE_WAIT_NS ? tmo : CLOSE_WAIT_NS);
      if (pace_fd >= 0) epoll_ctl(ep, EPOLL_CTL_DEL, pace_fd, NULL), close(pace_fd), pace_fd = -1;
    }
    break;
  case PH_DRAIN: {
    uint64_t left;
    if (!outstanding(&left)) {
      if (O.mode == M_CONNECT) phase = PH_DONE;
      else begin_close();
    } else if (now >= t_phase_deadline) {
      if (O.mode == M_CONNECT) error_run("%" PRIu64 " connect loops did not finish", left);
      else error_run("%" PRIu64 " messages still undelivered %.1f s after the end", left,
                     (double)(now - t_meas1) / 1e9);
      aborted = true;
      begin_close();
    }
    break;
  }
  case PH_CLOSE:
    if (n_alive == 0) phase = PH_DONE;
    else if (now >= t_phase_deadline) {
      for (int i = 0; i < N; i++) {
        struct conn *c = &C[i];
        if (c->fd < 0) continue;
        /* RFC 6455 §7.1.1: the server should close TCP first; we may close
           once both close frames are exchanged. A missing close frame is an error. */
        if (!c->close_recv) {
          errors++;
          if (n_details < MAX_ERROR_DETAILS) {
            char tmp[128];
            snprintf(tmp, sizeof tmp, "conn %d: no close frame from the server within %.0f s", c->idx,
                     CLOSE_WAIT_NS / 1e9);
            size_t l = strlen(error_detail);
            snprintf(error_detail + l, sizeof error_detail - l, "%s%s", n_details ? "; " : "", tmp);
            n_details++;
          }
        }
        conn_release(c);
      }
      phase = PH_DONE;
    }
    break;
  default:
    break;
  }
  /* no progress at all for --timeout: the server is stuck */
  if ((phase == PH_SETUP || phase == PH_SYNC || phase == PH_RUN) && now - last_progress > tmo) {
    error_run("no progress for %.1f s (%s)", O.timeout,
              phase == PH_SETUP ? "opening connections" : phase == PH_SYNC ? "start barrier" : "running");
    abort_run();
  }
  /* connect loops stuck connecting, handshaking or closing (while opening
     connections for the other modes, a busy server may take long with some
     as long as it makes progress with others: the no-progress check covers it) */
  if (O.mode == M_CONNECT && phase <= PH_DRAIN) {
    static uint64_t last_scan;
    if (now - last_scan > 100000000ull) {
      last_scan = now;
      for (int i = 0; i < N; i++) {
        struct conn *c = &C[i];
        if (c->fd >= 0 && now > c->deadline)
          conn_fail(c, 0, "%s did not complete within %.1f s",
                    c->st == ST_CONNECTING ? "TCP connect" : c->st == ST_HANDSHAKE ? "handshake" : "close", O.timeout);
      }
    }
  }
}

/* ------------------------------------------------------------------------ */
/* Result                                                                   */

static void json_string(const char *s) {
  putchar('"');
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') printf("\\%c", ch);
    else if (ch < 0x20 || ch >= 0x7f) printf("\\u%04x", ch);
    else putchar(ch);
  }
  putchar('"');
}

static void print_result(void) {
  double secs = 0;
  if (meas_reached && t_meas1 > t_meas0) secs = (double)(t_meas1 - t_meas0) / 1e9;
  else if (phase != PH_HOLD && t_meas0 && now > t_meas0) secs = (double)(now - t_meas0) / 1e9;
  /* connections that were established (all of them, unless something failed) */
  int conns = O.mode == M_CONNECT ? N : O.mode == M_IDLE ? n_ready : n_peak;
  bool ok = errors == 0 && !aborted && (O.mode == M_IDLE || meas_reached);
  if (O.mode == M_IDLE && n_ready != N) ok = false;
  if (O.mode == M_IDLE) secs = 0;
  double per = secs > 0 ? 1 / secs : 0;
  printf("{\"mode\":\"%s\",\"ok\":%s,\"errors\":%" PRIu64 ",\"error_detail\":", mode_names[O.mode],
         ok ? "true" : "false", errors);
  json_string(error_detail);
  printf(",\"seconds\":%.3f,\"messages\":%" PRIu64 ",\"deliveries\":%" PRIu64 ",\"bytes\":%" PRIu64
         ",\"msgs_per_s\":%.1f,\"deliveries_per_s\":%.1f,\"mb_per_s\":%.2f,\"handshakes_per_s\":%.1f"
         ",\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,\"connections\":%d"
         ",\"deflate\":%s}\n",
         secs, O.mode == M_CONNECT ? r_loops : r_messages, r_deliveries, r_bytes,
         (double)(O.mode == M_CONNECT ? r_loops : r_messages) * per, (double)r_deliveries * per,
         (double)r_bytes * per / 1e6, (double)r_loops * per, hist_quantile_us(0.50), hist_quantile_us(0.99),
         hist_quantile_us(0.999), hist_max / 1000.0, conns,
         O.mode != M_CONNECT && n_peak > 0 && n_deflate == n_peak ? "true" : "false");
  fflush(stdout);
}

/* ------------------------------------------------------------------------ */

static void resolve(void) {
  bool v6 = strchr(O.host, ':') != NULL;
  for (int i = 0; i < O.n_ports; i++) {
    struct target *t = &targets[i];
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
    int rc = getaddrinfo(O.host, O.ports[i], &hints, &res);
    if (rc) die("cannot resolve %s:%s: %s", O.host, O.ports[i], gai_strerror(rc));
    memcpy(&t->addr, res->ai_addr, res->ai_addrlen);
    t->addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    snprintf(t->host_header, sizeof t->host_header, v6 ? "[%s]:%s" : "%s:%s", O.host, O.ports[i]);
  }
  n_targets = O.n_ports;
  if (O.mode == M_CHAT_SIO)
    snprintf(request_target, sizeof request_target, "%s%sEIO=4&transport=websocket", O.path,
             strchr(O.path, '?') ? "&" : "?");
  else snprintf(request_target, sizeof request_target, "%s", O.path);
}

int main(int argc, char **argv) {
  parse_args(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  uint64_t entropy = urandom64();
  /* --seed makes the payloads reproducible; masks and keys always come from
     the kernel's entropy (reseeded below, once the payloads exist) */
  rng_seed(O.have_seed ? O.seed : entropy);
  run_tag = (uint32_t)(entropy >> 32);
  resolve();

  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)O.conns + 32)
    die("--conns %d exceeds the open file limit (%llu)", O.conns, (unsigned long long)rl.rlim_cur);

  N = O.conns;
  C = xcalloc((size_t)N, sizeof *C);
  for (int i = 0; i < N; i++) C[i].fd = -1, C[i].idx = i, C[i].pub = -1;
  flush_list = xcalloc((size_t)N, sizeof *flush_list);
  gbuf = xrealloc(NULL, GBUF_SIZE);
  ibuf_cap = 256u << 10;
  ibuf = xrealloc(NULL, ibuf_cap);
  t_program = mono_ns();
  now = last_progress = t_program;

  if (O.mode == M_ECHO) {
    build_pool();
    echo_ring = next_pow2((uint64_t)O.inflight);
    echo_ts = xcalloc((size_t)N * echo_ring, sizeof *echo_ts);
  }
  if (O.mode == M_FANOUT || O.mode == M_CHAT_WSCHAT || O.mode == M_CHAT_SIO) {
    build_pad();
    NP = O.publishers;
    P = xcalloc((size_t)NP, sizeof *P);
    for (int i = 0; i < NP; i++) {
      P[i].c = &C[i];
      C[i].pub = i;
      P[i].cap = O.mode == M_FANOUT ? next_pow2((uint64_t)O.inflight) : 1024;
      P[i].ring = xcalloc(P[i].cap, sizeof *P[i].ring);
    }
    expect = xcalloc((size_t)N * (size_t)NP, sizeof *expect);
  }

  rng_seed(urandom64());

  ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1: %s", strerror(errno));
  if (O.mode == M_CONNECT) start_run();
  else {
    phase = PH_SETUP;
    start_more();
  }

  static struct epoll_event evs[1024];
  while (phase != PH_DONE) {
    int timeout = phase == PH_HOLD ? 1000 : 10;
    int n = epoll_wait(ep, evs, 1024, timeout);
    if (n < 0 && errno != EINTR) die("epoll_wait: %s", strerror(errno));
    now = mono_ns();
    for (int i = 0; i < n; i++) {
      uint64_t key = evs[i].data.u64;
      if (key == UINT64_MAX - 1) { /* pacing tick */
        uint64_t ticks;
        if (read(pace_fd, &ticks, sizeof ticks) < 0) {
        }
        continue;
      }
      if (key == UINT64_MAX - 2) { /* idle mode: stdin */
        char tmp[4096];
        ssize_t r = read(0, tmp, sizeof tmp);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
          epoll_ctl(ep, EPOLL_CTL_DEL, 0, NULL);
          now = mono_ns();
          begin_close();
        }
        continue;
      }
      struct conn *c = &C[(uint32_t)key];
      if (c->gen != (uint32_t)(key >> 32) || c->fd < 0) continue; /* stale */
      uint32_t e = evs[i].events;
      if (e & EPOLLOUT) on_writable(c);
      if (c->fd >= 0 && c->gen == (uint32_t)(key >> 32) && (e & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
        if (c->st == ST_CONNECTING) on_writable(c); /* the error is in SO_ERROR */
        else on_readable(c);
      }
    }
    now = mono_ns();
    pace();
    housekeeping();
    for (int i = 0; i < n_flush; i++) {
      struct conn *c = flush_list[i];
      c->dirty = false;
      if (c->fd < 0) continue;
      if (c->pub >= 0 && phase == PH_RUN) publisher_send(&P[c->pub]);
      else flush(c);
    }
    n_flush = 0;
  }
  print_result();
  return 0;
}
