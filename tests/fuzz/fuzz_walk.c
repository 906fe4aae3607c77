/* Fuzz harness for the OTLP wire-format walker (junjo/features/spans/native/otlp_walk.h).
 *
 * Two programs from this one file (tests/fuzz/test_fuzz_walk.py builds both with ASan+UBSan):
 *   - the libFuzzer target (LLVMFuzzerTestOneInput): any bytes -> jw_walk -> checks -> jw_free;
 *   - with -DJW_STATUS_MAIN, a replay tool: for each file named on stdin (one path a line) it
 *     walks the bytes the same way and prints "<status> <rows>", so the test can compare the
 *     walker's verdicts with the Python converter's (accepting what protobuf rejects is a bug).
 *
 * The walker is handed an exactly sized heap copy of the input (libFuzzer's own, or ours), so
 * AddressSanitizer reports a read even one byte past the end. Options are fixed by the input's
 * hash: a key id and both timestamps, or NULL for all three. An accepted result is
 * then read whole, as the extension and DuckDB will read it: every byte it claims to hold is
 * touched (ASan: inside its allocation; MSan: initialized), the Arrow layout is checked
 * (offsets, validity bitmaps, sizes) and every text value must be valid UTF-8, which DuckDB
 * requires of a VARCHAR.
 *
 * Then the same input is walked again with one of its allocations failing (which one: a hash
 * of the input, so a replay fails the same one): the walk must report JW_NOMEM (or DECLINE,
 * or return NULL), never JW_OK, and free what it holds (LeakSanitizer). The build points the
 * walker's malloc, calloc and realloc here (-Dmalloc=jw_test_malloc ...; see the test). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otlp_walk.h"

/* The harness's own allocations are real ones (the -D renames are meant for the walker). */
#undef malloc
#undef calloc
#undef realloc
void *malloc(size_t size); /* <stdlib.h> declared them under the walker's names */
void *calloc(size_t count, size_t size);
void *realloc(void *p, size_t size);

static long allocations; /* counted during a walk */
static long fail_at = -1; /* the allocation that fails (its number from 0), -1: none */

static int allocation_fails(void) { return allocations++ == fail_at; }
void *jw_test_malloc(size_t n) { return allocation_fails() ? NULL : malloc(n); }
void *jw_test_calloc(size_t k, size_t n) { return allocation_fails() ? NULL : calloc(k, n); }
void *jw_test_realloc(void *p, size_t n) { return allocation_fails() ? NULL : realloc(p, n); }

#if defined(__has_feature)
#if __has_feature(memory_sanitizer)
#include <sanitizer/msan_interface.h>
#define CHECK_INITIALIZED(p, n) __msan_check_mem_is_initialized((p), (n))
#endif
#endif
#ifndef CHECK_INITIALIZED
#define CHECK_INITIALIZED(p, n) ((void)(p), (void)(n))
#endif

static const char API_KEY_ID[] = "fuzz-key-\xc3\xa9"; /* non-ASCII: the key is copied as UTF-8 */

static const jw_options OPTIONS = {
    .seq = 42,
    .api_key_id = API_KEY_ID,
    .api_key_id_len = sizeof API_KEY_ID - 1,
    .received_at_ns = 1700000000000000000,
    .received_at_is_null = 0,
    .indexed_at_ns = 1700000000500000000,
    .indexed_at_is_null = 0,
};
/* For half the inputs (by their hash): the NULLs a request without a key or times gets. */
static const jw_options NULL_OPTIONS = {.seq = -1, .received_at_is_null = 1, .indexed_at_is_null = 1};

/* The smallest span on the wire is 2 bytes (tag, zero length) inside a scope and a resource
 * that cost at least 4 more: a walker reporting more rows than this invented them. */
static size_t max_rows(size_t len) { return len / 2; }

static void fail(const char *what, long long value) {
    fprintf(stderr, "fuzz_walk: %s (%lld)\n", what, value);
    abort(); /* libFuzzer saves the input as a crash artifact */
}

static uint64_t fnv1a(const uint8_t *data, size_t len) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) h = (h ^ data[i]) * 0x100000001b3ull;
    return h;
}

static const jw_options *options_for(const uint8_t *data, size_t len) {
    return fnv1a(data, len) & 1 ? &NULL_OPTIONS : &OPTIONS;
}

/* Strict UTF-8: no overlongs, surrogates or code points past U+10FFFF. */
static int utf8_valid(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t extra;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            extra = 1, cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            extra = 2, cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            extra = 3, cp = c & 0x07;
        } else {
            return 0;
        }
        if (n - i <= extra) return 0;
        for (size_t k = 1; k <= extra; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return 0;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if ((extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000)) return 0;
        if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return 0;
        i += extra + 1;
    }
    return 1;
}

/* Reads every byte (ASan checks each read against its allocation) and returns their sum, so
 * the reads are not optimized away. */
static unsigned touch(const uint8_t *p, size_t n) {
    CHECK_INITIALIZED(p, n);
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++) sum += p[i];
    return sum;
}

static size_t fixed_width(int type) {
    switch (type) {
    case JW_INT64: return 8;
    case JW_INT32:
    case JW_UINT32: return 4;
    default: return 0;
    }
}

static void check_text_column(const jw_column *c, size_t rows) {
    if (c->offsets == NULL) fail("a text column without offsets", 0);
    touch((const uint8_t *)c->offsets, (rows + 1) * sizeof *c->offsets);
    if (c->offsets[0] != 0) fail("text offsets do not start at 0", c->offsets[0]);
    for (size_t i = 0; i < rows; i++)
        if (c->offsets[i + 1] < c->offsets[i]) fail("text offsets go backwards at row", (long long)i);
    if ((size_t)c->offsets[rows] != c->data_len) fail("text offsets end off data_len", c->offsets[rows]);
    for (size_t i = 0; i < rows; i++) {
        const uint8_t *value = c->data + c->offsets[i];
        if (!utf8_valid(value, (size_t)(c->offsets[i + 1] - c->offsets[i])))
            fail("a text value is not valid UTF-8, row", (long long)i);
    }
}

static void check_column(const jw_column *c, size_t rows) {
    if (c->name == NULL || c->data == NULL) fail("a column without name or data", c->type);
    touch(c->data, c->data_len);
    if (c->type == JW_UTF8) {
        check_text_column(c, rows);
    } else if (c->type == JW_BOOL) {
        if (c->data_len < (rows + 7) / 8) fail("a bool column shorter than its rows", (long long)c->data_len);
    } else if (fixed_width(c->type) != 0) {
        if (c->data_len != rows * fixed_width(c->type)) fail("a column's size is not rows x width", (long long)c->data_len);
    } else {
        fail("a column of unknown type", c->type);
    }
    if (c->null_count == 0) return;
    if (!c->nullable) fail("nulls in a NOT NULL column", (long long)c->null_count);
    if (c->validity == NULL) fail("nulls but no validity bitmap", (long long)c->null_count);
    touch(c->validity, (rows + 7) / 8);
    size_t nulls = 0;
    for (size_t i = 0; i < rows; i++) nulls += !(c->validity[i / 8] >> (i % 8) & 1);
    if (nulls != c->null_count) fail("null_count differs from the validity bitmap", (long long)nulls);
}

static void check_result(const jw_result *result, size_t len) {
    size_t rows = jw_row_count(result), failed = jw_failed_count(result);
    if (rows + failed > max_rows(len)) fail("more spans than the input can hold", (long long)(rows + failed));
    const jw_column *columns = jw_columns(result);
    if (columns == NULL) fail("no columns for a JW_OK result", 0);
    for (size_t i = 0; i < jw_column_count(); i++) check_column(&columns[i], rows);
    for (size_t i = 0; i < failed; i++) {
        size_t position[3], text_len;
        const char *text = jw_failed(result, i, position, &text_len);
        if (text == NULL) fail("a failed span without its error text", (long long)i);
        touch((const uint8_t *)text, text_len);
        touch((const uint8_t *)position, sizeof position);
        if (!utf8_valid((const uint8_t *)text, text_len)) fail("error text not UTF-8", (long long)i);
    }
    (void)jw_bytes(result);
}

/* The walk again, with one allocation failing: NOMEM (or DECLINE, or NULL), nothing leaked. */
static void walk_out_of_memory(const uint8_t *data, size_t len, long made) {
    long failing = (long)((fnv1a(data, len) >> 1) % (uint64_t)made);
    allocations = 0;
    fail_at = failing;
    jw_result *result = jw_walk(data, len, options_for(data, len));
    fail_at = -1;
    if (result == NULL) return;
    if (jw_status(result) == JW_OK) fail("JW_OK although an allocation failed: number", failing);
    jw_free(result);
}

/* Walks one input; returns its status (-1: jw_walk returned NULL, out of memory). */
static int walk_once(const uint8_t *data, size_t len, size_t *rows) {
    allocations = 0;
    jw_result *result = jw_walk(data, len, options_for(data, len));
    long made = allocations;
    *rows = 0;
    if (result == NULL) return -1;
    int status = jw_status(result);
    if (status != JW_OK && status != JW_DECLINE && status != JW_NOMEM)
        fail("jw_status is not one of JW_OK, JW_DECLINE, JW_NOMEM", status);
    *rows = jw_row_count(result);
    if (*rows > max_rows(len)) fail("jw_row_count larger than the input can hold", (long long)*rows);
    if (status == JW_OK) check_result(result, len);
    jw_free(result);
    if (made > 0) walk_out_of_memory(data, len, made);
    return status;
}

#ifndef JW_STATUS_MAIN

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t rows;
    walk_once(data, size, &rows);
    return 0;
}

#else

static uint8_t *read_file(const char *path, size_t *len) {
    FILE *file = fopen(path, "rb");
    if (file == NULL) return NULL;
    uint8_t *data = NULL;
    long size = -1;
    if (fseek(file, 0, SEEK_END) == 0) size = ftell(file);
    if (size >= 0 && fseek(file, 0, SEEK_SET) == 0) {
        data = malloc(size ? (size_t)size : 1); /* exact size: ASan sees one byte past the end */
        if (data != NULL && fread(data, 1, (size_t)size, file) != (size_t)size) {
            free(data);
            data = NULL;
        }
    }
    fclose(file);
    *len = (size_t)size;
    return data;
}

int main(void) {
    char path[4096];
    while (fgets(path, sizeof path, stdin) != NULL) {
        path[strcspn(path, "\n")] = '\0';
        size_t len, rows;
        uint8_t *data = read_file(path, &len);
        if (data == NULL) fail("cannot read an input file", 0);
        int status = walk_once(data, len, &rows);
        free(data);
        printf("%d %zu\n", status, rows);
        fflush(stdout); /* a crash on the next file still leaves this verdict readable */
    }
    return 0;
}

#endif
