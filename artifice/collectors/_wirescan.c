/*
 * Scan a page of Ceilometer v2 samples (the JSON list of ``GET /v2/meters/<name>``)
 * straight into columns, with no Python object per sample.
 *
 *     scan(body: bytes) -> tuple | None
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
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

enum { F_NAME, F_UNIT, F_TYPE, F_PROJECT, F_RESOURCE, F_SOURCE, F_MESSAGE, F_METADATA, N_FIELDS };
enum { K_TIMESTAMP = N_FIELDS, K_VOLUME, K_OTHER, K_REFUSED, K_END };
#define MAX_DEPTH 64
#define MAX_KEYS 32 /* keys of a sample recognised from the previous sample's */

typedef struct {
    const unsigned char *p, *end;
    int escaped; /* the last string scanned had a backslash */
    int ascii; /* and only ASCII bytes */
} Cursor;

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

typedef struct {
    Column columns[N_FIELDS];
    int64_t *stamps;
    double *volumes;
    Py_ssize_t n, rows;
} Table;


static unsigned char SPACE[256]; /* JSON's whitespace */

static inline void skip_ws(Cursor *c) {
    const unsigned char *p = c->p;
    while (p < c->end && SPACE[*p]) p++;
    c->p = p;
}

static int utf8_sequence(Cursor *c) { /* strict UTF-8, as Python decodes it: no overlong, no surrogate */
    const unsigned char *s = c->p;
    unsigned char b = s[0];
    int need;
    uint32_t cp;
    if (b >= 0xC2 && b <= 0xDF) need = 1, cp = b & 0x1F;
    else if (b >= 0xE0 && b <= 0xEF) need = 2, cp = b & 0x0F;
    else if (b >= 0xF0 && b <= 0xF4) need = 3, cp = b & 0x07;
    else return 0;
    if (c->end - s <= need) return 0;
    for (int i = 1; i <= need; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((need == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (need == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    c->p += need + 1;
    return 1;
}

static int hex4(const unsigned char *s) {
    for (int i = 0; i < 4; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F'))) return 0;
    return 1;
}

/* 1 for the bytes a string holds as they are: printable ASCII but the quote and the backslash. */
static unsigned char PLAIN[256];

static void init_tables(void) {
    for (int b = 0x20; b < 0x80; b++) PLAIN[b] = b != '"' && b != '\\';
    SPACE[' '] = SPACE['\n'] = SPACE['\r'] = SPACE['\t'] = 1;
}

/* The first byte from p that is not PLAIN: eight bytes at a time (SWAR) where the order allows. */
static const unsigned char *plain_run(const unsigned char *p, const unsigned char *end) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    while (end - p >= 8) {
        uint64_t w, quote, slash, control, flagged;
        memcpy(&w, p, 8);
        quote = w ^ (ones * '"');
        slash = w ^ (ones * '\\');
        quote = (quote - ones) & ~quote;   /* a zero byte: a quote */
        slash = (slash - ones) & ~slash;   /* a backslash */
        control = (w - ones * 0x20) & ~w;  /* below 0x20 */
        flagged = (quote | slash | control | w) & highs; /* w: 0x80 and above */
        if (flagged) return p + (__builtin_ctzll(flagged) >> 3); /* the lowest flag is exact */
        p += 8;
    }
#endif
    while (p < end && PLAIN[*p]) p++;
    return p;
}

/* At an opening quote: move past the closing one; its inner text is [*start, c->p - 1). */
static int scan_string(Cursor *c, const unsigned char **start) {
    const unsigned char *p = c->p + 1, *end = c->end;
    *start = p;
    c->escaped = 0;
    c->ascii = 1;
    for (;;) {
        p = plain_run(p, end);
        if (p >= end) return 0;
        unsigned char b = *p;
        if (b == '"') {
            c->p = p + 1;
            return 1;
        }
        if (b == '\\') {
            c->escaped = 1;
            if (end - p < 2) return 0;
            unsigned char e = p[1];
            if (e == 'u') {
                if (end - p < 6 || !hex4(p + 2)) return 0;
                p += 6;
            } else if (e && strchr("\"\\/bfnrt", e)) {
                p += 2;
            } else {
                return 0;
            }
        } else if (b < 0x80) {
            return 0; /* a control character */
        } else {
            c->p = p;
            c->ascii = 0;
            if (!utf8_sequence(c)) return 0;
            p = c->p;
        }
    }
}

static int scan_number(Cursor *c) { /* JSON's number grammar */
    const unsigned char *s = c->p;
    if (s < c->end && *s == '-') s++;
    if (s >= c->end) return 0;
    if (*s == '0') s++;
    else if (*s >= '1' && *s <= '9') while (s < c->end && *s >= '0' && *s <= '9') s++;
    else return 0;
    if (s < c->end && *s == '.') {
        s++;
        if (s >= c->end || *s < '0' || *s > '9') return 0;
        while (s < c->end && *s >= '0' && *s <= '9') s++;
    }
    if (s < c->end && (*s == 'e' || *s == 'E')) {
        s++;
        if (s < c->end && (*s == '+' || *s == '-')) s++;
        if (s >= c->end || *s < '0' || *s > '9') return 0;
        while (s < c->end && *s >= '0' && *s <= '9') s++;
    }
    c->p = s;
    return 1;
}

static int literal(Cursor *c, const char *word) {
    size_t len = strlen(word);
    if ((size_t)(c->end - c->p) < len || memcmp(c->p, word, len) != 0) return 0;
    c->p += len;
    return 1;
}

static int skip_value(Cursor *c, int depth) {
    const unsigned char *ignored;
    if (depth > MAX_DEPTH || c->p >= c->end) return 0;
    switch (*c->p) {
    case '"':
        return scan_string(c, &ignored);
    case '{':
    case '[': {
        unsigned char close = *c->p == '{' ? '}' : ']';
        int object = close == '}';
        c->p++;
        skip_ws(c);
        if (c->p < c->end && *c->p == close) {
            c->p++;
            return 1;
        }
        for (;;) {
            if (object) {
                if (c->p >= c->end || *c->p != '"' || !scan_string(c, &ignored)) return 0;
                skip_ws(c);
                if (c->p >= c->end || *c->p != ':') return 0;
                c->p++;
                skip_ws(c);
            }
            if (!skip_value(c, depth + 1)) return 0;
            skip_ws(c);
            if (c->p >= c->end) return 0;
            if (*c->p == close) {
                c->p++;
                return 1;
            }
            if (*c->p != ',') return 0;
            c->p++;
            skip_ws(c);
        }
    }
    case 't':
        return literal(c, "true");
    case 'f':
        return literal(c, "false");
    case 'n':
        return literal(c, "null");
    default:
        return scan_number(c);
    }
}

static int digits(const unsigned char *s, int count, int *out) {
    int value = 0;
    for (int i = 0; i < count; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        value = value * 10 + (s[i] - '0');
    }
    *out = value;
    return 1;
}

static int64_t days_from_civil(int y, int m, int d) { /* days since 1970-01-01, proleptic Gregorian */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* "YYYY-MM-DD[T ]HH:MM:SS[.f{1,9}][Z|+HH:MM|-HH:MM]" to ns; 0 for anything else (the caller falls back). */
static int parse_time(const unsigned char *s, Py_ssize_t len, int64_t *out) {
    static const int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, se, fraction = 0, scale = 1000000000, offset = 0;
    if (len < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':')
        return 0;
    if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) || !digits(s + 11, 2, &h) ||
        !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &se))
        return 0;
    /* within what int64 nanoseconds hold with room to spare; pandas decides about the rest */
    if (y < 1678 || y > 2261 || mo < 1 || mo > 12 || h > 23 || mi > 59 || se > 59) return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d < 1 || d > month_days[mo - 1] + (mo == 2 && leap)) return 0;
    Py_ssize_t i = 19;
    if (i < len && s[i] == '.') {
        Py_ssize_t first = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9' && i - first < 9) {
            scale /= 10;
            fraction += (s[i] - '0') * scale;
            i++;
        }
        if (i == first || (i < len && s[i] >= '0' && s[i] <= '9')) return 0;
    }
    if (i < len && s[i] == 'Z') {
        i++;
    } else if (i < len && (s[i] == '+' || s[i] == '-')) {
        int oh, om;
        if (len - i != 6 || s[i + 3] != ':' || !digits(s + i + 1, 2, &oh) || !digits(s + i + 4, 2, &om) || oh > 23 ||
            om > 59)
            return 0;
        offset = (s[i] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
        i += 6;
    }
    if (i != len) return 0;
    int64_t seconds = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset;
    *out = seconds * 1000000000 + fraction;
    return 1;
}

static uint64_t mix(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

static uint64_t hash_bytes(const unsigned char *s, Py_ssize_t len) { /* eight bytes at a time */
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

static int grow_slots(Column *col) {
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
static int32_t intern(Column *col, const unsigned char *body, const unsigned char *start, Py_ssize_t len, int flags) {
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

static int grow_rows(Table *t) {
    Py_ssize_t rows = t->rows ? t->rows * 2 : 1024;
    for (int f = 0; f < N_FIELDS; f++) {
        int32_t *codes = PyMem_Realloc(t->columns[f].codes, rows * sizeof(int32_t));
        if (!codes) return 0;
        t->columns[f].codes = codes;
    }
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

static inline int same_bytes(const unsigned char *a, const unsigned char *b, Py_ssize_t len) {
    uint64_t x, y, differ = 0;
    uint32_t u, v;
    if (len >= 8) { /* whole words, the last one overlapping the one before */
        Py_ssize_t last = len - 8;
        for (Py_ssize_t i = 0; i < last; i += 8) {
            memcpy(&x, a + i, 8);
            memcpy(&y, b + i, 8);
            differ |= x ^ y;
        }
        memcpy(&x, a + last, 8);
        memcpy(&y, b + last, 8);
        return !(differ | (x ^ y));
    }
    if (len >= 4) {
        memcpy(&u, a, 4), memcpy(&v, b, 4);
        differ = u ^ v;
        memcpy(&u, a + len - 4, 4), memcpy(&v, b + len - 4, 4);
        return !(differ | (u ^ v));
    }
    while (len-- > 0)
        if (*a++ != *b++) return 0;
    return 1;
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

/* A JSON number to a double: exact for up to 15 digits and a power of ten up to 22, else Python's. */
static int read_number(Cursor *c, double *out) {
    static const double POWERS[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const unsigned char *s = c->p, *q = s, *end = c->end;
    uint64_t mantissa = 0;
    int digits = 0, scale = 0, negative = q < end && *q == '-';
    q += negative;
    if (q < end && *q == '0') { /* JSON allows no other leading zero */
        q++, digits++;
    } else {
        for (; q < end && *q >= '0' && *q <= '9'; q++, digits++) mantissa = mantissa * 10 + (*q - '0');
    }
    if (q < end && *q == '.')
        for (q++; q < end && *q >= '0' && *q <= '9'; q++, digits++, scale++) mantissa = mantissa * 10 + (*q - '0');
    int plain = digits > 0 && (q >= end || (*q != 'e' && *q != 'E' && *q != '.')) && q[-1] != '.';
    if (plain && digits <= 15) { /* digits and their scale are exact doubles: one correctly rounded division */
        c->p = q;
        double value = (double)mantissa / POWERS[scale];
        *out = negative ? -value : value;
        return 1;
    }
    if (!scan_number(c)) return 0;
    char *stop;
    *out = PyOS_string_to_double((const char *)s, &stop, NULL);
    if (PyErr_Occurred() || stop != (const char *)c->p) {
        PyErr_Clear();
        return 0;
    }
    return 1;
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

static PyObject *text(const char *s, Py_ssize_t len, int ascii) { /* validated UTF-8; ASCII copied as it is */
    if (!ascii) return PyUnicode_DecodeUTF8(s, len, "strict");
    PyObject *str = PyUnicode_New(len, 127);
    if (str) memcpy(PyUnicode_1BYTE_DATA(str), s, len);
    return str;
}

static PyObject *distinct_values(Column *col, const unsigned char *body, int raw) {
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
    for (int f = 0; f < N_FIELDS; f++) {
        PyMem_Free(t->columns[f].codes);
        PyMem_Free(t->columns[f].spans);
        PyMem_Free(t->columns[f].escaped);
        PyMem_Free(t->columns[f].slots);
    }
    PyMem_Free(t->stamps);
    PyMem_Free(t->volumes);
}

static PyObject *scan(PyObject *module, PyObject *arg) {
    Py_buffer view;
    Table t;
    PyObject *out = NULL;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    memset(&t, 0, sizeof t);
    for (int f = 0; f < N_FIELDS; f++) t.columns[f].last = -1;
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

static PyMethodDef methods[] = {
    {"scan", scan, METH_O, "scan(body) -> (n, codes, distinct, timestamps, volumes) | None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef definition = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "_wirescan",
    .m_doc = "Ceilometer v2 sample pages to columns.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__wirescan(void) {
    init_tables();
    return PyModule_Create(&definition);
}
