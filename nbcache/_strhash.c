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
#if !defined(_WIN32)
#include <pthread.h>
#define HASH_THREAD 1 /* a thread of C's own hashes while the walk goes on; without one, the walk hashes too */
#endif
#include "_blake3/blake3.h"

/* How many items ahead an object's header (and a short string's characters, which follow it) is fetched. */
#define PREFETCH 12
#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH_OBJECT(o) __builtin_prefetch((const void *)(o))
#else
#define PREFETCH_OBJECT(o) ((void)0)
#endif

/* A growable byte buffer of the raw allocator (a chunk's bytes: kept and reused from one chunk to the next, so
   its pages are faulted in once, not once a chunk). */
typedef struct {
    unsigned char *data;
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
    unsigned char *grown = PyMem_RawRealloc(out->data, (size_t)want);
    if (grown == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    out->data = grown;
    out->capacity = want;
    return 0;
}

static void out_free(Out *out) {
    PyMem_RawFree(out->data);
    out->data = NULL;
    out->size = out->capacity = 0;
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
    int empty; /* no slot filled yet: a walk writes them without reading them first (no zero page faulted in) */
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
    self->empty = 1;
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
static int join_items(const Items *items, Out *out, PyObject **slots, int empty, int *nul) {
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
        unsigned char *dst = out->data + out->size;
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
        if (empty) {
            slots[i] = Py_NewRef(s);
        } else if (slots != NULL) {
            hold_at(slots, i, s);
        }
    }
    return 1;
}

/* Whether the chunk takes the lengths form: an item holds a NUL, or the chunk is empty (as the Python route decides:
   its count of 0 bytes, there none, is not the count of separators, there -1). */
static int lengths_form(int nul, Py_ssize_t count) { return nul || count == 0; }

/* Each item's length in code points as native int64 (what the lengths form feeds first), into out. */
static int lengths_of(const Items *items, Out *out) {
    out->size = 0;
    if (out_reserve(out, items->count * (Py_ssize_t)sizeof(int64_t) + 1) < 0) {
        return -1;
    }
    int64_t *dst = (int64_t *)out->data;
    for (Py_ssize_t i = 0; i < items->count; i++) {
        dst[i] = (int64_t)PyUnicode_GET_LENGTH(items->items[i]);
    }
    out->size = items->count * (Py_ssize_t)sizeof(int64_t);
    return 0;
}

/* One chunk's bytes: 1 with data (and lengths, *form set, in the lengths form) made; 0: an item is not an exact str;
   -1: an error is set. data and lengths are reused: emptied first, grown as needed. */
static int make_chunk(const Items *items, PyObject **slots, int empty, Out *data, Out *lengths, int *form) {
    data->size = 0;
    if (out_reserve(data, items->count * 16 + 1) < 0) {
        return -1;
    }
    int nul = 0;
    int found = join_items(items, data, slots, empty, &nul);
    if (found <= 0) {
        return found;
    }
    *form = lengths_form(nul, items->count);
    return *form ? (lengths_of(items, lengths) < 0 ? -1 : 1) : 1;
}

static PyObject *join_range(const Items *items, PyObject **slots, int empty) {
    Out data = {NULL, 0, 0}, lengths = {NULL, 0, 0};
    int form = 0;
    PyObject *result = NULL;
    int found = make_chunk(items, slots, empty, &data, &lengths, &form);
    if (found == 0) {
        result = Py_NewRef(Py_None);
    } else if (found > 0) {
        if (form) {
            result = Py_BuildValue("(y#y#)", data.data, data.size, lengths.data, lengths.size);
        } else {
            result = Py_BuildValue("(y#O)", data.data, data.size, Py_None);
        }
    }
    out_free(&data);
    out_free(&lengths);
    return result;
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

/* A list's items, or those of a C-contiguous object array (whose buffer view is then to be released). */
static int object_items(PyObject *objects, Py_buffer *view, Items *items) {
    if (PyList_Check(objects)) {
        items->items = PySequence_Fast_ITEMS(objects);
        items->count = PyList_GET_SIZE(objects);
        return 0;
    }
    if (object_buffer(objects, view) < 0) {
        return -1;
    }
    items->items = (PyObject **)view->buf;
    items->count = view->len / view->itemsize;
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
    if (object_items(objects, &view, &items) < 0) {
        return NULL;
    }
    Py_ssize_t total = items.count;
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
    int empty = held != NULL && held->empty;
    if (held != NULL) {
        held->empty = 0;
    }
    PyObject *result = join_range(&items, slots, empty); /* runs no Python code: held stays alive */
    PyBuffer_Release(&view);
    return result;
}

/* ---- digests: a frame's string columns walked while a thread of C's own hashes

   The walk needs the GIL (it reads Python objects); hashing does not, and a thread that calls no Python code needs
   neither the GIL nor its hand-overs (which made a Python thread that hashed each chunk cost more than it saved, on
   2 cores). So the caller's thread makes each chunk's bytes into one of a few reused buffers and a pthread feeds
   them into the column's stream (the vendored official BLAKE3 C code, the same function as the blake3 module's);
   between chunks, and while the walk waits for a free buffer, it hashes the frame's numeric buffers a piece at a
   time. After the walk the caller's thread, the GIL released, hashes whatever numeric buffer the thread has not
   started. Each stream gets the very bytes nbcache.keys.arrays feeds on its Python route (_feed_joined through
   _Hasher.raw: a length-prefixed tag, then the length-prefixed bytes, whose blake3 digest instead when they reach
   THREADED_BYTES), so the digests are the same. */

#define SLOTS 8                    /* chunk buffers: the walk runs this many chunks ahead of the hashing at most */
#define PIECE ((size_t)1 << 20)    /* a numeric buffer is hashed this much at a time, so chunks wait little */

typedef struct {
    Out data, lengths;
    int form;                      /* the lengths form */
    Py_ssize_t column;
} Slot;

typedef struct {
    const unsigned char *bytes;
    size_t size, done;
    int owner;                     /* 0: nobody yet; 1: the thread; 2: the caller's thread */
    blake3_hasher hasher;
    uint8_t digest[BLAKE3_OUT_LEN];
} Numbers;

typedef struct {
#ifdef HASH_THREAD
    pthread_mutex_t lock;
    pthread_cond_t filled, emptied;
#endif
    Slot slots[SLOTS];
    Py_ssize_t produced, consumed; /* chunks made by the walk, and hashed */
    int walked;                    /* the walk is over: no more chunks */
    blake3_hasher *streams;        /* one per string column */
    Numbers *numbers;
    Py_ssize_t n_numbers;
    size_t threaded;               /* THREADED_BYTES */
} Work;

#ifdef HASH_THREAD
#define LOCK(w) pthread_mutex_lock(&(w)->lock)
#define UNLOCK(w) pthread_mutex_unlock(&(w)->lock)
#else
#define LOCK(w) ((void)(w))
#define UNLOCK(w) ((void)(w))
#endif

/* What _Hasher.raw feeds: the size as 8 little-endian bytes, then the bytes, or their digest from THREADED_BYTES. */
static void feed_raw(blake3_hasher *h, const void *bytes, size_t size, size_t threaded) {
    uint8_t prefix[8];
    for (int i = 0; i < 8; i++) {
        prefix[i] = (uint8_t)((uint64_t)size >> (8 * i));
    }
    blake3_hasher_update(h, prefix, sizeof prefix);
    if (size < threaded) {
        blake3_hasher_update(h, bytes, size);
        return;
    }
    blake3_hasher apart;
    uint8_t digest[BLAKE3_OUT_LEN];
    blake3_hasher_init(&apart);
    blake3_hasher_update(&apart, bytes, size);
    blake3_hasher_finalize(&apart, digest, sizeof digest);
    blake3_hasher_update(h, digest, sizeof digest);
}

/* What _feed_joined feeds for one chunk. */
static void feed_chunk(const Work *w, const Slot *slot) {
    blake3_hasher *h = &w->streams[slot->column];
    if (slot->form) {
        feed_raw(h, "lengths", 7, w->threaded);
        feed_raw(h, slot->lengths.data, (size_t)slot->lengths.size, w->threaded);
    } else {
        feed_raw(h, "nul-joined", 10, w->threaded);
    }
    feed_raw(h, slot->data.data, (size_t)slot->data.size, w->threaded);
}

/* The numeric buffer the thread hashes next: the one it started, else the first nobody has (lock held). */
static Numbers *next_numbers(Work *w) {
    for (Py_ssize_t i = 0; i < w->n_numbers; i++) {
        Numbers *job = &w->numbers[i];
        if (job->owner == 1 && job->done < job->size) {
            return job;
        }
        if (job->owner == 0) {
            job->owner = 1;
            return job;
        }
    }
    return NULL;
}

static void numbers_piece(Numbers *job, size_t piece) {
    size_t n = job->size - job->done < piece ? job->size - job->done : piece;
    blake3_hasher_update(&job->hasher, job->bytes + job->done, n);
    job->done += n;
    if (job->done == job->size) {
        blake3_hasher_finalize(&job->hasher, job->digest, sizeof job->digest);
    }
}

/* One step of the hashing side (lock held, released while hashing): a chunk first, else a piece of a numeric
   buffer; 0 when there was nothing to do. */
static int hash_step(Work *w) {
    if (w->consumed < w->produced) {
        const Slot *slot = &w->slots[w->consumed % SLOTS];
        UNLOCK(w);
        feed_chunk(w, slot);
        LOCK(w);
        w->consumed++;
#ifdef HASH_THREAD
        pthread_cond_signal(&w->emptied);
#endif
        return 1;
    }
    Numbers *job = next_numbers(w);
    if (job == NULL) {
        return 0;
    }
    UNLOCK(w);
    numbers_piece(job, PIECE);
    LOCK(w);
    return 1;
}

#ifdef HASH_THREAD
static void *hash_thread(void *arg) {
    Work *w = arg;
    LOCK(w);
    for (;;) {
        if (hash_step(w)) {
            continue;
        }
        if (w->walked) {
            break;
        }
        pthread_cond_wait(&w->filled, &w->lock);
    }
    UNLOCK(w);
    return NULL;
}
#endif

/* A free chunk buffer for the walk (lock not held): waits for the thread, or, without one, hashes a chunk itself. */
static Slot *free_slot(Work *w, int threaded) {
    LOCK(w);
    while (w->produced - w->consumed >= SLOTS) {
#ifdef HASH_THREAD
        if (threaded) {
            pthread_cond_wait(&w->emptied, &w->lock);
            continue;
        }
#endif
        (void)threaded;
        hash_step(w);
    }
    Slot *slot = &w->slots[w->produced % SLOTS];
    UNLOCK(w);
    return slot;
}

static void chunk_made(Work *w) {
    LOCK(w);
    w->produced++;
#ifdef HASH_THREAD
    pthread_cond_signal(&w->filled);
#endif
    UNLOCK(w);
}

/* Walks one string column (an item that is not an exact str ends it: 0), its chunks handed to the hashing side. */
static int walk_column(Work *w, Py_ssize_t column, const Items *all, Held *held, Py_ssize_t chunk, int threaded) {
    int empty = held != NULL && held->empty; /* each chunk fills slots of its own */
    if (held != NULL) {
        held->empty = 0;
    }
    for (Py_ssize_t start = 0; start < all->count; start += chunk) {
        Items items = {all->items + start, all->count - start < chunk ? all->count - start : chunk};
        Slot *slot = free_slot(w, threaded);
        int found = make_chunk(&items, held != NULL ? held->slots + start : NULL, empty, &slot->data,
                               &slot->lengths, &slot->form);
        if (found <= 0) {
            return found;
        }
        slot->column = column;
        chunk_made(w);
    }
    return 1;
}

/* The string columns: each (objects, held) as join takes them; results[i] stays None where an item is not an exact
   str. Returns 0, or -1 with an error set. */
static int walk_columns(Work *w, PyObject *strings, PyObject *results, Py_ssize_t chunk, int threaded) {
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(strings); i++) {
        PyObject *objects, *held_obj, *pair = PyList_GET_ITEM(strings, i);
        if (!PyTuple_Check(pair)) {
            PyErr_SetString(PyExc_TypeError, "digests(): each string column is an (objects, held) tuple");
            return -1;
        }
        if (!PyArg_ParseTuple(pair, "OO:digests", &objects, &held_obj)) {
            return -1;
        }
        if (held_obj != Py_None && !PyObject_TypeCheck(held_obj, &HeldType)) {
            PyErr_SetString(PyExc_TypeError, "held must be a Held or None");
            return -1;
        }
        Py_buffer view = {0};
        Items items;
        if (object_items(objects, &view, &items) < 0) {
            return -1;
        }
        Held *held = held_obj != Py_None ? (Held *)held_obj : NULL;
        int found = -1;
        if (held != NULL && held->count < items.count) {
            PyErr_SetString(PyExc_ValueError, "held must have a slot for every item");
        } else {
            found = walk_column(w, i, &items, held, chunk, threaded);
        }
        PyBuffer_Release(&view);
        if (found < 0) {
            return -1;
        }
        if (found > 0 && PyList_SetItem(results, i, PyBytes_FromStringAndSize(NULL, BLAKE3_OUT_LEN)) < 0) {
            return -1;
        }
    }
    return 0;
}

/* After the walk: the numeric buffers the thread has not started, hashed here (GIL released), then the thread
   joined. */
static void finish(Work *w, int threaded) {
    LOCK(w);
    w->walked = 1;
#ifdef HASH_THREAD
    pthread_cond_signal(&w->filled);
#endif
    UNLOCK(w);
    Py_BEGIN_ALLOW_THREADS
    for (;;) {
        Numbers *job = NULL;
        LOCK(w);
        for (Py_ssize_t i = 0; i < w->n_numbers && job == NULL; i++) {
            if (w->numbers[i].owner == 0) {
                job = &w->numbers[i];
                job->owner = 2;
            }
        }
        if (job == NULL && !threaded) {
            while (hash_step(w)) {
            }
        }
        UNLOCK(w);
        if (job == NULL) {
            break;
        }
        numbers_piece(job, job->size);
    }
    Py_END_ALLOW_THREADS
}

static int work_init(Work *w, Py_ssize_t n_strings, PyObject *numbers, Py_buffer *views, Py_ssize_t threaded_bytes) {
    memset(w, 0, sizeof *w);
    w->threaded = (size_t)threaded_bytes;
    w->streams = PyMem_Calloc((size_t)(n_strings > 0 ? n_strings : 1), sizeof(blake3_hasher));
    w->n_numbers = PyList_GET_SIZE(numbers);
    w->numbers = PyMem_Calloc((size_t)(w->n_numbers > 0 ? w->n_numbers : 1), sizeof(Numbers));
    if (w->streams == NULL || w->numbers == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n_strings; i++) {
        blake3_hasher_init(&w->streams[i]);
    }
    for (Py_ssize_t i = 0; i < w->n_numbers; i++) {
        w->numbers[i].bytes = views[i].buf;
        w->numbers[i].size = (size_t)views[i].len;
        blake3_hasher_init(&w->numbers[i].hasher);
        if (views[i].len == 0) {
            blake3_hasher_finalize(&w->numbers[i].hasher, w->numbers[i].digest, BLAKE3_OUT_LEN);
            w->numbers[i].owner = 2;
        }
    }
    return 0;
}

static void work_free(Work *w) {
    for (int i = 0; i < SLOTS; i++) {
        out_free(&w->slots[i].data);
        out_free(&w->slots[i].lengths);
    }
    PyMem_Free(w->streams);
    PyMem_Free(w->numbers);
}

/* Fills results (a digest per string column walked to its end, None elsewhere) and returns the numeric digests. */
static PyObject *run_work(Work *w, PyObject *strings, PyObject *results, Py_ssize_t chunk) {
    int threaded = 0;
#ifdef HASH_THREAD
    pthread_t thread;
    if (pthread_mutex_init(&w->lock, NULL) != 0 || pthread_cond_init(&w->filled, NULL) != 0 ||
        pthread_cond_init(&w->emptied, NULL) != 0) {
        PyErr_SetString(PyExc_OSError, "digests(): could not make the hashing thread's lock");
        return NULL;
    }
    threaded = pthread_create(&thread, NULL, hash_thread, w) == 0; /* none: the walk hashes too */
#endif
    int walked = walk_columns(w, strings, results, chunk, threaded);
    finish(w, threaded);
#ifdef HASH_THREAD
    if (threaded) {
        Py_BEGIN_ALLOW_THREADS
        pthread_join(thread, NULL);
        Py_END_ALLOW_THREADS
    }
    pthread_cond_destroy(&w->emptied);
    pthread_cond_destroy(&w->filled);
    pthread_mutex_destroy(&w->lock);
#endif
    if (walked < 0) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(results); i++) {
        PyObject *digest = PyList_GET_ITEM(results, i);
        if (digest != Py_None) {
            blake3_hasher_finalize(&w->streams[i], (uint8_t *)PyBytes_AS_STRING(digest), BLAKE3_OUT_LEN);
        }
    }
    PyObject *numbers = PyList_New(w->n_numbers);
    for (Py_ssize_t i = 0; numbers != NULL && i < w->n_numbers; i++) {
        PyObject *digest = PyBytes_FromStringAndSize((const char *)w->numbers[i].digest, BLAKE3_OUT_LEN);
        if (digest == NULL) {
            Py_CLEAR(numbers);
            break;
        }
        PyList_SET_ITEM(numbers, i, digest);
    }
    return numbers;
}

static PyObject *numbers_views(PyObject *numbers, Py_buffer **views) {
    Py_ssize_t n = PyList_GET_SIZE(numbers);
    *views = PyMem_Calloc((size_t)(n > 0 ? n : 1), sizeof(Py_buffer));
    if (*views == NULL) {
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (PyObject_GetBuffer(PyList_GET_ITEM(numbers, i), &(*views)[i], PyBUF_C_CONTIGUOUS) < 0) {
            for (Py_ssize_t j = 0; j < i; j++) {
                PyBuffer_Release(&(*views)[j]);
            }
            PyMem_Free(*views);
            return NULL;
        }
    }
    return Py_None; /* borrowed: success */
}

static PyObject *digests(PyObject *module, PyObject *args, PyObject *kwargs) {
    (void)module;
    static char *keywords[] = {"strings", "numbers", "threaded_bytes", "chunk", NULL};
    PyObject *strings, *numbers;
    Py_ssize_t threaded_bytes, chunk;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!O!nn:digests", keywords, &PyList_Type, &strings, &PyList_Type,
                                     &numbers, &threaded_bytes, &chunk)) {
        return NULL;
    }
    if (threaded_bytes <= 0 || chunk <= 0) {
        PyErr_SetString(PyExc_ValueError, "digests(): threaded_bytes and chunk must be positive");
        return NULL;
    }
    Py_buffer *views;
    if (numbers_views(numbers, &views) == NULL) {
        return NULL;
    }
    Py_ssize_t n_numbers = PyList_GET_SIZE(numbers);
    PyObject *results = PyList_New(PyList_GET_SIZE(strings));
    PyObject *found = NULL;
    Work w;
    if (results != NULL) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(results); i++) {
            PyList_SET_ITEM(results, i, Py_NewRef(Py_None));
        }
        if (work_init(&w, PyList_GET_SIZE(strings), numbers, views, threaded_bytes) == 0) {
            found = run_work(&w, strings, results, chunk);
        }
        work_free(&w);
    }
    for (Py_ssize_t i = 0; i < n_numbers; i++) {
        PyBuffer_Release(&views[i]);
    }
    PyMem_Free(views);
    if (found == NULL) {
        Py_XDECREF(results);
        return NULL;
    }
    return Py_BuildValue("(NN)", results, found);
}

static PyMethodDef methods[] = {
    {"join", (PyCFunction)(void (*)(void))join, METH_VARARGS | METH_KEYWORDS,
     "join(objects, start, stop, held=None) -> (data, lengths | None) | None\n\n"
     "Items [start, stop) of a list or C-contiguous object array, all exact str, as their UTF-8 joined with NULs\n"
     "(surrogates as themselves) and, when an item holds a NUL, their lengths as native int64; None when an item\n"
     "is not an exact str. held, a Held with a slot per item of the whole array, gets a strong reference to each\n"
     "item read, at its index."},
    {"digests", (PyCFunction)(void (*)(void))digests, METH_VARARGS | METH_KEYWORDS,
     "digests(strings, numbers, threaded_bytes, chunk) -> (list[bytes | None], list[bytes])\n\n"
     "strings: a list of (objects, held) as join takes them, each walked chunk by chunk (chunk items each) while a\n"
     "thread of C's own hashes the chunks into the column's strings stream (the bytes _feed_joined feeds, raw's\n"
     "threaded_bytes included): its blake3 digest, or None where an item is not an exact str. numbers: buffers\n"
     "(C-contiguous) whose blake3 digests are computed meanwhile by that thread, and after the walk by this one."},
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
