/* The OTLP wire-format walker: one serialized ExportTraceServiceRequest -> the columns of the
 * spans table (junjo/features/spans/schema.py, SPAN_COLUMNS order), JSON text built here.
 *
 * Pure C (no Python.h), so the fuzz harness links it alone under ASan/UBSan. It never reads
 * outside [data, data + len), allocates with malloc only, and mutates no global state: the
 * extension calls it with the GIL released. When it is not sure to produce exactly what the
 * Python converter (convert.py, the oracle) would, it DECLINES and Python decides. */
#ifndef JUNJO_OTLP_WALK_H
#define JUNJO_OTLP_WALK_H

#include <stddef.h>
#include <stdint.h>

enum jw_status_code {
    JW_OK = 0,      /* rows (and maybe failed spans) produced */
    JW_DECLINE = 1, /* not handled exactly here: convert.py decides (it may raise) */
    JW_NOMEM = 2,   /* an allocation failed */
};

typedef struct jw_options {
    int64_t seq;
    const char *api_key_id; /* UTF-8, NULL for SQL NULL */
    size_t api_key_id_len;
    int64_t received_at_ns;
    int received_at_is_null;
    int64_t indexed_at_ns;
    int indexed_at_is_null;
} jw_options;

typedef struct jw_result jw_result; /* columns, rows, failed spans: see otlp_walk.c */

jw_result *jw_walk(const uint8_t *data, size_t len, const jw_options *opts); /* NULL: no memory */
int jw_status(const jw_result *result);
size_t jw_row_count(const jw_result *result);
void jw_free(jw_result *result);

#endif
