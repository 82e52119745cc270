/* The cell's module-level locals, in C: every read and write goes to the user namespace, and each name stored or
deleted is noted (nbcache.cell.execute.BindingRecorder adds the rest of the mapping API in Python).

Why C: Python runs a cell's top-level code with LOAD_NAME and STORE_NAME, which call the locals mapping's
__getitem__ and __setitem__ for every name read or written whenever locals is not an exact dict. Written in
Python, each is a Python frame: a loop at the top of a cell ran 6x slower under %%cache than without it. In C,
each costs a dictionary operation and, for a store, two set operations.

Recorder(namespace) is a dict subclass whose own items stay empty; namespace must be a dict (IPython's user
namespace; a subclass's own __getitem__ is honoured). Attributes: namespace, bound (set of names stored) and
deleted (set of names deleted), as the pure-Python recorder has them. bound and deleted are changed only
through the mapping (the recorder remembers the names it stored last as being in bound).
*/
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

/* How many of the names stored last are remembered, so that a loop storing the same few names skips the set. */
#define RECENT 4

typedef struct {
    PyDictObject dict; /* empty: the items live in namespace */
    PyObject *namespace;
    PyObject *bound;
    PyObject *deleted;
    PyObject *recent[RECENT]; /* names in bound, stored lately (strong references); cleared by any delete */
    int next;
} Recorder;

static void forget_recent(Recorder *self) {
    for (int i = 0; i < RECENT; i++) {
        Py_CLEAR(self->recent[i]);
    }
}

static int recorder_init(Recorder *self, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"namespace", NULL};
    PyObject *namespace;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!:Recorder", keywords, &PyDict_Type, &namespace)) {
        return -1;
    }
    PyObject *bound = PySet_New(NULL);
    PyObject *deleted = PySet_New(NULL);
    if (bound == NULL || deleted == NULL) {
        Py_XDECREF(bound);
        Py_XDECREF(deleted);
        return -1;
    }
    forget_recent(self);
    Py_XSETREF(self->namespace, Py_NewRef(namespace));
    Py_XSETREF(self->bound, bound);
    Py_XSETREF(self->deleted, deleted);
    return 0;
}

static int ready(Recorder *self) {
    if (self->namespace == NULL || self->bound == NULL || self->deleted == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Recorder used before __init__");
        return 0;
    }
    return 1;
}

static PyObject *recorder_getitem(Recorder *self, PyObject *name) {
    if (!ready(self)) {
        return NULL;
    }
    if (PyDict_CheckExact(self->namespace)) {
        PyObject *value = PyDict_GetItemWithError(self->namespace, name);
        if (value == NULL) {
            if (!PyErr_Occurred()) {
                PyErr_SetObject(PyExc_KeyError, name); /* LOAD_NAME goes on to globals and builtins */
            }
            return NULL;
        }
        return Py_NewRef(value);
    }
    return PyObject_GetItem(self->namespace, name);
}

/* name noted as bound: a loop stores the same few names over and over, which are then found among the recent
   ones by pointer (code objects intern their names) without a set lookup. */
static int note_bound(Recorder *self, PyObject *name) {
    for (int i = 0; i < RECENT; i++) {
        if (self->recent[i] == name) {
            return 0;
        }
    }
    if (PySet_Add(self->bound, name) < 0) {
        return -1;
    }
    Py_XSETREF(self->recent[self->next], Py_NewRef(name));
    self->next = (self->next + 1) % RECENT;
    return 0;
}

/* name taken out of a set of notes, skipped when the set is empty (no name was deleted: the usual case). */
static int forget(PyObject *notes, PyObject *name) {
    return PySet_GET_SIZE(notes) == 0 ? 0 : PySet_Discard(notes, name);
}

/* Store (value) or delete (NULL), then note it: a name stored is bound and no longer deleted, and the reverse. */
static int recorder_setitem(Recorder *self, PyObject *name, PyObject *value) {
    if (!ready(self)) {
        return -1;
    }
    if (value != NULL) {
        int stored = PyDict_CheckExact(self->namespace) ? PyDict_SetItem(self->namespace, name, value)
                                                        : PyObject_SetItem(self->namespace, name, value);
        if (stored < 0 || note_bound(self, name) < 0 || forget(self->deleted, name) < 0) {
            return -1;
        }
        return 0;
    }
    forget_recent(self); /* the name may leave bound */
    if (PyObject_DelItem(self->namespace, name) < 0 || PySet_Add(self->deleted, name) < 0 ||
        forget(self->bound, name) < 0) {
        return -1;
    }
    return 0;
}

static int recorder_contains(Recorder *self, PyObject *name) {
    if (!ready(self)) {
        return -1;
    }
    return PySequence_Contains(self->namespace, name);
}

static int recorder_traverse(Recorder *self, visitproc visit, void *arg) {
    for (int i = 0; i < RECENT; i++) {
        Py_VISIT(self->recent[i]);
    }
    Py_VISIT(self->namespace);
    Py_VISIT(self->bound);
    Py_VISIT(self->deleted);
    return PyDict_Type.tp_traverse((PyObject *)self, visit, arg);
}

static int recorder_clear(Recorder *self) {
    forget_recent(self);
    Py_CLEAR(self->namespace);
    Py_CLEAR(self->bound);
    Py_CLEAR(self->deleted);
    return PyDict_Type.tp_clear((PyObject *)self);
}

static void recorder_dealloc(Recorder *self) {
    PyObject_GC_UnTrack(self);
    forget_recent(self);
    Py_CLEAR(self->namespace);
    Py_CLEAR(self->bound);
    Py_CLEAR(self->deleted);
    PyDict_Type.tp_dealloc((PyObject *)self); /* frees the (empty) dict and the object, with the type's tp_free */
}

static PyMappingMethods recorder_mapping = {
    .mp_subscript = (binaryfunc)recorder_getitem,
    .mp_ass_subscript = (objobjargproc)recorder_setitem,
};

static PySequenceMethods recorder_sequence = {
    .sq_contains = (objobjproc)recorder_contains,
};

static PyMemberDef recorder_members[] = {
    {"namespace", T_OBJECT, offsetof(Recorder, namespace), READONLY, "the user namespace reads and writes go to"},
    {"bound", T_OBJECT, offsetof(Recorder, bound), READONLY, "names stored (and not deleted since)"},
    {"deleted", T_OBJECT, offsetof(Recorder, deleted), READONLY, "names deleted (and not stored since)"},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject RecorderType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "nbcache._bindings.Recorder",
    .tp_basicsize = sizeof(Recorder),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Module-level locals that write through to a namespace and note each name stored or deleted.",
    .tp_init = (initproc)recorder_init,
    .tp_traverse = (traverseproc)recorder_traverse,
    .tp_clear = (inquiry)recorder_clear,
    .tp_dealloc = (destructor)recorder_dealloc,
    .tp_as_mapping = &recorder_mapping,
    .tp_as_sequence = &recorder_sequence,
    .tp_members = recorder_members,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_bindings", "The cell's module-level locals, in C, for nbcache.cell.execute.", -1, NULL,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__bindings(void) {
    RecorderType.tp_base = &PyDict_Type;
    if (PyType_Ready(&RecorderType) < 0) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) {
        return NULL;
    }
    if (PyModule_AddObject(m, "Recorder", Py_NewRef((PyObject *)&RecorderType)) < 0) {
        Py_DECREF(&RecorderType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
