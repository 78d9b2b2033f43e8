/*
 * Scan a page of Ceilometer v2 samples (the JSON list of ``GET /v2/meters/<name>``)
 * straight into columns, with no Python object per sample.
 *
 *     scan_samples(body: bytes) -> tuple | None
 *
 * Returns None for any page outside the plain shape the API sends (an element that
 * is not an object, a name that is not a string, a volume that is not a number, a
 * timestamp that is not "YYYY-MM-DD[T ]HH:MM:SS[.f][Z|+HH:MM]", the newer field
 * names, a repeated key, invalid JSON or UTF-8...): the caller then decodes the page
 * with its general decoder, so this scanner never decides what an odd sample means.
 *
 * Otherwise ``(n, codes, distinct, plain, timestamps, volumes)``:
 *   codes[f]     bytes of n int32: the index into distinct[f], -1 where missing or null
 *   distinct[f]  list of each distinct value as it appears on the wire, in order of first
 *                appearance: str (a string without escapes), bytes (a string with escapes,
 *                its raw inner text; or, for resource_metadata, the raw JSON value)
 *   plain[f]     no distinct[f] is empty, escaped, or starts or ends with a space or non-ASCII
 *   timestamps   bytes of n int64: nanoseconds since the epoch, INT64_MIN where missing
 *   volumes      bytes of n float64: NaN where null
 * for the fields, in order: counter_name, counter_unit, counter_type, project_id,
 * resource_id, source, message_id, resource_metadata.
 */
#include "columns.h"
#include "scan.h"

enum { F_NAME, F_UNIT, F_TYPE, F_PROJECT, F_RESOURCE, F_SOURCE, F_MESSAGE, F_METADATA, N_FIELDS };
enum { K_TIMESTAMP = N_FIELDS, K_VOLUME, K_OTHER, K_REFUSED, K_END };
#define MAX_KEYS 32 /* keys of a sample recognised from the previous sample's */

typedef struct {
    Column columns[N_FIELDS];
    int64_t *stamps;
    double *volumes;
    Py_ssize_t n, rows;
} Table;

static int grow_rows(Table *t) {
    Py_ssize_t rows = t->rows ? t->rows * 2 : 1024;
    for (int f = 0; f < N_FIELDS; f++)
        if (!column_rows(&t->columns[f], rows)) return 0;
    int64_t *stamps = PyMem_Realloc(t->stamps, rows * sizeof(int64_t));
    if (!stamps) return 0;
    t->stamps = stamps;
    double *volumes = PyMem_Realloc(t->volumes, rows * sizeof(double));
    if (!volumes) return 0;
    t->volumes = volumes;
    t->rows = rows;
    return 1;
}

typedef struct {
    const char *name;
    size_t len;
    int which;
} Key;

#define KEY(name, which) {name, sizeof(name) - 1, which}
static const Key KEYS[] = {
    KEY("counter_name", F_NAME), KEY("counter_unit", F_UNIT), KEY("counter_type", F_TYPE),
    KEY("project_id", F_PROJECT), KEY("resource_id", F_RESOURCE), KEY("source", F_SOURCE),
    KEY("message_id", F_MESSAGE), KEY("resource_metadata", F_METADATA), KEY("timestamp", K_TIMESTAMP),
    KEY("counter_volume", K_VOLUME),
    /* an older API's names for the counter_ fields: samples_frame reads them where those are empty */
    KEY("meter", K_REFUSED), KEY("unit", K_REFUSED), KEY("volume", K_REFUSED), KEY("type", K_REFUSED),
};
#undef KEY

static int key_of(const unsigned char *s, Py_ssize_t len) {
    for (size_t k = 0; k < sizeof KEYS / sizeof KEYS[0]; k++)
        if ((size_t)len == KEYS[k].len && memcmp(s, KEYS[k].name, len) == 0) return KEYS[k].which;
    return K_OTHER;
}

/* Whether the value at the cursor is byte for byte the column's last one (a resource's metadata
 * and names repeat on every poll): then the cursor moves past it and its code is the column's last. */
static int same_as_last(Cursor *c, const unsigned char *body, const Column *col, int quoted) {
    if (col->last < 0) return 0;
    const Span *s = &col->spans[col->last];
    Py_ssize_t size = s->len + 2 * quoted;
    if (c->end - c->p < size) return 0;
    if (quoted && (c->p[0] != '"' || c->p[size - 1] != '"')) return 0;
    if (s->len <= 64 ? !same_bytes(c->p + quoted, body + s->start, s->len)
                     : memcmp(c->p + quoted, body + s->start, s->len) != 0)
        return 0;
    c->p += size;
    return 1;
}

/* The bytes before a value, from the end of the one before (or the object's brace) to the
 * value's first byte (, "project_id": ), and which field the key names: a sample's keys come
 * in the order of the previous one's, so most are recognised by comparing bytes with it. */
typedef struct {
    Py_ssize_t start, len;
    int which;
} KeyMark;

/* From the end of a value (or the object's opening brace): the next key's field, the cursor at its
 * value; K_END at the object's end (the cursor past it); K_REFUSED when not the plain shape. */
static int next_key(Cursor *c, const unsigned char *body, KeyMark *mark, int first) {
    const unsigned char *from = c->p, *key;
    if (mark->len && c->end - c->p > mark->len && same_bytes(c->p, body + mark->start, mark->len)) {
        c->p += mark->len;
        mark->start = from - body;
        return mark->which;
    }
    skip_ws(c);
    if (c->p >= c->end) return K_REFUSED;
    if (*c->p == '}') {
        c->p++;
        return K_END;
    }
    if (!first) {
        if (*c->p != ',') return K_REFUSED;
        c->p++;
        skip_ws(c);
    }
    if (c->p >= c->end || *c->p != '"' || !scan_string(c, &key) || c->escaped) return K_REFUSED;
    int which = key_of(key, c->p - 1 - key);
    skip_ws(c);
    if (c->p >= c->end || *c->p != ':') return K_REFUSED;
    c->p++;
    skip_ws(c);
    mark->start = from - body;
    mark->len = c->p - from;
    mark->which = which;
    return which;
}

/* A name's value: its code in the column (-1 for null). 0: not a string or null (fall back). */
static int read_name(Cursor *c, const unsigned char *body, Column *col, int32_t *code) {
    const unsigned char *value;
    if (same_as_last(c, body, col, 1)) {
        *code = col->last;
        return 1;
    }
    if (*c->p == 'n') return literal(c, "null");
    if (*c->p != '"' || !scan_string(c, &value)) return 0;
    *code = intern(col, body, value, c->p - 1 - value, c->escaped | (c->ascii << 1));
    if (*code == -2) return -1;
    col->last = *code;
    return 1;
}

/* The metadata's code: the raw JSON value, compared byte for byte (-1 for null). */
static int read_metadata(Cursor *c, const unsigned char *body, Column *col, int32_t *code) {
    const unsigned char *value = c->p;
    if (*value == '{' && same_as_last(c, body, col, 0)) { /* an object ends at its own brace */
        *code = col->last;
        return 1;
    }
    if (*value == 'n') return literal(c, "null");
    if (!skip_value(c, 1)) return 0;
    *code = intern(col, body, value, c->p - value, 0);
    if (*code == -2) return -1;
    col->last = *code;
    return 1;
}

static int read_time(Cursor *c, int64_t *stamp) {
    const unsigned char *value;
    if (*c->p == 'n') return literal(c, "null");
    if (*c->p != '"' || !scan_string(c, &value) || c->escaped) return 0;
    return parse_time(value, c->p - 1 - value, stamp);
}

/* One sample object into row t->n; 1: read, 0: not the plain shape (fall back), -1: out of memory. */
static int scan_sample(Cursor *c, const unsigned char *body, Table *t, KeyMark *marks) {
    Py_ssize_t row = t->n;
    unsigned seen = 0;
    for (int f = 0; f < N_FIELDS; f++) t->columns[f].codes[row] = -1;
    t->stamps[row] = INT64_MIN;
    if (c->p >= c->end || *c->p != '{') return 0;
    c->p++;
    for (int k = 0;; k++) {
        KeyMark spare = {0, 0, 0};
        int which = next_key(c, body, k < MAX_KEYS ? &marks[k] : &spare, k == 0), done;
        if (which == K_END) break;
        if (which == K_REFUSED || c->p >= c->end) return 0;
        if (which != K_OTHER) {
            if (seen & (1u << which)) return 0; /* a repeated key */
            seen |= 1u << which;
        }
        if (which == K_OTHER) {
            done = skip_value(c, 1);
        } else if (which == F_METADATA) {
            done = read_metadata(c, body, &t->columns[F_METADATA], &t->columns[F_METADATA].codes[row]);
        } else if (which == K_TIMESTAMP) {
            done = read_time(c, &t->stamps[row]);
        } else if (which == K_VOLUME) {
            t->volumes[row] = NAN;
            done = *c->p == 'n' ? literal(c, "null") : read_number(c, &t->volumes[row]);
        } else {
            done = read_name(c, body, &t->columns[which], &t->columns[which].codes[row]);
        }
        if (done <= 0) return done;
    }
    if (!(seen & (1u << K_VOLUME))) return 0; /* samples_frame reads another field then */
    t->n++;
    return 1;
}

static int scan_page(const unsigned char *body, Py_ssize_t size, Table *t) {
    Cursor c = {body, body + size, 0, 1};
    KeyMark marks[MAX_KEYS];
    memset(marks, 0, sizeof marks);
    if (!grow_rows(t)) return -1;
    skip_ws(&c);
    if (c.p >= c.end || *c.p != '[') return 0;
    c.p++;
    skip_ws(&c);
    if (c.p < c.end && *c.p == ']') {
        c.p++;
    } else {
        for (;;) {
            if (t->n == t->rows && !grow_rows(t)) return -1;
            int done = scan_sample(&c, body, t, marks);
            if (done <= 0) return done;
            skip_ws(&c);
            if (c.p >= c.end) return 0;
            if (*c.p == ']') {
                c.p++;
                break;
            }
            if (*c.p != ',') return 0;
            c.p++;
            skip_ws(&c);
        }
    }
    skip_ws(&c);
    return c.p == c.end;
}

static PyObject *result(Table *t, const unsigned char *body) {
    PyObject *codes = PyTuple_New(N_FIELDS), *distinct = PyTuple_New(N_FIELDS), *plain = PyTuple_New(N_FIELDS);
    PyObject *out = NULL;
    if (!codes || !distinct || !plain) goto done;
    for (int f = 0; f < N_FIELDS; f++) {
        PyObject *c = PyBytes_FromStringAndSize((const char *)t->columns[f].codes,
                                                (Py_ssize_t)(t->n * sizeof(int32_t)));
        if (!c) goto done;
        PyTuple_SET_ITEM(codes, f, c);
        PyObject *d = distinct_values(&t->columns[f], body, f == F_METADATA);
        if (!d) goto done;
        PyTuple_SET_ITEM(distinct, f, d);
        PyTuple_SET_ITEM(plain, f, PyBool_FromLong(!t->columns[f].odd));
    }
    out = Py_BuildValue("(nOOOy#y#)", t->n, codes, distinct, plain, (const char *)t->stamps,
                        (Py_ssize_t)(t->n * sizeof(int64_t)), (const char *)t->volumes,
                        (Py_ssize_t)(t->n * sizeof(double)));
done:
    Py_XDECREF(codes);
    Py_XDECREF(distinct);
    Py_XDECREF(plain);
    return out;
}

static void release(Table *t) {
    for (int f = 0; f < N_FIELDS; f++) column_free(&t->columns[f]);
    PyMem_Free(t->stamps);
    PyMem_Free(t->volumes);
}

PyObject *scan_samples(PyObject *module, PyObject *arg) {
    Py_buffer view;
    Table t;
    PyObject *out = NULL;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    memset(&t, 0, sizeof t);
    for (int f = 0; f < N_FIELDS; f++) column_init(&t.columns[f]);
    int done = scan_page(view.buf, view.len, &t);
    if (done < 0) {
        PyErr_NoMemory();
    } else if (done == 0) {
        out = Py_NewRef(Py_None);
    } else {
        out = result(&t, view.buf);
        if (!out && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) { /* cannot happen after validation */
            PyErr_Clear();
            out = Py_NewRef(Py_None);
        }
    }
    release(&t);
    PyBuffer_Release(&view);
    return out;
}
