/*
 * fattn._fattn: the thin C layer of the Python package.
 *
 * It knows nothing of NumPy. The Python side (fattn/_tensors.py) turns
 * arrays into plain descriptors, (address, dtype, shape[4], stride[4]) with
 * element strides in the library's [batch, heads, seq, dim] order, after
 * the checks only Python can make (array types, byte order, the lengths of
 * option arrays the library reads blindly). This layer fills fattn_tensor
 * and fattn_params from them, calls the library with the GIL released, and
 * returns (value, error): error is None or (code, status name, message),
 * so that Python raises fattn.Error with the library's own words.
 *
 * Plans and pools are capsules whose destructors free them. A pool can be
 * closed early (Pool.close); its capsule then keeps a NULL context and the
 * destructor does nothing.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

#include "fattn.h"

#define PLAN_CAPSULE "fattn.plan"
#define POOL_CAPSULE "fattn.pool"

/* (code, name, message) for a failed call, or None for success. */
static PyObject *error_tuple(int status, const fattn_error *err)
{
    if (status == FATTN_OK)
        Py_RETURN_NONE;
    return Py_BuildValue("(iss)", status, fattn_status_name(status),
                         err->message);
}

/* Pair a result with its error: (value, None) or (None, error). */
static PyObject *result(PyObject *value, int status, const fattn_error *err)
{
    if (status != FATTN_OK) {
        Py_XDECREF(value);
        PyObject *e = error_tuple(status, err);
        if (e == NULL)
            return NULL;
        return Py_BuildValue("(ON)", Py_None, e);
    }
    if (value == NULL)
        return NULL;
    return Py_BuildValue("(NO)", value, Py_None);
}

static int parse_i64_4(PyObject *seq, int64_t out[4], const char *what)
{
    if (!PyTuple_Check(seq) || PyTuple_GET_SIZE(seq) != 4) {
        PyErr_Format(PyExc_TypeError, "_fattn: %s must be a 4-tuple", what);
        return -1;
    }
    for (int i = 0; i < 4; i++) {
        out[i] = PyLong_AsLongLong(PyTuple_GET_ITEM(seq, i));
        if (out[i] == -1 && PyErr_Occurred())
            return -1;
    }
    return 0;
}

static void *parse_address(PyObject *obj)
{
    if (obj == Py_None)
        return NULL;
    return PyLong_AsVoidPtr(obj);
}

/* A descriptor tuple, or None (present = 0). */
static int parse_tensor(PyObject *obj, fattn_tensor *t, int *present)
{
    memset(t, 0, sizeof(*t));
    if (present != NULL)
        *present = obj != Py_None;
    if (obj == Py_None) {
        if (present != NULL)
            return 0;
        PyErr_SetString(PyExc_TypeError, "_fattn: tensor required");
        return -1;
    }
    if (!PyTuple_Check(obj) || PyTuple_GET_SIZE(obj) != 4) {
        PyErr_SetString(PyExc_TypeError,
                        "_fattn: a tensor is (address, dtype, shape, stride)");
        return -1;
    }
    t->data = parse_address(PyTuple_GET_ITEM(obj, 0));
    if (t->data == NULL && PyErr_Occurred())
        return -1;
    long dtype = PyLong_AsLong(PyTuple_GET_ITEM(obj, 1));
    if (dtype == -1 && PyErr_Occurred())
        return -1;
    t->dtype = (int32_t)dtype;
    if (parse_i64_4(PyTuple_GET_ITEM(obj, 2), t->shape, "shape") < 0 ||
        parse_i64_4(PyTuple_GET_ITEM(obj, 3), t->stride, "stride") < 0)
        return -1;
    return 0;
}

static fattn_pool *pool_of(PyObject *obj)
{
    if (obj == Py_None)
        return NULL;
    fattn_pool *pool = PyCapsule_GetPointer(obj, POOL_CAPSULE);
    if (pool == NULL)
        return NULL;
    if (PyCapsule_GetContext(obj) == NULL) {
        PyErr_SetString(PyExc_ValueError, "the pool is closed");
        return NULL;
    }
    return pool;
}

/* One forward call's descriptors and options; params points into it, so
 * it must not move while in use. */
typedef struct call {
    fattn_tensor q, k, v, o, mask, lse;
    fattn_params params;
} call;

/* Arguments, in order: q, k, v, o, mask|None, lse|None, slopes address,
 * q_lengths address, kv_lengths address (None = absent), scale, causal,
 * window (None or (left, right)), align, softcap, isa, pool|None. */
static int parse_call(PyObject *args, call *c)
{
    PyObject *q, *k, *v, *o, *mask, *lse, *slopes, *qlen, *kvlen, *window,
        *pool;
    double scale, softcap;
    int causal, align, isa;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOdiOidiO", &q, &k, &v, &o, &mask,
                          &lse, &slopes, &qlen, &kvlen, &scale, &causal,
                          &window, &align, &softcap, &isa, &pool))
        return -1;
    memset(c, 0, sizeof(*c));
    int has_mask, has_lse;
    if (parse_tensor(q, &c->q, NULL) < 0 || parse_tensor(k, &c->k, NULL) < 0 ||
        parse_tensor(v, &c->v, NULL) < 0 || parse_tensor(o, &c->o, NULL) < 0 ||
        parse_tensor(mask, &c->mask, &has_mask) < 0 ||
        parse_tensor(lse, &c->lse, &has_lse) < 0)
        return -1;
    fattn_params *p = &c->params;
    p->version = FATTN_PARAMS_VERSION;
    p->scale = (float)scale;
    p->causal = causal;
    p->align = align;
    p->softcap = (float)softcap;
    p->isa = isa;
    p->mask = has_mask ? &c->mask : NULL;
    p->lse = has_lse ? &c->lse : NULL;
    p->alibi_slopes = parse_address(slopes);
    p->q_lengths = parse_address(qlen);
    p->kv_lengths = parse_address(kvlen);
    if (PyErr_Occurred())
        return -1;
    if (window != Py_None) {
        if (!PyArg_ParseTuple(window, "LL", &p->window_left,
                              &p->window_right))
            return -1;
        p->window_enabled = 1;
    }
    p->pool = pool_of(pool);
    if (p->pool == NULL && PyErr_Occurred())
        return -1;
    return 0;
}

enum { OP_FORWARD = 0, OP_CHECK = 1, OP_WORKSPACE = 2 };

/* forward(op, <call arguments>): op 0 computes, 1 validates only, 2 returns
 * the workspace size in bytes. */
static PyObject *py_forward(PyObject *self, PyObject *args)
{
    (void)self;
    Py_ssize_t n = PyTuple_GET_SIZE(args);
    if (n < 1) {
        PyErr_SetString(PyExc_TypeError, "_fattn.forward: missing op");
        return NULL;
    }
    int op = (int)PyLong_AsLong(PyTuple_GET_ITEM(args, 0));
    if (op == -1 && PyErr_Occurred())
        return NULL;
    PyObject *rest = PyTuple_GetSlice(args, 1, n);
    if (rest == NULL)
        return NULL;
    call c;
    int rc = parse_call(rest, &c);
    Py_DECREF(rest);
    if (rc < 0)
        return NULL;
    fattn_error err;
    fattn_status st;
    size_t bytes = 0;
    switch (op) {
    case OP_FORWARD:
        Py_BEGIN_ALLOW_THREADS
        st = fattn_forward(&c.q, &c.k, &c.v, &c.o, &c.params, &err);
        Py_END_ALLOW_THREADS
        return result(Py_NewRef(Py_None), st, &err);
    case OP_CHECK:
        st = fattn_check(&c.q, &c.k, &c.v, &c.o, &c.params, &err);
        return result(Py_NewRef(Py_None), st, &err);
    case OP_WORKSPACE:
        st = fattn_workspace_size(&c.q, &c.k, &c.v, &c.o, &c.params, &bytes,
                                  &err);
        return result(st == FATTN_OK ? PyLong_FromSize_t(bytes) : NULL, st,
                      &err);
    default:
        PyErr_Format(PyExc_ValueError, "_fattn.forward: bad op %d", op);
        return NULL;
    }
}

static void plan_capsule_free(PyObject *capsule)
{
    fattn_plan_destroy(PyCapsule_GetPointer(capsule, PLAN_CAPSULE));
}

static PyObject *py_plan_create(PyObject *self, PyObject *args)
{
    (void)self;
    call c;
    if (parse_call(args, &c) < 0)
        return NULL;
    fattn_error err;
    fattn_plan *plan = NULL;
    fattn_status st;
    /* Creation touches the plan's workspace once: not free for big
     * problems, so other Python threads may run meanwhile. */
    Py_BEGIN_ALLOW_THREADS
    st = fattn_plan_create(&c.q, &c.k, &c.v, &c.o, &c.params, &plan, &err);
    Py_END_ALLOW_THREADS
    if (st != FATTN_OK)
        return result(NULL, st, &err);
    PyObject *capsule = PyCapsule_New(plan, PLAN_CAPSULE, plan_capsule_free);
    if (capsule == NULL) {
        fattn_plan_destroy(plan);
        return NULL;
    }
    return result(capsule, st, &err);
}

/* plan_run(plan, q, k, v, o, lse, mask, slopes, q_lengths, kv_lengths):
 * addresses, None = the plan's own. */
static PyObject *py_plan_run(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *capsule, *a[9];
    if (!PyArg_ParseTuple(args, "OOOOOOOOOO", &capsule, &a[0], &a[1], &a[2],
                          &a[3], &a[4], &a[5], &a[6], &a[7], &a[8]))
        return NULL;
    fattn_plan *plan = PyCapsule_GetPointer(capsule, PLAN_CAPSULE);
    if (plan == NULL)
        return NULL;
    void *p[9];
    for (int i = 0; i < 9; i++) {
        p[i] = parse_address(a[i]);
        if (p[i] == NULL && PyErr_Occurred())
            return NULL;
    }
    fattn_bindings b = {
        .version = FATTN_BINDINGS_VERSION,
        .query = p[0], .key = p[1], .value = p[2], .output = p[3],
        .lse = p[4], .mask = p[5], .alibi_slopes = p[6],
        .q_lengths = p[7], .kv_lengths = p[8],
    };
    fattn_error err;
    fattn_status st;
    Py_BEGIN_ALLOW_THREADS
    st = fattn_plan_run(plan, &b, &err);
    Py_END_ALLOW_THREADS
    return error_tuple(st, &err);
}

static PyObject *py_plan_info(PyObject *self, PyObject *capsule)
{
    (void)self;
    fattn_plan *plan = PyCapsule_GetPointer(capsule, PLAN_CAPSULE);
    if (plan == NULL)
        return NULL;
    return Py_BuildValue("(ssLin)", fattn_isa_name(fattn_plan_isa(plan)),
                         fattn_plan_kernel(plan),
                         (long long)fattn_plan_work_items(plan),
                         (int)fattn_plan_tasks(plan),
                         (Py_ssize_t)fattn_plan_workspace_size(plan));
}

/* merge(outputs, lses, output, lse|None): lists of descriptors. */
static PyObject *py_merge(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *outs, *lses, *out, *lse;
    if (!PyArg_ParseTuple(args, "O!O!OO", &PyList_Type, &outs, &PyList_Type,
                          &lses, &out, &lse))
        return NULL;
    Py_ssize_t parts = PyList_GET_SIZE(outs);
    if (PyList_GET_SIZE(lses) != parts) {
        PyErr_SetString(PyExc_ValueError,
                        "_fattn.merge: outputs and lses differ in length");
        return NULL;
    }
    if (parts > FATTN_MAX_MERGE_PARTS)
        parts = FATTN_MAX_MERGE_PARTS + 1; /* the library's error says so */
    /* One spare element: the library gets non-NULL arrays even for 0 parts
     * and reports the count itself. */
    fattn_tensor *t = PyMem_Calloc((size_t)(2 * parts + 2), sizeof(*t));
    if (t == NULL)
        return PyErr_NoMemory();
    fattn_tensor *to = t, *tl = t + parts + 1, o, l;
    int has_lse = 0;
    PyObject *ret = NULL;
    for (Py_ssize_t i = 0; i < parts && i < PyList_GET_SIZE(outs); i++) {
        if (parse_tensor(PyList_GET_ITEM(outs, i), &to[i], NULL) < 0 ||
            parse_tensor(PyList_GET_ITEM(lses, i), &tl[i], NULL) < 0)
            goto done;
    }
    if (parse_tensor(out, &o, NULL) < 0 || parse_tensor(lse, &l, &has_lse) < 0)
        goto done;
    fattn_error err;
    fattn_status st;
    Py_BEGIN_ALLOW_THREADS
    st = fattn_merge((int32_t)parts, to, tl, &o, has_lse ? &l : NULL, &err);
    Py_END_ALLOW_THREADS
    ret = error_tuple(st, &err);
done:
    PyMem_Free(t);
    return ret;
}

/* from_packed(address, dtype, batch, seq, embed_dim, num_heads,
 * token_stride) -> ((shape, stride), error). */
static PyObject *py_from_packed(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *addr;
    int dtype;
    long long batch, seq, embed, heads, token_stride;
    if (!PyArg_ParseTuple(args, "OiLLLLL", &addr, &dtype, &batch, &seq,
                          &embed, &heads, &token_stride))
        return NULL;
    void *data = parse_address(addr);
    if (data == NULL && PyErr_Occurred())
        return NULL;
    fattn_tensor view;
    fattn_error err;
    fattn_status st = fattn_tensor_from_packed(&view, data, (fattn_dtype)dtype,
                                               batch, seq, embed, heads,
                                               token_stride, &err);
    PyObject *v = NULL;
    if (st == FATTN_OK)
        v = Py_BuildValue("((LLLL)(LLLL))", (long long)view.shape[0],
                          (long long)view.shape[1], (long long)view.shape[2],
                          (long long)view.shape[3], (long long)view.stride[0],
                          (long long)view.stride[1], (long long)view.stride[2],
                          (long long)view.stride[3]);
    return result(v, st, &err);
}

static void pool_capsule_free(PyObject *capsule)
{
    if (PyCapsule_GetContext(capsule) != NULL)
        fattn_pool_destroy(PyCapsule_GetPointer(capsule, POOL_CAPSULE));
}

static PyObject *py_pool_create(PyObject *self, PyObject *args)
{
    (void)self;
    int threads;
    if (!PyArg_ParseTuple(args, "i", &threads))
        return NULL;
    fattn_pool *pool = NULL;
    fattn_error err;
    fattn_status st;
    Py_BEGIN_ALLOW_THREADS
    st = fattn_pool_create(threads, &pool, &err);
    Py_END_ALLOW_THREADS
    if (st != FATTN_OK)
        return result(NULL, st, &err);
    PyObject *capsule = PyCapsule_New(pool, POOL_CAPSULE, pool_capsule_free);
    /* The context marks a live pool: close() clears it. */
    if (capsule == NULL || PyCapsule_SetContext(capsule, pool) < 0) {
        Py_XDECREF(capsule); /* no context: its destructor frees nothing */
        fattn_pool_destroy(pool);
        return NULL;
    }
    return result(capsule, st, &err);
}

/* The caller (fattn.Pool) guarantees no call is running on the pool. */
static PyObject *py_pool_close(PyObject *self, PyObject *capsule)
{
    (void)self;
    fattn_pool *pool = PyCapsule_GetPointer(capsule, POOL_CAPSULE);
    if (pool == NULL)
        return NULL;
    if (PyCapsule_GetContext(capsule) != NULL) {
        if (PyCapsule_SetContext(capsule, NULL) < 0)
            return NULL;
        Py_BEGIN_ALLOW_THREADS
        fattn_pool_destroy(pool);
        Py_END_ALLOW_THREADS
    }
    Py_RETURN_NONE;
}

static PyObject *py_pool_threads(PyObject *self, PyObject *capsule)
{
    (void)self;
    fattn_pool *pool = pool_of(capsule);
    if (pool == NULL)
        return NULL;
    return PyLong_FromLong(fattn_pool_threads(pool));
}

static PyObject *py_isa_auto(PyObject *self, PyObject *noargs)
{
    (void)self;
    (void)noargs;
    fattn_error err = {0};
    fattn_isa isa = fattn_isa_auto(&err);
    if (isa == FATTN_ISA_AUTO)
        return result(NULL, err.status ? err.status : FATTN_ERR_ISA_UNAVAILABLE,
                      &err);
    return result(PyUnicode_FromString(fattn_isa_name(isa)), FATTN_OK, &err);
}

/* The int argument of a METH_O function; -1 with an exception set. */
static int int_arg(PyObject *arg, int *out)
{
    long x = PyLong_AsLong(arg);
    if (x == -1 && PyErr_Occurred())
        return -1;
    *out = (int)x;
    return 0;
}

static PyObject *py_isa_available(PyObject *self, PyObject *arg)
{
    (void)self;
    int isa;
    return int_arg(arg, &isa) < 0 ? NULL
                                  : PyBool_FromLong(fattn_isa_available(isa));
}

static PyObject *py_isa_name(PyObject *self, PyObject *arg)
{
    (void)self;
    int isa;
    return int_arg(arg, &isa) < 0 ? NULL
                                  : PyUnicode_FromString(fattn_isa_name(isa));
}

static PyObject *py_status_name(PyObject *self, PyObject *arg)
{
    (void)self;
    int st;
    return int_arg(arg, &st) < 0 ? NULL
                                 : PyUnicode_FromString(fattn_status_name(st));
}

static PyObject *py_usable_cpus(PyObject *self, PyObject *noargs)
{
    (void)self;
    (void)noargs;
    return PyLong_FromLong(fattn_usable_cpus());
}

static PyObject *py_version(PyObject *self, PyObject *noargs)
{
    (void)self;
    (void)noargs;
    return PyUnicode_FromString(fattn_version_string());
}

static PyMethodDef methods[] = {
    {"forward", py_forward, METH_VARARGS, "check, workspace size or forward"},
    {"plan_create", py_plan_create, METH_VARARGS, "create a plan"},
    {"plan_run", py_plan_run, METH_VARARGS, "run a plan with bindings"},
    {"plan_info", py_plan_info, METH_O, "(isa, kernel, items, tasks, ws)"},
    {"merge", py_merge, METH_VARARGS, "merge partial results"},
    {"from_packed", py_from_packed, METH_VARARGS, "packed view"},
    {"pool_create", py_pool_create, METH_VARARGS, "create a pool"},
    {"pool_close", py_pool_close, METH_O, "destroy a pool"},
    {"pool_threads", py_pool_threads, METH_O, "a pool's thread count"},
    {"isa_auto", py_isa_auto, METH_NOARGS, "the automatic path"},
    {"isa_available", py_isa_available, METH_O, "is a path available"},
    {"isa_name", py_isa_name, METH_O, "a path's name"},
    {"status_name", py_status_name, METH_O, "a status code's name"},
    {"usable_cpus", py_usable_cpus, METH_NOARGS, "CPUs of this process"},
    {"version", py_version, METH_NOARGS, "the library's version"},
    {NULL, NULL, 0, NULL},
};

static int add_constants(PyObject *m)
{
    static const struct {
        const char *name;
        long value;
    } constants[] = {
        {"DTYPE_F32", FATTN_DTYPE_F32},
        {"DTYPE_BF16", FATTN_DTYPE_BF16},
        {"DTYPE_F16", FATTN_DTYPE_F16},
        {"DTYPE_BOOL", FATTN_DTYPE_BOOL},
        {"CAUSAL_NONE", FATTN_CAUSAL_NONE},
        {"CAUSAL_TOP_LEFT", FATTN_CAUSAL_TOP_LEFT},
        {"CAUSAL_BOTTOM_RIGHT", FATTN_CAUSAL_BOTTOM_RIGHT},
        {"ALIGN_TOP_LEFT", FATTN_ALIGN_TOP_LEFT},
        {"ALIGN_BOTTOM_RIGHT", FATTN_ALIGN_BOTTOM_RIGHT},
        {"WINDOW_UNLIMITED", FATTN_WINDOW_UNLIMITED},
        {"ISA_COUNT", FATTN_ISA_COUNT},
        {"STATUS_COUNT", FATTN_STATUS_COUNT},
        {"MAX_MERGE_PARTS", FATTN_MAX_MERGE_PARTS},
        {"MAX_THREADS", FATTN_MAX_THREADS},
    };
    for (size_t i = 0; i < sizeof(constants) / sizeof(constants[0]); i++)
        if (PyModule_AddIntConstant(m, constants[i].name,
                                    constants[i].value) < 0)
            return -1;
    return 0;
}

static int exec_module(PyObject *m)
{
    return add_constants(m);
}

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, exec_module},
    {0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "fattn._fattn",
    .m_doc = "The C layer of fattn (use the fattn package).",
    .m_size = 0,
    .m_methods = methods,
    .m_slots = slots,
};

PyMODINIT_FUNC PyInit__fattn(void);

PyMODINIT_FUNC PyInit__fattn(void)
{
    return PyModuleDef_Init(&module);
}
