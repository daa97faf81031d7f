/* json.h - reading fields of parsed JSON documents (cJSON), the same way everywhere */
#ifndef MEMGATE_UTIL_JSON_H
#define MEMGATE_UTIL_JSON_H

#include <cjson/cJSON.h>
#include <stdint.h>

/* the string at key `k` of object o (case-sensitive), or NULL */
const char *mg_json_str(const cJSON *o, const char *k);

/*
 * An exact non-negative integer a double holds exactly (at most 2^53):
 * 0 and *out, or -1 (not a number, negative, fractional or too large).
 */
int mg_json_u64(uint64_t *out, const cJSON *v);

#endif
