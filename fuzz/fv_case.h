/*
 * fv_case.h - one fuzz_validate case: the descriptors and params decoded
 * from the input, the exact-size buffers behind them, and the oracle that
 * reads the rules of fattn.h independently of src/validate.c.
 */
#ifndef FATTN_FUZZ_FV_CASE_H
#define FATTN_FUZZ_FV_CASE_H

#include "fattn.h"
#include "fuzz_data_producer.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Total bytes of exact-size buffers per case; beyond it only the check runs
 * (on fake addresses). */
#define FV_CAP ((size_t)4 << 20)

/* Tensors, then the params arrays: the buffers of a case. */
enum {
    FV_Q, FV_K, FV_V, FV_O, FV_MASK, FV_LSE, FV_TENSORS,
    FV_QLEN = FV_TENSORS, FV_KVLEN, FV_SLOPES, FV_WS, FV_BUFFERS
};

enum {
    FV_ALLOC_DEFAULT,    /* both NULL: malloc/free */
    FV_ALLOC_COUNTING,   /* both set, counted */
    FV_ALLOC_FAILING,    /* alloc returns NULL */
    FV_ALLOC_ONLY_ALLOC, /* free NULL: a null_pointer error */
    FV_ALLOC_ONLY_FREE,  /* alloc NULL: a null_pointer error */
    FV_ALLOC_MISALIGNED, /* memory not 64-byte aligned: misaligned */
    FV_ALLOC_MODES
};

/* Bad values written over the (valid) generated lengths and slopes. */
#define FV_OVERRIDES 4

typedef struct fv_packed {
    int used;
    int null_data;
    int32_t dtype;
    int64_t batch, seq, embed_dim, num_heads, token_stride;
} fv_packed;

typedef struct fv_case {
    /* Decoded. */
    fattn_tensor t[FV_TENSORS];
    int present[FV_TENSORS];      /* q..o: descriptor non-NULL; mask, lse: used */
    int null_data[FV_TENSORS];
    unsigned misalign[FV_BUFFERS]; /* bytes added to the data pointer */
    int alias[FV_TENSORS];         /* o, lse: -1 or the buffer they point into */
    uint32_t alias_off[FV_TENSORS];
    int top_base[FV_BUFFERS];      /* fake address near the top (check-only) */
    fv_packed packed[4];           /* q..o built by fattn_tensor_from_packed */
    int has_array[3];              /* q_lengths, kv_lengths, alibi_slopes */
    int fake_array[3];             /* ... at a fake address (fv_place) */
    int n_over[3];
    int64_t over_index[3][FV_OVERRIDES];
    int64_t over_len[2][FV_OVERRIDES];
    float over_slope[FV_OVERRIDES];
    int ws_mode;                   /* params.workspace: see fv_place */
    fattn_params params;           /* pointer fields set by fv_place */
    int params_null, err_null, alloc_mode;
    uint64_t seed;

    /* Placed (fv_place). */
    int real;                      /* buffers are real allocations */
    const fattn_tensor *desc[FV_TENSORS];
    unsigned char *buf[FV_BUFFERS];  /* allocation (NULL: none) */
    unsigned char *snap[FV_BUFFERS]; /* its contents before the call */
    size_t buf_size[FV_BUFFERS];
    size_t bytes[FV_BUFFERS];        /* addressed bytes after the offset */
    int64_t array_count[3];
    size_t ws_need; /* fattn_workspace_size() for the call, 0 if refused */
} fv_case;

/* A tensor of the given shape and dtype in a layout read from the input:
 * BHSD, BSHD, SBHD or transposed rows, with 0-2 elements of padding. */
void fv_decode_tensor(fattn_tensor *t, fz_producer *in, int32_t dtype,
                      int64_t b, int64_t h, int64_t s, int64_t d);

/* Bytes a tensor addresses from its data pointer, by the header's formula:
 * 0 if empty. Returns 0 and *bytes, or -1 if the descriptor is invalid
 * (bad dtype, negative shape or stride) or its extent does not fit in
 * PTRDIFF_MAX. */
int fv_tensor_bytes(const fattn_tensor *t, uint64_t *bytes);

/* Decode a case from the input (never fails). */
void fv_decode(fv_case *c, fz_producer *in);

/* Then, from the bytes the case and its merge case left (none in older
 * corpus files: all f32), the dtypes of query, key, value, output and an
 * additive mask (f32, bf16, f16), rarely a half LSE. */
void fv_decode_dtypes(fv_case *c, fz_producer *in);

/* Replace the tensors marked `packed` by fattn_tensor_from_packed views,
 * checking that call's own contract (a finding aborts). */
void fv_packed_views(fv_case *c);

/* Allocate exact-size buffers (or fake addresses beyond FV_CAP), fill them,
 * snapshot them, and point descriptors and params at them. */
void fv_place(fv_case *c);
void fv_free(fv_case *c);

/* malloc that aborts on failure (n = 0 allocates a byte); snapshots of n
 * buffers (NULL ones skipped) and freeing both. */
void *fv_xmalloc(size_t n);
void fv_snapshot(unsigned char *const *buf, unsigned char **snap,
                 const size_t *size, int n);
void fv_free_buffers(unsigned char **buf, unsigned char **snap, int n);

/* Bit s set: status s is the code of a rule the case breaks. 0 = valid.
 * *others gets the codes of all but the params.workspace rules (which
 * fattn_workspace_size ignores). */
uint32_t fv_oracle(const fv_case *c, uint32_t *others);
/* "a, b, c" for a set of codes (static buffer). */
const char *fv_codes_text(uint32_t codes);

/* A valid case small enough to compute, and numerically tame enough for
 * the reference comparison (harness-filled data in [-1, 1], moderate
 * scale, soft-cap, ALiBi: tests/reference/tolerance.h's bounds hold). */
int fv_small(const fv_case *c);
int fv_tame(const fv_case *c);

/* First buffer whose contents differ from the snapshot, or -1 (inputs
 * only, i.e. not output, LSE or workspace; or all buffers). */
int fv_inputs_changed(const fv_case *c);
int fv_changed_buffer(const fv_case *c);
const char *fv_buffer_name(int buffer);

/* After a successful forward: NULL, or what is wrong with the output and
 * LSE buffers (two elements at one address, a layout gap written). */
const char *fv_output_layout_problem(const fv_case *c);

/* The same for one f32 output t in its own buffer buf of `size` bytes,
 * snap its contents before the call. */
const char *fv_layout_problem(const fattn_tensor *t, const unsigned char *buf,
                              const unsigned char *snap, size_t size);

void fv_describe(const fv_case *c, FILE *out);

#endif /* FATTN_FUZZ_FV_CASE_H */
