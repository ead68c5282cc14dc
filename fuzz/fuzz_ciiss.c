/* exitprobe — fuzz harness: ContactInfo fields of a contact line
 * (src/dir/ciiss.h) and the record block built from them
 * (src/probe/engine/contact.h).
 *
 * Properties: every field found lies inside the input, is printable ASCII
 * and at most EP_CAP_CIISS_FIELD bytes; a decoded email has exactly one '@'
 * and no byte a mail header could be split by; the JSON block parses back
 * and its "contact" holds at most EP_CAP_CONTACT input bytes. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dir/ciiss.h"
#include "lib/json.h"
#include "probe/engine/contact.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                    \
  do {                                                                      \
    if (!(cond)) {                                                          \
      fprintf(stderr, "fuzz_ciiss: property failed: %s (line %d)\n", #cond, \
              __LINE__);                                                    \
      abort();                                                              \
    }                                                                       \
  } while (0)

static void check_val(const ep_ciiss_val_t *v, const char *s, size_t n) {
  if (v->p == NULL) {
    return;
  }
  FUZZ_CHECK(v->p >= s && v->p + v->len <= s + n);
  FUZZ_CHECK(v->len > 0 && v->len <= EP_CAP_CIISS_FIELD);
  for (size_t i = 0; i < v->len; i++) {
    FUZZ_CHECK(v->p[i] > 0x20 && v->p[i] < 0x7f);
  }
}

static void check_json(const char *s, size_t n) {
  ep_relay_contact_t c;
  ep_relay_contact_init(&c);
  ep_err_t err = {0};
  FUZZ_CHECK(ep_relay_contact_set(&c, s, n, s, n, s, n, &err) == EP_OK);
  ep_buf_t b;
  ep_buf_init(&b, 1024 * 1024, "fuzz", 0);
  FUZZ_CHECK(ep_buf_append(&b, "{", 1, &err) == EP_OK);
  FUZZ_CHECK(ep_relay_contact_json(&c, &b, false, &err) == EP_OK);
  FUZZ_CHECK(ep_buf_append(&b, "}", 1, &err) == EP_OK);
  ep_json_t *j = ep_json_parse((const char *)b.data, b.len, &err);
  FUZZ_CHECK(j != NULL);
  size_t cl = 0;
  FUZZ_CHECK(ep_json_str(ep_json_get(j, "contact"), &cl) != NULL);
  /* a byte that is not UTF-8 comes back as U+0080..U+00FF: two bytes */
  FUZZ_CHECK(cl <= 2 * n && cl <= 2 * EP_CAP_CONTACT);
  FUZZ_CHECK(ep_json_count(ep_json_get(j, "family")) == c.n_family);
  ep_json_free(j);
  ep_buf_free(&b);
  ep_relay_contact_clear(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  ep_ciiss_t c;
  ep_ciiss_parse(s, size, &c);
  check_val(&c.email, s, size);
  check_val(&c.url, s, size);
  check_val(&c.version, s, size);
  check_val(&c.proof, s, size);
  char mail[EP_CAP_CIISS_FIELD + 1];
  if (ep_ciiss_email(&c, mail, sizeof mail)) {
    const char *at = strchr(mail, '@');
    FUZZ_CHECK(at != NULL && strchr(at + 1, '@') == NULL && at != mail && at[1] != '\0');
    FUZZ_CHECK(strpbrk(mail, "\r\n<>,;:\" \t()") == NULL);
  } else {
    FUZZ_CHECK(mail[0] == '\0');
  }
  check_json(s, size);
  return 0;
}
