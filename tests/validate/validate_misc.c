/*
 * validate_misc.c - test_validate's checks outside the row table: the FMA
 * peak meter, extreme but valid shapes, status names, packed views.
 */
#include "fattn.h"
#include "validate.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The FMA peak meter: a positive figure for each available SIMD path, 0 for
 * the scalar path, an unavailable path and a bad duration. */
void test_peak(void)
{
    CHECK(fattn_fma_peak_gflops(FATTN_ISA_SCALAR, 0.01) == 0.0, "scalar has no FMA peak");
    for (int isa = FATTN_ISA_AUTO; isa < FATTN_ISA_COUNT; isa++) {
        CHECK(fattn_fma_peak_gflops(isa, 0.0) == 0.0, "%s: 0 seconds measured", fattn_isa_name(isa));
        CHECK(fattn_fma_peak_gflops(isa, -1.0) == 0.0, "%s: negative seconds measured", fattn_isa_name(isa));
        CHECK(fattn_fma_peak_gflops(isa, NAN) == 0.0, "%s: NaN seconds measured", fattn_isa_name(isa));
    }
    CHECK(fattn_fma_peak_gflops(FATTN_ISA_COUNT, 0.01) == 0.0, "isa FATTN_ISA_COUNT measured");
    /* Every SIMD path: the scalar path has no FMA loop. */
    for (int isa = FATTN_ISA_SCALAR + 1; isa < FATTN_ISA_COUNT; isa++) {
        double g = fattn_fma_peak_gflops(isa, 0.01);
        if (fattn_isa_available(isa))
            CHECK(g > 0.0 && isfinite(g), "%s peak = %g", fattn_isa_name(isa), g);
        else
            CHECK(g == 0.0, "unavailable %s measured %g", fattn_isa_name(isa), g);
    }
}

/*
 * Extremes that validation accepts must compute without overflow or hang
 * (each was a finding of the code review): keys at positions near
 * FATTN_MAX_DIM through a stride-0 broadcast, a huge empty batch, and the
 * workspace query for huge empty shapes.
 */
void test_extremes(void)
{
    static float q1[4] = {0.5f, -1.0f, 0.25f, 2.0f}, kv[4] = {1.0f, 2.0f, 3.0f, 4.0f};
    static float out[4];
    fattn_tensor tq, tk, tv, to;
    fattn_error e;
    fattn_tensor_contiguous(&tq, q1, FATTN_DTYPE_F32, 1, 1, 1, 4);
    fattn_tensor_contiguous(&to, out, FATTN_DTYPE_F32, 1, 1, 1, 4);
    fattn_tensor_contiguous(&tk, kv, FATTN_DTYPE_F32, 1, 1, FATTN_MAX_DIM, 4);
    tk.stride[0] = tk.stride[1] = tk.stride[2] = 0; /* one row, 2^40 times */
    tv = tk;
    for (int isa = FATTN_ISA_SCALAR; isa < FATTN_ISA_COUNT; isa++) {
        if (!fattn_isa_available(isa))
            continue;
        for (int left = 0; left < 4; left += 3) {
            fattn_params p;
            memset(&p, 0, sizeof p);
            p.isa = isa;
            p.causal = FATTN_CAUSAL_BOTTOM_RIGHT;
            p.align = FATTN_ALIGN_BOTTOM_RIGHT;
            p.window_enabled = 1;
            p.window_left = left; /* the last 1 or 4 of 2^40 keys */
            p.window_right = FATTN_WINDOW_UNLIMITED;
            memset(out, 0, sizeof out);
            fattn_status s = fattn_forward(&tq, &tk, &tv, &to, &p, &e);
            CHECK(s == FATTN_OK, "%s, keys at 2^40: %s", fattn_isa_name(isa), e.message);
            for (int d = 0; d < 4; d++) /* every visible key is the same row */
                CHECK(fabsf(out[d] - kv[d]) <= 1e-6f, "%s, keys at 2^40: out[%d] = %g",
                      fattn_isa_name(isa), d, (double)out[d]);
        }
    }
    /* B = Hq = 2^40 with Sq = 0: nothing to compute, so no 2^80 loop. */
    fattn_tensor_contiguous(&tq, q1, FATTN_DTYPE_F32, FATTN_MAX_DIM, FATTN_MAX_DIM, 0, 4);
    fattn_tensor_contiguous(&to, out, FATTN_DTYPE_F32, FATTN_MAX_DIM, FATTN_MAX_DIM, 0, 4);
    fattn_tensor_contiguous(&tk, kv, FATTN_DTYPE_F32, FATTN_MAX_DIM, 1, 1, 4);
    tk.stride[0] = tk.stride[1] = tk.stride[2] = 0;
    tv = tk;
    for (int isa = FATTN_ISA_SCALAR; isa < FATTN_ISA_COUNT; isa++) {
        if (!fattn_isa_available(isa))
            continue;
        fattn_params p;
        memset(&p, 0, sizeof p);
        p.isa = isa;
        CHECK(fattn_forward(&tq, &tk, &tv, &to, &p, &e) == FATTN_OK,
              "%s, empty huge output: %s", fattn_isa_name(isa), e.message);
        /* Sq = 0 with Hq / Hkv = 2^40: the rows-path test must not overflow. */
        size_t bytes = 0;
        CHECK(fattn_workspace_size(&tq, &tk, &tv, &to, &p, &bytes, &e) == FATTN_OK,
              "%s, workspace of an empty huge output: %s", fattn_isa_name(isa), e.message);
    }
}

void test_status_names(void)
{
    for (int s = 0; s < FATTN_STATUS_COUNT; s++) {
        const char *n = fattn_status_name(s);
        CHECK(n && strcmp(n, "unknown_status") != 0, "status %d has no name", s);
        for (int t = 0; t < s; t++)
            CHECK(strcmp(n, fattn_status_name(t)) != 0, "statuses %d and %d share a name", s, t);
    }
    CHECK(strcmp(fattn_status_name(FATTN_OK), "ok") == 0, "ok's name");
    CHECK(strcmp(fattn_status_name(FATTN_ERR_SHAPE_MISMATCH), "shape_mismatch") == 0,
          "shape_mismatch's name");
    CHECK(strcmp(fattn_status_name(-1), "unknown_status") == 0, "name of -1");
    CHECK(strcmp(fattn_status_name(FATTN_STATUS_COUNT), "unknown_status") == 0,
          "name of FATTN_STATUS_COUNT");
    CHECK(strcmp(fattn_isa_name(FATTN_ISA_AUTO), "auto") == 0, "auto's name");
    CHECK(strcmp(fattn_isa_name(FATTN_ISA_SCALAR), "scalar") == 0, "scalar's name");
    for (int isa = FATTN_ISA_AUTO; isa < FATTN_ISA_COUNT; isa++) {
        const char *n = fattn_isa_name(isa);
        CHECK(n[0] && strcmp(n, "unknown_isa") != 0, "isa %d has no name", isa);
        for (int other = FATTN_ISA_AUTO; other < isa; other++)
            CHECK(strcmp(n, fattn_isa_name(other)) != 0, "isa %d and %d share the name %s",
                  other, isa, n);
    }
    CHECK(strcmp(fattn_isa_name(FATTN_ISA_COUNT), "unknown_isa") == 0, "unknown isa name");
    CHECK(strcmp(fattn_isa_name(-1), "unknown_isa") == 0, "isa -1 name");
    CHECK(fattn_isa_available(FATTN_ISA_AUTO) && fattn_isa_available(FATTN_ISA_SCALAR),
          "auto and scalar must always be available");
    CHECK(!fattn_isa_available(-1) && !fattn_isa_available(FATTN_ISA_COUNT), "isa out of range available");
}

void test_packed(void)
{
    static float buf[2 * 3 * 24];
    fattn_tensor t, untouched;
    fattn_error e;
    memset(&t, 0x33, sizeof t);
    untouched = t;
    CHECK(fattn_tensor_from_packed(&t, buf, FATTN_DTYPE_F32, 2, 3, 10, 3, 0, &e) ==
              FATTN_ERR_NOT_DIVISIBLE,
          "embed 10 / heads 3 accepted");
    check_record("packed not divisible", &e, FATTN_ERR_NOT_DIVISIBLE,
                 "fattn_tensor_from_packed",
                 "embed_dim = 10 is not divisible by num_heads = 3: embed_dim must be a multiple of num_heads");
    CHECK(memcmp(&t, &untouched, sizeof t) == 0, "failed view written");
    reached[FATTN_ERR_NOT_DIVISIBLE] = 1;

    CHECK(fattn_tensor_from_packed(NULL, buf, FATTN_DTYPE_F32, 2, 3, 12, 3, 0, &e) ==
              FATTN_ERR_NULL_POINTER, "NULL view accepted");
    CHECK(fattn_tensor_from_packed(&t, NULL, FATTN_DTYPE_F32, 2, 3, 12, 3, 0, &e) ==
              FATTN_ERR_NULL_POINTER, "NULL data accepted");
    CHECK(fattn_tensor_from_packed(&t, buf, (fattn_dtype)9, 2, 3, 12, 3, 0, &e) ==
              FATTN_ERR_INVALID_ENUM, "dtype 9 accepted");
    CHECK(fattn_tensor_from_packed(&t, buf, FATTN_DTYPE_F32, -1, 3, 12, 3, 0, &e) ==
              FATTN_ERR_INVALID_DIMENSION, "batch -1 accepted");
    CHECK(fattn_tensor_from_packed(&t, buf, FATTN_DTYPE_F32, 2, 3, 12, 0, 0, &e) ==
              FATTN_ERR_INVALID_DIMENSION, "0 heads accepted");
    check_record("packed 0 heads", &e, FATTN_ERR_INVALID_DIMENSION,
                 "fattn_tensor_from_packed", "num_heads = 0 < 1: num_heads must be >= 1");
    CHECK(fattn_tensor_from_packed(&t, buf, FATTN_DTYPE_F32, 2, 3, 12, 3, 5, &e) ==
              FATTN_ERR_INVALID_STRIDE, "token_stride < embed accepted");
    CHECK(fattn_tensor_from_packed(&t, buf, FATTN_DTYPE_F32, 2, INT64_MAX / 2, 12, 3, 0, &e) ==
              FATTN_ERR_SIZE_OVERFLOW, "overflowing seq accepted");
    CHECK(memcmp(&t, &untouched, sizeof t) == 0, "failed view written");

    CHECK(fattn_tensor_from_packed(&t, buf, FATTN_DTYPE_F32, 2, 3, 12, 3, 24, &e) == FATTN_OK,
          "fused-QKV-style view rejected: %s", e.message);
    CHECK(t.shape[0] == 2 && t.shape[1] == 3 && t.shape[2] == 3 && t.shape[3] == 4,
          "packed view shape");
    CHECK(t.stride[0] == 72 && t.stride[1] == 4 && t.stride[2] == 24 && t.stride[3] == 1,
          "packed view strides");
}
