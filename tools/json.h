/*
 * json.h - rendering engine documents as JSON for the command line.
 *
 * The engine hands out tasks, members and events as msgpack maps in the
 * JSON shapes of INTERFACE.md.  These helpers turn them into jansson values
 * (str, int, bool, nil, float, map and array map naturally; bin becomes a
 * lowercase hex string; a msgpack timestamp becomes RFC 3339 UTC text with
 * milliseconds) and print them the one way the CLI prints JSON: compact,
 * UTF-8 kept as is, one document per line.
 */
#ifndef TL_TOOLS_JSON_H
#define TL_TOOLS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>
#include <msgpack.h>

/* Convert one msgpack object.  Map keys that are not strings are turned
 * into their JSON text ("1", "true", ...).  Returns a new reference, or
 * NULL when out of memory. */
json_t *mpjson_from_object(const msgpack_object *o);

/* Decode the msgpack document doc[0..len) and convert it.  Returns a new
 * reference, or NULL when the bytes do not hold exactly one msgpack value
 * (trailing bytes are refused) or, errno ENOMEM, memory ran out. */
json_t *mpjson_from_doc(const uint8_t *doc, size_t len);

/* A JSON string for arbitrary bytes: kept as is when they are valid UTF-8,
 * else every invalid byte is replaced by U+FFFD.  New reference. */
json_t *mpjson_string(const char *p, size_t len);

/* Print v compactly followed by a newline.  Returns 0 or -1 on a write
 * error. */
int mpjson_print(FILE *f, const json_t *v);

/* Route jansson's allocations through a check; call it before any other
 * use of jansson.  A failed one leaves a value short of what was put into
 * it without a word (json_object_set_new drops a member whose value is
 * NULL; jansson 2.14's dump skips a key it could not write): once
 * mpjson_nomem() is true, nothing built since may be printed. */
void mpjson_init(void);
bool mpjson_nomem(void);
/* Forget a failure once every value built before it is gone. */
void mpjson_nomem_clear(void);

/* json_loadb, made safe against its allocations failing.  jansson 2.14's
 * parser does not stop when one fails: its lexer drops the text it could
 * not save and reads on past its own buffer (the e2e allocation sweep of
 * `import` met a SIGSEGV, and an assert in lex_scan_string).  So while it
 * parses, a failed allocation calls the handler set with
 * mpjson_on_parse_nomem, which must not return (the command line reports
 * "out of memory" and exits: what it had not committed is not written).
 * Without a handler the failure is returned as any other. */
json_t *mpjson_loadb(const char *buf, size_t len, size_t flags,
		     json_error_t *e);
void mpjson_on_parse_nomem(void (*fn)(void));

#endif
