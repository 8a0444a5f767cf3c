/*
 * unfused_dnnl.c - the strongest unfused baseline available on Debian:
 * oneDNN matmul primitives for scale * Q.K^T and P.V and its softmax
 * primitive in between, one key/value head group at a time (unfused.h).
 *
 * The scale is a matmul output scale; a soft-cap becomes two eltwise
 * post-ops of the first matmul (tanh, then linear by the cap). Masks,
 * ALiBi, causal and window are applied by the option pass (unfused.c) as a
 * step of their own between the matmul and the softmax: oneDNN 2.6 falls
 * back to a slow reference matmul when a mask is fused as a broadcast
 * binary post-op. Primitives are created once per distinct (M, N) (per-batch
 * lengths give several); their creation is not timed. Threads: oneDNN's
 * OpenMP runtime, pinned to one thread by the bench's start-up
 * (machine.c).
 */
#include "unfused.h"

#include "fattn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(BENCH_HAVE_DNNL)
#include <oneapi/dnnl/dnnl.h>

/* The primitives and memory objects for one score matrix size. */
typedef struct dnnl_set {
    int64_t m, n;
    dnnl_primitive_t qk, softmax, pv;
    dnnl_memory_t q, k, s, v, o;
    char impl[64];
} dnnl_set;

struct unfused_dnnl {
    const fattn_ref_problem *p;
    float *scores;
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    int64_t nsets;
    dnnl_set *sets;     /* distinct sizes */
    int64_t *set_of;    /* batch -> index into sets */
};

int unfused_dnnl_built(void)
{
    return 1;
}

static const char *isa_name(dnnl_cpu_isa_t isa)
{
    switch (isa) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "other";
    }
}

const char *unfused_dnnl_describe(void)
{
    static char text[96];
    const dnnl_version_t *v = dnnl_version();

    snprintf(text, sizeof text, "%d.%d.%d, max ISA %s", v->major, v->minor,
             v->patch, isa_name(dnnl_get_effective_cpu_isa()));
    return text;
}

int unfused_dnnl_isa(void)
{
    const unsigned isa = (unsigned)dnnl_get_effective_cpu_isa();
    const unsigned avx512 = (unsigned)dnnl_cpu_isa_avx512_core;
    const unsigned avx2 = (unsigned)dnnl_cpu_isa_avx2;

    if ((isa & avx512) == avx512)
        return FATTN_ISA_AVX512;
    if ((isa & avx2) == avx2)
        return FATTN_ISA_AVX2;
    return FATTN_ISA_SCALAR;
}

static void md2(dnnl_memory_desc_t *md, int64_t rows, int64_t cols,
                dnnl_format_tag_t tag)
{
    const dnnl_dims_t dims = {rows, cols};

    dnnl_memory_desc_init_by_tag(md, 2, dims, dnnl_f32, tag);
}

/* Create `prim` from an op descriptor; 0 on success. */
static int make_primitive(dnnl_primitive_t *prim, const void *op_desc,
                          const_dnnl_primitive_attr_t attr, dnnl_engine_t engine,
                          char *impl, size_t impl_size)
{
    dnnl_primitive_desc_t pd;
    const char *info = NULL;
    dnnl_status_t st = dnnl_primitive_desc_create(&pd, op_desc, attr, engine, NULL);

    if (st != dnnl_success)
        return -1;
    if (impl != NULL &&
        dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &info) ==
            dnnl_success && info != NULL)
        snprintf(impl, impl_size, "%s", info);
    st = dnnl_primitive_create(prim, pd);
    dnnl_primitive_desc_destroy(pd);
    return st == dnnl_success ? 0 : -1;
}

static int make_set(unfused_dnnl *d, dnnl_set *set, int64_t m, int64_t n)
{
    const fattn_ref_problem *p = d->p;
    const int64_t dim = p->query.shape[3], dv = p->value.shape[3];
    const float cap = p->params.softcap;
    float scale = p->params.scale > 0.0f ? p->params.scale
                                         : 1.0f / sqrtf((float)dim);
    dnnl_memory_desc_t q_md, k_md, s_md, v_md, o_md;
    dnnl_matmul_desc_t qk_desc, pv_desc;
    dnnl_softmax_v2_desc_t sm_desc;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t ops = NULL;
    int rc = -1;

    set->m = m;
    set->n = n;
    md2(&q_md, m, dim, dnnl_ab);
    md2(&k_md, dim, n, dnnl_ba); /* K is [n, dim] row-major: K^T as "ba" */
    md2(&s_md, m, n, dnnl_ab);
    md2(&v_md, n, dv, dnnl_ab);
    md2(&o_md, m, dv, dnnl_ab);

    if (dnnl_primitive_attr_create(&attr) != dnnl_success)
        goto done;
    if (cap > 0.0f) {
        /* cap * tanh(scale * QK^T / cap) */
        scale /= cap;
        if (dnnl_post_ops_create(&ops) != dnnl_success ||
            dnnl_post_ops_append_eltwise(ops, 1.0f, dnnl_eltwise_tanh, 0.0f,
                                         0.0f) != dnnl_success ||
            dnnl_post_ops_append_eltwise(ops, 1.0f, dnnl_eltwise_linear, cap,
                                         0.0f) != dnnl_success ||
            dnnl_primitive_attr_set_post_ops(attr, ops) != dnnl_success)
            goto done;
    }
    if (dnnl_primitive_attr_set_output_scales(attr, 1, 0, &scale) != dnnl_success)
        goto done;
    if (dnnl_matmul_desc_init(&qk_desc, &q_md, &k_md, NULL, &s_md) != dnnl_success ||
        make_primitive(&set->qk, &qk_desc, attr, d->engine, set->impl,
                       sizeof set->impl) != 0)
        goto done;
    if (dnnl_softmax_v2_forward_desc_init(&sm_desc, dnnl_forward_inference,
                                          dnnl_softmax_accurate, &s_md, &s_md,
                                          1) != dnnl_success ||
        make_primitive(&set->softmax, &sm_desc, NULL, d->engine, NULL, 0) != 0)
        goto done;
    if (dnnl_matmul_desc_init(&pv_desc, &s_md, &v_md, NULL, &o_md) != dnnl_success ||
        make_primitive(&set->pv, &pv_desc, NULL, d->engine, NULL, 0) != 0)
        goto done;
    if (dnnl_memory_create(&set->q, &q_md, d->engine, DNNL_MEMORY_NONE) != dnnl_success ||
        dnnl_memory_create(&set->k, &k_md, d->engine, DNNL_MEMORY_NONE) != dnnl_success ||
        dnnl_memory_create(&set->s, &s_md, d->engine, d->scores) != dnnl_success ||
        dnnl_memory_create(&set->v, &v_md, d->engine, DNNL_MEMORY_NONE) != dnnl_success ||
        dnnl_memory_create(&set->o, &o_md, d->engine, DNNL_MEMORY_NONE) != dnnl_success)
        goto done;
    rc = 0;
done:
    if (ops != NULL)
        dnnl_post_ops_destroy(ops);
    if (attr != NULL)
        dnnl_primitive_attr_destroy(attr);
    return rc;
}

static void free_set(dnnl_set *set)
{
    dnnl_primitive_t prims[3] = {set->qk, set->softmax, set->pv};
    dnnl_memory_t mems[5] = {set->q, set->k, set->s, set->v, set->o};

    for (int k = 0; k < 3; k++)
        if (prims[k] != NULL)
            dnnl_primitive_destroy(prims[k]);
    for (int k = 0; k < 5; k++)
        if (mems[k] != NULL)
            dnnl_memory_destroy(mems[k]);
}

void unfused_dnnl_free(unfused_dnnl *d)
{
    if (d == NULL)
        return;
    for (int64_t k = 0; k < d->nsets; k++)
        free_set(&d->sets[k]);
    free(d->sets);
    free(d->set_of);
    if (d->stream != NULL)
        dnnl_stream_destroy(d->stream);
    if (d->engine != NULL)
        dnnl_engine_destroy(d->engine);
    free(d);
}

unfused_dnnl *unfused_dnnl_create(const fattn_ref_problem *p, float *scores,
                                  char *why, size_t size)
{
    const int64_t B = p->query.shape[0];
    unfused_dnnl *d = calloc(1, sizeof *d);

    if (d == NULL || (d->sets = calloc((size_t)(B > 0 ? B : 1), sizeof *d->sets)) == NULL ||
        (d->set_of = calloc((size_t)(B > 0 ? B : 1), sizeof *d->set_of)) == NULL) {
        snprintf(why, size, "onednn: out of memory");
        unfused_dnnl_free(d);
        return NULL;
    }
    d->p = p;
    d->scores = scores;
    if (dnnl_engine_create(&d->engine, dnnl_cpu, 0) != dnnl_success ||
        dnnl_stream_create(&d->stream, d->engine, dnnl_stream_default_flags) !=
            dnnl_success) {
        snprintf(why, size, "onednn: cannot create a CPU engine and stream");
        unfused_dnnl_free(d);
        return NULL;
    }
    for (int64_t b = 0; b < B; b++) {
        int64_t m, n, k;

        unfused_group_dims(p, b, &m, &n);
        for (k = 0; k < d->nsets; k++)
            if (d->sets[k].m == m && d->sets[k].n == n)
                break;
        if (k == d->nsets && m > 0 && n > 0) {
            if (make_set(d, &d->sets[k], m, n) != 0) {
                snprintf(why, size,
                         "onednn: cannot create the matmul/softmax primitives "
                         "for M=%lld N=%lld",
                         (long long)m, (long long)n);
                d->nsets = k + 1;
                unfused_dnnl_free(d);
                return NULL;
            }
            d->nsets = k + 1;
        }
        d->set_of[b] = k;
    }
    return d;
}

const char *unfused_dnnl_impl(const unfused_dnnl *d)
{
    return d->nsets > 0 ? d->sets[0].impl : "none";
}

int unfused_dnnl_run(unfused_dnnl *d)
{
    const fattn_ref_problem *p = d->p;
    const int64_t B = p->query.shape[0], Hkv = p->key.shape[1];
    const int mask_pass = unfused_needs_mask_pass(p);

    for (int64_t b = 0; b < B; b++) {
        int64_t m, n;

        unfused_group_dims(p, b, &m, &n);
        for (int64_t g = 0; g < Hkv; g++) {
            if (m > 0 && n > 0) {
                dnnl_set *set = &d->sets[d->set_of[b]];
                const dnnl_exec_arg_t qk_args[3] = {{DNNL_ARG_SRC, set->q},
                                                    {DNNL_ARG_WEIGHTS, set->k},
                                                    {DNNL_ARG_DST, set->s}};
                const dnnl_exec_arg_t sm_args[2] = {{DNNL_ARG_SRC, set->s},
                                                    {DNNL_ARG_DST, set->s}};
                const dnnl_exec_arg_t pv_args[3] = {{DNNL_ARG_SRC, set->s},
                                                    {DNNL_ARG_WEIGHTS, set->v},
                                                    {DNNL_ARG_DST, set->o}};
                unfused_group grp;

                unfused_group_data(p, b, g, &grp);
                if (dnnl_memory_set_data_handle(set->q, grp.q) != dnnl_success ||
                    dnnl_memory_set_data_handle(set->k, grp.k) != dnnl_success ||
                    dnnl_memory_set_data_handle(set->v, grp.v) != dnnl_success ||
                    dnnl_memory_set_data_handle(set->o, grp.o) != dnnl_success ||
                    dnnl_primitive_execute(set->qk, d->stream, 3, qk_args) !=
                        dnnl_success)
                    return -1;
                if (mask_pass) {
                    if (dnnl_stream_wait(d->stream) != dnnl_success)
                        return -1;
                    unfused_mask_pass(p, b, g, m, n, d->scores, 0);
                }
                if (dnnl_primitive_execute(set->softmax, d->stream, 2, sm_args) !=
                        dnnl_success ||
                    dnnl_primitive_execute(set->pv, d->stream, 3, pv_args) !=
                        dnnl_success ||
                    dnnl_stream_wait(d->stream) != dnnl_success)
                    return -1;
            }
            unfused_finish_group(p, b, g, m, n);
        }
    }
    return 0;
}

#else /* !BENCH_HAVE_DNNL */

struct unfused_dnnl {
    int unused;
};

int unfused_dnnl_built(void)
{
    return 0;
}

const char *unfused_dnnl_describe(void)
{
    return "not built";
}

int unfused_dnnl_isa(void)
{
    return FATTN_ISA_SCALAR;
}

unfused_dnnl *unfused_dnnl_create(const fattn_ref_problem *p, float *scores,
                                  char *why, size_t size)
{
    (void)p;
    (void)scores;
    snprintf(why, size, "onednn: not built (libdnnl-dev was not found)");
    return NULL;
}

int unfused_dnnl_run(unfused_dnnl *d)
{
    (void)d;
    return -1;
}

const char *unfused_dnnl_impl(const unfused_dnnl *d)
{
    (void)d;
    return "none";
}

void unfused_dnnl_free(unfused_dnnl *d)
{
    (void)d;
}

#endif
