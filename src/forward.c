/*
 * forward.c - the public entry points: validate, allocate, run.
 */
#include "internal.h"

#include <stdint.h>
#include <stdlib.h>

static void *default_alloc(size_t size, void *opaque)
{
    (void)opaque;
    /* 64-byte alignment for the SIMD paths' tiles; size rounded up as
     * aligned_alloc requires. */
    size_t rounded = (size + 63u) & ~(size_t)63u;
    return rounded < size ? NULL : aligned_alloc(64, rounded ? rounded : 64);
}

static void default_free(void *ptr, void *opaque)
{
    (void)opaque;
    free(ptr);
}

fattn_status fattn_check(const fattn_tensor *query, const fattn_tensor *key,
                         const fattn_tensor *value, const fattn_tensor *output,
                         const fattn_params *params, fattn_error *err)
{
    fattn_problem p;
    fattn_isa isa;
    return fattn_validate("fattn_check", query, key, value, output, params, 1,
                          &p, &isa, err);
}

fattn_status fattn_workspace_size(const fattn_tensor *query,
                                  const fattn_tensor *key,
                                  const fattn_tensor *value,
                                  const fattn_tensor *output,
                                  const fattn_params *params, size_t *bytes,
                                  fattn_error *err)
{
    static const char fn[] = "fattn_workspace_size";
    if (!bytes)
        return fattn_fail(err, FATTN_ERR_NULL_POINTER, fn, "bytes is NULL");
    fattn_problem p;
    fattn_isa isa;
    fattn_status st = fattn_validate(fn, query, key, value, output, params, 0,
                                     &p, &isa, err);
    if (st == FATTN_OK)
        *bytes = p.workspace_bytes;
    return st;
}

fattn_status fattn_forward(const fattn_tensor *query, const fattn_tensor *key,
                           const fattn_tensor *value,
                           const fattn_tensor *output,
                           const fattn_params *params, fattn_error *err)
{
    static const char fn[] = "fattn_forward";
    fattn_problem p;
    fattn_isa isa;
    fattn_status st = fattn_validate(fn, query, key, value, output, params, 1,
                                     &p, &isa, err);
    if (st != FATTN_OK)
        return st;
    /* No output row: nothing to compute, however many heads or batches an
     * empty output may describe. */
    if (p.batch == 0 || p.seq_q == 0)
        return FATTN_OK;
    const fattn_kernel *k = fattn_kernel_for(isa);
    void *ws = p.workspace;
    if (!ws && p.workspace_bytes > 0) {
        if (!p.allocator.alloc) {
            p.allocator.alloc = default_alloc;
            p.allocator.free = default_free;
            p.allocator.opaque = NULL;
        }
        ws = p.allocator.alloc(p.workspace_bytes, p.allocator.opaque);
        if (!ws)
            return fattn_fail(err, FATTN_ERR_OUT_OF_MEMORY, fn,
                              "workspace allocation of %zu bytes failed (path %s)",
                              p.workspace_bytes, fattn_isa_name(isa));
        if ((uintptr_t)ws % 64 != 0) {
            p.allocator.free(ws, p.allocator.opaque);
            return fattn_fail(err, FATTN_ERR_MISALIGNED, fn,
                              "params.allocator.alloc returned %p, not 64-byte aligned",
                              ws);
        }
        k->run(&p, ws);
        p.allocator.free(ws, p.allocator.opaque);
        return FATTN_OK;
    }
    k->run(&p, ws);
    return FATTN_OK;
}
