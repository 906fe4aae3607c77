/* junjo.features.spans._native: the OTLP walker (otlp_walk.c) for Python.
 *
 * convert() walks a request with the GIL released and returns a NativeSpans: the columns,
 * readable as rows (to_rows(), equal to convert.py's) or, without copying, as an Arrow C
 * stream (__arrow_c_stream__) that DuckDB scans. The column buffers are shared by the
 * NativeSpans and every stream and array exported from it through an atomic count, so a
 * release callback (which DuckDB may call from its own threads, without the GIL) never
 * touches a Python object. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "otlp_walk.h"

/* -- the Arrow C data and stream interfaces (https://arrow.apache.org/docs/format/) ------ */

#define ARROW_FLAG_NULLABLE 2

struct ArrowSchema {
    const char *format;
    const char *name;
    const char *metadata;
    int64_t flags;
    int64_t n_children;
    struct ArrowSchema **children;
    struct ArrowSchema *dictionary;
    void (*release)(struct ArrowSchema *);
    void *private_data;
};

struct ArrowArray {
    int64_t length;
    int64_t null_count;
    int64_t offset;
    int64_t n_buffers;
    int64_t n_children;
    const void **buffers;
    struct ArrowArray **children;
    struct ArrowArray *dictionary;
    void (*release)(struct ArrowArray *);
    void *private_data;
};

struct ArrowArrayStream {
    int (*get_schema)(struct ArrowArrayStream *, struct ArrowSchema *out);
    int (*get_next)(struct ArrowArrayStream *, struct ArrowArray *out);
    const char *(*get_last_error)(struct ArrowArrayStream *);
    void (*release)(struct ArrowArrayStream *);
    void *private_data;
};

/* -- shared, refcounted results -------------------------------------------------------- */

typedef struct {
    atomic_size_t refs;
    jw_result *result;
} holder;

static holder *holder_ref(holder *h) {
    atomic_fetch_add_explicit(&h->refs, 1, memory_order_relaxed);
    return h;
}

static void holder_unref(holder *h) {
    if (atomic_fetch_sub_explicit(&h->refs, 1, memory_order_acq_rel) == 1) {
        jw_free(h->result);
        free(h);
    }
}

static const char *arrow_format(int type) {
    switch (type) {
    case JW_UTF8: return "u";
    case JW_INT64: return "l";
    case JW_INT32: return "i";
    case JW_UINT32: return "I";
    default: return "b";
    }
}

/* Schema: a struct of the columns; names and formats are static strings. */
static void child_schema_release(struct ArrowSchema *s) { s->release = NULL; }

static void schema_release(struct ArrowSchema *s) {
    for (int64_t i = 0; i < s->n_children; i++) {
        struct ArrowSchema *child = s->children[i];
        if (child->release) child->release(child);
    }
    free(s->private_data); /* the children and their pointer array, one block */
    s->release = NULL;
}

static int fill_schema(struct ArrowSchema *out) {
    size_t n = jw_column_count();
    struct ArrowSchema **children = malloc(n * (sizeof(struct ArrowSchema *) + sizeof(struct ArrowSchema)));
    if (children == NULL) return ENOMEM;
    struct ArrowSchema *structs = (struct ArrowSchema *)(void *)(children + n);
    for (size_t i = 0; i < n; i++) {
        memset(&structs[i], 0, sizeof structs[i]);
        children[i] = &structs[i];
    }
    memset(out, 0, sizeof *out);
    out->format = "+s";
    out->name = "";
    out->n_children = (int64_t)n;
    out->children = children;
    out->release = schema_release;
    out->private_data = children;
    return 0;
}

typedef struct {
    holder *h;
    const void *buffers[3];
} child_private;

static void child_array_release(struct ArrowArray *a) {
    child_private *p = a->private_data;
    holder_unref(p->h);
    free(p);
    a->release = NULL;
}

static void array_release(struct ArrowArray *a) {
    for (int64_t i = 0; i < a->n_children; i++) {
        struct ArrowArray *child = a->children[i];
        if (child->release) child->release(child);
    }
    free(a->private_data);
    a->release = NULL;
}

static int fill_array(holder *h, struct ArrowArray *out) {
    size_t n = jw_column_count();
    const jw_column *cols = jw_columns(h->result);
    int64_t rows = (int64_t)jw_row_count(h->result);
    size_t block = n * (sizeof(struct ArrowArray *) + sizeof(struct ArrowArray)) + sizeof(void *);
    struct ArrowArray **children = malloc(block);
    if (children == NULL) return ENOMEM;
    struct ArrowArray *structs = (struct ArrowArray *)(void *)(children + n);
    const void **parent_buffers = (const void **)(void *)(structs + n);
    parent_buffers[0] = NULL;
    for (size_t i = 0; i < n; i++) {
        child_private *p = malloc(sizeof *p);
        if (p == NULL) {
            for (size_t j = 0; j < i; j++) child_array_release(&structs[j]);
            free(children);
            return ENOMEM;
        }
        p->h = holder_ref(h);
        const jw_column *c = &cols[i];
        p->buffers[0] = c->validity;
        int64_t nbuf = 2;
        if (c->type == JW_UTF8) {
            p->buffers[1] = c->offsets;
            p->buffers[2] = c->data;
            nbuf = 3;
        } else {
            p->buffers[1] = c->data;
        }
        struct ArrowArray *a = &structs[i];
        memset(a, 0, sizeof *a);
        a->length = rows;
        a->null_count = (int64_t)c->null_count;
        a->n_buffers = nbuf;
        a->buffers = p->buffers;
        a->release = child_array_release;
        a->private_data = p;
        children[i] = a;
    }
    memset(out, 0, sizeof *out);
    out->length = rows;
    out->n_buffers = 1;
    out->buffers = parent_buffers;
    out->n_children = (int64_t)n;
    out->children = children;
    out->release = array_release;
    out->private_data = children;
    return 0;
}

typedef struct {
    holder *h;
    int done;
} stream_private;

static int stream_get_schema(struct ArrowArrayStream *s, struct ArrowSchema *out) {
    stream_private *p = s->private_data;
    int rc = fill_schema(out);
    if (rc) return rc;
    const jw_column *cols = jw_columns(p->h->result);
    for (int64_t i = 0; i < out->n_children; i++) {
        struct ArrowSchema *child = out->children[i];
        child->format = arrow_format(cols[i].type);
        child->name = cols[i].name;
        child->flags = cols[i].nullable ? ARROW_FLAG_NULLABLE : 0;
        child->release = child_schema_release;
    }
    return 0;
}

static int stream_get_next(struct ArrowArrayStream *s, struct ArrowArray *out) {
    stream_private *p = s->private_data;
    if (p->done) {
        memset(out, 0, sizeof *out); /* release == NULL: the end of the stream */
        return 0;
    }
    int rc = fill_array(p->h, out);
    if (rc == 0) p->done = 1;
    return rc;
}

static const char *stream_last_error(struct ArrowArrayStream *s) {
    (void)s;
    return NULL;
}

static void stream_release(struct ArrowArrayStream *s) {
    stream_private *p = s->private_data;
    holder_unref(p->h);
    free(p);
    s->release = NULL;
}

/* -- NativeSpans --------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    holder *h;
} NativeSpans;

static void NativeSpans_dealloc(NativeSpans *self) {
    if (self->h) holder_unref(self->h);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static Py_ssize_t NativeSpans_len(NativeSpans *self) {
    return (Py_ssize_t)jw_row_count(self->h->result);
}

static PyObject *cell(const jw_column *c, size_t row) {
    if (c->validity && !(c->validity[row / 8] >> (row % 8) & 1)) Py_RETURN_NONE;
    switch (c->type) {
    case JW_UTF8: {
        int32_t start = c->offsets[row], end = c->offsets[row + 1];
        return PyUnicode_DecodeUTF8((const char *)c->data + start, end - start, "strict");
    }
    case JW_INT64: {
        int64_t v;
        memcpy(&v, c->data + 8 * row, 8);
        return PyLong_FromLongLong(v);
    }
    case JW_INT32: {
        int32_t v;
        memcpy(&v, c->data + 4 * row, 4);
        return PyLong_FromLong(v);
    }
    case JW_UINT32: {
        uint32_t v;
        memcpy(&v, c->data + 4 * row, 4);
        return PyLong_FromUnsignedLong(v);
    }
    default: return PyBool_FromLong(c->data[row / 8] >> (row % 8) & 1);
    }
}

static PyObject *NativeSpans_to_rows(NativeSpans *self, PyObject *unused) {
    (void)unused;
    const jw_column *cols = jw_columns(self->h->result);
    size_t rows = jw_row_count(self->h->result), n = jw_column_count();
    PyObject *out = PyList_New((Py_ssize_t)rows);
    if (out == NULL) return NULL;
    for (size_t r = 0; r < rows; r++) {
        PyObject *row = PyTuple_New((Py_ssize_t)n);
        if (row == NULL) goto fail;
        PyList_SET_ITEM(out, (Py_ssize_t)r, row);
        for (size_t i = 0; i < n; i++) {
            PyObject *v = cell(&cols[i], r);
            if (v == NULL) goto fail;
            PyTuple_SET_ITEM(row, (Py_ssize_t)i, v);
        }
    }
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

static PyObject *NativeSpans_keys(NativeSpans *self, PyObject *unused) {
    (void)unused;
    const jw_column *cols = jw_columns(self->h->result);
    size_t rows = jw_row_count(self->h->result);
    PyObject *out = PyList_New((Py_ssize_t)rows);
    if (out == NULL) return NULL;
    for (size_t r = 0; r < rows; r++) {
        PyObject *trace = cell(&cols[0], r), *span = trace ? cell(&cols[1], r) : NULL;
        PyObject *key = span ? PyTuple_Pack(2, trace, span) : NULL;
        Py_XDECREF(trace);
        Py_XDECREF(span);
        if (key == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, (Py_ssize_t)r, key);
    }
    return out;
}

static PyObject *NativeSpans_failed(NativeSpans *self, void *closure) {
    (void)closure;
    size_t n = jw_failed_count(self->h->result);
    PyObject *out = PyList_New((Py_ssize_t)n);
    if (out == NULL) return NULL;
    for (size_t i = 0; i < n; i++) {
        size_t pos[3], len;
        const char *text = jw_failed(self->h->result, i, pos, &len);
        PyObject *item = Py_BuildValue("((nnn)s#)", (Py_ssize_t)pos[0], (Py_ssize_t)pos[1],
                                       (Py_ssize_t)pos[2], text, (Py_ssize_t)len);
        if (item == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, (Py_ssize_t)i, item);
    }
    return out;
}

static PyObject *NativeSpans_nbytes(NativeSpans *self, void *closure) {
    (void)closure;
    return PyLong_FromSize_t(jw_bytes(self->h->result));
}

static void stream_capsule_destructor(PyObject *capsule) {
    struct ArrowArrayStream *s = PyCapsule_GetPointer(capsule, "arrow_array_stream");
    if (s == NULL) {
        PyErr_Clear();
        return;
    }
    if (s->release) s->release(s); /* not consumed */
    free(s);
}

static PyObject *NativeSpans_arrow_c_stream(NativeSpans *self, PyObject *args, PyObject *kwargs) {
    static char *names[] = {"requested_schema", NULL};
    PyObject *requested = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O", names, &requested)) return NULL;
    (void)requested; /* the columns have one representation: a consumer casts if it must */
    struct ArrowArrayStream *s = malloc(sizeof *s);
    stream_private *p = malloc(sizeof *p);
    if (s == NULL || p == NULL) {
        free(s);
        free(p);
        return PyErr_NoMemory();
    }
    p->h = holder_ref(self->h);
    p->done = 0;
    s->get_schema = stream_get_schema;
    s->get_next = stream_get_next;
    s->get_last_error = stream_last_error;
    s->release = stream_release;
    s->private_data = p;
    PyObject *capsule = PyCapsule_New(s, "arrow_array_stream", stream_capsule_destructor);
    if (capsule == NULL) {
        stream_release(s);
        free(s);
    }
    return capsule;
}

static PyMethodDef NativeSpans_methods[] = {
    {"to_rows", (PyCFunction)NativeSpans_to_rows, METH_NOARGS,
     "The rows, as tuples equal to convert.py's."},
    {"keys", (PyCFunction)NativeSpans_keys, METH_NOARGS,
     "(trace_id, span_id) hex pairs, one per row."},
    {"__arrow_c_stream__", (PyCFunction)(void (*)(void))NativeSpans_arrow_c_stream,
     METH_VARARGS | METH_KEYWORDS, "An Arrow C stream of one struct array of the columns."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef NativeSpans_getset[] = {
    {"failed", (getter)NativeSpans_failed, NULL,
     "Spans set aside: [((resource, scope, span), error text)].", NULL},
    {"nbytes", (getter)NativeSpans_nbytes, NULL, "Bytes held by the columns.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PySequenceMethods NativeSpans_as_sequence = {
    .sq_length = (lenfunc)NativeSpans_len,
};

static PyTypeObject NativeSpansType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "junjo.features.spans._native.NativeSpans",
    .tp_basicsize = sizeof(NativeSpans),
    .tp_dealloc = (destructor)NativeSpans_dealloc,
    .tp_as_sequence = &NativeSpans_as_sequence,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The span rows of one OTLP request, as columns.",
    .tp_methods = NativeSpans_methods,
    .tp_getset = NativeSpans_getset,
};

/* -- convert() -------------------------------------------------------------------------- */

/* An int or None into an int64: 0 on success, 1 when it does not fit (the walk declines). */
static int optional_int64(PyObject *value, int64_t *out, int *is_null) {
    *is_null = value == Py_None;
    if (*is_null) {
        *out = 0;
        return 0;
    }
    int overflow;
    long long v = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (v == -1 && PyErr_Occurred()) return -1;
    if (overflow) return 1;
    *out = v;
    return 0;
}

static PyObject *native_convert(PyObject *module, PyObject *args, PyObject *kwargs) {
    (void)module;
    static char *names[] = {"payload", "seq", "api_key_id", "received_at_ns", "indexed_at_ns", NULL};
    Py_buffer payload;
    PyObject *seq, *key, *received, *indexed;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "y*OOOO", names, &payload, &seq, &key,
                                     &received, &indexed))
        return NULL;
    if (!payload.readonly) {
        /* Another thread could change it while the GIL is released (bytes cannot). */
        PyBuffer_Release(&payload);
        PyErr_SetString(PyExc_TypeError, "payload must be bytes (a read-only buffer)");
        return NULL;
    }
    PyObject *out = NULL;
    jw_options opts;
    memset(&opts, 0, sizeof opts);
    int seq_null, rc = optional_int64(seq, &opts.seq, &seq_null);
    if (rc == 0 && seq_null) rc = 1;
    if (rc == 0) rc = optional_int64(received, &opts.received_at_ns, &opts.received_at_is_null);
    if (rc == 0) rc = optional_int64(indexed, &opts.indexed_at_ns, &opts.indexed_at_is_null);
    if (rc == 0 && key != Py_None) {
        Py_ssize_t len = 0;
        opts.api_key_id = key && PyUnicode_Check(key) ? PyUnicode_AsUTF8AndSize(key, &len) : NULL;
        if (opts.api_key_id == NULL) {
            PyErr_Clear(); /* not a str, or not encodable: Python decides */
            rc = 1;
        }
        opts.api_key_id_len = (size_t)len;
    }
    if (rc < 0) goto done;
    if (rc > 0) {
        out = Py_NewRef(Py_None);
        goto done;
    }
    jw_result *result;
    Py_BEGIN_ALLOW_THREADS
    result = jw_walk(payload.buf, (size_t)payload.len, &opts);
    Py_END_ALLOW_THREADS
    int status = jw_status(result);
    if (status != JW_OK) {
        jw_free(result);
        out = status == JW_DECLINE ? Py_NewRef(Py_None) : PyErr_NoMemory();
        goto done;
    }
    holder *h = malloc(sizeof *h);
    NativeSpans *spans = h ? PyObject_New(NativeSpans, &NativeSpansType) : NULL;
    if (spans == NULL) {
        free(h);
        jw_free(result);
        if (!PyErr_Occurred()) PyErr_NoMemory();
        goto done;
    }
    atomic_init(&h->refs, 1);
    h->result = result;
    spans->h = h;
    out = (PyObject *)spans;
done:
    PyBuffer_Release(&payload);
    return out;
}

static PyMethodDef native_methods[] = {
    {"convert", (PyCFunction)(void (*)(void))native_convert, METH_VARARGS | METH_KEYWORDS,
     "convert(payload, seq, api_key_id, received_at_ns, indexed_at_ns) -> NativeSpans | None\n"
     "None: the walker declined (convert.py decides)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef native_module = {
    PyModuleDef_HEAD_INIT, "_native", "The native OTLP -> columns converter (issue 16).", -1,
    native_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__native(void) {
    if (PyType_Ready(&NativeSpansType) < 0) return NULL;
    PyObject *m = PyModule_Create(&native_module);
    if (m == NULL) return NULL;
    size_t n = jw_column_count();
    PyObject *columns = PyTuple_New((Py_ssize_t)n);
    if (columns == NULL) goto fail;
    for (size_t i = 0; i < n; i++) {
        PyObject *name = PyUnicode_FromString(jw_column_name(i));
        if (name == NULL) {
            Py_DECREF(columns);
            goto fail;
        }
        PyTuple_SET_ITEM(columns, (Py_ssize_t)i, name);
    }
    if (PyModule_AddObject(m, "COLUMNS", columns) < 0) {
        Py_DECREF(columns);
        goto fail;
    }
    Py_INCREF(&NativeSpansType);
    if (PyModule_AddObject(m, "NativeSpans", (PyObject *)&NativeSpansType) < 0) {
        Py_DECREF(&NativeSpansType);
        goto fail;
    }
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
