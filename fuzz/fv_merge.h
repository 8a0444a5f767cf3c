/*
 * fv_merge.h - fuzz_validate's fattn_merge cases: the part arrays, output
 * and lse decoded from the input, their exact-size buffers, and the
 * oracle's reading of fattn_merge's rules (fv_oracle.c).
 */
#ifndef FATTN_FUZZ_FV_MERGE_H
#define FATTN_FUZZ_FV_MERGE_H

#include "fattn.h"
#include "fuzz_data_producer.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Parts with descriptors of their own; more parts repeat them in turn. */
#define FV_MERGE_DRAWN 4

/* The tensors of a case: the drawn parts' outputs, their LSEs, output,
 * lse. */
enum {
    FVM_OUT0 = 0,
    FVM_LSE0 = FV_MERGE_DRAWN,
    FVM_O = 2 * FV_MERGE_DRAWN,
    FVM_L,
    FVM_TENSORS
};

/* Arrays a case may pass as NULL. */
enum { FVM_NULL_OUTPUTS, FVM_NULL_LSES, FVM_NULL_OUTPUT, FVM_NULLS };

typedef struct fv_merge {
    /* Decoded. */
    int used;                  /* the input went on to a merge case */
    int32_t parts;             /* as passed, in range or not */
    int drawn;                 /* 1 .. FV_MERGE_DRAWN */
    fattn_tensor t[FVM_TENSORS];
    int lse_present;
    int null_array[FVM_NULLS];
    int null_data[FVM_TENSORS];
    unsigned misalign[FVM_TENSORS]; /* bytes added to the data pointer */
    int alias[FVM_TENSORS];         /* -1, or the tensor whose buffer it is in */
    uint32_t alias_off[FVM_TENSORS];
    int top[FVM_TENSORS];           /* fake address near the top */
    int err_null;
    int specials;                   /* 0..3: how many NaN, Inf, -inf values */
    uint64_t seed;

    /* Placed (fv_merge_place). */
    int real;                       /* every tensor in real memory */
    int32_t n_desc;                 /* entries of outs and lses */
    fattn_tensor *outs, *lses;      /* exactly n_desc entries each */
    unsigned char *buf[FVM_TENSORS], *snap[FVM_TENSORS];
    size_t buf_size[FVM_TENSORS];
    size_t bytes[FVM_TENSORS];      /* addressed bytes from the data pointer */
} fv_merge;

/* Decode a merge case from what the input has left; an exhausted input
 * decodes to no case (used = 0), so earlier corpus files keep their
 * meaning. Never fails. */
void fv_merge_decode(fv_merge *m, fz_producer *in);

/* Buffers (exact size, or fake addresses past FV_CAP), data, snapshots. */
void fv_merge_place(fv_merge *m);
void fv_merge_free(fv_merge *m);

/* Call fattn_merge and check it: the status against fv_merge_oracle, the
 * record, nothing written on failure; on success the rows against the
 * harness's own reading of the formula in fattn.h, inputs and layout gaps
 * untouched, and the same bits from a second call. A violation is a
 * finding. */
void fv_merge_check(fv_merge *m);

/* Bit s set: status s is the code of a rule the case breaks (0: valid). */
uint32_t fv_merge_oracle(const fv_merge *m);

void fv_merge_describe(const fv_merge *m, FILE *out);

#endif /* FATTN_FUZZ_FV_MERGE_H */
