/* The bytes of an object-string chunk, as nbcache.keys.arrays hashes them, in one C pass over its items.

join(objects, start, stop, held=None) walks items [start, stop) of a list or of a C-contiguous
object array (a buffer of format "O") once: each must be an exact str (a subclass, None, a number: the answer is
None and the caller hashes item by item). It returns (data, lengths): data is the items' UTF-8, NUL-joined, with
lone surrogates encoded as themselves (what str.encode("utf-8", "surrogatepass") gives); lengths is None when no
item holds a NUL (told from the very words copied), else each item's length in code points as native int64 (what
the stream then feeds first).

held, a Held (below) with a slot per item of the whole array, gets a strong reference to each item read, at its
index: the memo's guarantee that no hashed object is freed (and another allocated at its address), and, as the
Held's buffer, the addresses of exactly the objects the bytes came from, whatever another thread writes into the
array meanwhile, which is what the memo compares later. One block of 8 bytes an item for both.

It holds the GIL throughout and calls no Python code (and allocates no object a garbage collection could start
from) between the first and the last item: the array keeps every item alive meanwhile, and no other thread can
change it. (Making the bytes without the GIL, while another thread hashed the previous chunk, was tried: on 2
cores its second pass over the items and the threads' waits for the GIL cost more than the overlap saved.)
*/
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

/* How many items ahead an object's header (and a short string's characters, which follow it) is fetched. */
#define PREFETCH 12
#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH_OBJECT(o) __builtin_prefetch((const void *)(o))
#else
#define PREFETCH_OBJECT(o) ((void)0)
#endif

typedef struct {
    PyObject *bytes; /* the output, grown as needed, shrunk to size at the end */
    Py_ssize_t size;
    Py_ssize_t capacity;
} Out;

static int out_reserve(Out *out, Py_ssize_t more) {
    if (out->size + more <= out->capacity) {
        return 0;
    }
    Py_ssize_t want = out->capacity * 2;
    if (want < out->size + more) {
        want = out->size + more;
    }
    if (_PyBytes_Resize(&out->bytes, want) < 0) {
        return -1;
    }
    out->capacity = want;
    return 0;
}

/* Worst-case UTF-8 bytes of one code point of a string of this kind. */
static Py_ssize_t max_utf8(PyObject *s) {
    if (PyUnicode_IS_ASCII(s)) {
        return 1;
    }
    switch (PyUnicode_KIND(s)) {
    case PyUnicode_1BYTE_KIND:
        return 2;
    case PyUnicode_2BYTE_KIND:
        return 3;
    default:
        return 4;
    }
}

/* Whether a word read from a string holds a 0 byte (exact as to whether one does, not as to which). */
#define HAS_ZERO64(v) ((((v) - UINT64_C(0x0101010101010101)) & ~(v) & UINT64_C(0x8080808080808080)) != 0)
#define HAS_ZERO32(v) ((((v) - UINT32_C(0x01010101)) & ~(v) & UINT32_C(0x80808080)) != 0)

/* memcpy, without a library call for the short strings a column mostly holds: two fixed-size loads that overlap
   cover any length between their size and twice it (and read no byte past the string). Returns whether the bytes
   hold a NUL, told from the very words copied, so that no second pass over the output counts them. */
static inline int copy_short(unsigned char *dst, const unsigned char *src, Py_ssize_t n) {
    if (n >= 8 && n <= 16) {
        uint64_t head, tail;
        memcpy(&head, src, 8);
        memcpy(&tail, src + n - 8, 8);
        memcpy(dst, &head, 8);
        memcpy(dst + n - 8, &tail, 8);
        return HAS_ZERO64(head) | HAS_ZERO64(tail);
    }
    if (n >= 4 && n < 8) {
        uint32_t head, tail;
        memcpy(&head, src, 4);
        memcpy(&tail, src + n - 4, 4);
        memcpy(dst, &head, 4);
        memcpy(dst + n - 4, &tail, 4);
        return HAS_ZERO32(head) | HAS_ZERO32(tail);
    }
    if (n < 4) {
        int zero = 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            dst[i] = src[i];
            zero |= src[i] == 0;
        }
        return zero;
    }
    memcpy(dst, src, (size_t)n);
    return memchr(src, 0, (size_t)n) != NULL;
}

/* Each code point on its own (so a surrogate is 3 bytes, as "surrogatepass" writes it); returns bytes written,
   and sets *zero if a code point is U+0000 (the only one UTF-8 writes as a 0 byte). */
static Py_ssize_t encode_wide(PyObject *s, unsigned char *dst, int *zero) {
    const int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    const Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    unsigned char *p = dst;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c < 0x80) {
            *zero |= c == 0;
            *p++ = (unsigned char)c;
        } else if (c < 0x800) {
            *p++ = (unsigned char)(0xC0 | (c >> 6));
            *p++ = (unsigned char)(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
            *p++ = (unsigned char)(0xE0 | (c >> 12));
            *p++ = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
            *p++ = (unsigned char)(0x80 | (c & 0x3F));
        } else {
            *p++ = (unsigned char)(0xF0 | (c >> 18));
            *p++ = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
            *p++ = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
            *p++ = (unsigned char)(0x80 | (c & 0x3F));
        }
    }
    return p - dst;
}

/* The item at i: from a list or from the array's pointer buffer. */
typedef struct {
    PyObject **items;
    Py_ssize_t count;
} Items;

/* ---- Held: a strong reference to each item read, at its index; its buffer is their addresses.

   The memo's record of an array's hashed items in one block: what the walk read (the addresses the memo compares
   later) and the references that keep those very objects alive (so none is freed and another allocated at its
   address). A slot per item of the whole array, empty (NULL) until a walk fills it. */
typedef struct {
    PyObject_HEAD
    Py_ssize_t count;
    PyObject **slots;
    size_t mapped; /* bytes mapped for the slots, 0 when they came from PyMem_Calloc */
} Held;

/* Slot blocks this large are mapped with transparent huge pages asked for (as numpy does for its arrays): a 2M-item
   array's 16 MB then costs 8 page faults, not 4,096, and which the allocator's state decided (a freed block of
   this size raises glibc's threshold for mapping, the next one lands on the heap or not). */
#define HUGE_BYTES ((size_t)1 << 22)

static PyObject **slots_alloc(size_t bytes, size_t *mapped) {
    *mapped = 0;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (bytes >= HUGE_BYTES) {
        void *block = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (block != MAP_FAILED) {
            (void)madvise(block, bytes, MADV_HUGEPAGE); /* a hint: refused, it is plain pages */
            *mapped = bytes;
            return (PyObject **)block; /* zeroed: every slot empty */
        }
    }
#endif
    return PyMem_Calloc(bytes, 1); /* calloc: every slot empty */
}

static void held_dealloc(Held *self) {
    if (self->slots != NULL) {
        for (Py_ssize_t i = 0; i < self->count; i++) {
            Py_XDECREF(self->slots[i]); /* only exact strs: no Python code runs */
        }
#if defined(__linux__) && defined(MADV_HUGEPAGE)
        if (self->mapped) {
            munmap(self->slots, self->mapped);
        } else
#endif
        {
            PyMem_Free(self->slots);
        }
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *held_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"count", NULL};
    Py_ssize_t count;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "n:Held", keywords, &count)) {
        return NULL;
    }
    if (count < 0) {
        PyErr_SetString(PyExc_ValueError, "Held(count): count must not be negative");
        return NULL;
    }
    Held *self = (Held *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->slots = slots_alloc((size_t)(count > 0 ? count : 1) * sizeof(PyObject *), &self->mapped);
    if (self->slots == NULL) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    self->count = count;
    return (PyObject *)self;
}

static int held_getbuffer(Held *self, Py_buffer *view, int flags) {
    /* read-only: the slots are written by join alone, with the references they stand for */
    return PyBuffer_FillInfo(view, (PyObject *)self, self->slots, self->count * (Py_ssize_t)sizeof(PyObject *), 1,
                             flags);
}

static Py_ssize_t held_length(Held *self) { return self->count; }

static PyBufferProcs held_as_buffer = {(getbufferproc)held_getbuffer, NULL};
static PySequenceMethods held_as_sequence = {.sq_length = (lenfunc)held_length};

static PyTypeObject HeldType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "nbcache._strhash.Held",
    .tp_basicsize = sizeof(Held),
    .tp_dealloc = (destructor)held_dealloc,
    .tp_as_sequence = &held_as_sequence,
    .tp_as_buffer = &held_as_buffer,
    /* not tracked by the garbage collector: it references only strs, so it is part of no cycle */
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Held(count): a slot per item of an array for join to fill with a strong reference to the item it\n"
              "read; its buffer (read-only, native pointer-sized integers) is those items' addresses, 0 where empty.",
    .tp_new = held_new,
};

/* Slot i holds item s now (a slot is filled once per walk; an old occupant, an exact str, is let go). */
static inline void hold_at(PyObject **slots, Py_ssize_t i, PyObject *s) {
    PyObject *old = slots[i];
    slots[i] = Py_NewRef(s);
    Py_XDECREF(old);
}

/* Item i of a walk, its successor's memory asked ahead (the walk waits on each object's memory): 1 if it is an
   exact str (ready), 0 if not, -1 with an error set. */
static inline int exact_str_at(const Items *items, Py_ssize_t i) {
    if (i + PREFETCH < items->count) {
        PREFETCH_OBJECT(items->items[i + PREFETCH]);
    }
    PyObject *s = items->items[i];
    if (!PyUnicode_CheckExact(s)) {
        return 0;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(s) < 0) {
        return -1;
    }
#endif
    return 1;
}

/* 1: every item an exact str, joined into out (and each held at its index in slots, when given; *nul set if an
   item holds a NUL); 0: an item is not one; -1: an error is set. */
static int join_items(const Items *items, Out *out, PyObject **slots, int *nul) {
    for (Py_ssize_t i = 0; i < items->count; i++) {
        int found = exact_str_at(items, i);
        if (found <= 0) {
            return found;
        }
        PyObject *s = items->items[i];
        Py_ssize_t n = PyUnicode_GET_LENGTH(s);
        if (out_reserve(out, n * max_utf8(s) + 1) < 0) {
            return -1;
        }
        unsigned char *dst = (unsigned char *)PyBytes_AS_STRING(out->bytes) + out->size;
        if (i > 0) {
            *dst++ = 0;
            out->size++;
        }
        if (PyUnicode_IS_ASCII(s)) {
            *nul |= copy_short(dst, (const unsigned char *)PyUnicode_DATA(s), n);
            out->size += n;
        } else {
            out->size += encode_wide(s, dst, nul);
        }
        if (slots != NULL) {
            hold_at(slots, i, s);
        }
    }
    return 1;
}

/* Whether the chunk takes the lengths form: an item holds a NUL, or the chunk is empty (as the Python route decides:
   its count of 0 bytes, there none, is not the count of separators, there -1). */
static int lengths_form(int nul, Py_ssize_t count) { return nul || count == 0; }

static PyObject *lengths_of(const Items *items) {
    PyObject *lengths = PyBytes_FromStringAndSize(NULL, items->count * (Py_ssize_t)sizeof(int64_t));
    if (lengths == NULL) {
        return NULL;
    }
    int64_t *dst = (int64_t *)PyBytes_AS_STRING(lengths);
    for (Py_ssize_t i = 0; i < items->count; i++) {
        dst[i] = (int64_t)PyUnicode_GET_LENGTH(items->items[i]);
    }
    return lengths;
}

/* (data, lengths or None), the lengths read from items (all exact strs, alive); steals data. */
static PyObject *result_of(PyObject *data, const Items *items, int nul) {
    PyObject *lengths = Py_None;
    if (lengths_form(nul, items->count)) {
        lengths = lengths_of(items);
        if (lengths == NULL) {
            Py_DECREF(data);
            return NULL;
        }
    } else {
        Py_INCREF(lengths);
    }
    return Py_BuildValue("(NN)", data, lengths);
}

static PyObject *join_range(const Items *items, PyObject **slots) {
    Out out = {PyBytes_FromStringAndSize(NULL, items->count * 16 + 1), 0, items->count * 16 + 1};
    if (out.bytes == NULL) {
        return NULL;
    }
    int nul = 0;
    int found = join_items(items, &out, slots, &nul);
    if (found <= 0) {
        Py_DECREF(out.bytes);
        if (found == 0) {
            Py_RETURN_NONE;
        }
        return NULL;
    }
    if (_PyBytes_Resize(&out.bytes, out.size) < 0) {
        return NULL;
    }
    return result_of(out.bytes, items, nul);
}

static int object_buffer(PyObject *objects, Py_buffer *view) {
    if (PyObject_GetBuffer(objects, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        return -1;
    }
    if (view->format == NULL || strcmp(view->format, "O") != 0 || view->itemsize != sizeof(PyObject *)) {
        PyBuffer_Release(view);
        PyErr_SetString(PyExc_TypeError, "join() needs a list or a C-contiguous object array");
        return -1;
    }
    return 0;
}

static PyObject *join(PyObject *module, PyObject *args, PyObject *kwargs) {
    (void)module;
    static char *keywords[] = {"objects", "start", "stop", "held", NULL};
    PyObject *objects, *held_obj = Py_None;
    Py_ssize_t start, stop;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "Onn|O:join", keywords, &objects, &start, &stop, &held_obj)) {
        return NULL;
    }
    if (held_obj != Py_None && !PyObject_TypeCheck(held_obj, &HeldType)) {
        PyErr_SetString(PyExc_TypeError, "held must be a Held or None");
        return NULL;
    }
    Held *held = held_obj != Py_None ? (Held *)held_obj : NULL;
    Py_buffer view = {0};
    Items items;
    Py_ssize_t total;
    if (PyList_Check(objects)) {
        items.items = PySequence_Fast_ITEMS(objects);
        total = PyList_GET_SIZE(objects);
    } else {
        if (object_buffer(objects, &view) < 0) {
            return NULL;
        }
        items.items = (PyObject **)view.buf;
        total = view.len / view.itemsize;
    }
    if (start < 0 || stop < start || stop > total) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_IndexError, "join(): start and stop must lie within the items");
        return NULL;
    }
    if (held != NULL && held->count < stop) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "held must have a slot for every item");
        return NULL;
    }
    items.items += start;
    items.count = stop - start;
    PyObject **slots = held != NULL ? held->slots + start : NULL;
    PyObject *result = join_range(&items, slots); /* runs no Python code: held stays alive */
    PyBuffer_Release(&view);
    return result;
}

static PyMethodDef methods[] = {
    {"join", (PyCFunction)(void (*)(void))join, METH_VARARGS | METH_KEYWORDS,
     "join(objects, start, stop, held=None) -> (data, lengths | None) | None\n\n"
     "Items [start, stop) of a list or C-contiguous object array, all exact str, as their UTF-8 joined with NULs\n"
     "(surrogates as themselves) and, when an item holds a NUL, their lengths as native int64; None when an item\n"
     "is not an exact str. held, a Held with a slot per item of the whole array, gets a strong reference to each\n"
     "item read, at its index."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_strhash", "Object-string chunks joined in C for nbcache.keys.arrays.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__strhash(void) {
    if (PyType_Ready(&HeldType) < 0) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) {
        return NULL;
    }
    Py_INCREF(&HeldType);
    if (PyModule_AddObject(m, "Held", (PyObject *)&HeldType) < 0) {
        Py_DECREF(&HeldType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
