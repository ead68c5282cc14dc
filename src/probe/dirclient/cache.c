/* exitprobe — the on-disk cache: atomic replace, bounded read. */
#include "config.h"

#include "probe/dirclient/cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/timeutil.h"
#include "lib/vec.h"

#define EP_CACHE_PATH_MAX 4096

struct ep_cache {
  char dir[EP_CACHE_PATH_MAX];
  int dirfd;
  unsigned tmp_counter;
};

int ep_cache_default_dir(char *out, size_t outcap, ep_err_t *err) {
  const char *xdg = getenv("XDG_CACHE_HOME");
  int n;
  if (xdg != NULL && xdg[0] == '/') {
    n = snprintf(out, outcap, "%s/exitprobe", xdg);
  } else {
    const char *home = getenv("HOME");
    if (home == NULL || home[0] != '/') {
      return ep_err_set(err, EP_ERR_STATE,
                        "cache: neither XDG_CACHE_HOME nor HOME is an absolute path");
    }
    n = snprintf(out, outcap, "%s/.cache/exitprobe", home);
  }
  if (n < 0 || (size_t)n >= outcap) {
    return ep_err_set(err, EP_ERR_LIMIT, "cache: directory path too long");
  }
  return EP_OK;
}

int ep_cache_check_name(const char *name, ep_err_t *err) {
  size_t n = strlen(name);
  if (n == 0 || n > EP_CACHE_NAME_MAX || name[0] == '.') {
    return ep_err_set(err, EP_ERR_MALFORMED, "cache: bad name '%.80s'", name);
  }
  for (size_t i = 0; i < n; i++) {
    char ch = name[i];
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_' || ch == '.';
    if (!ok) {
      return ep_err_set(err, EP_ERR_MALFORMED, "cache: bad character in name '%.80s'", name);
    }
  }
  return EP_OK;
}

static int io_fail(ep_err_t *err, const char *what, const char *path, int e) {
  return ep_err_set(err, EP_ERR_IO, "cache: %s %s: %s", what, path, strerror(e));
}

/* mkdir -p with mode 0700 for what we create. */
static int make_dirs(const char *dir, ep_err_t *err) {
  char path[EP_CACHE_PATH_MAX];
  size_t n = strlen(dir);
  if (n == 0 || n >= sizeof path) {
    return ep_err_set(err, EP_ERR_MALFORMED, "cache: bad directory path");
  }
  memcpy(path, dir, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (path[i] != '/' && path[i] != '\0') {
      continue;
    }
    char saved = path[i];
    path[i] = '\0';
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
      int e = errno;
      return io_fail(err, "cannot create", path, e);
    }
    path[i] = saved;
  }
  return EP_OK;
}

ep_cache_t *ep_cache_open(const char *dir, ep_err_t *err) {
  ep_cache_t *c = calloc(1, sizeof *c);
  if (c == NULL) {
    ep_err_set(err, EP_ERR_NOMEM, "cache: out of memory");
    return NULL;
  }
  c->dirfd = -1;
  if (dir == NULL) {
    if (ep_cache_default_dir(c->dir, sizeof c->dir, err) != EP_OK) {
      free(c);
      return NULL;
    }
  } else {
    int n = snprintf(c->dir, sizeof c->dir, "%s", dir);
    if (n <= 0 || (size_t)n >= sizeof c->dir) {
      ep_err_set(err, EP_ERR_MALFORMED, "cache: bad directory path");
      free(c);
      return NULL;
    }
  }
  if (make_dirs(c->dir, err) != EP_OK) {
    free(c);
    return NULL;
  }
  c->dirfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (c->dirfd < 0) {
    int e = errno;
    io_fail(err, "cannot open", c->dir, e);
    free(c);
    return NULL;
  }
  return c;
}

void ep_cache_free(ep_cache_t *c) {
  if (c == NULL) {
    return;
  }
  if (c->dirfd >= 0) {
    close(c->dirfd);
  }
  free(c);
}

const char *ep_cache_dir(const ep_cache_t *c) { return c->dir; }

static int write_all(int fd, const uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) {
        continue;
      }
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int cache_write(ep_cache_t *c, const char *name, const void *data, size_t n, bool durable,
                       ep_err_t *err) {
  int rc = ep_cache_check_name(name, err);
  if (rc != EP_OK) {
    return rc;
  }
  char tmp[EP_CACHE_NAME_MAX + 48];
  int fd = -1;
  for (int tries = 0; tries < 16 && fd < 0; tries++) {
    snprintf(tmp, sizeof tmp, ".%s.tmp.%ld.%u.%lld", name, (long)getpid(), c->tmp_counter++,
             (long long)(ep_now_ms() % 1000000));
    fd = openat(c->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 && errno != EEXIST) {
      int e = errno;
      return io_fail(err, "cannot create a temporary file in", c->dir, e);
    }
  }
  if (fd < 0) {
    return ep_err_set(err, EP_ERR_IO, "cache: no free temporary name in %s", c->dir);
  }
  if (write_all(fd, data, n) != 0 || (durable && fsync(fd) != 0)) {
    int e = errno;
    close(fd);
    unlinkat(c->dirfd, tmp, 0);
    return ep_err_set(err, EP_ERR_IO, "cache: writing %s/%s: %s", c->dir, name, strerror(e));
  }
  if (close(fd) != 0) {
    int e = errno;
    unlinkat(c->dirfd, tmp, 0);
    return ep_err_set(err, EP_ERR_IO, "cache: writing %s/%s: %s", c->dir, name, strerror(e));
  }
  if (renameat(c->dirfd, tmp, c->dirfd, name) != 0) {
    int e = errno;
    unlinkat(c->dirfd, tmp, 0);
    return ep_err_set(err, EP_ERR_IO, "cache: replacing %s/%s: %s", c->dir, name, strerror(e));
  }
  if (durable) {
    (void)fsync(c->dirfd);  /* make the rename durable; best effort */
  }
  return EP_OK;
}

int ep_cache_write(ep_cache_t *c, const char *name, const void *data, size_t n, ep_err_t *err) {
  return cache_write(c, name, data, n, true, err);
}

int ep_cache_write_hint(ep_cache_t *c, const char *name, const void *data, size_t n,
                        ep_err_t *err) {
  return cache_write(c, name, data, n, false, err);
}

int ep_cache_read(ep_cache_t *c, const char *name, size_t cap, uint8_t **out, size_t *len,
                  ep_err_t *err) {
  *out = NULL;
  *len = 0;
  int rc = ep_cache_check_name(name, err);
  if (rc != EP_OK) {
    return rc;
  }
  int fd = openat(c->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT) {
      return EP_CACHE_MISS;
    }
    return ep_err_set(err, EP_ERR_IO, "cache: cannot open %s/%s: %s", c->dir, name, strerror(e));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return ep_err_set(err, EP_ERR_IO, "cache: %s/%s is not a regular file", c->dir, name);
  }
  if ((uint64_t)st.st_size > (uint64_t)cap) {
    close(fd);
    return ep_err_set(err, EP_ERR_LIMIT, "cache: %s/%s has %lld bytes, more than the cap of %zu",
                      c->dir, name, (long long)st.st_size, cap);
  }
  /* Read up to cap + 1 bytes: a file that grew meanwhile is caught too.
   * The buffer keeps one byte more for the NUL. */
  uint8_t *buf = NULL;
  size_t alloc = 0;
  if (EP_VEC_RESERVE(buf, alloc, (size_t)st.st_size + 2, cap + 2, "cache", NULL) != EP_OK) {
    close(fd);
    return ep_err_set(err, EP_ERR_NOMEM, "cache: out of memory for %s", name);
  }
  size_t got = 0;
  for (;;) {
    if (got + 1 == alloc) {
      if (got > cap) {
        break;
      }
      if (EP_VEC_RESERVE(buf, alloc, alloc + 1, cap + 2, "cache", NULL) != EP_OK) {
        free(buf);
        close(fd);
        return ep_err_set(err, EP_ERR_NOMEM, "cache: out of memory for %s", name);
      }
    }
    ssize_t r = read(fd, buf + got, alloc - 1 - got);
    if (r < 0) {
      if (errno == EINTR) {
        continue;
      }
      int e = errno;
      free(buf);
      close(fd);
      return ep_err_set(err, EP_ERR_IO, "cache: reading %s/%s: %s", c->dir, name, strerror(e));
    }
    if (r == 0) {
      break;
    }
    got += (size_t)r;
  }
  close(fd);
  if (got > cap) {
    free(buf);
    return ep_err_set(err, EP_ERR_LIMIT, "cache: %s/%s is larger than the cap of %zu bytes",
                      c->dir, name, cap);
  }
  buf[got] = 0;
  *out = buf;
  *len = got;
  return EP_OK;
}

int ep_cache_mtime(ep_cache_t *c, const char *name, time_t *mtime, ep_err_t *err) {
  int rc = ep_cache_check_name(name, err);
  if (rc != EP_OK) {
    return rc;
  }
  struct stat st;
  if (fstatat(c->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    int e = errno;
    if (e == ENOENT) {
      return EP_CACHE_MISS;
    }
    return ep_err_set(err, EP_ERR_IO, "cache: cannot stat %s/%s: %s", c->dir, name, strerror(e));
  }
  *mtime = st.st_mtime;
  return EP_OK;
}

int ep_cache_remove(ep_cache_t *c, const char *name, ep_err_t *err) {
  int rc = ep_cache_check_name(name, err);
  if (rc != EP_OK) {
    return rc;
  }
  if (unlinkat(c->dirfd, name, 0) != 0 && errno != ENOENT) {
    int e = errno;
    return ep_err_set(err, EP_ERR_IO, "cache: cannot remove %s/%s: %s", c->dir, name, strerror(e));
  }
  return EP_OK;
}
