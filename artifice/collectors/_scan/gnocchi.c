/*
 * Scan a Gnocchi aggregates answer grouped by resource (``POST /v1/aggregates?groupby=id``)
 *
 *     [{"group": {...}, "measures": {"measures": {"<resource id>": {"<metric>": {"<aggregation>":
 *         [["<timestamp>", <granularity>, <value>], ...]}}}}}, ...]
 *
 * straight into columns, with no Python object per point:
 *
 *     scan_aggregates(body: bytes) -> (n, codes, ids, timestamps, values) | None
 *
 *   codes       bytes of n int32: each point's index into ids
 *   ids         each resource id: str, or bytes (its raw text, which has escapes)
 *   timestamps  bytes of n int64: nanoseconds since the epoch
 *   values      bytes of n float64: NaN where null
 *
 * Every series of every metric and aggregation is read, one after the other, as the general
 * decoder (orjson) reads them. Returns None for anything else (NaN, which JSON lacks, an odd
 * timestamp, a repeated or escaped key, invalid JSON): the caller then decodes the answer with orjson.
 */
#include "columns.h"
#include "scan.h"

typedef struct {
    Column ids;
    int64_t *stamps;
    double *values;
    Py_ssize_t n, rows;
} Points;

/* In an object or an array (past its opening), to the next item: 1 with the cursor at it, 0 at
 * ``close`` (past it), -1 for anything else. ``index`` counts the items read before. */
static int next_item(Cursor *c, unsigned char close, int index) {
    skip_ws(c);
    if (c->p >= c->end) return -1;
    if (*c->p == close) {
        c->p++;
        return 0;
    }
    if (index > 0) {
        if (*c->p != ',') return -1;
        c->p++;
        skip_ws(c);
    }
    return c->p < c->end ? 1 : -1;
}

/* In an object, the next member: as ``next_item``, the cursor then at the member's value. */
static int member(Cursor *c, const unsigned char **key, Py_ssize_t *len, int index) {
    int found = next_item(c, '}', index);
    if (found <= 0) return found;
    if (*c->p != '"' || !scan_string(c, key)) return -1;
    *len = c->p - 1 - *key;
    skip_ws(c);
    if (c->p >= c->end || *c->p != ':') return -1;
    c->p++;
    skip_ws(c);
    return c->p < c->end ? 1 : -1;
}

static int element(Cursor *c, int index) { return next_item(c, ']', index); }

static int opening(Cursor *c, unsigned char bracket) {
    if (c->p >= c->end || *c->p != bracket) return 0;
    c->p++;
    return 1;
}

static int is_key(const unsigned char *key, Py_ssize_t len, const char *name) {
    return (size_t)len == strlen(name) && memcmp(key, name, len) == 0;
}

/* The keys of one object read so far, to decline a repeated one (json.loads keeps its last value only). */
#define KEYS_COMPARED 64
typedef struct {
    const unsigned char *key[KEYS_COMPARED];
    Py_ssize_t len[KEYS_COMPARED];
    int n;
} Keys;

/* 1 for a key not read before in its object, now remembered; 0 for a repeated one, and for what is
 * not compared by its raw text (an escaped key, or more than KEYS_COMPARED in one object). */
static int new_key(Keys *seen, const Cursor *c, const unsigned char *key, Py_ssize_t len) {
    if (c->escaped || seen->n == KEYS_COMPARED) return 0;
    for (int i = 0; i < seen->n; i++)
        if (seen->len[i] == len && memcmp(seen->key[i], key, len) == 0) return 0;
    seen->key[seen->n] = key;
    seen->len[seen->n++] = len;
    return 1;
}

static int grow(Points *t) {
    Py_ssize_t rows = t->rows ? t->rows * 2 : 4096;
    double *values;
    int64_t *stamps;
    if (!column_rows(&t->ids, rows)) return 0;
    if (!(stamps = PyMem_Realloc(t->stamps, rows * sizeof(int64_t)))) return 0;
    t->stamps = stamps;
    if (!(values = PyMem_Realloc(t->values, rows * sizeof(double)))) return 0;
    t->values = values;
    t->rows = rows;
    return 1;
}

/* ["<timestamp>", <granularity>, <value>] into row t->n. */
static int read_point(Cursor *c, Points *t, int32_t code) {
    const unsigned char *stamp;
    if (t->n == t->rows && !grow(t)) return -1;
    if (!opening(c, '[')) return 0;
    skip_ws(c);
    if (c->p >= c->end || *c->p != '"' || !scan_string(c, &stamp) || c->escaped) return 0;
    if (!parse_time(stamp, c->p - 1 - stamp, &t->stamps[t->n])) return 0;
    if (element(c, 1) <= 0 || !scan_number(c) || element(c, 2) <= 0) return 0;
    if (*c->p == 'n') {
        if (!literal(c, "null")) return 0;
        t->values[t->n] = NAN;
    } else if (*c->p == '"' || !read_number(c, &t->values[t->n])) {
        return 0;
    }
    if (element(c, 3) != 0) return 0; /* exactly three */
    t->ids.codes[t->n++] = code;
    return 1;
}

/* {"<metric>": {"<aggregation>": [points]}} of one resource. */
static int read_metrics(Cursor *c, Points *t, int32_t code) {
    const unsigned char *key;
    Py_ssize_t len;
    int found, done;
    Keys metrics = {.n = 0}, aggregations;
    if (!opening(c, '{')) return 0;
    for (int m = 0; (found = member(c, &key, &len, m)) > 0; m++) {
        if (!new_key(&metrics, c, key, len) || !opening(c, '{')) return 0;
        aggregations.n = 0;
        for (int a = 0; (found = member(c, &key, &len, a)) > 0; a++) {
            if (!new_key(&aggregations, c, key, len) || !opening(c, '[')) return 0;
            for (int p = 0; (found = element(c, p)) > 0; p++)
                if ((done = read_point(c, t, code)) <= 0) return done;
            if (found < 0) return 0;
        }
        if (found < 0) return 0;
    }
    return found == 0;
}

/* {"<resource id>": metrics, ...}: the answer's measures of its group. */
static int read_resources(Cursor *c, const unsigned char *body, Points *t) {
    const unsigned char *key;
    Py_ssize_t len;
    int found, done;
    Keys resources = {.n = 0};
    if (!opening(c, '{')) return 0;
    for (int r = 0; (found = member(c, &key, &len, r)) > 0; r++) {
        if (!new_key(&resources, c, key, len)) return 0;
        int32_t code = intern(&t->ids, body, key, len, c->escaped | (c->ascii << 1));
        if (code == -2) return -1;
        if ((done = read_metrics(c, t, code)) <= 0) return done;
    }
    return found == 0;
}

/* One group: {"group": ..., "measures": {"measures": resources}}; other members skipped. */
static int read_group(Cursor *c, const unsigned char *body, Points *t) {
    const unsigned char *key;
    Py_ssize_t len;
    int found, done, outer = 0, inner;
    if (!opening(c, '{')) return 0;
    for (int g = 0; (found = member(c, &key, &len, g)) > 0; g++) {
        if (c->escaped) return 0; /* a key compared by its raw text */
        if (!is_key(key, len, "measures")) {
            if (!skip_value(c, 2)) return 0;
            continue;
        }
        if (outer++ || !opening(c, '{')) return 0; /* a repeated key: json.loads keeps the last */
        inner = 0;
        for (int m = 0; (found = member(c, &key, &len, m)) > 0; m++) {
            if (c->escaped) return 0; /* a key compared by its raw text */
            if (!is_key(key, len, "measures")) {
                if (!skip_value(c, 3)) return 0;
                continue;
            }
            if (inner++) return 0;
            if ((done = read_resources(c, body, t)) <= 0) return done;
        }
        if (found < 0) return 0;
    }
    return found == 0;
}

static int scan_answer(const unsigned char *body, Py_ssize_t size, Points *t) {
    Cursor c = {body, body + size, 0, 1};
    int found, done;
    skip_ws(&c);
    if (!opening(&c, '[')) return 0;
    for (int g = 0; (found = element(&c, g)) > 0; g++)
        if ((done = read_group(&c, body, t)) <= 0) return done;
    if (found < 0) return 0;
    skip_ws(&c);
    return c.p == c.end;
}

PyObject *scan_aggregates(PyObject *module, PyObject *arg) {
    Py_buffer view;
    Points t;
    PyObject *out = NULL, *ids;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    memset(&t, 0, sizeof t);
    column_init(&t.ids);
    int done = grow(&t) ? scan_answer(view.buf, view.len, &t) : -1;
    if (done < 0) {
        PyErr_NoMemory();
    } else if (done == 0) {
        out = Py_NewRef(Py_None);
    } else if ((ids = distinct_values(&t.ids, view.buf, 0))) {
        out = Py_BuildValue("(ny#Ny#y#)", t.n, (const char *)t.ids.codes, (Py_ssize_t)(t.n * sizeof(int32_t)), ids,
                            (const char *)t.stamps, (Py_ssize_t)(t.n * sizeof(int64_t)), (const char *)t.values,
                            (Py_ssize_t)(t.n * sizeof(double)));
    }
    column_free(&t.ids);
    PyMem_Free(t.stamps);
    PyMem_Free(t.values);
    PyBuffer_Release(&view);
    return out;
}
