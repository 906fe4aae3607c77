/* Fuzz harness for the OTLP wire-format walker (junjo/features/spans/native/otlp_walk.h).
 *
 * Two programs from this one file (tests/fuzz/test_fuzz_walk.py builds both with ASan+UBSan):
 *   - the libFuzzer target (LLVMFuzzerTestOneInput): any bytes -> jw_walk -> checks -> jw_free;
 *   - with -DJW_STATUS_MAIN, a replay tool: for each file named on stdin (one path a line) it
 *     walks the bytes the same way and prints "<status> <rows>", so the test can compare the
 *     walker's verdicts with the Python converter's (accepting what protobuf rejects is a bug).
 *
 * The walker is handed an exactly sized heap copy of the input (libFuzzer's own, or ours), so
 * AddressSanitizer reports a read even one byte past the end. Options are fixed: a key id and
 * both timestamps set, so every column the walker fills is exercised. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otlp_walk.h"

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

/* The smallest span on the wire is 2 bytes (tag, zero length) inside a scope and a resource
 * that cost at least 4 more: a walker reporting more rows than this invented them. */
static size_t max_rows(size_t len) { return len / 2; }

static void fail(const char *what, long long value) {
    fprintf(stderr, "fuzz_walk: %s (%lld)\n", what, value);
    abort(); /* libFuzzer saves the input as a crash artifact */
}

/* Walks one input; returns its status (-1: jw_walk returned NULL, out of memory). */
static int walk_once(const uint8_t *data, size_t len, size_t *rows) {
    jw_result *result = jw_walk(data, len, &OPTIONS);
    *rows = 0;
    if (result == NULL) return -1;
    int status = jw_status(result);
    if (status != JW_OK && status != JW_DECLINE && status != JW_NOMEM)
        fail("jw_status is not one of JW_OK, JW_DECLINE, JW_NOMEM", status);
    *rows = jw_row_count(result);
    if (*rows > max_rows(len)) fail("jw_row_count larger than the input can hold", (long long)*rows);
    jw_free(result);
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
