/* JSON primitives the scanners share: a cursor over the body, strict validation (what
 * json.loads refuses, they refuse), strings, numbers, skipping any value, ISO 8601 times. */
#ifndef ARTIFICE_SCAN_JSON_H
#define ARTIFICE_SCAN_JSON_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define MAX_DEPTH 64

/* 1 for the bytes a string holds as they are: printable ASCII but the quote and the backslash. */
static const unsigned char PLAIN[256] = {[0x20 ... 0x7F] = 1, ['"'] = 0, ['\\'] = 0};
static const unsigned char SPACE[256] = {[' '] = 1, ['\n'] = 1, ['\r'] = 1, ['\t'] = 1}; /* JSON's whitespace */

typedef struct {
    const unsigned char *p, *end;
    int escaped; /* the last string scanned had a backslash */
    int ascii; /* and only ASCII bytes */
} Cursor;

static inline void skip_ws(Cursor *c) {
    const unsigned char *p = c->p;
    while (p < c->end && SPACE[*p]) p++;
    c->p = p;
}

static inline int utf8_sequence(Cursor *c) { /* strict UTF-8, as Python decodes it: no overlong, no surrogate */
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

static inline int hex4(const unsigned char *s) {
    for (int i = 0; i < 4; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F'))) return 0;
    return 1;
}

/* The first byte from p that is not PLAIN: eight bytes at a time (SWAR) where the order allows. */
static inline const unsigned char *plain_run(const unsigned char *p, const unsigned char *end) {
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
static inline int scan_string(Cursor *c, const unsigned char **start) {
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

static inline int scan_number(Cursor *c) { /* JSON's number grammar */
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

static inline int literal(Cursor *c, const char *word) {
    size_t len = strlen(word);
    if ((size_t)(c->end - c->p) < len || memcmp(c->p, word, len) != 0) return 0;
    c->p += len;
    return 1;
}

static inline int skip_value(Cursor *c, int depth) {
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

static inline int digits(const unsigned char *s, int count, int *out) {
    int value = 0;
    for (int i = 0; i < count; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        value = value * 10 + (s[i] - '0');
    }
    *out = value;
    return 1;
}

static inline int64_t days_from_civil(int y, int m, int d) { /* days since 1970-01-01, proleptic Gregorian */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* "YYYY-MM-DD[T ]HH:MM:SS[.f{1,9}][Z|+HH:MM|-HH:MM]" to ns; 0 for anything else (the caller falls back). */
static inline int parse_time(const unsigned char *s, Py_ssize_t len, int64_t *out) {
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

/* A JSON number to a double: exact for up to 15 digits and a power of ten up to 22, else Python's. */
static inline int read_number(Cursor *c, double *out) {
    static const double POWERS[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const unsigned char *s = c->p, *q = s, *end = c->end;
    uint64_t mantissa = 0;
    int whole = 0, scale = 0, fraction = 0, negative = q < end && *q == '-';
    q += negative;
    if (q < end && *q == '0') { /* JSON allows no other leading zero */
        q++, whole++;
    } else {
        for (; q < end && *q >= '0' && *q <= '9'; q++, whole++) mantissa = mantissa * 10 + (*q - '0');
    }
    if (q < end && *q == '.')
        for (q++, fraction = 1; q < end && *q >= '0' && *q <= '9'; q++, scale++) mantissa = mantissa * 10 + (*q - '0');
    int exponent = q < end && (*q == 'e' || *q == 'E');
    if (whole > 0 && (!fraction || scale > 0) && !exponent && whole + scale <= 15) {
        /* digits and their scale are exact doubles: one correctly rounded division */
        c->p = q;
        double value = (double)mantissa / POWERS[scale];
        *out = negative && (fraction || mantissa) ? -value : value; /* -0 is the integer 0 */
        return 1;
    }
    if (!scan_number(c)) return 0;
    char *stop;
    *out = PyOS_string_to_double((const char *)s, &stop, NULL);
    if (PyErr_Occurred() || stop != (const char *)c->p) {
        PyErr_Clear();
        return 0;
    }
    return fraction || exponent || !isinf(*out); /* an integer too large for a float: float() refuses it */
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

#endif
