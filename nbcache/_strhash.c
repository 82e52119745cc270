/* The bytes of an object-string chunk, as nbcache.keys.arrays hashes them, in one C pass over its items.

join(objects, start, stop, held=None, seen=None, release=False, addresses=None) walks items [start, stop) of a
list or of a C-contiguous object array (a buffer of format "O") once: each must be an exact str (a subclass,
None, a number: the answer is None and the caller hashes item by item). It returns (data, lengths): data is the
items' UTF-8, NUL-joined, with lone surrogates encoded as themselves (what str.encode("utf-8", "surrogatepass")
gives); lengths is None when no item holds a NUL, else each item's length in code points as native int64 (what
the stream then feeds first).

held, a list, gets one list referencing every item (the memo's guarantee that no hashed object is freed); seen,
a writable buffer of a power-of-two count of pointer-sized slots, zeroed by the caller once per array, lets an
object already held (during this array's walk: held keeps it alive, so its address names it still) be left out,
so shared objects are mostly held once.

addresses, a writable buffer of a pointer-sized slot per item of the whole array, gets the address of each item
read, at its index: exactly the objects the bytes came from (and held), whatever another thread writes into the
array meanwhile, which is what the memo must compare later.

It calls no Python code (and allocates no object a garbage collection could start from) between the first and
the last item: the array keeps every item alive meanwhile. With release (held and seen given), it checks, holds
and records the items first, then makes the bytes without the GIL (another thread, hashing the previous chunk,
runs meanwhile), reading only the recorded items, which held keeps alive, and only what a str never changes.
*/
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

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

static inline size_t seen_slot(PyObject *item, size_t mask) {
    uintptr_t address = (uintptr_t)item;
    return (size_t)((address >> 4) ^ (address >> 20)) & mask;
}

/* Whether item's slot in seen already names it (it was held before in this walk); if not, it is recorded. */
static int seen_before(PyObject *item, uintptr_t *seen, size_t mask) {
    if (seen == NULL) {
        return 0;
    }
    uintptr_t address = (uintptr_t)item;
    size_t slot = seen_slot(item, mask);
    if (seen[slot] == address) {
        return 1;
    }
    seen[slot] = address;
    return 0;
}

/* Item i of a walk, its successor's memory asked ahead (the walk waits on each object's memory and its seen
   slot): 1 if it is an exact str (ready), 0 if not, -1 with an error set. */
static inline int exact_str_at(const Items *items, Py_ssize_t i, uintptr_t *seen, size_t mask) {
    if (i + PREFETCH < items->count) {
        PyObject *ahead = items->items[i + PREFETCH];
        PREFETCH_OBJECT(ahead);
        if (seen != NULL) {
            PREFETCH_OBJECT(&seen[seen_slot(ahead, mask)]);
        }
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

/* 1: every item an exact str, joined into out (and each put in kept, a list of count slots, unless seen before:
   *kept_count says how many; *nul set if an item holds a NUL); 0: an item is not one; -1: an error is set. */
static int join_items(const Items *items, Out *out, PyObject *kept, Py_ssize_t *kept_count, uintptr_t *seen,
                      size_t mask, PyObject **addresses, int *nul) {
    for (Py_ssize_t i = 0; i < items->count; i++) {
        int found = exact_str_at(items, i, seen, mask);
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
        if (kept != NULL && !seen_before(s, seen, mask)) {
            PyList_SET_ITEM(kept, *kept_count, Py_NewRef(s));
            ++*kept_count;
        }
        if (addresses != NULL) {
            addresses[i] = s;
        }
    }
    return 1;
}

/* The walk for a chunk whose bytes are made without the GIL: with it, each item checked, held and its pointer
   copied to snap (the array may change meanwhile, its objects may not: held keeps every one alive); returns the
   bytes the encoding may take at most, 0 if an item is not an exact str, -1 with an error set. */
static Py_ssize_t hold_items(const Items *items, PyObject **snap, PyObject *kept, Py_ssize_t *kept_count,
                             uintptr_t *seen, size_t mask) {
    Py_ssize_t bound = 1;
    for (Py_ssize_t i = 0; i < items->count; i++) {
        int found = exact_str_at(items, i, seen, mask);
        if (found <= 0) {
            return found;
        }
        PyObject *s = items->items[i];
        bound += PyUnicode_GET_LENGTH(s) * max_utf8(s) + 1;
        snap[i] = s;
        if (!seen_before(s, seen, mask)) {
            PyList_SET_ITEM(kept, *kept_count, Py_NewRef(s));
            ++*kept_count;
        }
    }
    return bound;
}

/* The held items' UTF-8, NUL-joined, into dst (room for the bound): reads only what a str never changes, so it
   runs without the GIL. Returns the bytes written; *nul is set if an item holds a NUL. */
static Py_ssize_t encode_held(PyObject *const *snap, Py_ssize_t count, unsigned char *dst, int *nul) {
    unsigned char *p = dst;
    int zero = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *s = snap[i];
        if (i + PREFETCH < count) {
            PREFETCH_OBJECT(snap[i + PREFETCH]);
        }
        if (i > 0) {
            *p++ = 0;
        }
        Py_ssize_t n = PyUnicode_GET_LENGTH(s);
        if (PyUnicode_IS_ASCII(s)) {
            zero |= copy_short(p, (const unsigned char *)PyUnicode_DATA(s), n);
            p += n;
        } else {
            p += encode_wide(s, p, &zero);
        }
    }
    *nul = zero;
    return p - dst;
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

/* The items kept (shared ones mostly once) appended to held as one list: no list growth per item. */
static int hold(PyObject *held, PyObject *kept, Py_ssize_t kept_count) {
    if (PyList_SetSlice(kept, kept_count, PyList_GET_SIZE(kept), NULL) < 0) { /* the unused slots (NULL) */
        return -1;
    }
    /* Only exact strs: it can be part of no reference cycle, so the garbage collector need not walk its items
       (65,536 per chunk) at every collection while the memo holds it. */
    PyObject_GC_UnTrack(kept);
    return PyList_Append(held, kept);
}

static PyObject *join_range(const Items *items, PyObject *held, uintptr_t *seen, size_t mask, PyObject **addresses) {
    Out out = {PyBytes_FromStringAndSize(NULL, items->count * 16 + 1), 0, items->count * 16 + 1};
    if (out.bytes == NULL) {
        return NULL;
    }
    PyObject *kept = held != NULL ? PyList_New(items->count) : NULL;
    Py_ssize_t kept_count = 0;
    if (held != NULL && kept == NULL) {
        Py_DECREF(out.bytes);
        return NULL;
    }
    int nul = 0;
    int found = join_items(items, &out, kept, &kept_count, seen, mask, addresses, &nul);
    if (found > 0 && kept != NULL && hold(held, kept, kept_count) < 0) {
        found = -1;
    }
    Py_XDECREF(kept);
    if (found <= 0) {
        Py_DECREF(out.bytes);
        if (found == 0) {
            Py_RETURN_NONE;
        }
        return NULL;
    }
    PyObject *lengths = NULL;
    if (lengths_form(nul, items->count)) {
        lengths = lengths_of(items);
        if (lengths == NULL) {
            Py_DECREF(out.bytes);
            return NULL;
        }
    }
    if (_PyBytes_Resize(&out.bytes, out.size) < 0) {
        Py_XDECREF(lengths);
        return NULL;
    }
    PyObject *result = Py_BuildValue("(NN)", out.bytes, lengths != NULL ? lengths : Py_NewRef(Py_None));
    return result;
}

/* The result of join_range for a chunk whose items get held (held and seen given), with its bytes made without
   the GIL, so that another thread (hashing the previous chunk) runs meanwhile. */
static PyObject *join_released(const Items *items, PyObject *held, uintptr_t *seen, size_t mask,
                               PyObject **addresses) {
    PyObject **own = NULL;
    if (addresses == NULL) {
        own = PyMem_Malloc((size_t)(items->count > 0 ? items->count : 1) * sizeof(PyObject *));
        if (own == NULL) {
            return PyErr_NoMemory();
        }
    }
    PyObject **snap = addresses != NULL ? addresses : own;
    PyObject *kept = PyList_New(items->count);
    if (kept == NULL) {
        PyMem_Free(own);
        return NULL;
    }
    Py_ssize_t kept_count = 0;
    Py_ssize_t bound = hold_items(items, snap, kept, &kept_count, seen, mask);
    if (bound > 0 && hold(held, kept, kept_count) < 0) {
        bound = -1;
    }
    Py_DECREF(kept); /* held owns it now; on failure its references go with it */
    PyObject *bytes = bound > 0 ? PyBytes_FromStringAndSize(NULL, bound) : NULL;
    if (bytes == NULL) {
        PyMem_Free(own);
        if (bound == 0) {
            Py_RETURN_NONE;
        }
        return NULL;
    }
    Py_ssize_t size;
    int nul;
    unsigned char *dst = (unsigned char *)PyBytes_AS_STRING(bytes);
    Py_BEGIN_ALLOW_THREADS
    size = encode_held(snap, items->count, dst, &nul);
    Py_END_ALLOW_THREADS
    int form = lengths_form(nul, items->count);
    PyObject *lengths = NULL;
    if (form) {
        Items snapped = {snap, items->count};
        lengths = lengths_of(&snapped);
    }
    PyMem_Free(own);
    if ((form && lengths == NULL) || _PyBytes_Resize(&bytes, size) < 0) {
        Py_XDECREF(bytes);
        Py_XDECREF(lengths);
        return NULL;
    }
    return Py_BuildValue("(NN)", bytes, lengths != NULL ? lengths : Py_NewRef(Py_None));
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

static int seen_slots(PyObject *seen_obj, Py_buffer *view, uintptr_t **seen, size_t *mask) {
    if (PyObject_GetBuffer(seen_obj, view, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0) {
        return -1;
    }
    size_t slots = (size_t)view->len / sizeof(uintptr_t);
    if (slots == 0 || (slots & (slots - 1)) != 0) {
        PyBuffer_Release(view);
        PyErr_SetString(PyExc_ValueError, "seen must hold a power-of-two count of pointer-sized slots");
        return -1;
    }
    *seen = (uintptr_t *)view->buf;
    *mask = slots - 1;
    return 0;
}

static PyObject *join(PyObject *module, PyObject *args, PyObject *kwargs) {
    (void)module;
    static char *keywords[] = {"objects", "start", "stop", "held", "seen", "release", "addresses", NULL};
    PyObject *objects, *held = Py_None, *seen_obj = Py_None, *addresses_obj = Py_None;
    Py_ssize_t start, stop;
    int release = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "Onn|OOpO:join", keywords, &objects, &start, &stop, &held,
                                     &seen_obj, &release, &addresses_obj)) {
        return NULL;
    }
    if (release && (held == Py_None || seen_obj == Py_None)) {
        PyErr_SetString(PyExc_ValueError, "release needs held and seen: only held items are read without the GIL");
        return NULL;
    }
    if (held != Py_None && !PyList_Check(held)) {
        PyErr_SetString(PyExc_TypeError, "held must be a list or None");
        return NULL;
    }
    Py_buffer view = {0}, seen_view = {0};
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
    items.items += start;
    items.count = stop - start;
    uintptr_t *seen = NULL;
    size_t mask = 0;
    if (seen_obj != Py_None && seen_slots(seen_obj, &seen_view, &seen, &mask) < 0) {
        PyBuffer_Release(&view);
        return NULL;
    }
    Py_buffer addresses_view = {0};
    PyObject **addresses = NULL;
    if (addresses_obj != Py_None) {
        if (PyObject_GetBuffer(addresses_obj, &addresses_view, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0) {
            PyBuffer_Release(&seen_view);
            PyBuffer_Release(&view);
            return NULL;
        }
        if (addresses_view.len < stop * (Py_ssize_t)sizeof(PyObject *)) {
            PyBuffer_Release(&addresses_view);
            PyBuffer_Release(&seen_view);
            PyBuffer_Release(&view);
            PyErr_SetString(PyExc_ValueError, "addresses must have a pointer-sized slot for every item");
            return NULL;
        }
        addresses = (PyObject **)addresses_view.buf + start;
    }
    PyObject *result = release ? join_released(&items, held, seen, mask, addresses)
                               : join_range(&items, held == Py_None ? NULL : held, seen, mask, addresses);
    PyBuffer_Release(&addresses_view);
    if (seen != NULL) {
        PyBuffer_Release(&seen_view);
    }
    PyBuffer_Release(&view);
    return result;
}

static PyMethodDef methods[] = {
    {"join", (PyCFunction)(void (*)(void))join, METH_VARARGS | METH_KEYWORDS,
     "join(objects, start, stop, held=None, seen=None, release=False, addresses=None)\n"
     "    -> (data, lengths | None) | None\n\n"
     "Items [start, stop) of a list or C-contiguous object array, all exact str, as their UTF-8 joined with NULs\n"
     "(surrogates as themselves) and, when an item holds a NUL, their lengths as native int64; None when an item\n"
     "is not an exact str. With release (held and seen given), the bytes are made without the GIL. addresses, a\n"
     "writable buffer of a pointer-sized slot per item, gets the address of each item read, at its index."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_strhash", "Object-string chunks joined in C for nbcache.keys.arrays.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__strhash(void) { return PyModule_Create(&module); }
