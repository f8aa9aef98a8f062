/* Compiled walk of a Markov chain for one sentence, with the chain's own probabilities.
 *
 * Why: make_sentence() spends most of its time in MarkovGenerator.tokens(), a Python loop
 * that does little per token (a dict lookup, a bisection, quote bookkeeping). This file runs
 * the same loop, step for step and random number for random number, over the same Python
 * objects: the memo of continuations, the history list, the quote tracker's stack. What it
 * cannot do itself it asks Python for: a state not memoised yet (_candidates) and a draw from
 * a state with many continuations (_draw_wide). tokens() stays the definition; tests hold the
 * two to the same sentences for the same seed.
 *
 * Interface:
 *   Walker(order, role_of, closers, openers, para, is_end, patience, quote_limit, max_depth,
 *          continue_rate): the generator's constant tables
 *   Walker.sentence(generator, history, tracker, random, budget) -> list[int] | None
 *       the ids tokens() would yield until a paragraph break (left out) or a sentence end
 *       (kept); None when the budget runs out first. `history` and `tracker.stack` change in
 *       place as they do under tokens(); generator._cache, ._candidates and ._draw_wide are
 *       read at each call (the walker holds no reference to the generator: no cycle).
 *   any_run(words, first, positions, shift, seq, start, stop, length) -> bool
 *       RunIndex.any_run over a small text's hash tables: the anti-plagiarism guard's lookup.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_KIND 16

/* One depth of a novel-sized count table (NgramCounts._small_lists): sorted context codes,
 * where each context's continuations start, and the continuations' ids and counts. */
typedef struct {
    uint64_t *contexts;
    int64_t *starts, *ids;
    double *counts;      /* as doubles; integral counts are summed as integers below */
    int integral;
    Py_ssize_t n_contexts, n_grams;
} Table;

typedef struct {
    PyObject_HEAD
    Py_ssize_t order, vocab;
    long para, patience, quote_limit, max_depth;
    double continue_rate;
    signed char *kind, *direction, *is_end;
    long closers[MAX_KIND], openers[MAX_KIND]; /* by quote kind; -1: none */
    Table *tables;  /* per depth 0..order, or NULL: misses go to _candidates */
    int bits;
    Py_ssize_t wide, cache_limit;
} Walker;

static long kind_closer(Walker *w, long kind) {
    long t = kind > 0 && kind < MAX_KIND ? w->closers[kind] : -1;
    if (t < 0)
        PyErr_Format(PyExc_KeyError, "%ld", kind);
    return t;
}

static int walker_fill_kinds(long *table, PyObject *dict) {
    for (int k = 0; k < MAX_KIND; k++)
        table[k] = -1;
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(dict, &pos, &key, &value)) {
        long k = PyLong_AsLong(key), t = PyLong_AsLong(value);
        if (PyErr_Occurred())
            return -1;
        if (k <= 0 || k >= MAX_KIND) {
            PyErr_SetString(PyExc_ValueError, "quote kinds must be small positive ints");
            return -1;
        }
        table[k] = t;
    }
    return 0;
}

static void free_tables(Walker *w) {
    if (w->tables == NULL)
        return;
    for (Py_ssize_t d = 0; d <= w->order; d++) {
        PyMem_Free(w->tables[d].contexts);
        PyMem_Free(w->tables[d].starts);
        PyMem_Free(w->tables[d].ids);
        PyMem_Free(w->tables[d].counts);
    }
    PyMem_Free(w->tables);
    w->tables = NULL;
}

/* A copy of a buffer of 8-byte items (formats: one of `formats`), its length in *n. */
static void *copy8(PyObject *o, const char *formats, Py_ssize_t *n) {
    Py_buffer view;
    if (PyObject_GetBuffer(o, &view, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) < 0)
        return NULL;
    void *out = NULL;
    if (view.itemsize != 8 || view.format == NULL || strlen(view.format) != 1 || !strchr(formats, view.format[0])) {
        PyErr_Format(PyExc_TypeError, "tables: expected 8-byte items of format %s", formats);
    } else if ((out = PyMem_Malloc(view.len ? view.len : 8)) == NULL) {
        PyErr_NoMemory();
    } else {
        memcpy(out, view.buf, view.len);
        *n = view.len / 8;
    }
    PyBuffer_Release(&view);
    return out;
}

/* C copies of the count tables for d = 0..order: (contexts uint64, starts int64, ids int64,
 * counts float64, counts_are_integers) as NgramCounts.slices and its keys and counts give them. */
static int walker_load_tables(Walker *w, PyObject *tables, Py_ssize_t order, int bits) {
    free_tables(w);
    if (!PyList_Check(tables) || PyList_GET_SIZE(tables) != order + 1 || bits < 1 || bits > 32) {
        PyErr_SetString(PyExc_ValueError, "tables: one (contexts, starts, ids, counts, integral) per depth 0..order");
        return -1;
    }
    w->order = order; /* free_tables reads it */
    w->tables = PyMem_Calloc(order + 1, sizeof(Table));
    if (w->tables == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t d = 0; d <= order; d++) {
        Table *t = &w->tables[d];
        PyObject *contexts, *starts, *ids, *counts;
        int integral;
        Py_ssize_t n_starts = 0, n_ids = 0;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(tables, d), "OOOOp", &contexts, &starts, &ids, &counts, &integral)
            || !(t->contexts = copy8(contexts, "QL", &t->n_contexts)) || !(t->starts = copy8(starts, "ql", &n_starts))
            || !(t->ids = copy8(ids, "ql", &n_ids)) || !(t->counts = copy8(counts, "d", &t->n_grams)))
            goto fail;
        if (n_starts != t->n_contexts + 1 || n_ids != t->n_grams) {
            PyErr_SetString(PyExc_ValueError, "tables: sizes do not agree");
            goto fail;
        }
        t->integral = integral;
    }
    return 0;
fail:
    free_tables(w);
    return -1;
}

static int Walker_init(Walker *w, PyObject *args, PyObject *kwds) {
    static char *names[] = {"order", "role_of", "closers", "openers", "para", "is_end", "patience",
                            "quote_limit", "max_depth", "continue_rate", "tables", "bits", "wide",
                            "cache_limit", NULL};
    PyObject *role_of, *closers, *openers, *is_end, *tables = Py_None;
    int bits = 0;
    Py_ssize_t wide = 0, cache_limit = 0;
    Py_ssize_t order;
    long para, patience, quote_limit, max_depth;
    double continue_rate;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "nO!O!O!lO!llld|Oinn:Walker", names, &order, &PyList_Type,
                                     &role_of, &PyDict_Type, &closers, &PyDict_Type, &openers, &para,
                                     &PyList_Type, &is_end, &patience, &quote_limit, &max_depth,
                                     &continue_rate, &tables, &bits, &wide, &cache_limit))
        return -1;
    if (tables != Py_None && walker_load_tables(w, tables, order, bits) < 0)
        return -1;
    w->bits = bits;
    w->wide = wide;
    w->cache_limit = cache_limit;
    Py_ssize_t n = PyList_GET_SIZE(role_of);
    if (PyList_GET_SIZE(is_end) != n || order < 1) {
        PyErr_SetString(PyExc_ValueError, "role_of and is_end must cover the vocabulary");
        return -1;
    }
    PyMem_Free(w->kind);
    w->kind = PyMem_Malloc(3 * (n ? n : 1));
    if (w->kind == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    w->direction = w->kind + n;
    w->is_end = w->kind + 2 * n;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *role = PyList_GET_ITEM(role_of, i);
        if (!PyTuple_Check(role) || PyTuple_GET_SIZE(role) != 2) {
            PyErr_SetString(PyExc_ValueError, "role_of holds (kind, direction) pairs");
            return -1;
        }
        w->kind[i] = (signed char)PyLong_AsLong(PyTuple_GET_ITEM(role, 0));
        w->direction[i] = (signed char)PyLong_AsLong(PyTuple_GET_ITEM(role, 1));
        int end = PyObject_IsTrue(PyList_GET_ITEM(is_end, i));
        if (end < 0 || PyErr_Occurred())
            return -1;
        w->is_end[i] = (signed char)end;
    }
    if (walker_fill_kinds(w->closers, closers) < 0 || walker_fill_kinds(w->openers, openers) < 0)
        return -1;
    w->order = order;
    w->vocab = n;
    w->para = para;
    w->patience = patience;
    w->quote_limit = quote_limit;
    w->max_depth = max_depth;
    w->continue_rate = continue_rate;
    return 0;
}

static void Walker_dealloc(Walker *w) {
    PyMem_Free(w->kind);
    free_tables(w);
    Py_TYPE(w)->tp_free((PyObject *)w);
}

/* ---- the quote stack (tracker.stack, a list of kinds) ---------------------------------- */

static long stack_top(PyObject *stack) {
    return PyLong_AsLong(PyList_GET_ITEM(stack, PyList_GET_SIZE(stack) - 1));
}

static int stack_holds(PyObject *stack, long kind) {
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(stack); i++)
        if (PyLong_AsLong(PyList_GET_ITEM(stack, i)) == kind)
            return 1;
    return 0;
}

/* QuoteTracker.feed_role */
static int feed(Walker *w, PyObject *stack, long t) {
    long kind = w->kind[t], direction = w->direction[t];
    if (kind == 0)
        return 0;
    if (direction > 0) {
        PyObject *k = PyLong_FromLong(kind);
        int rc = k ? PyList_Append(stack, k) : -1;
        Py_XDECREF(k);
        return rc;
    }
    Py_ssize_t n = PyList_GET_SIZE(stack);
    if (n && stack_top(stack) == kind)
        return PyList_SetSlice(stack, n - 1, n, NULL);
    return 0;
}

/* ---- one step's draw --------------------------------------------------------------------- */

static double draw_uniform(PyObject *random) {
    PyObject *u = PyObject_CallNoArgs(random);
    if (u == NULL)
        return -1.0;
    double x = PyFloat_AsDouble(u);
    Py_DECREF(u);
    return x;
}

typedef struct {
    PyObject *cache, *candidates, *draw_wide; /* the generator's, for one call */
} Owner;

static double number(PyObject *o) { return PyFloat_Check(o) ? PyFloat_AS_DOUBLE(o) : PyLong_AsDouble(o); }

/* The next id from a memoised entry (ids, cumulative counts, ...: tuples), as tokens() draws it. */
static long draw_from(Owner *g, PyObject *entry, PyObject *random) {
    if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) < 2) {
        PyErr_SetString(PyExc_TypeError, "a memoised state is a tuple (ids, cumulative, ...)");
        return -1;
    }
    PyObject *ids = PyTuple_GET_ITEM(entry, 0), *cum = PyTuple_GET_ITEM(entry, 1);
    if (ids == Py_None) {
        PyObject *t = PyObject_CallOneArg(g->draw_wide, entry);
        if (t == NULL)
            return -1;
        long id = PyLong_AsLong(t);
        Py_DECREF(t);
        return id;
    }
    if (!PyTuple_Check(ids) || !PyTuple_Check(cum) || PyTuple_GET_SIZE(ids) != PyTuple_GET_SIZE(cum)
        || PyTuple_GET_SIZE(ids) == 0) {
        PyErr_SetString(PyExc_TypeError, "a memoised state holds tuples of ids and cumulative counts");
        return -1;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(ids);
    if (n == 1)
        return PyLong_AsLong(PyTuple_GET_ITEM(ids, 0));
    double u = draw_uniform(random);
    if (u < 0 && PyErr_Occurred())
        return -1;
    double x = u * number(PyTuple_GET_ITEM(cum, n - 1));
    Py_ssize_t lo = 0, hi = n; /* bisect_right */
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) / 2;
        if (x < number(PyTuple_GET_ITEM(cum, mid)))
            hi = mid;
        else
            lo = mid + 1;
    }
    if (PyErr_Occurred())
        return -1;
    return PyLong_AsLong(PyTuple_GET_ITEM(ids, lo));
}

/* NgramCounts._lookup on a small table: the [lo, hi) of the last `depth` ids, or 0. */
static int lookup(Walker *w, PyObject *history, Py_ssize_t depth, Py_ssize_t *lo, Py_ssize_t *hi) {
    Py_ssize_t h = PyList_GET_SIZE(history);
    uint64_t code = 0;
    for (Py_ssize_t i = 1; i <= depth; i++) {
        long tok = PyLong_AsLong(PyList_GET_ITEM(history, h - i));
        if (tok < 0)
            return 0;
        code = code << w->bits | (uint64_t)tok;
    }
    const Table *t = &w->tables[depth];
    Py_ssize_t a = 0, b = t->n_contexts; /* bisect_left */
    while (a < b) {
        Py_ssize_t mid = (a + b) / 2;
        if (t->contexts[mid] < code)
            a = mid + 1;
        else
            b = mid;
    }
    if (a == t->n_contexts || t->contexts[a] != code)
        return 0;
    *lo = t->starts[a];
    *hi = t->starts[a + 1];
    return 1;
}

/* _candidates for a state that needs no closing: NgramCounts.context, then the continuations
 * as tuples, memoised under `key` with the same bookkeeping. NULL with no error set: a wide
 * state, left to _candidates. New ref. */
static PyObject *memoise(Walker *w, PyObject *generator, Owner *g, PyObject *history, PyObject *key) {
    Py_ssize_t h = PyList_GET_SIZE(history), top = h < w->order ? h : w->order;
    Py_ssize_t depth = 0, lo = 0, hi = w->tables[0].starts[w->tables[0].n_contexts], l, r;
    if (top && lookup(w, history, top, &l, &r)) {
        depth = top, lo = l, hi = r;
    } else {
        for (Py_ssize_t d = 1; d <= top && lookup(w, history, d, &l, &r); d++)
            depth = d, lo = l, hi = r;
    }
    if (PyErr_Occurred() || hi - lo > w->wide)
        return NULL;
    const Table *t = &w->tables[depth];
    PyObject *ids = PyTuple_New(hi - lo), *cum = PyTuple_New(hi - lo);
    if (ids == NULL || cum == NULL)
        goto fail;
    int64_t whole = 0;
    double sum = 0.0;
    for (Py_ssize_t i = lo; i < hi; i++) {
        PyObject *id = PyLong_FromLongLong(t->ids[i]), *c;
        if (t->integral)
            c = PyLong_FromLongLong(whole += (int64_t)t->counts[i]);
        else
            c = PyFloat_FromDouble(sum += t->counts[i]);
        if (id == NULL || c == NULL) {
            Py_XDECREF(id);
            Py_XDECREF(c);
            goto fail;
        }
        PyTuple_SET_ITEM(ids, i - lo, id);
        PyTuple_SET_ITEM(cum, i - lo, c);
    }
    PyObject *entry = Py_BuildValue("(NNnnnO)", ids, cum, depth, lo, hi, Py_None);
    if (entry == NULL)
        return NULL;
    /* self._cached += hi - lo; past CACHE_LIMIT the memo starts afresh */
    PyObject *cached = PyObject_GetAttrString(generator, "_cached");
    Py_ssize_t total = cached ? PyLong_AsSsize_t(cached) + (hi - lo) : -1;
    Py_XDECREF(cached);
    if (total < 0 && PyErr_Occurred())
        goto fail_entry;
    if (total >= w->cache_limit) {
        PyDict_Clear(g->cache);
        total = 0;
    }
    PyObject *value = PyLong_FromSsize_t(total);
    int rc = value ? PyObject_SetAttrString(generator, "_cached", value) : -1;
    Py_XDECREF(value);
    if (rc < 0 || PyDict_SetItem(g->cache, key, entry) < 0)
        goto fail_entry;
    return entry;
fail_entry:
    Py_DECREF(entry);
    return NULL;
fail:
    Py_XDECREF(ids);
    Py_XDECREF(cum);
    return NULL;
}

/* The state's entry: the memo's, else _candidates(history, tracker, tight, key). New ref. */
static PyObject *state_entry(Walker *w, PyObject *generator, Owner *g, PyObject *history,
                             PyObject *tracker, int tight, int closing) {
    Py_ssize_t h = PyList_GET_SIZE(history);
    Py_ssize_t from = h > w->order ? h - w->order : 0;
    PyObject *key = PyTuple_New(h - from); /* tuple(history[-order:]) */
    if (key == NULL)
        return NULL;
    for (Py_ssize_t i = from; i < h; i++)
        PyTuple_SET_ITEM(key, i - from, Py_NewRef(PyList_GET_ITEM(history, i)));
    if (closing)
        Py_SETREF(key, PyTuple_Pack(2, key, Py_True));
    if (key == NULL)
        return NULL;
    PyObject *entry = PyDict_GetItemWithError(g->cache, key);
    if (entry != NULL) {
        Py_INCREF(entry);
    } else if (!PyErr_Occurred() && !closing && w->tables != NULL
               && ((entry = memoise(w, generator, g, history, key)) != NULL || PyErr_Occurred())) {
        /* memoised here (or failed) */
    } else if (!PyErr_Occurred()) {
        entry = PyObject_CallFunctionObjArgs(g->candidates, history, tracker, tight ? Py_True : Py_False,
                                             key, NULL);
    }
    Py_DECREF(key);
    return entry;
}

/* ---- the walk ------------------------------------------------------------------------------ */

#define QUEUE_MAX (2 * MAX_KIND + 2)

static int append_id(PyObject *list, long t) {
    PyObject *o = PyLong_FromLong(t);
    int rc = o ? PyList_Append(list, o) : -1;
    Py_XDECREF(o);
    return rc;
}

static PyObject *Walker_sentence(Walker *w, PyObject *args) {
    PyObject *generator, *history, *tracker, *random;
    Py_ssize_t budget;
    if (!PyArg_ParseTuple(args, "OO!OOn:sentence", &generator, &PyList_Type, &history, &tracker, &random,
                          &budget))
        return NULL;
    Owner g = {PyObject_GetAttrString(generator, "_cache"), PyObject_GetAttrString(generator, "_candidates"),
               PyObject_GetAttrString(generator, "_draw_wide")};
    PyObject *stack = PyObject_GetAttrString(tracker, "stack");
    PyObject *out = PyList_New(0);
    if (!g.cache || !g.candidates || !g.draw_wide || !stack || !out)
        goto fail;
    if (!PyDict_Check(g.cache) || !PyList_Check(stack)) {
        PyErr_SetString(PyExc_TypeError, "generator._cache must be a dict and tracker.stack a list");
        goto fail;
    }
    /* the queue holds at most a closer per open quotation and a break: refuse a deeper stack
     * rather than cut the queue short (generator.py only calls with len(stack) <= MAX_DEPTH) */
    if (PyList_GET_SIZE(stack) > QUEUE_MAX - 1 || w->max_depth > QUEUE_MAX - 1) {
        PyErr_SetString(PyExc_ValueError, "more quotations open than the walk can close");
        goto fail;
    }
    long queue[QUEUE_MAX];
    int queue_len = 0, queue_at = 0;
    long open_for = 0;
    Py_ssize_t produced = 0, steps = 0;
    while (produced < budget && steps < 4 * budget + 64) {
        steps++;
        Py_ssize_t remaining = budget - produced;
        Py_ssize_t depth = PyList_GET_SIZE(stack);
        open_for = depth ? open_for + 1 : 0;
        long t;
        if (queue_at < queue_len) {
            t = queue[queue_at++];
            if (!(queue_at == queue_len && w->direction[t] > 0 && depth) && feed(w, stack, t) < 0)
                goto fail;
        } else if (remaining <= depth || open_for > w->quote_limit) {
            if ((t = kind_closer(w, stack_top(stack))) < 0 || feed(w, stack, t) < 0)
                goto fail;
        } else {
            int tight = remaining <= depth + 2;
            PyObject *entry = state_entry(w, generator, &g, history, tracker, tight, tight && depth);
            if (entry == NULL)
                goto fail;
            t = draw_from(&g, entry, random);
            Py_DECREF(entry);
            if (t < 0 || t >= w->vocab) {
                if (!PyErr_Occurred())
                    PyErr_SetString(PyExc_IndexError, "token id out of the vocabulary");
                goto fail;
            }
            depth = PyList_GET_SIZE(stack); /* (_candidates leaves it as it is) */
            long kind = w->kind[t], direction = w->direction[t];
            if (t == w->para && depth) {
                double u = 1.0;
                if (depth == 1 && (u = draw_uniform(random)) < 0 && PyErr_Occurred())
                    goto fail;
                if (depth == 1 && u < w->continue_rate) {
                    long opener = w->openers[stack_top(stack)];
                    if (opener < 0) {
                        PyErr_Format(PyExc_KeyError, "%ld", stack_top(stack));
                        goto fail;
                    }
                    queue[0] = opener; /* continued quotation: reopen, stack kept */
                    queue_len = 1;
                    queue_at = 0;
                    open_for = 0;
                } else { /* close what is open, then end the paragraph */
                    queue_len = queue_at = 0;
                    for (Py_ssize_t i = depth - 2; i >= 0; i--)
                        if ((queue[queue_len++] = kind_closer(w, PyLong_AsLong(PyList_GET_ITEM(stack, i)))) < 0)
                            goto fail;
                    queue[queue_len++] = w->para;
                    if ((t = kind_closer(w, stack_top(stack))) < 0 || feed(w, stack, t) < 0)
                        goto fail;
                }
            } else if (kind && ((direction < 0 && !depth)
                                || (direction > 0 && (tight || stack_holds(stack, kind) || depth >= w->max_depth
                                                      || w->closers[kind] < 0)))) {
                /* a mark that would unbalance the text is absorbed (see tokens()) */
                if (append_id(history, t) < 0)
                    goto fail;
                continue;
            } else if (kind) {
                if (direction < 0 && kind != stack_top(stack) && (t = kind_closer(w, stack_top(stack))) < 0)
                    goto fail;
                if (feed(w, stack, t) < 0)
                    goto fail;
            }
            depth = PyList_GET_SIZE(stack);
            if (w->is_end[t] && depth && open_for > w->patience) {
                queue_len = queue_at = 0;
                for (Py_ssize_t i = depth - 1; i >= 0; i--)
                    if ((queue[queue_len++] = kind_closer(w, PyLong_AsLong(PyList_GET_ITEM(stack, i)))) < 0)
                        goto fail;
            }
        }
        if (append_id(history, t) < 0)
            goto fail;
        produced++;
        /* what _sentence_units does with each id */
        if (t == w->para)
            goto done;
        if (append_id(out, t) < 0)
            goto fail;
        if (w->is_end[t])
            goto done;
    }
    Py_SETREF(out, Py_NewRef(Py_None)); /* the budget ran out first */
done:
    Py_DECREF(stack);
    Py_DECREF(g.cache);
    Py_DECREF(g.candidates);
    Py_DECREF(g.draw_wide);
    return out;
fail:
    Py_XDECREF(out);
    Py_XDECREF(stack);
    Py_XDECREF(g.cache);
    Py_XDECREF(g.candidates);
    Py_XDECREF(g.draw_wide);
    return NULL;
}

static PyMethodDef Walker_methods[] = {
    {"sentence", (PyCFunction)Walker_sentence, METH_VARARGS,
     "sentence(generator, history, tracker, random, budget) -> list[int] | None: one sentence's ids."},
    {NULL}};

static PyTypeObject WalkerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "genlab.markov._fastwalk.Walker",
    .tp_basicsize = sizeof(Walker),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A chain's sentence walk with its own probabilities (see MarkovGenerator.tokens).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Walker_init,
    .tp_dealloc = (destructor)Walker_dealloc,
    .tp_methods = Walker_methods,
};

/* ---- the anti-plagiarism guard's lookup (overlap.py's RunIndex.any_run, small texts) ------ */

static int int64_buffer(PyObject *o, Py_buffer *view, const char *what) {
    if (PyObject_GetBuffer(o, view, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) < 0)
        return -1;
    if (view->itemsize != 8 || view->format == NULL || (strcmp(view->format, "q") && strcmp(view->format, "l"))) {
        PyBuffer_Release(view);
        PyErr_Format(PyExc_TypeError, "%s must be a buffer of int64", what);
        return -1;
    }
    return 0;
}

static PyObject *any_run(PyObject *self, PyObject *args) {
    PyObject *words_obj, *first_obj, *positions_obj, *seq_obj;
    Py_ssize_t start, stop, length;
    int shift;
    if (!PyArg_ParseTuple(args, "OOOiO!nnn:any_run", &words_obj, &first_obj, &positions_obj, &shift,
                          &PyList_Type, &seq_obj, &start, &stop, &length))
        return NULL;
    Py_buffer words, first, positions;
    if (int64_buffer(words_obj, &words, "words") < 0)
        return NULL;
    if (int64_buffer(first_obj, &first, "first") < 0) {
        PyBuffer_Release(&words);
        return NULL;
    }
    if (int64_buffer(positions_obj, &positions, "positions") < 0) {
        PyBuffer_Release(&words);
        PyBuffer_Release(&first);
        return NULL;
    }
    const int64_t *text = words.buf, *bucket_start = first.buf, *where = positions.buf;
    Py_ssize_t n_text = words.len / 8, n_buckets = first.len / 8 - 1, n_where = positions.len / 8;
    Py_ssize_t n_seq = PyList_GET_SIZE(seq_obj);
    int found = 0, failed = 0;
    int64_t *seq = PyMem_Malloc((n_seq ? n_seq : 1) * sizeof(int64_t));
    if (seq == NULL) {
        PyErr_NoMemory();
        failed = 1;
    }
    for (Py_ssize_t i = 0; !failed && i < n_seq; i++) {
        seq[i] = PyLong_AsLongLong(PyList_GET_ITEM(seq_obj, i));
        failed = seq[i] == -1 && PyErr_Occurred() != NULL;
    }
    if (length < 4 || shift < 1 || shift > 63) {
        PyErr_SetString(PyExc_ValueError, "runs of at least 4 words, shift in 1..63");
        failed = 1;
    }
    for (Py_ssize_t s = start; !failed && !found && s < stop && s + length <= n_seq; s++) {
        const int64_t *run = seq + s;
        if (run[0] < 0 || run[1] < 0 || run[2] < 0 || run[3] < 0)
            continue; /* a word the text never had */
        uint64_t packed = (uint64_t)run[0] << 48 | (uint64_t)run[1] << 32 | (uint64_t)run[2] << 16 | (uint64_t)run[3];
        uint64_t b = (packed * 0x9E3779B97F4A7C15ULL) >> shift;
        if ((Py_ssize_t)b >= n_buckets)
            continue;
        for (int64_t j = bucket_start[b]; j < bucket_start[b + 1] && j < n_where && !found; j++) {
            int64_t q = where[j];
            if (q >= 0 && q + length <= n_text && memcmp(text + q, run, length * sizeof(int64_t)) == 0)
                found = 1;
        }
    }
    PyMem_Free(seq);
    PyBuffer_Release(&words);
    PyBuffer_Release(&first);
    PyBuffer_Release(&positions);
    if (failed)
        return NULL;
    return PyBool_FromLong(found);
}

static PyMethodDef methods[] = {
    {"any_run", any_run, METH_VARARGS,
     "any_run(words, first, positions, shift, seq, start, stop, length) -> bool: does seq[s:s+length] "
     "occur in words for some start <= s < stop? (the int64 tables of RunIndex._small_tables)"},
    {NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fastwalk",
                                    "Compiled sentence walk of a Markov chain, and its overlap guard's lookup.",
                                    -1, methods};

PyMODINIT_FUNC PyInit__fastwalk(void) {
    if (PyType_Ready(&WalkerType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddObjectRef(m, "Walker", (PyObject *)&WalkerType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
