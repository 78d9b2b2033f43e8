/* A column of values read off the wire: per-row codes into a table of its distinct spans of the
 * body, each distinct value made a Python object once. */
#ifndef ARTIFICE_SCAN_COLUMNS_H
#define ARTIFICE_SCAN_COLUMNS_H

#include "json.h"

typedef struct {
    Py_ssize_t start, len;
    uint64_t hash;
} Span;

typedef struct { /* one column: per-sample codes into a table of distinct spans */
    int32_t *codes;
    Span *spans;
    unsigned char *escaped; /* per distinct value: 1 a backslash, 2 only ASCII */
    Py_ssize_t count, capacity;
    int32_t *slots; /* open addressing: -1 empty, else an index into spans */
    Py_ssize_t mask;
    int32_t last; /* the code of the last value read, -1 before any */
    int odd; /* some value is empty, escaped, or starts or ends with a space or a non-ASCII byte */
} Column;

static inline uint64_t mix(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

static inline uint64_t hash_bytes(const unsigned char *s, Py_ssize_t len) { /* eight bytes at a time */
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ (uint64_t)len, word;
    Py_ssize_t i = 0;
    for (; i + 8 <= len; i += 8) {
        memcpy(&word, s + i, 8);
        h = (h ^ mix(word)) * 0x9E3779B97F4A7C15ULL;
    }
    word = 0;
    memcpy(&word, s + i, len - i);
    return mix(h ^ mix(word));
}

static inline int grow_slots(Column *col) {
    Py_ssize_t size = col->mask ? (col->mask + 1) * 2 : 64;
    int32_t *slots = PyMem_Malloc(size * sizeof(int32_t));
    if (!slots) return 0;
    memset(slots, 0xFF, size * sizeof(int32_t));
    for (Py_ssize_t k = 0; k < col->count; k++) {
        Py_ssize_t at = col->spans[k].hash & (size - 1);
        while (slots[at] >= 0) at = (at + 1) & (size - 1);
        slots[at] = (int32_t)k;
    }
    PyMem_Free(col->slots);
    col->slots = slots;
    col->mask = size - 1;
    return 1;
}

/* The code of the span [start, start + len) of body, added to the column's distinct values if new. */
static inline int32_t intern(Column *col, const unsigned char *body, const unsigned char *start, Py_ssize_t len, int flags) {
    uint64_t h = hash_bytes(start, len);
    if ((col->count + 1) * 2 > col->mask + 1 && !grow_slots(col)) return -2;
    Py_ssize_t at = h & col->mask;
    while (col->slots[at] >= 0) {
        Span *s = &col->spans[col->slots[at]];
        if (s->hash == h && s->len == len && memcmp(body + s->start, start, len) == 0) return col->slots[at];
        at = (at + 1) & col->mask;
    }
    if (col->count == col->capacity) {
        Py_ssize_t capacity = col->capacity ? col->capacity * 2 : 64;
        Span *spans = PyMem_Realloc(col->spans, capacity * sizeof(Span));
        if (!spans) return -2;
        col->spans = spans;
        unsigned char *escapes = PyMem_Realloc(col->escaped, capacity);
        if (!escapes) return -2;
        col->escaped = escapes;
        col->capacity = capacity;
    }
    if (col->count >= INT32_MAX) return -2;
    if (len == 0 || (flags & 1) || start[0] <= ' ' || start[0] >= 0x80 || start[len - 1] <= ' ' || start[len - 1] >= 0x80)
        col->odd = 1;
    Span span = {start - body, len, h};
    col->spans[col->count] = span;
    col->escaped[col->count] = (unsigned char)flags;
    col->slots[at] = (int32_t)col->count;
    return (int32_t)col->count++;
}

static inline PyObject *text(const char *s, Py_ssize_t len, int ascii) { /* validated UTF-8; ASCII copied as it is */
    if (!ascii) return PyUnicode_DecodeUTF8(s, len, "strict");
    PyObject *str = PyUnicode_New(len, 127);
    if (str) memcpy(PyUnicode_1BYTE_DATA(str), s, len);
    return str;
}

static inline PyObject *distinct_values(Column *col, const unsigned char *body, int raw) {
    PyObject *list = PyList_New(col->count);
    if (!list) return NULL;
    for (Py_ssize_t k = 0; k < col->count; k++) {
        const char *s = (const char *)body + col->spans[k].start;
        unsigned char flags = col->escaped[k];
        PyObject *item = raw || (flags & 1) ? PyBytes_FromStringAndSize(s, col->spans[k].len)
                                            : text(s, col->spans[k].len, flags & 2);
        if (!item) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, k, item);
    }
    return list;
}

/* A column with nothing read yet. */
static inline void column_init(Column *col) {
    memset(col, 0, sizeof *col);
    col->last = -1;
}

static inline void column_free(Column *col) {
    PyMem_Free(col->codes);
    PyMem_Free(col->spans);
    PyMem_Free(col->escaped);
    PyMem_Free(col->slots);
}

/* Room for ``rows`` codes. */
static inline int column_rows(Column *col, Py_ssize_t rows) {
    int32_t *codes = PyMem_Realloc(col->codes, rows * sizeof(int32_t));
    if (!codes) return 0;
    col->codes = codes;
    return 1;
}

#endif
