/*
 * _columnar: decode JSON lines of one fixed schema straight into column buffers.
 *
 * The schema comes from Python (see schema.py, which derives it from a msgspec Struct), so no
 * field name or value list is written here. A line is either taken whole, every field
 * checked and written to the columns, or left to the caller (its index lands in `rejected`)
 * with every row it had started rolled back. The parser is deliberately narrower than JSON:
 * anything it is not certain the reference decoder would accept with the same values (an
 * escape in a string it keeps or checks character by character, a number with an exponent
 * or a sign, `null`, a duplicate key...) is rejected, and the caller's reference path
 * decides that line. It never reads outside a line's bytes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

enum Kind { K_BOOL, K_ENUM, K_INT, K_FLOAT, K_DATE, K_STR, K_OBJECT, K_LIST };
enum Elem { E_U8 = 1, E_I64 = 2, E_F64 = 3, E_OBJ = 4 };

#define MAX_FIELDS 64
#define MAX_DEPTH 8

typedef struct Spec Spec;

typedef struct {
    char *key;
    Py_ssize_t key_len;
    int kind;
    int column; /* in the spec's table; -1: checked, not kept */
    int required;
    /* defaults (columns of optional fields only) */
    long long idefault;
    double fdefault;
    /* ENUM */
    int n_values;
    char **values;
    Py_ssize_t *value_lens;
    unsigned char *codes;
    /* INT / FLOAT bounds (inclusive); FLOAT: has_lo */
    long long ilo, ihi;
    double flo;
    int has_flo;
    /* STR */
    Py_ssize_t min_chars, max_chars; /* max < 0: unbounded */
    unsigned char allowed[256], last_allowed[256];
    int has_charset;
    int check_digit; /* GB 11643-style weighted check character */
    int weights[17];
    char check_chars[11];
    /* OBJECT / LIST */
    Spec *child;
    Py_ssize_t min_items, max_items; /* LIST; max < 0: unbounded */
} Field;

struct Spec {
    int table;
    int n_fields;
    Field *fields;
};

typedef struct {
    int elem;
    char *data; /* rows * size of elem */
} Column;

typedef struct {
    int n_columns;
    Column *columns;
    int parent_column; /* child tables: the column holding the parent's row; -1 for the root */
    Py_ssize_t rows, capacity;
} Table;

typedef struct {
    PyObject_HEAD
    Spec *root;
    int n_tables;
    Table *tables;
} Decoder;

/* ---- growable tables --------------------------------------------------------------------- */

static size_t elem_size(int elem) {
    switch (elem) {
    case E_U8: return 1;
    case E_I64: return sizeof(long long);
    case E_F64: return sizeof(double);
    default: return sizeof(PyObject *);
    }
}

static int table_reserve(Table *t, Py_ssize_t rows) {
    if (rows <= t->capacity) return 0;
    Py_ssize_t capacity = t->capacity ? t->capacity : 1024;
    while (capacity < rows) capacity *= 2;
    for (int c = 0; c < t->n_columns; c++) {
        char *grown = PyMem_Realloc(t->columns[c].data, capacity * elem_size(t->columns[c].elem));
        if (!grown) { PyErr_NoMemory(); return -1; }
        t->columns[c].data = grown;
    }
    t->capacity = capacity;
    return 0;
}

static void table_truncate(Table *t, Py_ssize_t rows) {
    for (int c = 0; c < t->n_columns; c++) {
        if (t->columns[c].elem != E_OBJ) continue;
        PyObject **objects = (PyObject **)t->columns[c].data;
        for (Py_ssize_t r = rows; r < t->rows; r++) Py_CLEAR(objects[r]);
    }
    t->rows = rows;
}

static void put_int(Table *t, int column, Py_ssize_t row, long long value) {
    Column *c = &t->columns[column];
    if (c->elem == E_U8) ((unsigned char *)c->data)[row] = (unsigned char)value;
    else if (c->elem == E_I64) ((long long *)c->data)[row] = value;
    else ((double *)c->data)[row] = (double)value;
}

static void put_float(Table *t, int column, Py_ssize_t row, double value) {
    ((double *)t->columns[column].data)[row] = value;
}

/* Defaults of every kept field of `spec` (nested objects included) into `row`. */
static void put_defaults(Decoder *d, const Spec *spec, Py_ssize_t row) {
    Table *t = &d->tables[spec->table];
    for (int i = 0; i < spec->n_fields; i++) {
        const Field *f = &spec->fields[i];
        if (f->kind == K_OBJECT) { put_defaults(d, f->child, row); continue; }
        if (f->column < 0) continue;
        if (f->kind == K_FLOAT) put_float(t, f->column, row, f->fdefault);
        else if (f->kind == K_STR) ((PyObject **)t->columns[f->column].data)[row] = NULL;
        else put_int(t, f->column, row, f->idefault);
    }
}

static Py_ssize_t new_row(Decoder *d, const Spec *spec, Py_ssize_t parent) {
    Table *t = &d->tables[spec->table];
    if (table_reserve(t, t->rows + 1) < 0) return -2;
    Py_ssize_t row = t->rows++;
    if (t->parent_column >= 0) put_int(t, t->parent_column, row, parent);
    put_defaults(d, spec, row);
    return row;
}

/* ---- the parser ----------------------------------------------------------------------------- */

typedef struct {
    const unsigned char *p, *end;
} Cursor;

#define REJECT (-1)
#define FAILED (-2) /* a Python exception is set */

static inline void skip_ws(Cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static inline int expect(Cursor *c, unsigned char ch) {
    skip_ws(c);
    if (c->p >= c->end || *c->p != ch) return REJECT;
    c->p++;
    return 0;
}

/* PLAIN[b]: an ASCII byte that may stand for itself inside a string (not '"', '\\', control) */
static unsigned char PLAIN[256];

static void init_plain(void) {
    for (int b = 0x20; b < 0x80; b++) PLAIN[b] = b != '"' && b != '\\';
}

static int hex4(const unsigned char *p, unsigned int *out) {
    unsigned int value = 0;
    for (int k = 0; k < 4; k++) {
        unsigned char h = p[k];
        unsigned int digit;
        if (h >= '0' && h <= '9') digit = h - '0';
        else if (h >= 'a' && h <= 'f') digit = h - 'a' + 10;
        else if (h >= 'A' && h <= 'F') digit = h - 'A' + 10;
        else return -1;
        value = value * 16 + digit;
    }
    *out = value;
    return 0;
}

/* Length of the escape at p (just after its backslash), 0 when it is not one the reference
 * decoder takes: \" \\ \/ \b \f \n \r \t, \uXXXX outside the surrogates, or a high
 * surrogate escape followed by a low one (one character either way). */
static Py_ssize_t escape_length(const unsigned char *p, const unsigned char *end) {
    if (p >= end) return 0;
    switch (*p) {
    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't': return 1;
    case 'u': break;
    default: return 0;
    }
    unsigned int unit, low;
    if (end - p < 5 || hex4(p + 1, &unit) < 0) return 0;
    if (unit < 0xD800 || unit > 0xDFFF) return 5;
    if (unit > 0xDBFF) return 0; /* a low surrogate first */
    if (end - p < 11 || p[5] != '\\' || p[6] != 'u' || hex4(p + 7, &low) < 0) return 0;
    return low >= 0xDC00 && low <= 0xDFFF ? 11 : 0;
}

#define ESCAPED 1 /* scan_string: a valid string with escapes (its bytes are not its text) */

/* A string: its raw bytes and its length in characters. 0 when the bytes are its text (no
 * escape; valid UTF-8, no control character); with `escapes`, ESCAPED when it also holds
 * escapes the reference decoder takes; REJECT otherwise. */
static int scan_string_escaped(Cursor *c, const unsigned char **start, Py_ssize_t *len,
                               Py_ssize_t *chars, int escapes) {
    if (c->p >= c->end || *c->p != '"') return REJECT;
    const unsigned char *p = ++c->p, *end = c->end;
    Py_ssize_t n = 0;
    int escaped = 0;
    while (p < end) {
        const unsigned char *run = p;
        while (p < end && PLAIN[*p]) p++;
        n += p - run;
        if (p >= end) break;
        unsigned char b = *p;
        if (b == '"') {
            *start = c->p;
            *len = p - c->p;
            *chars = n;
            c->p = p + 1;
            return escaped ? ESCAPED : 0;
        }
        if (b == '\\' && escapes) {
            Py_ssize_t length = escape_length(p + 1, end);
            if (!length) return REJECT;
            p += 1 + length;
            n++;
            escaped = 1;
            continue;
        }
        if (b < 0x80) return REJECT; /* a control character, or an escape not asked for */
        /* strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF */
        int extra;
        unsigned char lo = 0x80, hi = 0xBF;
        if (b >= 0xC2 && b <= 0xDF) extra = 1;
        else if (b >= 0xE0 && b <= 0xEF) {
            extra = 2;
            if (b == 0xE0) lo = 0xA0;
            if (b == 0xED) hi = 0x9F;
        } else if (b >= 0xF0 && b <= 0xF4) {
            extra = 3;
            if (b == 0xF0) lo = 0x90;
            if (b == 0xF4) hi = 0x8F;
        } else return REJECT;
        if (end - p <= extra) return REJECT;
        if (p[1] < lo || p[1] > hi) return REJECT;
        for (int k = 2; k <= extra; k++)
            if (p[k] < 0x80 || p[k] > 0xBF) return REJECT;
        p += extra + 1;
        n++;
    }
    return REJECT;
}

static inline int scan_string(Cursor *c, const unsigned char **start, Py_ssize_t *len,
                              Py_ssize_t *chars) {
    return scan_string_escaped(c, start, len, chars, 0);
}

static int parse_bool(Cursor *c, long long *out) {
    if (c->end - c->p >= 4 && memcmp(c->p, "true", 4) == 0) { c->p += 4; *out = 1; return 0; }
    if (c->end - c->p >= 5 && memcmp(c->p, "false", 5) == 0) { c->p += 5; *out = 0; return 0; }
    return REJECT;
}

/* Digits of a JSON number limited to `0|[1-9][0-9]*` with an optional fraction (no sign, no
 * exponent); `*integral` tells whether there was no fraction. */
static int scan_number(Cursor *c, const unsigned char **start, Py_ssize_t *len, int *integral) {
    const unsigned char *p = c->p, *end = c->end;
    if (p >= end || *p < '0' || *p > '9') return REJECT;
    if (*p == '0') {
        p++;
        if (p < end && *p >= '0' && *p <= '9') return REJECT;
    } else {
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    Py_ssize_t int_digits = p - c->p;
    *integral = 1;
    if (p < end && *p == '.') {
        const unsigned char *frac = ++p;
        while (p < end && *p >= '0' && *p <= '9') p++;
        if (p == frac) return REJECT;
        *integral = 0;
    }
    if (p < end && (*p == 'e' || *p == 'E')) return REJECT;
    /* up to 15 integer digits and 17 digits in all: exact or correctly rounded either way */
    if (int_digits > 15 || (p - c->p) > 18) return REJECT;
    *start = c->p;
    *len = p - c->p;
    c->p = p;
    return 0;
}

static const double POW10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                  1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                  1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static int parse_float(Cursor *c, const Field *f, double *out) {
    const unsigned char *start;
    Py_ssize_t len;
    int integral;
    if (scan_number(c, &start, &len, &integral) < 0) return REJECT;
    /* at most 17 digits: the integer they spell (with the point dropped) is below 2^63;
     * below 2^53 with at most 22 decimals, integer / 10^decimals is one correctly rounded
     * IEEE division (Clinger's fast path), the same double as a correctly rounded strtod */
    unsigned long long mantissa = 0;
    int decimals = -1;
    for (Py_ssize_t k = 0; k < len; k++) {
        if (start[k] == '.') { decimals = 0; continue; }
        mantissa = mantissa * 10 + (start[k] - '0');
        if (decimals >= 0) decimals++;
    }
    double value;
    if (mantissa < (1ULL << 53) && decimals <= 22) {
        value = (double)mantissa;
        if (decimals > 0) value /= POW10[decimals];
    } else {
        char buffer[32];
        memcpy(buffer, start, len);
        buffer[len] = '\0';
        char *stop;
        value = PyOS_string_to_double(buffer, &stop, NULL);
        if (value == -1.0 && PyErr_Occurred()) return FAILED;
        if (stop != buffer + len) return REJECT;
    }
    if (f->has_flo && !(value >= f->flo)) return REJECT;
    *out = value;
    return 0;
}

static int parse_int(Cursor *c, const Field *f, long long *out) {
    const unsigned char *start;
    Py_ssize_t len;
    int integral;
    if (scan_number(c, &start, &len, &integral) < 0 || !integral) return REJECT;
    long long value = 0;
    for (Py_ssize_t k = 0; k < len; k++) value = value * 10 + (start[k] - '0');
    if (value < f->ilo || value > f->ihi) return REJECT;
    *out = value;
    return 0;
}

static int parse_enum(Cursor *c, const Field *f, long long *out) {
    const unsigned char *s;
    Py_ssize_t len, chars;
    if (scan_string(c, &s, &len, &chars) < 0) return REJECT;
    for (int k = 0; k < f->n_values; k++) {
        if (f->value_lens[k] == len && memcmp(f->values[k], s, len) == 0) {
            *out = f->codes[k];
            return 0;
        }
    }
    return REJECT;
}

static inline int two_digits(const unsigned char *s) {
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9') return -1;
    return (s[0] - '0') * 10 + (s[1] - '0');
}

static const int DAYS_BEFORE_MONTH[13] = {0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
static const int DAYS_IN_MONTH[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

/* "YYYY-MM-DD" as a proleptic Gregorian ordinal (1 = 0001-01-01), as `date.toordinal()`. */
static int parse_date(Cursor *c, long long *out) {
    const unsigned char *s;
    Py_ssize_t len, chars;
    if (scan_string(c, &s, &len, &chars) < 0 || len != 10) return REJECT;
    if (s[4] != '-' || s[7] != '-') return REJECT;
    int hi = two_digits(s), lo = two_digits(s + 2), month = two_digits(s + 5),
        day = two_digits(s + 8);
    if (hi < 0 || lo < 0 || month < 1 || month > 12 || day < 1) return REJECT;
    long long year = hi * 100 + lo;
    if (year < 1) return REJECT;
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    int dim = DAYS_IN_MONTH[month] + (month == 2 && leap);
    if (day > dim) return REJECT;
    long long y = year - 1;
    *out = y * 365 + y / 4 - y / 100 + y / 400 + DAYS_BEFORE_MONTH[month] + (month > 2 && leap) +
           day;
    return 0;
}

static int parse_str(Cursor *c, const Field *f, PyObject **out) {
    const unsigned char *s;
    Py_ssize_t len, chars;
    /* escapes only where the text itself is neither kept nor checked character by character */
    int plain = !out && !f->has_charset && !f->check_digit;
    if (scan_string_escaped(c, &s, &len, &chars, plain) < 0) return REJECT;
    if (chars < f->min_chars || (f->max_chars >= 0 && chars > f->max_chars)) return REJECT;
    if (f->has_charset) {
        if (len == 0) return REJECT;
        for (Py_ssize_t k = 0; k + 1 < len; k++)
            if (!f->allowed[s[k]]) return REJECT;
        if (!f->last_allowed[s[len - 1]]) return REJECT;
    }
    if (f->check_digit) {
        if (len != 18) return REJECT;
        int total = 0;
        for (int k = 0; k < 17; k++) {
            if (s[k] < '0' || s[k] > '9') return REJECT;
            total += (s[k] - '0') * f->weights[k];
        }
        if ((unsigned char)f->check_chars[total % 11] != s[17]) return REJECT;
    }
    if (out) {
        *out = PyUnicode_DecodeUTF8((const char *)s, len, "strict");
        if (!*out) return FAILED;
    }
    return 0;
}

static int parse_object(Decoder *d, Cursor *c, const Spec *spec, Py_ssize_t row, int depth);

static int parse_list(Decoder *d, Cursor *c, const Field *f, Py_ssize_t parent, int depth,
                      Py_ssize_t *count) {
    if (c->p >= c->end || *c->p != '[') return REJECT;
    c->p++;
    Py_ssize_t n = 0;
    skip_ws(c);
    if (c->p < c->end && *c->p == ']') {
        c->p++;
    } else {
        for (;;) {
            skip_ws(c);
            if (c->p >= c->end || *c->p != '{') return REJECT;
            c->p++;
            Py_ssize_t row = new_row(d, f->child, parent);
            if (row < 0) return FAILED;
            int status = parse_object(d, c, f->child, row, depth + 1);
            if (status < 0) return status;
            n++;
            skip_ws(c);
            if (c->p >= c->end) return REJECT;
            if (*c->p == ',') { c->p++; continue; }
            if (*c->p == ']') { c->p++; break; }
            return REJECT;
        }
    }
    if (n < f->min_items || (f->max_items >= 0 && n > f->max_items)) return REJECT;
    *count = n;
    return 0;
}

static int parse_object(Decoder *d, Cursor *c, const Spec *spec, Py_ssize_t row, int depth) {
    if (depth > MAX_DEPTH) return REJECT;
    Table *t = &d->tables[spec->table];
    uint64_t seen = 0;
    int hint = 0;
    skip_ws(c);
    if (c->p < c->end && *c->p == '}') {
        c->p++;
    } else {
        for (;;) {
            skip_ws(c);
            const unsigned char *key;
            Py_ssize_t key_len, chars;
            if (scan_string(c, &key, &key_len, &chars) < 0) return REJECT;
            /* keys mostly come in declaration order: try the one after the last first */
            int i = -1;
            for (int k = 0; k < spec->n_fields; k++) {
                int j = (hint + k) % spec->n_fields;
                const Field *candidate = &spec->fields[j];
                if (candidate->key_len == key_len && candidate->key[0] == key[0] &&
                    memcmp(candidate->key, key, key_len) == 0) {
                    i = j;
                    break;
                }
            }
            if (i < 0) return REJECT; /* unknown field */
            hint = i + 1;
            if (seen & ((uint64_t)1 << i)) return REJECT; /* duplicate key */
            seen |= (uint64_t)1 << i;
            if (expect(c, ':') < 0) return REJECT;
            skip_ws(c);
            const Field *f = &spec->fields[i];
            long long ivalue = 0;
            double fvalue = 0;
            int status;
            switch (f->kind) {
            case K_BOOL: status = parse_bool(c, &ivalue); break;
            case K_ENUM: status = parse_enum(c, f, &ivalue); break;
            case K_INT: status = parse_int(c, f, &ivalue); break;
            case K_DATE: status = parse_date(c, &ivalue); break;
            case K_FLOAT: status = parse_float(c, f, &fvalue); break;
            case K_STR: {
                PyObject *text = NULL;
                status = parse_str(c, f, f->column >= 0 ? &text : NULL);
                if (status == 0 && f->column >= 0) {
                    PyObject **slot = &((PyObject **)t->columns[f->column].data)[row];
                    Py_XSETREF(*slot, text);
                }
                break;
            }
            case K_OBJECT:
                if (c->p >= c->end || *c->p != '{') return REJECT;
                c->p++;
                status = parse_object(d, c, f->child, row, depth + 1);
                break;
            case K_LIST: {
                Py_ssize_t count = 0;
                status = parse_list(d, c, f, row, depth, &count);
                ivalue = count;
                break;
            }
            default: status = REJECT;
            }
            if (status < 0) return status;
            if (f->column >= 0 && f->kind != K_STR && f->kind != K_OBJECT) {
                if (f->kind == K_FLOAT) put_float(t, f->column, row, fvalue);
                else put_int(t, f->column, row, ivalue);
            }
            skip_ws(c);
            if (c->p >= c->end) return REJECT;
            if (*c->p == ',') { c->p++; continue; }
            if (*c->p == '}') { c->p++; break; }
            return REJECT;
        }
    }
    for (int i = 0; i < spec->n_fields; i++)
        if (spec->fields[i].required && !(seen & ((uint64_t)1 << i))) return REJECT;
    return 0;
}

/* ---- schema from Python -------------------------------------------------------------------- */

static void spec_free(Spec *spec) {
    if (!spec) return;
    for (int i = 0; i < spec->n_fields; i++) {
        Field *f = &spec->fields[i];
        PyMem_Free(f->key);
        for (int k = 0; k < f->n_values; k++) PyMem_Free(f->values[k]);
        PyMem_Free(f->values);
        PyMem_Free(f->value_lens);
        PyMem_Free(f->codes);
        spec_free(f->child);
    }
    PyMem_Free(spec->fields);
    PyMem_Free(spec);
}

static char *copy_bytes(PyObject *obj, Py_ssize_t *len) {
    char *data;
    if (PyBytes_AsStringAndSize(obj, &data, len) < 0) return NULL;
    char *copy = PyMem_Malloc(*len + 1);
    if (!copy) { PyErr_NoMemory(); return NULL; }
    memcpy(copy, data, *len);
    copy[*len] = '\0';
    return copy;
}

static int set_charset(unsigned char table[256], PyObject *chars) {
    char *data;
    Py_ssize_t len;
    if (PyBytes_AsStringAndSize(chars, &data, &len) < 0) return -1;
    for (Py_ssize_t k = 0; k < len; k++) table[(unsigned char)data[k]] = 1;
    return 0;
}

static Spec *spec_from(PyObject *obj, int n_tables);

/* field: (key, kind, column, required, idefault, fdefault, args) */
static int field_from(Field *f, PyObject *obj, int n_tables) {
    PyObject *key, *args;
    if (!PyArg_ParseTuple(obj, "O!iiiLdO!", &PyBytes_Type, &key, &f->kind, &f->column,
                          &f->required, &f->idefault, &f->fdefault, &PyTuple_Type, &args))
        return -1;
    if (!(f->key = copy_bytes(key, &f->key_len))) return -1;
    switch (f->kind) {
    case K_BOOL:
    case K_DATE: return 0;
    case K_ENUM: {
        PyObject *values, *codes;
        if (!PyArg_ParseTuple(args, "O!O!", &PyTuple_Type, &values, &PyTuple_Type, &codes)) return -1;
        Py_ssize_t n = PyTuple_GET_SIZE(values);
        if (n != PyTuple_GET_SIZE(codes) || n > 255) {
            PyErr_SetString(PyExc_ValueError, "enum values and codes differ in length");
            return -1;
        }
        f->values = PyMem_Calloc(n ? n : 1, sizeof(char *));
        f->value_lens = PyMem_Calloc(n ? n : 1, sizeof(Py_ssize_t));
        f->codes = PyMem_Calloc(n ? n : 1, 1);
        if (!f->values || !f->value_lens || !f->codes) { PyErr_NoMemory(); return -1; }
        for (Py_ssize_t k = 0; k < n; k++) {
            f->n_values = (int)k + 1;
            if (!(f->values[k] = copy_bytes(PyTuple_GET_ITEM(values, k), &f->value_lens[k])))
                return -1;
            long code = PyLong_AsLong(PyTuple_GET_ITEM(codes, k));
            if (code < 0 || code > 255) {
                if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "enum code out of range");
                return -1;
            }
            f->codes[k] = (unsigned char)code;
        }
        return 0;
    }
    case K_INT: return PyArg_ParseTuple(args, "LL", &f->ilo, &f->ihi) ? 0 : -1;
    case K_FLOAT: return PyArg_ParseTuple(args, "pd", &f->has_flo, &f->flo) ? 0 : -1;
    case K_STR: {
        PyObject *allowed, *last_allowed, *weights, *check_chars;
        if (!PyArg_ParseTuple(args, "nnOOOO", &f->min_chars, &f->max_chars, &allowed,
                              &last_allowed, &weights, &check_chars))
            return -1;
        if (allowed != Py_None) {
            f->has_charset = 1;
            if (set_charset(f->allowed, allowed) < 0) return -1;
            if (set_charset(f->last_allowed, allowed) < 0) return -1;
            if (last_allowed != Py_None && set_charset(f->last_allowed, last_allowed) < 0) return -1;
        }
        if (weights != Py_None) {
            char *w, *chars;
            Py_ssize_t wn, cn;
            if (PyBytes_AsStringAndSize(weights, &w, &wn) < 0) return -1;
            if (PyBytes_AsStringAndSize(check_chars, &chars, &cn) < 0) return -1;
            if (wn != 17 || cn != 11) {
                PyErr_SetString(PyExc_ValueError, "a check digit takes 17 weights and 11 characters");
                return -1;
            }
            f->check_digit = 1;
            for (int k = 0; k < 17; k++) f->weights[k] = (unsigned char)w[k];
            memcpy(f->check_chars, chars, 11);
        }
        return 0;
    }
    case K_OBJECT: {
        PyObject *child;
        if (!PyArg_ParseTuple(args, "O", &child)) return -1;
        return (f->child = spec_from(child, n_tables)) ? 0 : -1;
    }
    case K_LIST: {
        PyObject *child;
        if (!PyArg_ParseTuple(args, "Onn", &child, &f->min_items, &f->max_items)) return -1;
        return (f->child = spec_from(child, n_tables)) ? 0 : -1;
    }
    default: PyErr_Format(PyExc_ValueError, "unknown field kind %d", f->kind); return -1;
    }
}

/* spec: (table, (field, ...)) */
static Spec *spec_from(PyObject *obj, int n_tables) {
    int table;
    PyObject *fields;
    if (!PyArg_ParseTuple(obj, "iO!", &table, &PyTuple_Type, &fields)) return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(fields);
    if (table < 0 || table >= n_tables || n > MAX_FIELDS) {
        PyErr_SetString(PyExc_ValueError, "bad table index or too many fields in an object");
        return NULL;
    }
    Spec *spec = PyMem_Calloc(1, sizeof(Spec));
    if (!spec) { PyErr_NoMemory(); return NULL; }
    spec->table = table;
    spec->fields = PyMem_Calloc(n ? n : 1, sizeof(Field));
    if (!spec->fields) { PyMem_Free(spec); PyErr_NoMemory(); return NULL; }
    for (Py_ssize_t i = 0; i < n; i++) {
        spec->n_fields = (int)i + 1;
        if (field_from(&spec->fields[i], PyTuple_GET_ITEM(fields, i), n_tables) < 0) {
            spec_free(spec);
            return NULL;
        }
    }
    return spec;
}

static void tables_free(Decoder *self) {
    if (!self->tables) return;
    for (int k = 0; k < self->n_tables; k++) {
        Table *t = &self->tables[k];
        table_truncate(t, 0);
        for (int c = 0; c < t->n_columns; c++) PyMem_Free(t->columns[c].data);
        PyMem_Free(t->columns);
    }
    PyMem_Free(self->tables);
    self->tables = NULL;
}

static int check_columns(Decoder *self, const Spec *spec) {
    const Table *t = &self->tables[spec->table];
    for (int i = 0; i < spec->n_fields; i++) {
        const Field *f = &spec->fields[i];
        if (f->column >= t->n_columns) {
            PyErr_Format(PyExc_ValueError, "field %s: no column %d", f->key, f->column);
            return -1;
        }
        if (f->column >= 0) {
            int elem = t->columns[f->column].elem;
            int ok = f->kind == K_FLOAT ? elem == E_F64
                     : f->kind == K_STR ? elem == E_OBJ
                     : f->kind == K_OBJECT ? 0
                     : elem == E_U8 || elem == E_I64;
            if (!ok) {
                PyErr_Format(PyExc_ValueError, "field %s: column of the wrong type", f->key);
                return -1;
            }
        }
        if (f->child && check_columns(self, f->child) < 0) return -1;
    }
    return 0;
}

/* Decoder(spec, tables) with tables: ((elements: bytes of Elem codes, parent column), ...) */
static int Decoder_init(Decoder *self, PyObject *args, PyObject *kwargs) {
    PyObject *spec, *tables;
    if (!PyArg_ParseTuple(args, "O!O!", &PyTuple_Type, &spec, &PyTuple_Type, &tables)) return -1;
    tables_free(self);
    spec_free(self->root);
    self->root = NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(tables);
    if (n < 1 || n > 16) {
        PyErr_SetString(PyExc_ValueError, "1 to 16 tables");
        return -1;
    }
    self->tables = PyMem_Calloc(n, sizeof(Table));
    if (!self->tables) { PyErr_NoMemory(); return -1; }
    self->n_tables = (int)n;
    for (Py_ssize_t k = 0; k < n; k++) {
        PyObject *elements;
        Table *t = &self->tables[k];
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(tables, k), "O!i", &PyBytes_Type, &elements,
                              &t->parent_column))
            return -1;
        Py_ssize_t columns = PyBytes_GET_SIZE(elements);
        t->columns = PyMem_Calloc(columns ? columns : 1, sizeof(Column));
        if (!t->columns) { PyErr_NoMemory(); return -1; }
        t->n_columns = (int)columns;
        for (Py_ssize_t c = 0; c < columns; c++) {
            int elem = (unsigned char)PyBytes_AS_STRING(elements)[c];
            if (elem < E_U8 || elem > E_OBJ) {
                PyErr_SetString(PyExc_ValueError, "unknown column element type");
                return -1;
            }
            t->columns[c].elem = elem;
        }
        if (t->parent_column >= t->n_columns ||
            (t->parent_column >= 0 && t->columns[t->parent_column].elem != E_I64)) {
            PyErr_SetString(PyExc_ValueError, "a parent column must be an int64 column");
            return -1;
        }
    }
    if (!(self->root = spec_from(spec, self->n_tables))) return -1;
    return check_columns(self, self->root);
}

static void Decoder_dealloc(Decoder *self) {
    tables_free(self);
    spec_free(self->root);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *column_out(Table *t, int c) {
    Column *col = &t->columns[c];
    if (col->elem != E_OBJ)
        return PyByteArray_FromStringAndSize(col->data ? col->data : "",
                                             t->rows * (Py_ssize_t)elem_size(col->elem));
    PyObject *list = PyList_New(t->rows);
    if (!list) return NULL;
    PyObject **objects = (PyObject **)col->data;
    for (Py_ssize_t r = 0; r < t->rows; r++) {
        PyObject *item = objects[r] ? objects[r] : Py_None;
        if (!objects[r]) Py_INCREF(Py_None);
        objects[r] = NULL; /* the list owns it now */
        PyList_SET_ITEM(list, r, item);
    }
    return list;
}

PyDoc_STRVAR(decode_doc,
"decode(lines) -> (rejected, tables)\n\n"
"Decode each bytes object of `lines` (one JSON document each). `rejected` lists the indices\n"
"of lines not taken; `tables` holds, per table, its columns (bytearray of packed values, or a\n"
"list of str) with one row per taken object of that table.");

static PyObject *Decoder_decode(Decoder *self, PyObject *lines) {
    if (!self->root) {
        PyErr_SetString(PyExc_RuntimeError, "decoder not initialised");
        return NULL;
    }
    PyObject *seq = PySequence_Fast(lines, "lines must be a sequence of bytes");
    if (!seq) return NULL;
    PyObject *rejected = PyList_New(0), *result = NULL, *out = NULL;
    Py_ssize_t saved[16];
    if (!rejected) goto done;
    for (int k = 0; k < self->n_tables; k++) table_truncate(&self->tables[k], 0);
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *line = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyBytes_Check(line)) {
            PyErr_Format(PyExc_TypeError, "line %zd is not bytes", i);
            goto done;
        }
        for (int k = 0; k < self->n_tables; k++) saved[k] = self->tables[k].rows;
        Cursor c = {(const unsigned char *)PyBytes_AS_STRING(line),
                    (const unsigned char *)PyBytes_AS_STRING(line) + PyBytes_GET_SIZE(line)};
        int status = REJECT;
        skip_ws(&c);
        if (c.p < c.end && *c.p == '{') {
            c.p++;
            Py_ssize_t row = new_row(self, self->root, -1);
            status = row < 0 ? FAILED : parse_object(self, &c, self->root, row, 0);
            if (status == 0) {
                skip_ws(&c);
                if (c.p != c.end) status = REJECT; /* trailing characters */
            }
        }
        if (status == FAILED) goto done;
        if (status == REJECT) {
            for (int k = 0; k < self->n_tables; k++) table_truncate(&self->tables[k], saved[k]);
            PyObject *index = PyLong_FromSsize_t(i);
            if (!index || PyList_Append(rejected, index) < 0) { Py_XDECREF(index); goto done; }
            Py_DECREF(index);
        }
    }
    out = PyTuple_New(self->n_tables);
    if (!out) goto done;
    for (int k = 0; k < self->n_tables; k++) {
        Table *t = &self->tables[k];
        PyObject *columns = PyTuple_New(t->n_columns);
        if (!columns) goto done;
        PyTuple_SET_ITEM(out, k, columns);
        for (int col = 0; col < t->n_columns; col++) {
            PyObject *column = column_out(t, col);
            if (!column) goto done;
            PyTuple_SET_ITEM(columns, col, column);
        }
    }
    result = PyTuple_Pack(2, rejected, out);
done:
    for (int k = 0; k < self->n_tables; k++) table_truncate(&self->tables[k], 0);
    Py_XDECREF(out);
    Py_XDECREF(rejected);
    Py_DECREF(seq);
    return result;
}

static PyMethodDef Decoder_methods[] = {
    {"decode", (PyCFunction)Decoder_decode, METH_O, decode_doc},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject DecoderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "fangpin_columnar._columnar.Decoder",
    .tp_basicsize = sizeof(Decoder),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = PyDoc_STR("Decoder(spec, tables): JSON lines of one schema into columns."),
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Decoder_init,
    .tp_dealloc = (destructor)Decoder_dealloc,
    .tp_methods = Decoder_methods,
};

static struct PyModuleDef module = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "_columnar",
    .m_doc = "JSON lines of one schema decoded into columns.",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__columnar(void) {
    init_plain();
    if (PyType_Ready(&DecoderType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&DecoderType);
    if (PyModule_AddObject(m, "Decoder", (PyObject *)&DecoderType) < 0) {
        Py_DECREF(&DecoderType);
        Py_DECREF(m);
        return NULL;
    }
    if (PyModule_AddIntConstant(m, "BOOL", K_BOOL) || PyModule_AddIntConstant(m, "ENUM", K_ENUM) ||
        PyModule_AddIntConstant(m, "INT", K_INT) || PyModule_AddIntConstant(m, "FLOAT", K_FLOAT) ||
        PyModule_AddIntConstant(m, "DATE", K_DATE) || PyModule_AddIntConstant(m, "STR", K_STR) ||
        PyModule_AddIntConstant(m, "OBJECT", K_OBJECT) || PyModule_AddIntConstant(m, "LIST", K_LIST) ||
        PyModule_AddIntConstant(m, "U8", E_U8) || PyModule_AddIntConstant(m, "I64", E_I64) ||
        PyModule_AddIntConstant(m, "F64", E_F64) || PyModule_AddIntConstant(m, "OBJ", E_OBJ)) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
