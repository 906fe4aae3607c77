/* The OTLP wire-format walker (see otlp_walk.h). convert.py is the specification: every
 * value written here is the one its rows hold, byte for byte; where that is not certain the
 * walk DECLINES and the request takes the Python path.
 *
 * Shape: each span is parsed into a small tree (values point into the request bytes, nodes
 * live in an arena reset after each span), which gives protobuf's merge semantics for free
 * (a singular message seen twice is parsed into the same node), then its row is appended to
 * the column buffers. Resource and scope JSON are built once per group and copied per span. */
#include "otlp_walk.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64              /* message nesting; protobuf's own limit is 100 */
#define COLUMN_BYTES_MAX 0x7fffffffu /* Arrow utf8 offsets are int32 */
/* The text columns outgrow the request (hex ids, escapes, and the resource and scope copied
 * into every span's row: 5x at most in the seeds of tests/fuzz) but not without bound: 240 KB
 * of empty spans under one 60 KB resource attribute would be 5 GB of resource_attributes,
 * all in memory before the 2 GiB offset limit declined it. Past BUDGET_FACTOR x the request
 * + BUDGET_FLOOR bytes in all text columns together the walk declines at once (Python's rows
 * share the one resource string), and no single column can reach the offset limit. */
#define BUDGET_FACTOR 16
#define BUDGET_FLOOR ((size_t)16 << 20)

typedef enum { OK = 0, DECLINE = JW_DECLINE, NOMEM = JW_NOMEM } err;
#define TRY(x)                                                                               \
    do {                                                                                     \
        err e_ = (x);                                                                        \
        if (e_ != OK) return e_;                                                             \
    } while (0)

/* -- memory ----------------------------------------------------------------------------- */

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    /* data follows, max_align_t aligned */
} chunk;

typedef struct {
    chunk *head; /* newest first */
} arena;

typedef struct {
    chunk *head;
    size_t used;
} arena_mark;

#define CHUNK_HDR ((sizeof(chunk) + 15) & ~(size_t)15)
#define CHUNK_DEFAULT (64 * 1024)

static void *arena_alloc(arena *a, size_t n) {
    if (n == 0 || n > SIZE_MAX / 2) return NULL; /* before rounding up: no wrap-around */
    n = (n + 15) & ~(size_t)15;
    chunk *c = a->head;
    if (c == NULL || c->cap - c->used < n) {
        size_t cap = n > CHUNK_DEFAULT ? n : CHUNK_DEFAULT;
        c = malloc(CHUNK_HDR + cap);
        if (c == NULL) return NULL;
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
    }
    void *p = (uint8_t *)c + CHUNK_HDR + c->used;
    c->used += n;
    return p;
}

static arena_mark arena_save(const arena *a) {
    arena_mark m = {a->head, a->head ? a->head->used : 0};
    return m;
}

static void arena_restore(arena *a, arena_mark m) {
    while (a->head != m.head) {
        chunk *c = a->head;
        a->head = c->next;
        free(c);
    }
    if (a->head) a->head->used = m.used;
}

static void arena_free(arena *a) {
    arena_mark none = {NULL, 0};
    arena_restore(a, none);
}

/* A growable array in the arena (old storage is left to the arena: amortized 2x). */
typedef struct {
    void *items;
    size_t n, cap;
} vec;

static inline void *vec_push(arena *a, vec *v, size_t size) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 4;
        if (cap > SIZE_MAX / size) return NULL;
        void *items = arena_alloc(a, cap * size);
        if (items == NULL) return NULL;
        if (v->n) memcpy(items, v->items, v->n * size);
        v->items = items;
        v->cap = cap;
    }
    void *slot = (uint8_t *)v->items + v->n * size;
    v->n++;
    memset(slot, 0, size);
    return slot;
}

/* A malloc'd byte buffer. */
typedef struct {
    uint8_t *p;
    size_t n, cap;
} jbuf;

static err jb_grow(jbuf *b, size_t extra) {
    if (extra > SIZE_MAX - b->n) return NOMEM;
    size_t need = b->n + extra;
    if (need <= b->cap) return OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) return NOMEM;
        cap *= 2;
    }
    uint8_t *p = realloc(b->p, cap);
    if (p == NULL) return NOMEM;
    b->p = p;
    b->cap = cap;
    return OK;
}

static inline err jb_reserve(jbuf *b, size_t extra) {
    return b->cap - b->n >= extra ? OK : jb_grow(b, extra); /* the usual case: room left */
}

static inline err jb_put(jbuf *b, const void *p, size_t n) {
    if (n == 0) return OK;
    TRY(jb_reserve(b, n));
    memcpy(b->p + b->n, p, n);
    b->n += n;
    return OK;
}

static inline err jb_byte(jbuf *b, uint8_t c) {
    if (b->n == b->cap) TRY(jb_reserve(b, 1));
    b->p[b->n++] = c;
    return OK;
}

#define jb_lit(b, s) jb_put((b), (s), sizeof(s) - 1)

static err jb_u64(jbuf *b, uint64_t v) {
    char tmp[24];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return jb_put(b, tmp + i, sizeof tmp - i);
}

static err jb_i64(jbuf *b, int64_t v) {
    if (v < 0) {
        TRY(jb_byte(b, '-'));
        return jb_u64(b, (uint64_t)0 - (uint64_t)v);
    }
    return jb_u64(b, (uint64_t)v);
}

static const char HEX[] = "0123456789abcdef";

static err jb_hex(jbuf *b, const uint8_t *p, size_t n) {
    if (n == 0) return OK; /* b->p may still be NULL: NULL + 0 is undefined behaviour */
    if (n > SIZE_MAX / 2) return NOMEM;
    TRY(jb_reserve(b, 2 * n));
    uint8_t *o = b->p + b->n;
    for (size_t i = 0; i < n; i++) {
        o[2 * i] = (uint8_t)HEX[p[i] >> 4];
        o[2 * i + 1] = (uint8_t)HEX[p[i] & 15];
    }
    b->n += 2 * n;
    return OK;
}

/* -- the wire format ---------------------------------------------------------------------- */

typedef struct {
    const uint8_t *p, *end;
} rd;

typedef struct {
    const uint8_t *p;
    size_t n;
} span_bytes; /* a view into the request */

static err rd_varint(rd *r, uint64_t *out) {
    if (r->p < r->end && *r->p < 0x80) { /* most varints: one byte */
        *out = *r->p++;
        return OK;
    }
    uint64_t v = 0;
    for (int i = 0; i < 10; i++) {
        if (r->p >= r->end) return DECLINE;
        uint8_t byte = *r->p++;
        if (i == 9 && byte > 1) return DECLINE; /* more than 64 bits: let protobuf judge */
        v |= (uint64_t)(byte & 0x7f) << (7 * i);
        if (!(byte & 0x80)) {
            *out = v;
            return OK;
        }
    }
    return DECLINE;
}

static err rd_tag(rd *r, uint32_t *field, int *wire) {
    if (r->p < r->end && *r->p < 0x80 && *r->p >= 8) { /* fields 1-15: one byte */
        uint8_t byte = *r->p++;
        *field = byte >> 3;
        *wire = byte & 7;
        return (*wire <= 2 || *wire == 5) ? OK : DECLINE;
    }
    uint64_t tag;
    const uint8_t *start = r->p;
    TRY(rd_varint(r, &tag));
    if (r->p - start > 5 || tag > 0xffffffffu) return DECLINE;
    *field = (uint32_t)(tag >> 3);
    *wire = (int)(tag & 7);
    /* Field 0, groups (3, 4) and the undefined wire types (6, 7): protobuf's call. */
    if (*field == 0 || (*wire != 0 && *wire != 1 && *wire != 2 && *wire != 5)) return DECLINE;
    return OK;
}

static err rd_fixed64(rd *r, uint64_t *out) {
    if (r->end - r->p < 8) return DECLINE;
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | r->p[i];
    r->p += 8;
    *out = v;
    return OK;
}

static err rd_fixed32(rd *r, uint32_t *out) {
    if (r->end - r->p < 4) return DECLINE;
    *out = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 |
           (uint32_t)r->p[3] << 24;
    r->p += 4;
    return OK;
}

static err rd_bytes(rd *r, span_bytes *out) {
    uint64_t n;
    TRY(rd_varint(r, &n));
    if (n > (uint64_t)(r->end - r->p) || n > 0x7fffffffu) return DECLINE;
    out->p = r->p;
    out->n = (size_t)n;
    r->p += n;
    return OK;
}

static err rd_skip(rd *r, int wire) {
    uint64_t v;
    span_bytes b;
    switch (wire) {
    case 0: return rd_varint(r, &v);
    case 1: return rd_fixed64(r, &v);
    case 2: return rd_bytes(r, &b);
    case 5: {
        uint32_t f;
        return rd_fixed32(r, &f);
    }
    default: return DECLINE;
    }
}

/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF), as protobuf checks
 * proto3 strings. */
static int utf8_valid(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint64_t word;
        if (n - i >= 8 && (memcpy(&word, s + i, 8), (word & 0x8080808080808080ull) == 0)) {
            i += 8; /* ASCII, eight at a time */
            continue;
        }
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (n - i < len) return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
            return 0;
        i += len;
    }
    return 1;
}

static err rd_string(rd *r, span_bytes *out) {
    TRY(rd_bytes(r, out));
    return utf8_valid(out->p, out->n) ? OK : DECLINE;
}

/* -- values ------------------------------------------------------------------------------ */

enum { V_UNSET, V_STR, V_BOOL, V_INT, V_DOUBLE, V_ARRAY, V_KVLIST, V_BYTES };

typedef struct jv jv;

typedef struct {
    span_bytes key;
    jv *value; /* NULL: no value field (None) */
} jkv;

struct jv {
    int kind;
    span_bytes s; /* V_STR, V_BYTES */
    int64_t i;    /* V_INT (string_value_strindex too: an int in Python) */
    double d;
    int b;
    vec items; /* V_ARRAY: jv*; V_KVLIST: jkv */
};

typedef struct {
    arena a;
    int depth;
} ctx;

static err parse_kv(ctx *c, span_bytes msg, jkv *kv);

/* Parses one occurrence of an AnyValue into v: a second occurrence merges (oneof: the last
 * member wins; the same message member merges into the one already there). */
static err parse_any(ctx *c, span_bytes msg, jv *v) {
    if (++c->depth > MAX_DEPTH) return DECLINE;
    rd r = {msg.p, msg.p + msg.n};
    while (r.p < r.end) {
        uint32_t field;
        int wire;
        uint64_t x;
        span_bytes b;
        TRY(rd_tag(&r, &field, &wire));
        if (field == 1 && wire == 2) {
            TRY(rd_string(&r, &b));
            v->kind = V_STR;
            v->s = b;
        } else if (field == 2 && wire == 0) {
            TRY(rd_varint(&r, &x));
            v->kind = V_BOOL;
            v->b = x != 0;
        } else if (field == 3 && wire == 0) {
            TRY(rd_varint(&r, &x));
            v->kind = V_INT;
            v->i = (int64_t)x;
        } else if (field == 4 && wire == 1) {
            TRY(rd_fixed64(&r, &x));
            v->kind = V_DOUBLE;
            memcpy(&v->d, &x, sizeof x);
        } else if ((field == 5 || field == 6) && wire == 2) {
            int kind = field == 5 ? V_ARRAY : V_KVLIST;
            TRY(rd_bytes(&r, &b));
            if (v->kind != kind) {
                v->kind = kind;
                memset(&v->items, 0, sizeof v->items);
            }
            if (++c->depth > MAX_DEPTH) return DECLINE;
            rd inner = {b.p, b.p + b.n};
            while (inner.p < inner.end) {
                span_bytes item;
                TRY(rd_tag(&inner, &field, &wire));
                if (field != 1 || wire != 2) {
                    TRY(rd_skip(&inner, wire));
                    continue;
                }
                TRY(rd_bytes(&inner, &item));
                if (kind == V_ARRAY) {
                    jv **slot = vec_push(&c->a, &v->items, sizeof(jv *));
                    if (slot == NULL) return NOMEM;
                    *slot = arena_alloc(&c->a, sizeof(jv));
                    if (*slot == NULL) return NOMEM;
                    memset(*slot, 0, sizeof(jv));
                    TRY(parse_any(c, item, *slot));
                } else {
                    jkv *kv = vec_push(&c->a, &v->items, sizeof(jkv));
                    if (kv == NULL) return NOMEM;
                    TRY(parse_kv(c, item, kv));
                }
            }
            c->depth--;
        } else if (field == 7 && wire == 2) {
            TRY(rd_bytes(&r, &b));
            v->kind = V_BYTES;
            v->s = b;
        } else if (field == 8 && wire == 0) {
            TRY(rd_varint(&r, &x));
            v->kind = V_INT;
            v->i = (int32_t)(uint32_t)x;
        } else {
            TRY(rd_skip(&r, wire));
        }
    }
    c->depth--;
    return OK;
}

static err parse_kv(ctx *c, span_bytes msg, jkv *kv) {
    if (++c->depth > MAX_DEPTH) return DECLINE;
    rd r = {msg.p, msg.p + msg.n};
    while (r.p < r.end) {
        uint32_t field;
        int wire;
        span_bytes b;
        TRY(rd_tag(&r, &field, &wire));
        if (field == 1 && wire == 2) {
            TRY(rd_string(&r, &kv->key));
        } else if (field == 2 && wire == 2) {
            TRY(rd_bytes(&r, &b));
            if (kv->value == NULL) {
                kv->value = arena_alloc(&c->a, sizeof(jv));
                if (kv->value == NULL) return NOMEM;
                memset(kv->value, 0, sizeof(jv));
            }
            TRY(parse_any(c, b, kv->value));
        } else {
            TRY(rd_skip(&r, wire));
        }
    }
    c->depth--;
    return OK;
}

/* A repeated KeyValue field: one more entry. */
static err push_kv(ctx *c, vec *list, rd *r) {
    span_bytes b;
    TRY(rd_bytes(r, &b));
    jkv *kv = vec_push(&c->a, list, sizeof(jkv));
    if (kv == NULL) return NOMEM;
    return parse_kv(c, b, kv);
}

static int key_eq(span_bytes a, span_bytes b) {
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static uint64_t key_hash(span_bytes k) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < k.n; i++) h = (h ^ k.p[i]) * 1099511628211ull;
    return h;
}

/* Python dict semantics: a repeated key keeps its first position and its last value. */
static err dedup(ctx *c, const vec *in, vec *out) {
    const jkv *items = in->items;
    memset(out, 0, sizeof *out);
    if (in->n == 0) return OK;
    out->items = arena_alloc(&c->a, in->n * sizeof(jkv));
    if (out->items == NULL) return NOMEM;
    out->cap = in->n;
    jkv *o = out->items;
    if (in->n <= 16) {
        for (size_t i = 0; i < in->n; i++) {
            size_t j = 0;
            while (j < out->n && !key_eq(o[j].key, items[i].key)) j++;
            if (j == out->n) o[out->n++] = items[i];
            else o[j].value = items[i].value;
        }
        return OK;
    }
    size_t size = 32;
    while (size < 2 * in->n) size *= 2;
    uint32_t *table = arena_alloc(&c->a, size * sizeof(uint32_t));
    if (table == NULL) return NOMEM;
    memset(table, 0, size * sizeof(uint32_t));
    /* At most half full, the table costs ~1.5 probes a key; keys made to collide (the hash
     * is fixed and public) would cost n^2 / 2: 12,000 such keys in 144 KB took 0.4 s. Past 8
     * probes a key on average Python decides (its dict hashes with a per-process secret). */
    size_t probes = 0, max_probes = 8 * in->n + 64;
    for (size_t i = 0; i < in->n; i++) {
        size_t h = (size_t)key_hash(items[i].key) & (size - 1);
        for (;;) {
            if (++probes > max_probes) return DECLINE;
            uint32_t at = table[h];
            if (at == 0) {
                table[h] = (uint32_t)(out->n + 1);
                o[out->n++] = items[i];
                break;
            }
            if (key_eq(o[at - 1].key, items[i].key)) {
                o[at - 1].value = items[i].value;
                break;
            }
            h = (h + 1) & (size - 1);
        }
    }
    return OK;
}

/* -- JSON, as json.dumps(ensure_ascii=False, separators=(",", ":")) ---------------------- */

/* The bytes json escapes: control characters, '"' and '\\'. */
static int needs_escape(uint8_t c) { return c < 0x20 || c == '"' || c == '\\'; }

static err json_str(jbuf *b, const uint8_t *s, size_t n) {
    if (n == 0) return jb_lit(b, "\"\""); /* s may be NULL (an absent field): NULL + 0 is UB */
    TRY(jb_reserve(b, n + 2));
    b->p[b->n++] = '"';
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        while (n - i >= 8) { /* skip eight plain bytes at a time (SWAR "has less/has zero") */
            uint64_t w, ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
            memcpy(&w, s + i, 8);
            uint64_t quote = w ^ (ones * '"'), slash = w ^ (ones * '\\');
            uint64_t hit = ((w - ones * 0x20) & ~w) | ((quote - ones) & ~quote) |
                           ((slash - ones) & ~slash);
            if (hit & high) break;
            i += 8;
        }
        if (i >= n) break;
        uint8_t c = s[i];
        if (!needs_escape(c)) continue;
        TRY(jb_put(b, s + run, i - run));
        run = i + 1;
        char esc[7];
        size_t len = 2;
        esc[0] = '\\';
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            memcpy(esc, "\\u00", 4);
            esc[4] = HEX[c >> 4];
            esc[5] = HEX[c & 15];
            len = 6;
        }
        TRY(jb_put(b, esc, len));
    }
    TRY(jb_put(b, s + run, n - run));
    return jb_byte(b, '"');
}

/* Does the decimal d.ddd x 10^exp (digits[0..n)) read back as x? */
static int reads_back(double x, const char *digits, int n, int exp) {
    char tmp[48];
    int k = 0;
    tmp[k++] = digits[0];
    tmp[k++] = '.';
    for (int i = 1; i < n; i++) tmp[k++] = digits[i];
    tmp[k++] = '0';
    snprintf(tmp + k, sizeof tmp - (size_t)k, "e%d", exp);
    /* The decimal point: the one snprintf("%e") writes in this locale, for strtod. */
    char probe[8];
    snprintf(probe, sizeof probe, "%.1f", 0.5);
    tmp[1] = probe[1];
    return strtod(tmp, NULL) == x;
}

/* The p-digit decimal nearest to x (x > 0), from printf (correctly rounded in glibc). */
static void nearest_digits(double x, int p, char *digits, int *exp) {
    char tmp[48];
    snprintf(tmp, sizeof tmp, "%.*e", p - 1, x);
    int k = 0;
    const char *s = tmp;
    for (; *s && *s != 'e'; s++)
        if (*s >= '0' && *s <= '9') digits[k++] = *s;
    *exp = atoi(s + 1);
}

/* Shortest round-trip digits (what Python's repr uses: David Gay's mode 0). The nearest
 * p-digit decimal is the answer for p unless x is a power of two, whose lower neighbour is
 * half as far: there the next p-digit decimal above can read back when the nearest does not. */
static int shortest_digits(double x, int p, char *digits, int *exp) {
    nearest_digits(x, p, digits, exp);
    if (reads_back(x, digits, p, *exp)) return 1;
    int e2;
    if (frexp(x, &e2) != 0.5) return 0;
    char up[24];
    memcpy(up, digits, (size_t)p);
    int i = p - 1, upexp = *exp;
    while (i >= 0 && up[i] == '9') up[i--] = '0';
    if (i < 0) {
        up[0] = '1';
        upexp++;
    } else {
        up[i]++;
    }
    if (!reads_back(x, up, p, upexp)) return 0;
    memcpy(digits, up, (size_t)p);
    *exp = upexp;
    return 1;
}

/* repr(float) for a finite x. */
static err json_double(jbuf *b, double x) {
    if (x == 0) return signbit(x) ? jb_lit(b, "-0.0") : jb_lit(b, "0.0");
    if (x < 0) {
        TRY(jb_byte(b, '-'));
        x = -x;
    }
    char digits[24], best[24];
    int exp = 0, bestexp = 0, lo = 1, hi = 17;
    nearest_digits(x, 17, best, &bestexp); /* 17 digits always read back */
    while (lo < hi) {                      /* reading back is monotone in the digit count */
        int mid = (lo + hi) / 2;
        if (shortest_digits(x, mid, digits, &exp)) {
            hi = mid;
            memcpy(best, digits, (size_t)mid);
            bestexp = exp;
        } else {
            lo = mid + 1;
        }
    }
    int n = hi;
    if (n == 17 && !shortest_digits(x, 17, best, &bestexp)) return DECLINE;
    while (n > 1 && best[n - 1] == '0') n--;
    char out[48];
    int k = 0;
    if (bestexp < -4 || bestexp >= 16) {
        out[k++] = best[0];
        if (n > 1) {
            out[k++] = '.';
            for (int i = 1; i < n; i++) out[k++] = best[i];
        }
        k += snprintf(out + k, sizeof out - (size_t)k, "e%c%02d", bestexp < 0 ? '-' : '+',
                      bestexp < 0 ? -bestexp : bestexp);
    } else if (bestexp < 0) {
        out[k++] = '0';
        out[k++] = '.';
        for (int i = 0; i < -bestexp - 1; i++) out[k++] = '0';
        for (int i = 0; i < n; i++) out[k++] = best[i];
    } else {
        for (int i = 0; i <= bestexp; i++) out[k++] = i < n ? best[i] : '0';
        out[k++] = '.';
        if (n > bestexp + 1)
            for (int i = bestexp + 1; i < n; i++) out[k++] = best[i];
        else
            out[k++] = '0';
    }
    return jb_put(b, out, (size_t)k);
}

static err json_dict(ctx *c, jbuf *b, const vec *raw);

static err json_value(ctx *c, jbuf *b, const jv *v) {
    if (v == NULL) return jb_lit(b, "null");
    switch (v->kind) {
    case V_STR: return json_str(b, v->s.p, v->s.n);
    case V_BOOL: return v->b ? jb_lit(b, "true") : jb_lit(b, "false");
    case V_INT: return jb_i64(b, v->i);
    case V_DOUBLE:
        if (isnan(v->d)) return jb_lit(b, "\"NaN\"");
        if (isinf(v->d)) return v->d > 0 ? jb_lit(b, "\"Infinity\"") : jb_lit(b, "\"-Infinity\"");
        return json_double(b, v->d);
    case V_BYTES:
        TRY(jb_byte(b, '"'));
        TRY(jb_hex(b, v->s.p, v->s.n));
        return jb_byte(b, '"');
    case V_ARRAY: {
        jv *const *items = v->items.items;
        TRY(jb_byte(b, '['));
        for (size_t i = 0; i < v->items.n; i++) {
            if (i) TRY(jb_byte(b, ','));
            TRY(json_value(c, b, items[i]));
        }
        return jb_byte(b, ']');
    }
    case V_KVLIST: return json_dict(c, b, &v->items);
    default: return jb_lit(b, "null");
    }
}

static err json_deduped(ctx *c, jbuf *b, const vec *kvs) {
    const jkv *items = kvs->items;
    TRY(jb_byte(b, '{'));
    for (size_t i = 0; i < kvs->n; i++) {
        if (i) TRY(jb_byte(b, ','));
        TRY(json_str(b, items[i].key.p, items[i].key.n));
        TRY(jb_byte(b, ':'));
        TRY(json_value(c, b, items[i].value));
    }
    return jb_byte(b, '}');
}

static err json_dict(ctx *c, jbuf *b, const vec *raw) {
    vec kvs;
    TRY(dedup(c, raw, &kvs));
    return json_deduped(c, b, &kvs);
}

/* -- columns ------------------------------------------------------------------------------ */

typedef struct {
    const char *name;
    int type;
    int nullable;
} column_def;

enum {
    C_TRACE_ID, C_SPAN_ID, C_PARENT_SPAN_ID, C_SERVICE_NAME, C_NAME, C_KIND, C_START, C_END,
    C_DURATION, C_STATUS_CODE, C_STATUS_MESSAGE, C_ATTRIBUTES, C_EVENTS, C_LINKS, C_FLAGS,
    C_TRACE_STATE, C_DROPPED_ATTRIBUTES, C_DROPPED_EVENTS, C_DROPPED_LINKS, C_RESOURCE_ATTRIBUTES,
    C_RESOURCE_DROPPED, C_RESOURCE_SCHEMA_URL, C_SCOPE_NAME, C_SCOPE_VERSION, C_SCOPE_ATTRIBUTES,
    C_SCOPE_DROPPED, C_SCOPE_SCHEMA_URL, C_API_KEY_ID, C_RECEIVED_AT, C_INDEXED_AT, C_WAL_SEQ,
    C_JUNJO_SPAN_TYPE, C_JUNJO_CONTRACT_VERSION, C_JUNJO_TEXT_FIRST, /* 8 text columns */
    C_JUNJO_STORE_ID = C_JUNJO_TEXT_FIRST + 8, C_JUNJO_TEXT_AFTER_STORE, /* 5 text columns */
    C_IS_LLM = C_JUNJO_TEXT_AFTER_STORE + 5, C_IS_ERROR, C_ERROR_TYPE, C_LLM_PROVIDER,
    C_LLM_MODEL, C_PROMPT_TOKENS, C_COMPLETION_TOKENS, C_TOTAL_TOKENS, NCOLS
};

/* schema.SPAN_TABLE, in order (the module's COLUMNS: the Python wrapper checks they match). */
static const column_def COLUMNS[NCOLS] = {
    {"trace_id", JW_UTF8, 0},
    {"span_id", JW_UTF8, 0},
    {"parent_span_id", JW_UTF8, 1},
    {"service_name", JW_UTF8, 0},
    {"name", JW_UTF8, 0},
    {"kind", JW_INT32, 0},
    {"start_time_ns", JW_INT64, 0},
    {"end_time_ns", JW_INT64, 0},
    {"duration_ns", JW_INT64, 0},
    {"status_code", JW_INT32, 0},
    {"status_message", JW_UTF8, 0},
    {"attributes_json", JW_UTF8, 0},
    {"events_json", JW_UTF8, 0},
    {"links_json", JW_UTF8, 0},
    {"flags", JW_UINT32, 0},
    {"trace_state", JW_UTF8, 0},
    {"dropped_attributes_count", JW_UINT32, 0},
    {"dropped_events_count", JW_UINT32, 0},
    {"dropped_links_count", JW_UINT32, 0},
    {"resource_attributes_json", JW_UTF8, 0},
    {"resource_dropped_attributes_count", JW_UINT32, 0},
    {"resource_schema_url", JW_UTF8, 0},
    {"scope_name", JW_UTF8, 0},
    {"scope_version", JW_UTF8, 0},
    {"scope_attributes_json", JW_UTF8, 0},
    {"scope_dropped_attributes_count", JW_UINT32, 0},
    {"scope_schema_url", JW_UTF8, 0},
    {"api_key_id", JW_UTF8, 1},
    {"received_at_ns", JW_INT64, 1},
    {"indexed_at_ns", JW_INT64, 1},
    {"wal_seq", JW_INT64, 1},
    {"junjo_span_type", JW_UTF8, 1},
    {"junjo_contract_version", JW_INT64, 1},
    {"junjo_executable_definition_id", JW_UTF8, 1},
    {"junjo_executable_runtime_id", JW_UTF8, 1},
    {"junjo_executable_structural_id", JW_UTF8, 1},
    {"junjo_enclosing_graph_structural_id", JW_UTF8, 1},
    {"junjo_parent_executable_definition_id", JW_UTF8, 1},
    {"junjo_parent_executable_runtime_id", JW_UTF8, 1},
    {"junjo_parent_executable_structural_id", JW_UTF8, 1},
    {"junjo_parent_executable_type", JW_UTF8, 1},
    {"junjo_store_id", JW_UTF8, 1},
    {"junjo_parent_store_id", JW_UTF8, 1},
    {"junjo_id", JW_UTF8, 1},
    {"junjo_parent_id", JW_UTF8, 1},
    {"junjo_correlation_type", JW_UTF8, 1},
    {"junjo_correlation_id", JW_UTF8, 1},
    {"is_llm", JW_BOOL, 0},
    {"is_error", JW_BOOL, 0},
    {"error_type", JW_UTF8, 1},
    {"llm_provider", JW_UTF8, 1},
    {"llm_model_name", JW_UTF8, 1},
    {"llm_prompt_tokens", JW_INT64, 1},
    {"llm_completion_tokens", JW_INT64, 1},
    {"llm_total_tokens", JW_INT64, 1},
};

typedef struct {
    jbuf data, offsets, validity;
    size_t nulls;
} jcol;

typedef struct {
    size_t position[3];
    char *text;
    size_t len;
} failed_span;

struct jw_result {
    int status;
    size_t rows;
    jcol cols[NCOLS];
    jw_column views[NCOLS];
    vec failed; /* failed_span, malloc'd items */
    size_t failed_cap;
    size_t text_bytes, text_budget; /* in all text columns, and their limit (BUDGET_FACTOR) */
};

static inline err col_bit(jbuf *bits, size_t row, int on) {
    if (row % 8 == 0) TRY(jb_byte(bits, 0));
    if (on) bits->p[row / 8] |= (uint8_t)(1u << (row % 8));
    return OK;
}

/* Ends a row's cell: its validity bit and, for strings, the end offset of the bytes written. */
static inline err col_end(jw_result *res, int col, int valid) {
    jcol *c = &res->cols[col];
    if (COLUMNS[col].type == JW_UTF8) {
        int32_t start;
        memcpy(&start, c->offsets.p + c->offsets.n - sizeof start, sizeof start);
        res->text_bytes += c->data.n - (size_t)start;
        if (res->text_bytes > res->text_budget) return DECLINE;
        int32_t end = (int32_t)c->data.n;
        TRY(jb_put(&c->offsets, &end, sizeof end));
    }
    if (!valid) c->nulls++;
    return col_bit(&c->validity, res->rows, valid);
}

static err col_str(jw_result *res, int col, const uint8_t *p, size_t n) {
    TRY(jb_put(&res->cols[col].data, p, n));
    return col_end(res, col, 1);
}

static err col_null(jw_result *res, int col) {
    jcol *c = &res->cols[col];
    static const uint8_t zeros[8] = {0};
    switch (COLUMNS[col].type) {
    case JW_INT64: TRY(jb_put(&c->data, zeros, 8)); break;
    case JW_INT32:
    case JW_UINT32: TRY(jb_put(&c->data, zeros, 4)); break;
    case JW_BOOL: TRY(col_bit(&c->data, res->rows, 0)); break;
    default: break;
    }
    return col_end(res, col, 0);
}

static err col_i64(jw_result *res, int col, int64_t v) {
    TRY(jb_put(&res->cols[col].data, &v, sizeof v));
    return col_end(res, col, 1);
}

static err col_i32(jw_result *res, int col, int32_t v) {
    TRY(jb_put(&res->cols[col].data, &v, sizeof v));
    return col_end(res, col, 1);
}

static err col_u32(jw_result *res, int col, uint32_t v) {
    TRY(jb_put(&res->cols[col].data, &v, sizeof v));
    return col_end(res, col, 1);
}

static err col_bool(jw_result *res, int col, int v) {
    TRY(col_bit(&res->cols[col].data, res->rows, v));
    return col_end(res, col, 1);
}

/* -- lifted attributes ------------------------------------------------------------------- */

enum {
    K_SPAN_TYPE, K_CONTRACT_VERSION, K_JUNJO_TEXT, /* 8 */
    K_WORKFLOW_STORE = K_JUNJO_TEXT + 8, K_AGENT_STORE, K_JUNJO_TEXT_AFTER_STORE, /* 5 */
    K_OPENINFERENCE_KIND = K_JUNJO_TEXT_AFTER_STORE + 5, K_OPERATION, K_TOTAL, K_PROMPT, /* 3 */
    K_COMPLETION = K_PROMPT + 3, /* 3 */
    K_PROVIDER = K_COMPLETION + 3, /* 3 */
    K_MODEL = K_PROVIDER + 3,      /* 3 */
    K_ERROR_TYPE = K_MODEL + 3, NKEYS
};

typedef struct {
    const char *text;
    size_t len;
} key_name;

#define KEY(s) {s, sizeof(s) - 1}

static const key_name KEYS[NKEYS] = {
    KEY("junjo.span_type"),
    KEY("junjo.telemetry.contract_version"),
    KEY("junjo.executable_definition_id"),
    KEY("junjo.executable_runtime_id"),
    KEY("junjo.executable_structural_id"),
    KEY("junjo.enclosing_graph_structural_id"),
    KEY("junjo.parent_executable_definition_id"),
    KEY("junjo.parent_executable_runtime_id"),
    KEY("junjo.parent_executable_structural_id"),
    KEY("junjo.parent_executable_type"),
    KEY("junjo.workflow.store.id"),
    KEY("junjo.agent.store.id"),
    KEY("junjo.workflow.parent_store.id"),
    KEY("junjo.id"),
    KEY("junjo.parent_id"),
    KEY("junjo.correlation.type"),
    KEY("junjo.correlation.id"),
    KEY("openinference.span.kind"),
    KEY("gen_ai.operation.name"),
    KEY("llm.token_count.total"),
    KEY("llm.token_count.prompt"),
    KEY("gen_ai.usage.input_tokens"),
    KEY("gen_ai.usage.prompt_tokens"),
    KEY("llm.token_count.completion"),
    KEY("gen_ai.usage.output_tokens"),
    KEY("gen_ai.usage.completion_tokens"),
    KEY("llm.provider"),
    KEY("gen_ai.provider.name"),
    KEY("gen_ai.system"),
    KEY("llm.model_name"),
    KEY("gen_ai.response.model"),
    KEY("gen_ai.request.model"),
    KEY("error.type"),
};

static int is_none(const jv *v) { return v == NULL || v->kind == V_UNSET; }

/* A value Python sees as a str: a string, or bytes (hex text). */
static int is_text(const jv *v) { return v != NULL && (v->kind == V_STR || v->kind == V_BYTES); }

static int is_empty_text(const jv *v) { return is_text(v) && v->s.n == 0; }

/* _text(): None, a str as-is, else JSON. */
static err lift_text(ctx *c, jw_result *res, int col, const jv *v) {
    if (is_none(v)) return col_null(res, col);
    jbuf *b = &res->cols[col].data;
    if (v->kind == V_STR) TRY(jb_put(b, v->s.p, v->s.n));
    else if (v->kind == V_BYTES) TRY(jb_hex(b, v->s.p, v->s.n));
    else TRY(json_value(c, b, v));
    return col_end(res, col, 1);
}

/* _first(): the first value that is neither None nor "". */
static const jv *first(const jv *const *slots, int n) {
    for (int i = 0; i < n; i++)
        if (!is_none(slots[i]) && !is_empty_text(slots[i])) return slots[i];
    return NULL;
}

static int py_space(uint8_t c) { return c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f); }

/* int(s.strip()) for an ASCII str, within int64: 1 and *out, or 0 (None). Non-ASCII text
 * (unicode digits and spaces count in Python) declines. */
static err py_int(const uint8_t *s, size_t n, int *found, int64_t *out) {
    *found = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] >= 0x80) return DECLINE;
    while (n && py_space(s[0])) s++, n--;
    while (n && py_space(s[n - 1])) n--;
    int negative = 0;
    if (n && (s[0] == '+' || s[0] == '-')) negative = s[0] == '-', s++, n--;
    if (n == 0) return OK;
    uint64_t v = 0;
    int big = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '_') {
            if (i == 0 || i + 1 == n || s[i - 1] == '_' || s[i + 1] == '_') return OK;
            continue;
        }
        if (s[i] < '0' || s[i] > '9') return OK;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) big = 1;
        else v = v * 10 + d;
    }
    if (big || v > (negative ? (uint64_t)1 << 63 : (uint64_t)INT64_MAX)) return OK;
    *out = negative ? (int64_t)(0 - v) : (int64_t)v;
    *found = 1;
    return OK;
}

/* _integer(): ints, integral floats and integer strings within int64, else None. */
static err integer(ctx *c, const jv *v, int *found, int64_t *out) {
    *found = 0;
    if (is_none(v)) return OK;
    switch (v->kind) {
    case V_INT: *found = 1; *out = v->i; return OK;
    case V_DOUBLE:
        if (isfinite(v->d) && floor(v->d) == v->d && v->d >= -9223372036854775808.0 &&
            v->d < 9223372036854775808.0) {
            *found = 1;
            *out = (int64_t)v->d;
        }
        return OK;
    case V_STR: return py_int(v->s.p, v->s.n, found, out);
    case V_BYTES: {
        if (v->s.n > 64) return OK; /* hex of more than 32 bytes cannot be an int64 */
        uint8_t hex[128];
        for (size_t i = 0; i < v->s.n; i++) {
            hex[2 * i] = (uint8_t)HEX[v->s.p[i] >> 4];
            hex[2 * i + 1] = (uint8_t)HEX[v->s.p[i] & 15];
        }
        return py_int(hex, 2 * v->s.n, found, out);
    }
    default: (void)c; return OK;
    }
}

static err lift_integer(ctx *c, jw_result *res, int col, const jv *v, int *found, int64_t *out) {
    TRY(integer(c, v, found, out));
    return *found ? col_i64(res, col, *out) : col_null(res, col);
}

static int text_is(const jv *v, const char *s) {
    size_t n = strlen(s);
    return v != NULL && v->kind == V_STR && v->s.n == n && memcmp(v->s.p, s, n) == 0;
}

/* is_llm_call() */
static int is_llm_call(const jv *const *k) {
    if (text_is(k[K_OPENINFERENCE_KIND], "LLM")) return 1;
    const jv *op = k[K_OPERATION];
    if (is_text(op) && op->s.n > 0)
        return !(text_is(op, "create_agent") || text_is(op, "invoke_agent") ||
                 text_is(op, "execute_tool"));
    static const int calls[] = {K_PROVIDER + 1, K_PROVIDER + 2, K_MODEL + 2, K_MODEL + 1,
                                K_PROMPT + 1,   K_PROMPT + 2,   K_COMPLETION + 1, K_COMPLETION + 2};
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++)
        if (!is_none(k[calls[i]]) && !is_empty_text(k[calls[i]])) return 1;
    return 0;
}

static err lifted_columns(ctx *c, jw_result *res, const vec *attrs, int is_error) {
    const jv *k[NKEYS] = {0};
    const jkv *items = attrs->items;
    for (size_t i = 0; i < attrs->n; i++) {
        span_bytes key = items[i].key;
        if (key.n < 8) continue;
        char first = (char)key.p[0];
        if (first != 'j' && first != 'l' && first != 'g' && first != 'o' && first != 'e') continue;
        for (int j = 0; j < NKEYS; j++) {
            if (KEYS[j].len == key.n && KEYS[j].text[0] == first &&
                memcmp(KEYS[j].text, key.p, key.n) == 0) {
                /* a None value reads as absent, as attrs.get() does */
                k[j] = items[i].value;
                break;
            }
        }
    }
    int found;
    int64_t number;
    if (is_none(k[K_SPAN_TYPE]) && is_none(k[K_CONTRACT_VERSION])) {
        for (int col = C_JUNJO_SPAN_TYPE; col < C_IS_LLM; col++) TRY(col_null(res, col));
    } else {
        TRY(lift_text(c, res, C_JUNJO_SPAN_TYPE, k[K_SPAN_TYPE]));
        TRY(lift_integer(c, res, C_JUNJO_CONTRACT_VERSION, k[K_CONTRACT_VERSION], &found, &number));
        for (int i = 0; i < 8; i++) TRY(lift_text(c, res, C_JUNJO_TEXT_FIRST + i, k[K_JUNJO_TEXT + i]));
        TRY(lift_text(c, res, C_JUNJO_STORE_ID, first(k + K_WORKFLOW_STORE, 2)));
        for (int i = 0; i < 5; i++)
            TRY(lift_text(c, res, C_JUNJO_TEXT_AFTER_STORE + i, k[K_JUNJO_TEXT_AFTER_STORE + i]));
    }
    TRY(col_bool(res, C_IS_LLM, is_llm_call(k)));
    TRY(col_bool(res, C_IS_ERROR, is_error));
    TRY(lift_text(c, res, C_ERROR_TYPE, k[K_ERROR_TYPE]));
    TRY(lift_text(c, res, C_LLM_PROVIDER, first(k + K_PROVIDER, 3)));
    TRY(lift_text(c, res, C_LLM_MODEL, first(k + K_MODEL, 3)));
    int has_prompt, has_completion, has_total;
    int64_t prompt = 0, completion = 0, total = 0;
    TRY(lift_integer(c, res, C_PROMPT_TOKENS, first(k + K_PROMPT, 3), &has_prompt, &prompt));
    TRY(lift_integer(c, res, C_COMPLETION_TOKENS, first(k + K_COMPLETION, 3), &has_completion,
                     &completion));
    TRY(integer(c, k[K_TOTAL], &has_total, &total));
    if (!has_total && has_prompt && has_completion) {
        /* Python's sum can pass int64 (and then fails in the store): Python decides. */
        if ((completion > 0 && prompt > INT64_MAX - completion) ||
            (completion < 0 && prompt < INT64_MIN - completion))
            return DECLINE;
        total = prompt + completion;
        has_total = 1;
    }
    return has_total ? col_i64(res, C_TOTAL_TOKENS, total) : col_null(res, C_TOTAL_TOKENS);
}

/* -- spans ------------------------------------------------------------------------------- */

typedef struct {
    uint64_t time;
    span_bytes name;
    vec attrs;
    uint32_t dropped;
} event;

typedef struct {
    span_bytes trace_id, span_id, trace_state;
    vec attrs;
    uint32_t dropped, flags;
} link;

typedef struct {
    span_bytes trace_id, span_id, trace_state, parent, name, status_message;
    uint32_t flags, dropped_attrs, dropped_events, dropped_links;
    int32_t kind, status_code;
    uint64_t start, end;
    vec attrs, events, links;
} span;

typedef struct {
    ctx c;
    jw_result *res;
    const jw_options *opts;
    jbuf service, resource_json, scope_json;
    uint32_t resource_dropped, scope_dropped;
    span_bytes resource_schema_url, scope_name, scope_version, scope_schema_url;
} walker;

static err parse_event(ctx *c, span_bytes msg, event *e) {
    if (++c->depth > MAX_DEPTH) return DECLINE;
    rd r = {msg.p, msg.p + msg.n};
    while (r.p < r.end) {
        uint32_t field;
        int wire;
        uint64_t x;
        TRY(rd_tag(&r, &field, &wire));
        if (field == 1 && wire == 1) TRY(rd_fixed64(&r, &e->time));
        else if (field == 2 && wire == 2) TRY(rd_string(&r, &e->name));
        else if (field == 3 && wire == 2) TRY(push_kv(c, &e->attrs, &r));
        else if (field == 4 && wire == 0) {
            TRY(rd_varint(&r, &x));
            e->dropped = (uint32_t)x;
        } else TRY(rd_skip(&r, wire));
    }
    c->depth--;
    return OK;
}

static err parse_link(ctx *c, span_bytes msg, link *l) {
    if (++c->depth > MAX_DEPTH) return DECLINE;
    rd r = {msg.p, msg.p + msg.n};
    while (r.p < r.end) {
        uint32_t field;
        int wire;
        uint64_t x;
        TRY(rd_tag(&r, &field, &wire));
        if (field == 1 && wire == 2) TRY(rd_bytes(&r, &l->trace_id));
        else if (field == 2 && wire == 2) TRY(rd_bytes(&r, &l->span_id));
        else if (field == 3 && wire == 2) TRY(rd_string(&r, &l->trace_state));
        else if (field == 4 && wire == 2) TRY(push_kv(c, &l->attrs, &r));
        else if (field == 5 && wire == 0) {
            TRY(rd_varint(&r, &x));
            l->dropped = (uint32_t)x;
        } else if (field == 6 && wire == 5) TRY(rd_fixed32(&r, &l->flags));
        else TRY(rd_skip(&r, wire));
    }
    c->depth--;
    return OK;
}

static err parse_status(span_bytes msg, span *s) {
    rd r = {msg.p, msg.p + msg.n};
    while (r.p < r.end) {
        uint32_t field;
        int wire;
        uint64_t x;
        TRY(rd_tag(&r, &field, &wire));
        if (field == 2 && wire == 2) TRY(rd_string(&r, &s->status_message));
        else if (field == 3 && wire == 0) {
            TRY(rd_varint(&r, &x));
            s->status_code = (int32_t)(uint32_t)x;
        } else TRY(rd_skip(&r, wire));
    }
    return OK;
}

static err parse_span(ctx *c, span_bytes msg, span *s) {
    rd r = {msg.p, msg.p + msg.n};
    while (r.p < r.end) {
        uint32_t field;
        int wire;
        uint64_t x;
        span_bytes b;
        TRY(rd_tag(&r, &field, &wire));
        switch (field << 3 | (uint32_t)wire) {
        case 1 << 3 | 2: TRY(rd_bytes(&r, &s->trace_id)); break;
        case 2 << 3 | 2: TRY(rd_bytes(&r, &s->span_id)); break;
        case 3 << 3 | 2: TRY(rd_string(&r, &s->trace_state)); break;
        case 4 << 3 | 2: TRY(rd_bytes(&r, &s->parent)); break;
        case 16 << 3 | 5: TRY(rd_fixed32(&r, &s->flags)); break;
        case 5 << 3 | 2: TRY(rd_string(&r, &s->name)); break;
        case 6 << 3 | 0:
            TRY(rd_varint(&r, &x));
            s->kind = (int32_t)(uint32_t)x;
            break;
        case 7 << 3 | 1: TRY(rd_fixed64(&r, &s->start)); break;
        case 8 << 3 | 1: TRY(rd_fixed64(&r, &s->end)); break;
        case 9 << 3 | 2: TRY(push_kv(c, &s->attrs, &r)); break;
        case 10 << 3 | 0:
            TRY(rd_varint(&r, &x));
            s->dropped_attrs = (uint32_t)x;
            break;
        case 11 << 3 | 2: {
            TRY(rd_bytes(&r, &b));
            event *e = vec_push(&c->a, &s->events, sizeof(event));
            if (e == NULL) return NOMEM;
            TRY(parse_event(c, b, e));
            break;
        }
        case 12 << 3 | 0:
            TRY(rd_varint(&r, &x));
            s->dropped_events = (uint32_t)x;
            break;
        case 13 << 3 | 2: {
            TRY(rd_bytes(&r, &b));
            link *l = vec_push(&c->a, &s->links, sizeof(link));
            if (l == NULL) return NOMEM;
            TRY(parse_link(c, b, l));
            break;
        }
        case 14 << 3 | 0:
            TRY(rd_varint(&r, &x));
            s->dropped_links = (uint32_t)x;
            break;
        case 15 << 3 | 2:
            TRY(rd_bytes(&r, &b));
            TRY(parse_status(b, s));
            break;
        default: TRY(rd_skip(&r, wire));
        }
    }
    return OK;
}

static err fail_span(walker *w, const span *s, const size_t position[3]) {
    jw_result *res = w->res;
    static const char head[] = "ConversionError: span ";
    static const char tail[] = ": timestamp beyond year 2262";
    jbuf text = {0};
    err e = jb_lit(&text, head);
    if (e == OK) e = jb_hex(&text, s->span_id.p, s->span_id.n);
    if (e == OK) e = jb_lit(&text, tail);
    if (e == OK && res->failed.n == res->failed_cap) {
        size_t cap = res->failed_cap ? res->failed_cap * 2 : 4;
        failed_span *items = realloc(res->failed.items, cap * sizeof(failed_span));
        if (items == NULL) e = NOMEM;
        else res->failed.items = items, res->failed_cap = cap;
    }
    if (e != OK) {
        free(text.p);
        return e;
    }
    failed_span *f = (failed_span *)res->failed.items + res->failed.n++;
    memcpy(f->position, position, sizeof f->position);
    f->text = (char *)text.p;
    f->len = text.n;
    return OK;
}

static err events_json(walker *w, const span *s, int *has_exception) {
    jbuf *b = &w->res->cols[C_EVENTS].data;
    const event *events = s->events.items;
    TRY(jb_byte(b, '['));
    for (size_t i = 0; i < s->events.n; i++) {
        const event *e = &events[i];
        if (e->name.n == 9 && memcmp(e->name.p, "exception", 9) == 0) *has_exception = 1;
        if (i) TRY(jb_byte(b, ','));
        TRY(jb_lit(b, "{\"name\":"));
        TRY(json_str(b, e->name.p, e->name.n));
        TRY(jb_lit(b, ",\"timeUnixNano\":\""));
        TRY(jb_u64(b, e->time));
        TRY(jb_lit(b, "\",\"attributes\":"));
        TRY(json_dict(&w->c, b, &e->attrs));
        TRY(jb_lit(b, ",\"droppedAttributesCount\":"));
        TRY(jb_u64(b, e->dropped));
        TRY(jb_byte(b, '}'));
    }
    TRY(jb_byte(b, ']'));
    return col_end(w->res, C_EVENTS, 1);
}

static err links_json(walker *w, const span *s) {
    jbuf *b = &w->res->cols[C_LINKS].data;
    const link *links = s->links.items;
    TRY(jb_byte(b, '['));
    for (size_t i = 0; i < s->links.n; i++) {
        const link *l = &links[i];
        if (i) TRY(jb_byte(b, ','));
        TRY(jb_lit(b, "{\"traceId\":\""));
        TRY(jb_hex(b, l->trace_id.p, l->trace_id.n));
        TRY(jb_lit(b, "\",\"spanId\":\""));
        TRY(jb_hex(b, l->span_id.p, l->span_id.n));
        TRY(jb_lit(b, "\",\"traceState\":"));
        TRY(json_str(b, l->trace_state.p, l->trace_state.n));
        TRY(jb_lit(b, ",\"attributes\":"));
        TRY(json_dict(&w->c, b, &l->attrs));
        TRY(jb_lit(b, ",\"droppedAttributesCount\":"));
        TRY(jb_u64(b, l->dropped));
        TRY(jb_lit(b, ",\"flags\":"));
        TRY(jb_u64(b, l->flags));
        TRY(jb_byte(b, '}'));
    }
    TRY(jb_byte(b, ']'));
    return col_end(w->res, C_LINKS, 1);
}

static err hex_cell(jw_result *res, int col, span_bytes b) {
    TRY(jb_hex(&res->cols[col].data, b.p, b.n));
    return col_end(res, col, 1);
}

static err span_row(walker *w, const span *s) {
    jw_result *res = w->res;
    const jw_options *o = w->opts;
    vec attrs;
    TRY(dedup(&w->c, &s->attrs, &attrs));
    TRY(hex_cell(res, C_TRACE_ID, s->trace_id));
    TRY(hex_cell(res, C_SPAN_ID, s->span_id));
    if (s->parent.n) TRY(hex_cell(res, C_PARENT_SPAN_ID, s->parent));
    else TRY(col_null(res, C_PARENT_SPAN_ID));
    TRY(col_str(res, C_SERVICE_NAME, w->service.p, w->service.n));
    TRY(col_str(res, C_NAME, s->name.p, s->name.n));
    TRY(col_i32(res, C_KIND, s->kind));
    TRY(col_i64(res, C_START, (int64_t)s->start));
    TRY(col_i64(res, C_END, (int64_t)s->end));
    TRY(col_i64(res, C_DURATION, (int64_t)s->end - (int64_t)s->start));
    TRY(col_i32(res, C_STATUS_CODE, s->status_code));
    TRY(col_str(res, C_STATUS_MESSAGE, s->status_message.p, s->status_message.n));
    TRY(json_deduped(&w->c, &res->cols[C_ATTRIBUTES].data, &attrs));
    TRY(col_end(res, C_ATTRIBUTES, 1));
    int has_exception = 0;
    TRY(events_json(w, s, &has_exception));
    TRY(links_json(w, s));
    TRY(col_u32(res, C_FLAGS, s->flags));
    TRY(col_str(res, C_TRACE_STATE, s->trace_state.p, s->trace_state.n));
    TRY(col_u32(res, C_DROPPED_ATTRIBUTES, s->dropped_attrs));
    TRY(col_u32(res, C_DROPPED_EVENTS, s->dropped_events));
    TRY(col_u32(res, C_DROPPED_LINKS, s->dropped_links));
    TRY(col_str(res, C_RESOURCE_ATTRIBUTES, w->resource_json.p, w->resource_json.n));
    TRY(col_u32(res, C_RESOURCE_DROPPED, w->resource_dropped));
    TRY(col_str(res, C_RESOURCE_SCHEMA_URL, w->resource_schema_url.p, w->resource_schema_url.n));
    TRY(col_str(res, C_SCOPE_NAME, w->scope_name.p, w->scope_name.n));
    TRY(col_str(res, C_SCOPE_VERSION, w->scope_version.p, w->scope_version.n));
    TRY(col_str(res, C_SCOPE_ATTRIBUTES, w->scope_json.p, w->scope_json.n));
    TRY(col_u32(res, C_SCOPE_DROPPED, w->scope_dropped));
    TRY(col_str(res, C_SCOPE_SCHEMA_URL, w->scope_schema_url.p, w->scope_schema_url.n));
    if (o->api_key_id) TRY(col_str(res, C_API_KEY_ID, (const uint8_t *)o->api_key_id, o->api_key_id_len));
    else TRY(col_null(res, C_API_KEY_ID));
    TRY(o->received_at_is_null ? col_null(res, C_RECEIVED_AT) : col_i64(res, C_RECEIVED_AT, o->received_at_ns));
    TRY(o->indexed_at_is_null ? col_null(res, C_INDEXED_AT) : col_i64(res, C_INDEXED_AT, o->indexed_at_ns));
    TRY(col_i64(res, C_WAL_SEQ, o->seq));
    TRY(lifted_columns(&w->c, res, &attrs, s->status_code == 2 || has_exception));
    res->rows++;
    return OK;
}

/* -- groups ------------------------------------------------------------------------------ */

/* First pass over a ResourceSpans or ScopeSpans: the head message's occurrences (field 1,
 * merged), the spans or scopes (field 2) and the schema_url (field 3, last wins), because
 * protobuf accepts them in any order. */
static err split_group(ctx *c, span_bytes msg, vec *heads, vec *items, span_bytes *schema_url) {
    rd r = {msg.p, msg.p + msg.n};
    while (r.p < r.end) {
        uint32_t field;
        int wire;
        span_bytes b;
        TRY(rd_tag(&r, &field, &wire));
        if ((field == 1 || field == 2) && wire == 2) {
            TRY(rd_bytes(&r, &b));
            span_bytes *slot = vec_push(&c->a, field == 1 ? heads : items, sizeof(span_bytes));
            if (slot == NULL) return NOMEM;
            *slot = b;
        } else if (field == 3 && wire == 2) {
            TRY(rd_string(&r, schema_url));
        } else {
            TRY(rd_skip(&r, wire));
        }
    }
    return OK;
}

/* An EntityRef: nothing of it is stored, but protobuf validates its strings. */
static err check_entity_ref(span_bytes msg) {
    rd r = {msg.p, msg.p + msg.n};
    while (r.p < r.end) {
        uint32_t field;
        int wire;
        span_bytes b;
        TRY(rd_tag(&r, &field, &wire));
        if (field >= 1 && field <= 4 && wire == 2) TRY(rd_string(&r, &b));
        else TRY(rd_skip(&r, wire));
    }
    return OK;
}

static err parse_resource(ctx *c, span_bytes msg, vec *attrs, uint32_t *dropped) {
    rd r = {msg.p, msg.p + msg.n};
    while (r.p < r.end) {
        uint32_t field;
        int wire;
        uint64_t x;
        span_bytes b;
        TRY(rd_tag(&r, &field, &wire));
        if (field == 1 && wire == 2) TRY(push_kv(c, attrs, &r));
        else if (field == 2 && wire == 0) {
            TRY(rd_varint(&r, &x));
            *dropped = (uint32_t)x;
        } else if (field == 3 && wire == 2) {
            TRY(rd_bytes(&r, &b));
            TRY(check_entity_ref(b));
        } else TRY(rd_skip(&r, wire));
    }
    return OK;
}

static err parse_scope(walker *w, span_bytes msg, vec *attrs) {
    rd r = {msg.p, msg.p + msg.n};
    while (r.p < r.end) {
        uint32_t field;
        int wire;
        uint64_t x;
        TRY(rd_tag(&r, &field, &wire));
        if (field == 1 && wire == 2) TRY(rd_string(&r, &w->scope_name));
        else if (field == 2 && wire == 2) TRY(rd_string(&r, &w->scope_version));
        else if (field == 3 && wire == 2) TRY(push_kv(&w->c, attrs, &r));
        else if (field == 4 && wire == 0) {
            TRY(rd_varint(&r, &x));
            w->scope_dropped = (uint32_t)x;
        } else TRY(rd_skip(&r, wire));
    }
    return OK;
}

static err walk_scope_spans(walker *w, span_bytes msg, size_t ri, size_t si) {
    ctx *c = &w->c;
    vec scopes = {0}, spans = {0}, attrs = {0};
    memset(&w->scope_name, 0, sizeof w->scope_name);
    memset(&w->scope_version, 0, sizeof w->scope_version);
    memset(&w->scope_schema_url, 0, sizeof w->scope_schema_url);
    w->scope_dropped = 0;
    c->depth = 2;
    TRY(split_group(c, msg, &scopes, &spans, &w->scope_schema_url));
    c->depth = 3;
    for (size_t i = 0; i < scopes.n; i++) TRY(parse_scope(w, ((span_bytes *)scopes.items)[i], &attrs));
    w->scope_json.n = 0;
    TRY(json_dict(c, &w->scope_json, &attrs));
    for (size_t i = 0; i < spans.n; i++) {
        arena_mark mark = arena_save(&c->a);
        span s;
        memset(&s, 0, sizeof s);
        c->depth = 3;
        err e = parse_span(c, ((span_bytes *)spans.items)[i], &s);
        if (e == OK) {
            if (s.start > (uint64_t)INT64_MAX || s.end > (uint64_t)INT64_MAX) {
                size_t position[3] = {ri, si, i};
                e = fail_span(w, &s, position);
            } else {
                e = span_row(w, &s);
            }
        }
        arena_restore(&c->a, mark);
        TRY(e);
    }
    return OK;
}

/* service_name: _text(resource_attrs.get("service.name")) or "". */
static err service_name(walker *w, const vec *attrs) {
    const jkv *items = attrs->items;
    w->service.n = 0;
    for (size_t i = 0; i < attrs->n; i++) {
        if (items[i].key.n != 12 || memcmp(items[i].key.p, "service.name", 12) != 0) continue;
        const jv *v = items[i].value;
        if (is_none(v)) return OK;
        if (v->kind == V_STR) return jb_put(&w->service, v->s.p, v->s.n);
        if (v->kind == V_BYTES) return jb_hex(&w->service, v->s.p, v->s.n);
        return json_value(&w->c, &w->service, v);
    }
    return OK;
}

static err walk_resource_spans(walker *w, span_bytes msg, size_t ri) {
    ctx *c = &w->c;
    vec resources = {0}, scope_spans = {0}, raw = {0}, attrs;
    memset(&w->resource_schema_url, 0, sizeof w->resource_schema_url);
    w->resource_dropped = 0;
    c->depth = 1;
    TRY(split_group(c, msg, &resources, &scope_spans, &w->resource_schema_url));
    c->depth = 2;
    for (size_t i = 0; i < resources.n; i++)
        TRY(parse_resource(c, ((span_bytes *)resources.items)[i], &raw, &w->resource_dropped));
    TRY(dedup(c, &raw, &attrs));
    TRY(service_name(w, &attrs));
    w->resource_json.n = 0;
    TRY(json_deduped(c, &w->resource_json, &attrs));
    for (size_t si = 0; si < scope_spans.n; si++) {
        arena_mark mark = arena_save(&c->a);
        err e = walk_scope_spans(w, ((span_bytes *)scope_spans.items)[si], ri, si);
        arena_restore(&c->a, mark);
        TRY(e);
    }
    return OK;
}

static err walk(walker *w, const uint8_t *data, size_t len) {
    rd r = {data, data + len};
    size_t ri = 0;
    while (r.p < r.end) {
        uint32_t field;
        int wire;
        span_bytes b;
        TRY(rd_tag(&r, &field, &wire));
        if (field == 1 && wire == 2) {
            TRY(rd_bytes(&r, &b));
            arena_mark mark = arena_save(&w->c.a);
            err e = walk_resource_spans(w, b, ri++);
            arena_restore(&w->c.a, mark);
            TRY(e);
        } else {
            TRY(rd_skip(&r, wire));
        }
    }
    return OK;
}

/* -- the interface ---------------------------------------------------------------------- */

static void free_columns(jw_result *res) {
    for (int i = 0; i < NCOLS; i++) {
        free(res->cols[i].data.p);
        free(res->cols[i].offsets.p);
        free(res->cols[i].validity.p);
        memset(&res->cols[i], 0, sizeof res->cols[i]);
    }
    failed_span *failed = res->failed.items;
    for (size_t i = 0; i < res->failed.n; i++) free(failed[i].text);
    free(res->failed.items);
    memset(&res->failed, 0, sizeof res->failed);
    res->failed_cap = 0;
    res->rows = 0;
}

/* Views for the reader; every pointer non-NULL, as the Arrow C interface wants. */
static err finish(jw_result *res) {
    static const int32_t zero = 0;
    for (int i = 0; i < NCOLS; i++) {
        jcol *c = &res->cols[i];
        if (COLUMNS[i].type == JW_UTF8 && c->offsets.n == 0) TRY(jb_put(&c->offsets, &zero, 4));
        if (c->data.cap == 0) TRY(jb_reserve(&c->data, 1));
        jw_column *v = &res->views[i];
        v->name = COLUMNS[i].name;
        v->type = COLUMNS[i].type;
        v->nullable = COLUMNS[i].nullable;
        v->null_count = c->nulls;
        v->validity = c->nulls ? c->validity.p : NULL;
        v->offsets = COLUMNS[i].type == JW_UTF8 ? (const int32_t *)(void *)c->offsets.p : NULL;
        v->data = c->data.p;
        v->data_len = c->data.n;
    }
    return OK;
}

jw_result *jw_walk(const uint8_t *data, size_t len, const jw_options *opts) {
    jw_result *res = calloc(1, sizeof *res);
    if (res == NULL) return NULL;
    res->text_budget = len < (COLUMN_BYTES_MAX - BUDGET_FLOOR) / BUDGET_FACTOR
                             ? BUDGET_FACTOR * len + BUDGET_FLOOR
                             : COLUMN_BYTES_MAX;
    walker w;
    memset(&w, 0, sizeof w);
    w.res = res;
    w.opts = opts;
    err e = OK;
    for (int i = 0; i < NCOLS && e == OK; i++)
        if (COLUMNS[i].type == JW_UTF8) {
            static const int32_t zero = 0;
            e = jb_put(&res->cols[i].offsets, &zero, sizeof zero);
        }
    /* The JSON columns are about as long as the request: sized once, not regrown (pages
     * never written are never resident). */
    if (e == OK) e = jb_reserve(&res->cols[C_ATTRIBUTES].data, len + 4096);
    if (e == OK) e = jb_reserve(&res->cols[C_EVENTS].data, len + 4096);
    if (e == OK && data == NULL && len) e = DECLINE;
    if (e == OK && len) e = walk(&w, data, len);
    if (e == OK) e = finish(res);
    arena_free(&w.c.a);
    free(w.service.p);
    free(w.resource_json.p);
    free(w.scope_json.p);
    if (e != OK) free_columns(res); /* a declined walk holds nothing */
    res->status = (int)e;
    return res;
}

int jw_status(const jw_result *result) { return result ? result->status : JW_NOMEM; }

size_t jw_row_count(const jw_result *result) { return result ? result->rows : 0; }

void jw_free(jw_result *result) {
    if (result == NULL) return;
    free_columns(result);
    free(result);
}

size_t jw_column_count(void) { return NCOLS; }

const char *jw_column_name(size_t index) { return index < NCOLS ? COLUMNS[index].name : NULL; }

const jw_column *jw_columns(const jw_result *result) {
    return result && result->status == JW_OK ? result->views : NULL;
}

size_t jw_bytes(const jw_result *result) {
    if (result == NULL) return 0;
    size_t n = sizeof *result;
    for (int i = 0; i < NCOLS; i++)
        n += result->cols[i].data.n + result->cols[i].offsets.n + result->cols[i].validity.n;
    return n;
}

size_t jw_failed_count(const jw_result *result) { return result ? result->failed.n : 0; }

const char *jw_failed(const jw_result *result, size_t index, size_t position[3], size_t *text_len) {
    if (result == NULL || index >= result->failed.n) return NULL;
    const failed_span *f = (const failed_span *)result->failed.items + index;
    memcpy(position, f->position, sizeof f->position);
    *text_len = f->len;
    return f->text;
}
