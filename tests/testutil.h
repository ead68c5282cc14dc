/* exitprobe — helpers shared by the Check unit tests. */
#ifndef EP_TESTS_TESTUTIL_H
#define EP_TESTS_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "lib/json.h"

/* Path of a file under tests/data (static buffer, for one use at a time). */
const char *tu_data_path(const char *rel);
/* Read a whole file under tests/data; aborts the test if missing.
 * Returns malloc'd bytes (NUL-terminated, not counted in *len). */
uint8_t *tu_read_data(const char *rel, size_t *len);
/* Parse a JSON file under tests/data; aborts the test on error. */
ep_json_t *tu_read_json(const char *rel);
/* Decode the hex string member `key` of obj into a malloc'd buffer. */
uint8_t *tu_hex_member(const ep_json_t *obj, const char *key, size_t *len);
/* Decode a hex string (aborts on bad hex). */
uint8_t *tu_unhex(const char *hex, size_t *len);
/* Run a Check suite; returns the process exit status. */
struct Suite;
int tu_run_suite(struct Suite *s);

#endif
