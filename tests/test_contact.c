/* exitprobe — unit tests of the ContactInfo parser (src/dir/ciiss) and the
 * contact block of a record (src/probe/engine/contact, result.c). */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "dir/ciiss.h"
#include "lib/json.h"
#include "probe/engine/contact.h"
#include "probe/engine/result.h"
#include "testutil.h"

static const char *email_of(const char *line, char *buf, size_t cap) {
  ep_ciiss_t c;
  ep_ciiss_parse(line, strlen(line), &c);
  return ep_ciiss_email(&c, buf, cap) ? buf : NULL;
}

static void ck_val(const ep_ciiss_val_t *v, const char *want) {
  if (want == NULL) {
    ck_assert_ptr_null(v->p);
    return;
  }
  ck_assert_ptr_nonnull(v->p);
  ck_assert_uint_eq(v->len, strlen(want));
  ck_assert_int_eq(memcmp(v->p, want, v->len), 0);
}

START_TEST(ciiss_fields) {
  const char *s = "Jane <jane AT x> email:tor-op[]example.org url:https://example.org "
                  "proof:uri-rsa ciissversion:2 abuse:abuse[]example.org";
  ep_ciiss_t c;
  ep_ciiss_parse(s, strlen(s), &c);
  ck_val(&c.email, "tor-op[]example.org");
  ck_val(&c.url, "https://example.org");
  ck_val(&c.proof, "uri-rsa");
  ck_val(&c.version, "2");
  char m[64];
  ck_assert_str_eq(email_of(s, m, sizeof m), "tor-op@example.org");
  /* first occurrence wins; a key glued to other text is not a key */
  ep_ciiss_parse("xemail:a[]b.c email:d[]e.f email:g[]h.i", 39, &c);
  ck_val(&c.email, "d[]e.f");
  /* tabs separate too; an empty value or one with a non-ASCII byte is absent */
  ep_ciiss_parse("url:\tciissversion:\xc3\xa9 proof:dns-rsa", 34, &c);
  ck_val(&c.url, NULL);
  ck_val(&c.version, NULL);
  ck_val(&c.proof, "dns-rsa");
  ep_ciiss_parse("", 0, &c);
  ck_val(&c.email, NULL);
}
END_TEST

START_TEST(ciiss_email_checks) {
  char m[64];
  ck_assert_str_eq(email_of("email:a.b+c[]mail.example.com", m, sizeof m), "a.b+c@mail.example.com");
  ck_assert_str_eq(email_of("email:x@y.z", m, sizeof m), "x@y.z");
  ck_assert_ptr_null(email_of("email:a[]b[]c", m, sizeof m));          /* two @ */
  ck_assert_str_eq(m, "");
  ck_assert_ptr_null(email_of("email:nobody", m, sizeof m));           /* no @ */
  ck_assert_ptr_null(email_of("email:[]example.com", m, sizeof m));    /* empty local part */
  ck_assert_ptr_null(email_of("email:a[]", m, sizeof m));
  ck_assert_ptr_null(email_of("email:a..b[]example.com", m, sizeof m));
  ck_assert_ptr_null(email_of("email:a[]exa_mple.com", m, sizeof m));  /* not a host name */
  ck_assert_ptr_null(email_of("email:<a>[]example.com", m, sizeof m)); /* header syntax */
  ck_assert_ptr_null(email_of("email:a\"b[]example.com", m, sizeof m));
  ck_assert_ptr_null(email_of("email:a[]example.com.", m, sizeof m));
  /* too long for the buffer: refused, not cut */
  ck_assert_ptr_null(email_of("email:abcdefghij[]example.com", m, 10));
  ck_assert_str_eq(m, "");
}
END_TEST

static ep_json_t *record_json(const ep_relay_contact_t *c) {
  ep_result_t r;
  ep_result_init(&r);
  r.contact = c;
  ep_buf_t b;
  ep_buf_init(&b, 64 * 1024, "test", 0);
  ep_err_t err = {0};
  ck_assert_int_eq(ep_result_to_json(&r, &b, &err), EP_OK);
  ck_assert(b.len > 0 && b.data[b.len - 1] == '\n');
  ep_json_t *j = ep_json_parse((const char *)b.data, b.len - 1, &err);
  ck_assert_msg(j != NULL, "%s", err.msg);
  ep_buf_free(&b);
  return j;
}

START_TEST(record_block_hostile_contact) {
  const char line[] = "<b>x</b>\x01 email:op[]example.com \"q\"";
  const char fam[] = "$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA  nick2\t$B~c";
  ep_relay_contact_t c;
  ep_relay_contact_init(&c);
  ep_err_t err = {0};
  ck_assert_int_eq(ep_relay_contact_set(&c, line, sizeof line - 1, "Tor 0.4.9.3 on Linux", 20, fam,
                                        sizeof fam - 1, &err), EP_OK);
  ep_json_t *j = record_json(&c);
  size_t n = 0;
  const char *got = ep_json_str(ep_json_get(j, "contact"), &n);
  ck_assert_uint_eq(n, sizeof line - 1);            /* raw bytes kept, JSON-escaped on output */
  ck_assert_int_eq(memcmp(got, line, n), 0);
  ck_assert_str_eq(ep_json_get_str(j, "contact_email"), "op@example.com");
  ck_assert_int_eq(ep_json_type(ep_json_get(j, "contact_url")), EP_JSON_NULL);
  ck_assert_ptr_nonnull(ep_json_get(j, "ciiss_version"));
  ck_assert_int_eq(ep_json_type(ep_json_get(j, "ciiss_version")), EP_JSON_NULL);
  ck_assert_str_eq(ep_json_get_str(j, "platform"), "Tor 0.4.9.3 on Linux");
  const ep_json_t *f = ep_json_get(j, "family");
  ck_assert_uint_eq(ep_json_count(f), 3);
  ck_assert_str_eq(ep_json_str(ep_json_at(f, 1), NULL), "nick2");
  ck_assert_str_eq(ep_json_str(ep_json_at(f, 2), NULL), "$B~c");
  /* the contact block is the end of the record, after "why" */
  size_t keys = ep_json_count(j);
  ck_assert_str_eq(ep_json_key_at(j, keys - 1), "family");
  ck_assert_str_eq(ep_json_key_at(j, keys - 7), "contact");
  ep_json_free(j);
  ep_relay_contact_clear(&c);
}
END_TEST

START_TEST(record_block_absent_and_capped) {
  ep_json_t *j = record_json(NULL);
  ck_assert_ptr_nonnull(ep_json_get(j, "contact"));
  ck_assert_int_eq(ep_json_type(ep_json_get(j, "contact")), EP_JSON_NULL);
  ck_assert_int_eq(ep_json_type(ep_json_get(j, "platform")), EP_JSON_NULL);
  ck_assert_int_eq(ep_json_type(ep_json_get(j, "family")), EP_JSON_ARRAY);
  ck_assert_uint_eq(ep_json_count(ep_json_get(j, "family")), 0);
  ep_json_free(j);

  size_t big = EP_CAP_CONTACT + 500;
  char *line = malloc(big);
  ck_assert_ptr_nonnull(line);
  memset(line, 'a', big);
  memcpy(line + EP_CAP_CONTACT - 20, " email:z[]y.example ", 20);
  memcpy(line + EP_CAP_CONTACT + 10, " url:late.example ", 18);
  char *fam = malloc(20 * EP_CAP_FAMILY_MEMBERS);
  ck_assert_ptr_nonnull(fam);
  for (size_t i = 0; i < 20 * EP_CAP_FAMILY_MEMBERS; i++) {
    fam[i] = i % 4 == 3 ? ' ' : 'f';
  }
  ep_relay_contact_t c;
  ep_relay_contact_init(&c);
  ep_err_t err = {0};
  ck_assert_int_eq(ep_relay_contact_set(&c, line, big, NULL, 0, fam, 20 * EP_CAP_FAMILY_MEMBERS, &err),
                   EP_OK);
  ck_assert(c.contact_capped);
  ck_assert_uint_eq(c.contact_len, EP_CAP_CONTACT);
  ck_assert_str_eq(c.email, "z@y.example");   /* inside the kept bytes */
  ck_assert_str_eq(c.url, "");                 /* beyond the cap: not read */
  ck_assert_uint_eq(c.n_family, EP_CAP_FAMILY_MEMBERS);
  ep_relay_contact_clear(&c);
  ck_assert_uint_eq(c.n_family, 0);
  free(line);
  free(fam);
}
END_TEST

static Suite *contact_suite(void) {
  Suite *s = suite_create("contact");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, ciiss_fields);
  tcase_add_test(tc, ciiss_email_checks);
  tcase_add_test(tc, record_block_hostile_contact);
  tcase_add_test(tc, record_block_absent_and_capped);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_suite(contact_suite()); }
