/* The raw state of Python's Mersenne Twister (a random.Random), read as bytes.

Why C: every miss compares the global generator's state before and after the run. random.getstate() makes a
tuple of 625 Python ints for that, twice per miss, which cost a cheap cell's miss a twentieth of its instructions;
the words copied as one bytes object compare as well (equal bytes, equal states) for a fraction of it.

words(generator) -> bytes | None: the generator's index (a C int) then its 624 32-bit words, in this machine's
byte order, as CPython's _randommodule.c lays out its RandomObject; None for an object that is not a
_random.Random, or where _random.Random's instances are not of that size (another layout: the caller then uses
getstate()). nbcache.analysis.determinism checks the words against getstate() once before it trusts them.
*/
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#define N 624

typedef struct {
    PyObject_HEAD
    int index;
    uint32_t state[N];
} RandomObject;

static PyTypeObject *random_type = NULL; /* _random.Random, with instances of RandomObject's size */

static PyObject *words(PyObject *module, PyObject *generator) {
    if (random_type == NULL || !PyObject_TypeCheck(generator, random_type)) {
        Py_RETURN_NONE;
    }
    RandomObject *r = (RandomObject *)generator;
    /* index and state are adjacent in the struct: one copy from the first to the end of the last word */
    const char *start = (const char *)&r->index;
    const char *end = (const char *)(r->state + N);
    return PyBytes_FromStringAndSize(start, end - start);
}

static PyMethodDef methods[] = {
    {"words", words, METH_O, "The generator's index and 624 words as bytes; None where the layout is unknown."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_randstate", "The raw state of random.Random, for nbcache.analysis.determinism.", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__randstate(void) {
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) {
        return NULL;
    }
    PyObject *mod = PyImport_ImportModule("_random");
    PyObject *type = mod == NULL ? NULL : PyObject_GetAttrString(mod, "Random");
    Py_XDECREF(mod);
    if (type != NULL && PyType_Check(type) && ((PyTypeObject *)type)->tp_basicsize == sizeof(RandomObject)) {
        random_type = (PyTypeObject *)type; /* kept for the module's life */
    } else {
        Py_XDECREF(type);
    }
    PyErr_Clear(); /* no _random, or another layout: words() answers None */
    return m;
}
