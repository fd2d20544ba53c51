/*
 * _text: assemble lines of text from columns of fragments in one pass.
 *
 * join_lines(columns, n, order, extra) -> bytes
 *
 * Row i of the table is the concatenation, over the columns, of its fragment there; a column
 * is a bytes object (the same on every row), a list of n bytes (one per row), or a pair
 * (values: list of bytes, codes: int64 buffer of n) meaning values[codes[i]] on row i.
 * `order` (an int64 buffer, or None for rows 0..n-1) lists the output lines: a value k >= 0
 * is row k, a value k < 0 is extra[-k - 1] as it is. The output is sized first, then filled.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

enum { C_CONST, C_ROWS, C_CODES };

typedef struct {
    int kind;
    const char *text; /* C_CONST */
    Py_ssize_t len;
    PyObject **items; /* C_ROWS: n bytes; C_CODES: the values */
    Py_ssize_t n_items;
    const long long *codes; /* C_CODES */
    Py_buffer view;
    int has_view;
} Column;

static int get_int64(PyObject *obj, Py_buffer *view, Py_ssize_t n, const char *what) {
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return -1;
    if (view->itemsize != 8 || !view->format ||
        (strcmp(view->format, "q") != 0 && strcmp(view->format, "l") != 0 &&
         strcmp(view->format, "<q") != 0 && strcmp(view->format, "<l") != 0) ||
        (n >= 0 && view->len != n * 8)) {
        PyErr_Format(PyExc_ValueError, "%s must be %zd int64 values", what, n);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static int all_bytes(PyObject **items, Py_ssize_t n) {
    for (Py_ssize_t k = 0; k < n; k++) {
        if (!PyBytes_Check(items[k])) {
            PyErr_Format(PyExc_TypeError, "fragment %zd is not bytes", k);
            return -1;
        }
    }
    return 0;
}

static Py_ssize_t row_length(const Column *columns, Py_ssize_t n_columns, Py_ssize_t row) {
    Py_ssize_t total = 0;
    for (Py_ssize_t c = 0; c < n_columns; c++) {
        const Column *col = &columns[c];
        if (col->kind == C_CONST) total += col->len;
        else if (col->kind == C_ROWS) total += PyBytes_GET_SIZE(col->items[row]);
        else total += PyBytes_GET_SIZE(col->items[col->codes[row]]);
    }
    return total;
}

static char *write_row(const Column *columns, Py_ssize_t n_columns, Py_ssize_t row, char *out) {
    for (Py_ssize_t c = 0; c < n_columns; c++) {
        const Column *col = &columns[c];
        const char *text;
        Py_ssize_t len;
        if (col->kind == C_CONST) {
            text = col->text;
            len = col->len;
        } else {
            PyObject *item = col->kind == C_ROWS ? col->items[row] : col->items[col->codes[row]];
            text = PyBytes_AS_STRING(item);
            len = PyBytes_GET_SIZE(item);
        }
        memcpy(out, text, len);
        out += len;
    }
    return out;
}

static PyObject *join_lines(PyObject *module, PyObject *args) {
    PyObject *columns_arg, *order_arg, *extra_arg;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "OnOO", &columns_arg, &n, &order_arg, &extra_arg)) return NULL;
    if (n < 0) {
        PyErr_SetString(PyExc_ValueError, "n must not be negative");
        return NULL;
    }
    PyObject *columns_seq = PySequence_Fast(columns_arg, "columns must be a sequence");
    if (!columns_seq) return NULL;
    PyObject *extra = PySequence_Fast(extra_arg, "extra must be a sequence of bytes");
    if (!extra) {
        Py_DECREF(columns_seq);
        return NULL;
    }
    PyObject *result = NULL;
    PyObject **held = NULL; /* PySequence_Fast results kept alive while their items are used */
    Py_ssize_t n_columns = PySequence_Fast_GET_SIZE(columns_seq), n_held = 0;
    Column *columns = PyMem_Calloc(n_columns ? n_columns : 1, sizeof(Column));
    held = PyMem_Calloc(2 * (n_columns ? n_columns : 1), sizeof(PyObject *));
    Py_buffer order_view = {0};
    int has_order = 0;
    if (!columns || !held) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t c = 0; c < n_columns; c++) {
        PyObject *obj = PySequence_Fast_GET_ITEM(columns_seq, c);
        Column *col = &columns[c];
        if (PyBytes_Check(obj)) {
            col->kind = C_CONST;
            col->text = PyBytes_AS_STRING(obj);
            col->len = PyBytes_GET_SIZE(obj);
        } else if (PyList_Check(obj)) {
            PyObject *items = PySequence_Fast(obj, "");
            if (!items) goto done;
            held[n_held++] = items;
            col->kind = C_ROWS;
            col->items = PySequence_Fast_ITEMS(items);
            col->n_items = PySequence_Fast_GET_SIZE(items);
            if (col->n_items != n) {
                PyErr_Format(PyExc_ValueError, "column %zd has %zd rows, not %zd", c,
                             col->n_items, n);
                goto done;
            }
            if (all_bytes(col->items, col->n_items) < 0) goto done;
        } else if (PyTuple_Check(obj) && PyTuple_GET_SIZE(obj) == 2) {
            PyObject *items = PySequence_Fast(PyTuple_GET_ITEM(obj, 0), "values must be a list");
            if (!items) goto done;
            held[n_held++] = items;
            col->kind = C_CODES;
            col->items = PySequence_Fast_ITEMS(items);
            col->n_items = PySequence_Fast_GET_SIZE(items);
            if (all_bytes(col->items, col->n_items) < 0) goto done;
            if (get_int64(PyTuple_GET_ITEM(obj, 1), &col->view, n, "codes") < 0) goto done;
            col->has_view = 1;
            col->codes = (const long long *)col->view.buf;
            for (Py_ssize_t r = 0; r < n; r++) {
                if (col->codes[r] < 0 || col->codes[r] >= col->n_items) {
                    PyErr_Format(PyExc_IndexError, "column %zd: code out of range", c);
                    goto done;
                }
            }
        } else {
            PyErr_Format(PyExc_TypeError, "column %zd: bytes, list or (values, codes)", c);
            goto done;
        }
    }
    Py_ssize_t lines = n;
    const long long *order = NULL;
    if (order_arg != Py_None) {
        if (get_int64(order_arg, &order_view, -1, "order") < 0) goto done;
        has_order = 1;
        order = (const long long *)order_view.buf;
        lines = order_view.len / 8;
    }
    Py_ssize_t n_extra = PySequence_Fast_GET_SIZE(extra);
    PyObject **extras = PySequence_Fast_ITEMS(extra);
    if (all_bytes(extras, n_extra) < 0) goto done;
    Py_ssize_t total = 0;
    for (Py_ssize_t k = 0; k < lines; k++) {
        long long row = order ? order[k] : k;
        Py_ssize_t len;
        if (row >= n || (row < 0 && -row - 1 >= n_extra)) {
            PyErr_Format(PyExc_IndexError, "order[%zd] = %lld is out of range", k, row);
            goto done;
        }
        len = row >= 0 ? row_length(columns, n_columns, (Py_ssize_t)row)
                       : PyBytes_GET_SIZE(extras[-row - 1]);
        if (len > PY_SSIZE_T_MAX - total) {
            PyErr_NoMemory();
            goto done;
        }
        total += len;
    }
    result = PyBytes_FromStringAndSize(NULL, total);
    if (!result) goto done;
    char *out = PyBytes_AS_STRING(result);
    for (Py_ssize_t k = 0; k < lines; k++) {
        long long row = order ? order[k] : k;
        if (row >= 0) {
            out = write_row(columns, n_columns, (Py_ssize_t)row, out);
        } else {
            PyObject *line = extras[-row - 1];
            memcpy(out, PyBytes_AS_STRING(line), PyBytes_GET_SIZE(line));
            out += PyBytes_GET_SIZE(line);
        }
    }
done:
    if (columns) {
        for (Py_ssize_t c = 0; c < n_columns; c++)
            if (columns[c].has_view) PyBuffer_Release(&columns[c].view);
    }
    if (has_order) PyBuffer_Release(&order_view);
    for (Py_ssize_t k = 0; k < n_held; k++) Py_DECREF(held[k]);
    PyMem_Free(held);
    PyMem_Free(columns);
    Py_DECREF(extra);
    Py_DECREF(columns_seq);
    return result;
}

static PyMethodDef methods[] = {
    {"join_lines", join_lines, METH_VARARGS,
     PyDoc_STR("join_lines(columns, n, order, extra) -> bytes: lines from columns of "
               "fragments (see the module documentation).")},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "_text",
    .m_doc = "Lines of text assembled from columns of fragments.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__text(void) { return PyModule_Create(&module); }
