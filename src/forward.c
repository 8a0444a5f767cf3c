/*
 * forward.c - the one-call entry points: validate, plan on the stack,
 * allocate, run. Nothing here allocates except the workspace of a call
 * that was given none.
 */
#include "internal.h"

#include <inttypes.h>
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

fattn_allocator fattn_allocator_or_default(const fattn_allocator *a)
{
    if (a->alloc)
        return *a;
    fattn_allocator d = {default_alloc, default_free, NULL};
    return d;
}

fattn_status fattn_check(const fattn_tensor *query, const fattn_tensor *key,
                         const fattn_tensor *value, const fattn_tensor *output,
                         const fattn_params *params, fattn_error *err)
{
    fattn_plan pl;
    return fattn_plan_prepare("fattn_check", query, key, value, output, params, 1, &pl,
                   err);
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
    fattn_plan pl;
    fattn_status st = fattn_plan_prepare(fn, query, key, value, output, params, 0, &pl,
                              err);
    if (st == FATTN_OK)
        *bytes = pl.workspace_bytes;
    return st;
}

fattn_status fattn_forward(const fattn_tensor *query, const fattn_tensor *key,
                           const fattn_tensor *value,
                           const fattn_tensor *output,
                           const fattn_params *params, fattn_error *err)
{
    static const char fn[] = "fattn_forward";
    fattn_plan pl;
    fattn_status st = fattn_plan_prepare(fn, query, key, value, output, params, 1, &pl,
                              err);
    if (st != FATTN_OK || pl.items == 0)
        return st;
    void *ws = pl.workspace;
    if (ws || pl.workspace_bytes == 0) {
        fattn_plan_execute(&pl, &pl.p, ws);
        return FATTN_OK;
    }
    const fattn_allocator a = pl.allocator;
    ws = a.alloc(pl.workspace_bytes, a.opaque);
    if (!ws)
        return fattn_fail(err, FATTN_ERR_OUT_OF_MEMORY, fn,
                          "workspace allocation of %zu bytes failed (path %s, %" PRId32 " tasks)",
                          pl.workspace_bytes, fattn_isa_name(pl.isa), pl.tasks);
    if ((uintptr_t)ws % 64 != 0) {
        a.free(ws, a.opaque);
        return fattn_fail(err, FATTN_ERR_MISALIGNED, fn,
                          "params.allocator.alloc returned %p, not 64-byte aligned",
                          ws);
    }
    fattn_plan_execute(&pl, &pl.p, ws);
    a.free(ws, a.opaque);
    return FATTN_OK;
}
