/*
 * ipam-es: the CNI IPAM plugin binary. A thin client: it answers VERSION itself and forwards every other call
 * (the CNI_* environment and stdin) to the local ipam-es daemon over a unix socket, then prints the daemon's answer
 * and exits with the daemon's exit code. All CNI logic lives in the daemon (the .ts files of src/cni); a Node process per call
 * would cost ~60 ms, this costs about one exec.
 *
 * Wire format (src/cni/wire.ts): POST /v1/cni HTTP/1.0, each CNI_* variable that is set as a header cni-<name>
 * (bytes outside '!'..'~' and '%' percent-encoded), stdin as the body. Answer: body = stdout, header cni-exit-code.
 *
 * Socket: $IPAM_ES_SOCKET, else /run/ipam-es/cni.sock. Daemon unreachable: CNI error 11 (try again later), or 50
 * (not available) for STATUS.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_SOCKET "/run/ipam-es/cni.sock"
#define CURRENT_VERSION "1.1.0"
/* Keep in step with SUPPORTED_VERSIONS in src/cni/protocol.ts (a test compares them). */
#define SUPPORTED_VERSIONS "[\"0.3.0\",\"0.3.1\",\"0.4.0\",\"1.0.0\",\"1.1.0\"]"
#define MAX_STDIN (1024 * 1024)
#define MAX_ANSWER (4 * 1024 * 1024)
#define TIMEOUT_SECONDS 60

static const char *const ENV_NAMES[] = {"CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_ARGS", "CNI_PATH"};
static const char *const HEADER_NAMES[] = {"cni-command", "cni-containerid", "cni-netns", "cni-ifname", "cni-args", "cni-path"};
#define ENV_COUNT (sizeof(ENV_NAMES) / sizeof(ENV_NAMES[0]))

static char version[16] = CURRENT_VERSION;

struct buf {
  char *data;
  size_t len, cap;
};

static int buf_reserve(struct buf *b, size_t extra) {
  if (b->len + extra <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + extra) cap *= 2;
  char *d = realloc(b->data, cap);
  if (!d) return -1;
  b->data = d;
  b->cap = cap;
  return 0;
}

static int buf_add(struct buf *b, const char *s, size_t n) {
  if (buf_reserve(b, n) < 0) return -1;
  memcpy(b->data + b->len, s, n);
  b->len += n;
  return 0;
}

static int buf_str(struct buf *b, const char *s) { return buf_add(b, s, strlen(s)); }

static void write_all(int fd, const char *s, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, s, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    s += w;
    n -= (size_t)w;
  }
}

/* Prints a CNI error result with a JSON-escaped details string and exits 1. */
static void fail(int code, const char *msg, const char *details) {
  struct buf out = {0};
  char head[128];
  snprintf(head, sizeof head, "{\"cniVersion\":\"%s\",\"code\":%d,\"msg\":\"", version, code);
  buf_str(&out, head);
  buf_str(&out, msg);
  buf_str(&out, "\",\"details\":\"");
  for (const unsigned char *p = (const unsigned char *)details; *p; p++) {
    char esc[8];
    if (*p == '"' || *p == '\\') {
      esc[0] = '\\';
      esc[1] = (char)*p;
      buf_add(&out, esc, 2);
    } else if (*p < 0x20) {
      snprintf(esc, sizeof esc, "\\u%04x", *p);
      buf_str(&out, esc);
    } else {
      buf_add(&out, (const char *)p, 1);
    }
  }
  buf_str(&out, "\"}\n");
  if (out.data) write_all(1, out.data, out.len);
  exit(1);
}

/* The configuration's cniVersion, for answers printed here (a scan, not a JSON parser: digits and dots only). */
static void scan_version(const char *in, size_t len) {
  const char *key = "\"cniVersion\"";
  size_t klen = strlen(key);
  for (size_t i = 0; i + klen < len; i++) {
    if (memcmp(in + i, key, klen) != 0) continue;
    size_t j = i + klen;
    while (j < len && (in[j] == ' ' || in[j] == '\t' || in[j] == '\n' || in[j] == '\r' || in[j] == ':')) j++;
    if (j >= len || in[j] != '"') return;
    size_t k = ++j, n = 0;
    while (k < len && n < sizeof(version) - 1 && ((in[k] >= '0' && in[k] <= '9') || in[k] == '.')) k++, n++;
    if (n == 0 || k >= len || in[k] != '"') return;
    memcpy(version, in + j, n);
    version[n] = '\0';
    return;
  }
}

static void read_stdin(struct buf *in) {
  for (;;) {
    if (buf_reserve(in, 65536) < 0) fail(5, "I/O failure", "out of memory reading stdin");
    ssize_t r = read(0, in->data + in->len, 65536);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) fail(5, "I/O failure", strerror(errno));
    if (r == 0) break;
    in->len += (size_t)r;
    if (in->len > MAX_STDIN) fail(5, "network configuration too large", "stdin exceeds 1048576 bytes");
  }
}

static int add_header(struct buf *req, const char *name, const char *value) {
  static const char hex[] = "0123456789ABCDEF";
  if (buf_str(req, name) < 0 || buf_str(req, ": ") < 0) return -1;
  for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
    if (*p < 0x21 || *p > 0x7e || *p == '%') {
      char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
      if (buf_add(req, e, 3) < 0) return -1;
    } else if (buf_add(req, (const char *)p, 1) < 0) {
      return -1;
    }
  }
  return buf_str(req, "\r\n");
}

/* The value of header `name` (case-insensitive) in the header block, or NULL. */
static const char *find_header(const char *head, size_t head_len, const char *name) {
  size_t n = strlen(name);
  for (const char *p = head; p && p < head + head_len;) {
    const char *eol = memchr(p, '\n', (size_t)(head + head_len - p));
    if ((size_t)(head + head_len - p) > n && strncasecmp(p, name, n) == 0 && p[n] == ':') {
      const char *v = p + n + 1;
      while (*v == ' ' || *v == '\t') v++;
      return v;
    }
    p = eol ? eol + 1 : NULL;
  }
  return NULL;
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const char *command = getenv("CNI_COMMAND");
  struct buf in = {0};
  read_stdin(&in);
  if (in.len > 0) scan_version(in.data, in.len);
  if (command && strcmp(command, "VERSION") == 0) {
    printf("{\"cniVersion\":\"%s\",\"supportedVersions\":%s}\n", version, SUPPORTED_VERSIONS);
    return 0;
  }
  int unavailable = command && strcmp(command, "STATUS") == 0 ? 50 : 11;

  const char *path = getenv("IPAM_ES_SOCKET");
  if (!path || !*path) path = DEFAULT_SOCKET;
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof addr.sun_path) fail(4, "invalid environment variable IPAM_ES_SOCKET", "the socket path is longer than 107 bytes");
  strcpy(addr.sun_path, path);

  struct buf req = {0};
  char line[64];
  snprintf(line, sizeof line, "Content-Length: %zu\r\n", in.len);
  int bad = buf_str(&req, "POST /v1/cni HTTP/1.0\r\nHost: ipam-es\r\nConnection: close\r\nContent-Type: application/json\r\n") < 0 ||
            buf_str(&req, line) < 0;
  for (size_t i = 0; i < ENV_COUNT && !bad; i++) {
    const char *v = getenv(ENV_NAMES[i]);
    if (v) bad = add_header(&req, HEADER_NAMES[i], v) < 0;
  }
  if (bad || buf_str(&req, "\r\n") < 0 || (in.len && buf_add(&req, in.data, in.len) < 0)) fail(5, "I/O failure", "out of memory");

  char why[512];
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail(unavailable, "the ipam-es daemon is unreachable", strerror(errno));
  struct timeval tv = {.tv_sec = TIMEOUT_SECONDS};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  while (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
    if (errno == EINTR) continue;
    snprintf(why, sizeof why, "connect %s: %s (is `ipam serve --socket %s` running on this node?); try again later", path, strerror(errno), path);
    fail(unavailable, "the ipam-es daemon is unreachable", why);
  }
  for (size_t off = 0; off < req.len;) {
    ssize_t w = send(fd, req.data + off, req.len - off, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      snprintf(why, sizeof why, "sending the call to %s: %s", path, w < 0 ? strerror(errno) : "connection closed");
      fail(unavailable, "the ipam-es daemon is unreachable", why);
    }
    off += (size_t)w;
  }

  /* Read until the body is complete (Content-Length) or the daemon closes the connection. */
  struct buf ans = {0};
  const char *body = NULL;
  size_t head_len = 0, want = (size_t)-1;
  while (body == NULL || (size_t)(ans.len - head_len) < want) {
    if (ans.len >= MAX_ANSWER) fail(11, "try again later", "the daemon's answer is too large");
    if (buf_reserve(&ans, 65536) < 0) fail(5, "I/O failure", "out of memory");
    ssize_t r = recv(fd, ans.data + ans.len, 65536, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      snprintf(why, sizeof why, "waiting for the daemon's answer on %s: %s", path, errno == EAGAIN || errno == EWOULDBLOCK ? "no answer within 60 s" : strerror(errno));
      fail(11, "try again later", why);
    }
    if (r == 0) break;
    ans.len += (size_t)r;
    if (body == NULL) {
      for (size_t i = 3; i < ans.len; i++) {
        if (memcmp(ans.data + i - 3, "\r\n\r\n", 4) == 0) {
          head_len = i + 1;
          body = ans.data + head_len;
          const char *cl = find_header(ans.data, head_len, "content-length");
          if (cl) want = strtoul(cl, NULL, 10);
          break;
        }
      }
    }
  }
  close(fd);
  if (buf_reserve(&ans, 1) < 0) fail(5, "I/O failure", "out of memory");
  ans.data[ans.len] = '\0'; /* so the answer can be quoted in a message */
  if (body == NULL || ans.len < 12 || strncmp(ans.data, "HTTP/1.", 7) != 0) {
    snprintf(why, sizeof why, "the daemon on %s closed the connection without a complete answer", path);
    fail(11, "try again later", why);
  }
  body = ans.data + head_len; /* the buffer may have moved */
  size_t body_len = ans.len - head_len;
  if (want != (size_t)-1 && want < body_len) body_len = want;
  const char *exit_text = find_header(ans.data, head_len, "cni-exit-code");
  if (!exit_text) {
    snprintf(why, sizeof why, "the daemon on %s answered HTTP %.3s without a CNI result: %.200s", path, ans.data + 9, body);
    for (char *p = why; *p; p++) if (*p == '\r' || *p == '\n') *p = ' ';
    fail(unavailable, "the ipam-es daemon cannot serve the call", why);
  }
  int code = atoi(exit_text);
  write_all(1, body, body_len);
  return code < 0 || code > 255 ? 1 : code;
}
