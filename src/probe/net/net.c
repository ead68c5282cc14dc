/* exitprobe — numeric addresses and non-blocking TCP connects. */
#include "config.h"

#include "probe/net/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int ep_addr_from_ip(ep_addr_t *a, const char *ip, uint16_t port, ep_err_t *err) {
  memset(a, 0, sizeof *a);
  char tmp[INET6_ADDRSTRLEN + 2];
  size_t n = strlen(ip);
  if (n >= 2 && ip[0] == '[' && ip[n - 1] == ']') {
    if (n - 2 >= sizeof tmp) {
      return ep_err_set(err, EP_ERR_MALFORMED, "address '%.64s': too long", ip);
    }
    memcpy(tmp, ip + 1, n - 2);
    tmp[n - 2] = '\0';
    ip = tmp;
  }
  struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;
  struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;
  if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    a->len = sizeof *s4;
    return EP_OK;
  }
  memset(a, 0, sizeof *a);
  if (inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    a->len = sizeof *s6;
    return EP_OK;
  }
  memset(a, 0, sizeof *a);
  return ep_err_set(err, EP_ERR_MALFORMED, "address '%.64s': not a numeric IPv4 or IPv6 address",
                    ip);
}

int ep_addr_parse(ep_addr_t *a, const char *hostport, ep_err_t *err) {
  const char *colon = strrchr(hostport, ':');
  if (colon == NULL || colon == hostport) {
    return ep_err_set(err, EP_ERR_MALFORMED, "address '%.64s': want IP:PORT", hostport);
  }
  size_t hlen = (size_t)(colon - hostport);
  /* A bare IPv6 address has colons of its own: it must be bracketed. */
  if (memchr(hostport, ':', hlen) != NULL && hostport[0] != '[') {
    return ep_err_set(err, EP_ERR_MALFORMED, "address '%.64s': write IPv6 as [ADDR]:PORT",
                      hostport);
  }
  char host[INET6_ADDRSTRLEN + 3];
  if (hlen >= sizeof host) {
    return ep_err_set(err, EP_ERR_MALFORMED, "address '%.64s': host too long", hostport);
  }
  memcpy(host, hostport, hlen);
  host[hlen] = '\0';
  const char *p = colon + 1;
  unsigned long port = 0;
  if (*p == '\0') {
    return ep_err_set(err, EP_ERR_MALFORMED, "address '%.64s': no port", hostport);
  }
  for (; *p != '\0'; p++) {
    if (*p < '0' || *p > '9' || port > 65535) {
      return ep_err_set(err, EP_ERR_MALFORMED, "address '%.64s': bad port", hostport);
    }
    port = port * 10 + (unsigned long)(*p - '0');
  }
  if (port == 0 || port > 65535) {
    return ep_err_set(err, EP_ERR_MALFORMED, "address '%.64s': port out of range", hostport);
  }
  return ep_addr_from_ip(a, host, (uint16_t)port, err);
}

char *ep_addr_format(const ep_addr_t *a, char *out, size_t outcap) {
  char ip[INET6_ADDRSTRLEN];
  if (outcap == 0) {
    return out;
  }
  if (a->ss.ss_family == AF_INET) {
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)&a->ss;
    inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof ip);
    snprintf(out, outcap, "%s:%u", ip, (unsigned)ntohs(s4->sin_port));
  } else if (a->ss.ss_family == AF_INET6) {
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&a->ss;
    inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip);
    snprintf(out, outcap, "[%s]:%u", ip, (unsigned)ntohs(s6->sin6_port));
  } else {
    snprintf(out, outcap, "(no address)");
  }
  return out;
}

uint16_t ep_addr_port(const ep_addr_t *a) {
  if (a->ss.ss_family == AF_INET) {
    return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
  }
  if (a->ss.ss_family == AF_INET6) {
    return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
  }
  return 0;
}

int ep_addr_family(const ep_addr_t *a) { return a->ss.ss_family; }

/* The errors a connect, read or write can end with. */
static const struct {
  int e;
  const char *name;
} errno_names[] = {
    {ECONNREFUSED, "ECONNREFUSED"}, {ETIMEDOUT, "ETIMEDOUT"},
    {EHOSTUNREACH, "EHOSTUNREACH"}, {ENETUNREACH, "ENETUNREACH"},
    {ECONNRESET, "ECONNRESET"},     {ECONNABORTED, "ECONNABORTED"},
    {EPIPE, "EPIPE"},               {EADDRNOTAVAIL, "EADDRNOTAVAIL"},
    {EADDRINUSE, "EADDRINUSE"},     {EAFNOSUPPORT, "EAFNOSUPPORT"},
    {EACCES, "EACCES"},             {EPERM, "EPERM"},
    {ENETDOWN, "ENETDOWN"},         {EHOSTDOWN, "EHOSTDOWN"},
    {EINPROGRESS, "EINPROGRESS"},   {EALREADY, "EALREADY"},
    {EAGAIN, "EAGAIN"},             {EINTR, "EINTR"},
    {EMFILE, "EMFILE"},             {ENFILE, "ENFILE"},
    {ENOBUFS, "ENOBUFS"},           {ENOMEM, "ENOMEM"},
    {EINVAL, "EINVAL"},             {EBADF, "EBADF"},
    {ENOTCONN, "ENOTCONN"},         {EISCONN, "EISCONN"},
    {EPROTO, "EPROTO"},             {ENOENT, "ENOENT"},
    {EEXIST, "EEXIST"},             {ENOSPC, "ENOSPC"},
    {EROFS, "EROFS"},               {EISDIR, "EISDIR"},
    {ENOTDIR, "ENOTDIR"},           {EIO, "EIO"},
};

const char *ep_errno_name(int e, char *scratch, size_t scratchcap) {
  if (e == 0) {
    return "0";
  }
  for (size_t i = 0; i < sizeof errno_names / sizeof errno_names[0]; i++) {
    if (errno_names[i].e == e) {
      return errno_names[i].name;
    }
  }
  if (scratch == NULL || scratchcap == 0) {
    return "errno";
  }
  snprintf(scratch, scratchcap, "errno %d", e);
  return scratch;
}

static int connect_failed(ep_err_t *err, const ep_addr_t *a, int e) {
  char where[EP_ADDR_STRLEN];
  char scratch[24];
  return ep_err_set(err, EP_ERR_IO, "tcp connect to %s: %s (%s)",
                    ep_addr_format(a, where, sizeof where), ep_errno_name(e, scratch, sizeof scratch),
                    strerror(e));
}

/* --outbound-address: [0] IPv4, [1] IPv6; family 0 when unset. */
static ep_addr_t outbound[2];

void ep_tcp_set_outbound(const ep_addr_t *a) {
  if (a == NULL) {
    memset(outbound, 0, sizeof outbound);
    return;
  }
  ep_addr_t *slot = &outbound[a->ss.ss_family == AF_INET6];
  *slot = *a;
  if (a->ss.ss_family == AF_INET6) {
    ((struct sockaddr_in6 *)&slot->ss)->sin6_port = 0;
  } else {
    ((struct sockaddr_in *)&slot->ss)->sin_port = 0;
  }
}

/* Bind fd to the outbound address of a's family, if one is set. 0 or an
 * errno value. IP_BIND_ADDRESS_NO_PORT: the port is picked at connect, so
 * binding does not use up the local port range on its own. */
static int bind_outbound(int fd, const ep_addr_t *a) {
  const ep_addr_t *src = &outbound[a->ss.ss_family == AF_INET6];
  if (src->ss.ss_family != a->ss.ss_family) {
    return 0;
  }
#ifdef IP_BIND_ADDRESS_NO_PORT
  int one = 1;
  (void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
#endif
  return bind(fd, (const struct sockaddr *)&src->ss, src->len) == 0 ? 0 : errno;
}

static int bind_failed(ep_err_t *err, const ep_addr_t *a, int e) {
  char where[EP_ADDR_STRLEN], scratch[24];
  const ep_addr_t *src = &outbound[a->ss.ss_family == AF_INET6];
  return ep_err_set(err, EP_ERR_IO, "tcp connect: cannot bind to the outbound address %s: %s (%s)",
                    ep_addr_format(src, where, sizeof where),
                    ep_errno_name(e, scratch, sizeof scratch), strerror(e));
}

int ep_tcp_connect_start(const ep_addr_t *a, int *fd_out, int *sys_errno, ep_err_t *err) {
  *fd_out = -1;
  *sys_errno = 0;
  if (a->ss.ss_family != AF_INET && a->ss.ss_family != AF_INET6) {
    *sys_errno = EAFNOSUPPORT;
    return ep_err_set(err, EP_ERR_INTERNAL, "tcp connect: no address");
  }
  int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) {
    *sys_errno = errno;
    return connect_failed(err, a, *sys_errno);
  }
  int one = 1;
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int be = bind_outbound(fd, a);
  if (be != 0) {
    close(fd);
    *sys_errno = be;
    return bind_failed(err, a, be);
  }
  if (connect(fd, (const struct sockaddr *)&a->ss, a->len) == 0) {
    *fd_out = fd;
    return EP_OK;
  }
  int e = errno;
  if (e == EINPROGRESS || e == EINTR) {
    *fd_out = fd;
    return EP_NEED_MORE;
  }
  close(fd);
  *sys_errno = e;
  return connect_failed(err, a, e);
}

int ep_tcp_connect_result(int fd, const ep_addr_t *a, int *sys_errno, ep_err_t *err) {
  int e = 0;
  socklen_t elen = sizeof e;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) != 0) {
    e = errno;
  }
  *sys_errno = e;
  if (e != 0) {
    return connect_failed(err, a, e);
  }
  return EP_OK;
}

/* ---- loop-driven connect ---- */

struct ep_tcp_connect {
  ep_loop_t *loop;
  ep_addr_t addr;
  int fd;
  int sys_errno;
  ep_timer_id_t timer;
  ep_timer_id_t report;   /* deferred report of an immediate result */
  ep_tcp_connect_cb cb;
  void *arg;
  ep_err_t err;
};

/* Hand the result to the callback and free the handle. */
static void finish(ep_tcp_connect_t *c, bool ok) {
  ep_loop_timer_cancel(c->loop, c->timer);
  ep_loop_timer_cancel(c->loop, c->report);
  if (c->fd >= 0) {
    ep_loop_del_fd(c->loop, c->fd);
  }
  int fd = c->fd;
  if (!ok && fd >= 0) {
    close(fd);
    fd = -1;
  }
  c->fd = -1;
  ep_tcp_connect_cb cb = c->cb;
  void *arg = c->arg;
  ep_err_t err = c->err;
  int e = ok ? 0 : c->sys_errno;
  free(c);
  cb(arg, fd, e, ok ? NULL : &err);
}

static void on_writable(ep_loop_t *loop, int fd, unsigned events, void *arg) {
  (void)loop;
  (void)events;
  ep_tcp_connect_t *c = arg;
  int rc = ep_tcp_connect_result(fd, &c->addr, &c->sys_errno, &c->err);
  finish(c, rc == EP_OK);
}

static void on_timeout(ep_loop_t *loop, void *arg) {
  (void)loop;
  ep_tcp_connect_t *c = arg;
  c->timer = 0;
  c->sys_errno = ETIMEDOUT;
  char where[EP_ADDR_STRLEN];
  ep_err_set(&c->err, EP_ERR_TIMEOUT, "tcp connect to %s: ETIMEDOUT (no answer within our deadline)",
             ep_addr_format(&c->addr, where, sizeof where));
  finish(c, false);
}

static void on_report(ep_loop_t *loop, void *arg) {
  (void)loop;
  ep_tcp_connect_t *c = arg;
  c->report = 0;
  finish(c, c->fd >= 0 && c->sys_errno == 0);
}

ep_tcp_connect_t *ep_tcp_connect(ep_loop_t *loop, const ep_addr_t *a, int64_t timeout_ms,
                                 ep_tcp_connect_cb cb, void *arg, ep_err_t *err) {
  ep_tcp_connect_t *c = calloc(1, sizeof *c);
  if (c == NULL) {
    ep_err_set(err, EP_ERR_NOMEM, "tcp connect: out of memory");
    return NULL;
  }
  c->loop = loop;
  c->addr = *a;
  c->cb = cb;
  c->arg = arg;
  c->fd = -1;
  int rc = ep_tcp_connect_start(a, &c->fd, &c->sys_errno, &c->err);
  if (rc == EP_NEED_MORE) {
    rc = ep_loop_add_fd(loop, c->fd, EP_LOOP_WRITE, on_writable, c, err);
    if (rc != EP_OK) {
      close(c->fd);
      free(c);
      return NULL;
    }
    if (timeout_ms >= 0) {
      c->timer = ep_loop_timer_in(loop, timeout_ms, on_timeout, c);
      if (c->timer == 0) {
        ep_loop_del_fd(loop, c->fd);
        close(c->fd);
        free(c);
        ep_err_set(err, EP_ERR_NOMEM, "tcp connect: cannot arm the timer");
        return NULL;
      }
    }
    return c;
  }
  /* Connected or failed at once: report on the next turn. */
  c->report = ep_loop_timer_in(loop, 0, on_report, c);
  if (c->report == 0) {
    if (c->fd >= 0) {
      close(c->fd);
    }
    free(c);
    ep_err_set(err, EP_ERR_NOMEM, "tcp connect: cannot arm the timer");
    return NULL;
  }
  return c;
}

void ep_tcp_connect_cancel(ep_tcp_connect_t *c) {
  if (c == NULL) {
    return;
  }
  ep_loop_timer_cancel(c->loop, c->timer);
  ep_loop_timer_cancel(c->loop, c->report);
  if (c->fd >= 0) {
    ep_loop_del_fd(c->loop, c->fd);
    close(c->fd);
  }
  free(c);
}
