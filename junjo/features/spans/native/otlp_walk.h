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

/* -- reading the result (JW_OK only) ------------------------------------------------------ */

enum jw_type {
    JW_UTF8 = 0,   /* Arrow "u": int32 offsets (length + 1) and UTF-8 bytes */
    JW_INT64 = 1,  /* "l" */
    JW_INT32 = 2,  /* "i" */
    JW_UINT32 = 3, /* "I" */
    JW_BOOL = 4,   /* "b": values bit-packed, LSB first */
};

typedef struct jw_column {
    const char *name; /* SPAN_COLUMNS entry */
    int type;         /* enum jw_type */
    int nullable;     /* the table's column accepts NULL */
    size_t null_count;
    const uint8_t *validity; /* bitmap (1 = valid) of length rows, or NULL when no nulls */
    const int32_t *offsets;  /* JW_UTF8 only: rows + 1 entries */
    const uint8_t *data;     /* UTF-8 bytes, the values, or the bool bitmap; never NULL */
    size_t data_len;         /* bytes in data */
} jw_column;

size_t jw_column_count(void);
const char *jw_column_name(size_t index); /* usable without a result (the module's COLUMNS) */
const jw_column *jw_columns(const jw_result *result); /* jw_column_count() entries */
size_t jw_bytes(const jw_result *result);             /* bytes of columns written */

/* Spans set aside (times beyond INT64_MAX): position and convert.py's error text. */
size_t jw_failed_count(const jw_result *result);
const char *jw_failed(const jw_result *result, size_t index, size_t position[3], size_t *text_len);

#endif
