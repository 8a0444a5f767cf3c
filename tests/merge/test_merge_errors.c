/*
 * test_merge_errors.c - every error of fattn_merge, one table row per rule:
 * the fault, the expected status and the message (exact, or its fixed
 * start, a part it must contain and its end where it holds addresses). A
 * failing call must leave output and lse untouched and fill the record with
 * one line; a NULL record changes only the reporting. Then the valid edges
 * (parts sharing memory, stride-0 parts, lse NULL, one part, the most
 * parts, empty tensors) and the order of the checks. At the end, every
 * status fattn.h says fattn_merge returns must have been reached, and no
 * other.
 *
 * `test_merge_errors env-bogus` expects FATTN_ISA=bogus in the environment,
 * which fattn_merge ignores.
 */
#include "plan_util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { P = 3, B = 2, H = 3, S = 4, DV = 5 };
enum { NO = B * H * S * DV, NL = B * H * S };

/* The fixture: a valid merge of P parts that each row breaks in one way. */
static struct fixture {
    float ob[P][NO], lb[P][NL], out[NO], lse[NL];
    fattn_tensor outs[P], lses[P], o, l;
    const fattn_tensor *outs_p, *lses_p, *o_p, *l_p;
    int64_t parts; /* passed as int32_t; every value here fits */
} F;

static void reset(void)
{
    for (int k = 0; k < P; k++) {
        fattn_tensor_contiguous(&F.outs[k], F.ob[k], FATTN_DTYPE_F32, B, H, S, DV);
        fattn_tensor_contiguous(&F.lses[k], F.lb[k], FATTN_DTYPE_F32, B, H, S, 1);
        for (int n = 0; n < NO; n++)
            F.ob[k][n] = (float)(n % 7) - 3.0f + (float)k;
        for (int n = 0; n < NL; n++)
            F.lb[k][n] = (float)(n % 5) * 0.5f - (float)k;
    }
    fattn_tensor_contiguous(&F.o, F.out, FATTN_DTYPE_F32, B, H, S, DV);
    fattn_tensor_contiguous(&F.l, F.lse, FATTN_DTYPE_F32, B, H, S, 1);
    F.outs_p = F.outs;
    F.lses_p = F.lses;
    F.o_p = &F.o;
    F.l_p = &F.l;
    F.parts = P;
}

/* ---- faults a (field, value) pair cannot express ---- */
static void outputs_null(void) { F.outs_p = NULL; }
static void lses_null(void) { F.lses_p = NULL; }
static void output_null(void) { F.o_p = NULL; }
static void part_data_null(void) { F.outs[1].data = NULL; }
static void part_lse_data_null(void) { F.lses[2].data = NULL; }
static void output_data_null(void) { F.o.data = NULL; }
static void lse_data_null(void) { F.l.data = NULL; }
static void part_dtype_7(void) { F.outs[0].dtype = 7; }
static void part_lse_dtype_neg(void) { F.lses[1].dtype = -1; }
static void part_bf16(void) { F.lses[1].dtype = FATTN_DTYPE_BF16; }
static void output_f16(void) { F.o.dtype = FATTN_DTYPE_F16; }
static void part_bool(void) { F.outs[2].dtype = FATTN_DTYPE_BOOL; }
static void lse_bool(void) { F.l.dtype = FATTN_DTYPE_BOOL; }
static void part_misaligned(void) { F.outs[1].data = (char *)F.ob[1] + 2; }
static void lse_misaligned(void) { F.l.data = (char *)F.lse + 1; }
static void part_stride_product(void) { F.lses[2].stride[2] = INT64_MAX / 2; }
static void part_extent_sum(void) { F.outs[0].stride[0] = INT64_MAX; }
static void output_bytes(void) { F.o.stride[0] = INT64_MAX / 2; }
static void output_on_part(void) { F.o.data = F.ob[1] + 3; }
static void lse_on_part_lse(void) { F.l.data = F.lb[2]; }
static void lse_on_part(void) { F.l.data = F.ob[0] + NO - 1; }
static void lse_on_output(void) { F.l.data = F.out + 7; }
static void output_self(void) { F.o.stride[2] = 0; }
static void output_interleaved(void) { F.o.stride[1] = 3; }
static void lse_self(void) { F.l.stride[1] = 0; }
/* Two faults: a shape at part 2, an overlap at part 0. Overlap comes last. */
static void shape_before_overlap(void)
{
    F.outs[2].shape[2] = 5;
    F.o.data = F.ob[0];
}

typedef struct row {
    const char *name;
    int64_t *field; /* *field = value, or ... */
    int64_t value;
    void (*mutate)(void); /* ... call this */
    fattn_status want;
    const char *msg;      /* exact text after "fattn_merge: ", or its start */
    const char *contains; /* with a start: a part the text must contain */
    const char *tail;     /* with a start: the text's end */
} row;

#define SET(f, v) &F.f, (v), NULL
#define DO(fn) NULL, 0, fn
#define SHAPE(t, d, v) &F.t.shape[d], (v), NULL
#define STRIDE(t, d, v) &F.t.stride[d], (v), NULL
#define OVERLAP ": output and lse must not share memory with the parts"
/* The whole text; or (messages with addresses) its start, a part it must
 * contain (or NULL) and its end. */
#define EXACT(msg) msg, NULL, NULL
#define MATCH(start, part, end) start, part, end

static const row rows[] = {
    {"outputs NULL", DO(outputs_null), FATTN_ERR_NULL_POINTER,
     EXACT("outputs is NULL")},
    {"lses NULL", DO(lses_null), FATTN_ERR_NULL_POINTER,
     EXACT("lses is NULL")},
    {"output NULL", DO(output_null), FATTN_ERR_NULL_POINTER,
     EXACT("output is NULL")},
    {"part data NULL", DO(part_data_null), FATTN_ERR_NULL_POINTER,
     EXACT("outputs[1].data is NULL")},
    {"part lse data NULL", DO(part_lse_data_null), FATTN_ERR_NULL_POINTER,
     EXACT("lses[2].data is NULL")},
    {"output data NULL", DO(output_data_null), FATTN_ERR_NULL_POINTER,
     EXACT("output.data is NULL")},
    {"lse data NULL", DO(lse_data_null), FATTN_ERR_NULL_POINTER,
     EXACT("lse.data is NULL")},

    {"parts 0", SET(parts, 0), FATTN_ERR_INVALID_VALUE,
     EXACT("parts = 0: must be in [1, 1024] (FATTN_MAX_MERGE_PARTS)")},
    {"parts -1", SET(parts, -1), FATTN_ERR_INVALID_VALUE,
     EXACT("parts = -1: must be in [1, 1024] (FATTN_MAX_MERGE_PARTS)")},
    {"parts 1025", SET(parts, FATTN_MAX_MERGE_PARTS + 1), FATTN_ERR_INVALID_VALUE,
     EXACT("parts = 1025: must be in [1, 1024] (FATTN_MAX_MERGE_PARTS)")},
    {"parts INT32_MIN", SET(parts, INT32_MIN), FATTN_ERR_INVALID_VALUE,
     EXACT("parts = -2147483648: must be in [1, 1024] (FATTN_MAX_MERGE_PARTS)")},

    {"part dtype 7", DO(part_dtype_7), FATTN_ERR_INVALID_ENUM,
     EXACT("outputs[0].dtype = 7: not a fattn_dtype (0..3)")},
    {"part lse dtype -1", DO(part_lse_dtype_neg), FATTN_ERR_INVALID_ENUM,
     EXACT("lses[1].dtype = -1: not a fattn_dtype (0..3)")},
    {"part lse bf16", DO(part_bf16), FATTN_ERR_UNSUPPORTED_DTYPE,
     EXACT("lses[1].dtype = bf16: lses[1] must be f32")},
    {"output f16", DO(output_f16), FATTN_ERR_UNSUPPORTED_DTYPE,
     EXACT("output.dtype = f16: output must be f32")},
    {"part bool", DO(part_bool), FATTN_ERR_DTYPE_MISMATCH,
     EXACT("outputs[2].dtype = bool: outputs[2] must be f32 (bool is for masks)")},
    {"lse bool", DO(lse_bool), FATTN_ERR_DTYPE_MISMATCH,
     EXACT("lse.dtype = bool: lse must be f32 (bool is for masks)")},

    {"part zero heads", SHAPE(outs[1], 1, 0), FATTN_ERR_INVALID_DIMENSION,
     EXACT("outputs[1].shape[1] (heads) = 0 < 1: heads must be >= 1")},
    {"output zero head_dim_v", SHAPE(o, 3, 0), FATTN_ERR_INVALID_DIMENSION,
     EXACT("output.shape[3] (head_dim_v) = 0 < 1: head_dim_v must be >= 1")},
    {"part lse negative batch", SHAPE(lses[0], 0, -1), FATTN_ERR_INVALID_DIMENSION,
     EXACT("lses[0].shape[0] (batch) = -1 < 0: batch must be >= 0")},
    {"part huge head_dim_v", SHAPE(outs[0], 3, 5000), FATTN_ERR_INVALID_DIMENSION,
     EXACT("outputs[0].shape[3] (head_dim_v) = 5000 > 4096: head_dim_v must be at most FATTN_MAX_HEAD_DIM")},
    {"lse seq past FATTN_MAX_DIM", SHAPE(l, 2, FATTN_MAX_DIM + 1), FATTN_ERR_INVALID_DIMENSION,
     EXACT("lse.shape[2] (seq) = 1099511627777 > 2^40: dimensions must be at most FATTN_MAX_DIM")},

    {"part seq", SHAPE(outs[2], 2, 5), FATTN_ERR_SHAPE_MISMATCH,
     EXACT("outputs[2].shape[2] (seq) = 5 != output.shape[2] (seq) = 4: every part must have output's shape")},
    {"part batch", SHAPE(outs[0], 0, 1), FATTN_ERR_SHAPE_MISMATCH,
     EXACT("outputs[0].shape[0] (batch) = 1 != output.shape[0] (batch) = 2: every part must have output's shape")},
    {"part head_dim_v", SHAPE(outs[1], 3, 6), FATTN_ERR_SHAPE_MISMATCH,
     EXACT("outputs[1].shape[3] (head_dim_v) = 6 != output.shape[3] (head_dim_v) = 5: every part must have output's shape")},
    {"part lse heads", SHAPE(lses[1], 1, 2), FATTN_ERR_SHAPE_MISMATCH,
     EXACT("lses[1].shape[1] (heads) = 2 != output.shape[1] (heads) = 3: lses[k] must be [batch, heads, seq, 1] of output")},
    {"part lse last dim", SHAPE(lses[2], 3, 2), FATTN_ERR_SHAPE_MISMATCH,
     EXACT("lses[2].shape[3] (one) = 2 != 1: lses[k] must be [batch, heads, seq, 1] of output")},
    {"lse batch", SHAPE(l, 0, 1), FATTN_ERR_SHAPE_MISMATCH,
     EXACT("lse.shape[0] (batch) = 1 != output.shape[0] (batch) = 2: lse must be [batch, heads, seq, 1] of output")},
    {"lse last dim", SHAPE(l, 3, 5), FATTN_ERR_SHAPE_MISMATCH,
     EXACT("lse.shape[3] (one) = 5 != 1: lse must be [batch, heads, seq, 1] of output")},
    {"checks in order: shape before overlap", DO(shape_before_overlap), FATTN_ERR_SHAPE_MISMATCH,
     EXACT("outputs[2].shape[2] (seq) = 5 != output.shape[2] (seq) = 4: every part must have output's shape")},

    {"part negative stride", STRIDE(outs[1], 2, -5), FATTN_ERR_INVALID_STRIDE,
     EXACT("outputs[1].stride[2] (seq) = -5 < 0: strides must be >= 0")},
    {"lse negative stride", STRIDE(l, 0, -1), FATTN_ERR_INVALID_STRIDE,
     EXACT("lse.stride[0] (batch) = -1 < 0: strides must be >= 0")},

    {"part stride product", DO(part_stride_product), FATTN_ERR_SIZE_OVERFLOW,
     EXACT("lses[2].stride[2] (seq) = 4611686018427387903 * (lses[2].shape[2] - 1) = 3 overflows int64")},
    {"part extent sum", DO(part_extent_sum), FATTN_ERR_SIZE_OVERFLOW,
     EXACT("outputs[0]: extent 9223372036854775807 + stride[1] (heads) = 20 * (shape[1] - 1) = 2 overflows int64")},
    {"output bytes", DO(output_bytes), FATTN_ERR_SIZE_OVERFLOW,
     MATCH("output: ", NULL, " exceed the address space")},

    {"part misaligned", DO(part_misaligned), FATTN_ERR_MISALIGNED,
     MATCH("outputs[1].data = ", NULL, " is not aligned to its element size (4 bytes)")},
    {"lse misaligned", DO(lse_misaligned), FATTN_ERR_MISALIGNED,
     MATCH("lse.data = ", NULL, " is not aligned to its element size (4 bytes)")},

    {"output in a part", DO(output_on_part), FATTN_ERR_OVERLAP,
     MATCH("output bytes [", " overlap outputs[1] bytes [", OVERLAP)},
    {"lse on a part's lse", DO(lse_on_part_lse), FATTN_ERR_OVERLAP,
     MATCH("lse bytes [", " overlap lses[2] bytes [", OVERLAP)},
    {"lse in a part's output", DO(lse_on_part), FATTN_ERR_OVERLAP,
     MATCH("lse bytes [", " overlap outputs[0] bytes [", OVERLAP)},
    {"lse in output", DO(lse_on_output), FATTN_ERR_OVERLAP,
     MATCH("output bytes [", " overlap lse bytes [", ": output and lse must not share memory")},
    {"output stride 0", DO(output_self), FATTN_ERR_OVERLAP,
     EXACT("output.stride[2] (seq) = 0 <= 0 (extent of its smaller-stride dimensions) with output.shape[2] = 4: two output elements would share an address")},
    {"output interleaved", DO(output_interleaved), FATTN_ERR_OVERLAP,
     MATCH("output.stride[", NULL, ": two output elements would share an address")},
    {"lse stride 0", DO(lse_self), FATTN_ERR_OVERLAP,
     EXACT("lse.stride[1] (heads) = 0 <= 0 (extent of its smaller-stride dimensions) with lse.shape[1] = 3: two lse elements would share an address")},
};

static int reached[FATTN_STATUS_COUNT];

/* What a failing call must leave in output and lse: the pattern it found. */
enum { POISON = 0xA5 };

static void poison(void)
{
    memset(F.out, POISON, sizeof F.out);
    memset(F.lse, POISON, sizeof F.lse);
}

static int untouched(void)
{
    unsigned char want[sizeof F.out];
    memset(want, POISON, sizeof want);
    return memcmp(F.out, want, sizeof F.out) == 0 &&
           memcmp(F.lse, want, sizeof F.lse) == 0;
}

static fattn_status call(fattn_error *e)
{
    return fattn_merge((int32_t)F.parts, F.outs_p, F.lses_p, F.o_p, F.l_p, e);
}

/* The record: status, one NUL-terminated line, "fattn_merge: ", the text. */
static void check_record(const row *r, const fattn_error *e)
{
    static const char fn[] = "fattn_merge: ";
    const char *w = r->name;
    if (e->status != (int32_t)r->want || !memchr(e->message, '\0', sizeof e->message) ||
        strchr(e->message, '\n') || strncmp(e->message, fn, strlen(fn)) != 0) {
        pu_fail(w, "record status %d, want %d; message not one line starting with '%s'",
                (int)e->status, (int)r->want, fn);
        return;
    }
    const char *text = e->message + strlen(fn);
    if (!r->contains && !r->tail) {
        if (strcmp(text, r->msg) != 0)
            pu_fail(w, "message\n   got  '%s'\n   want '%s'", text, r->msg);
        return;
    }
    const size_t n = strlen(text), tl = r->tail ? strlen(r->tail) : 0;
    if (strncmp(text, r->msg, strlen(r->msg)) != 0 ||
        (r->contains && !strstr(text, r->contains)) || n < tl ||
        strcmp(text + n - tl, r->tail ? r->tail : "") != 0)
        pu_fail(w, "message '%s' is not '%s' ... '%s' ... '%s'", text, r->msg,
                r->contains ? r->contains : "", r->tail ? r->tail : "");
}

static void run_row(const row *r)
{
    fattn_error e;
    memset(&e, 0x7F, sizeof e); /* a record the call must rewrite */
    reset();
    poison();
    if (r->mutate)
        r->mutate();
    else
        *r->field = r->value;
    const fattn_status s = call(&e);
    if (s != r->want)
        pu_fail(r->name, "returned %s (%s), want %s", fattn_status_name(s), e.message,
                fattn_status_name(r->want));
    else
        reached[s] = 1;
    check_record(r, &e);
    if (!untouched())
        pu_fail(r->name, "a failing fattn_merge wrote output or lse");
    if (call(NULL) != r->want || !untouched())
        pu_fail(r->name, "with a NULL error record: another status, or a write");
}

static void expect_ok(const char *what)
{
    fattn_error e;
    memset(&e, 0x7F, sizeof e);
    if (pu_expect(what, call(&e), &e, FATTN_OK, NULL))
        reached[FATTN_OK] = 1;
}

/* Valid edges: each must be accepted. */
static void test_valid(void)
{
    static fattn_tensor many_o[FATTN_MAX_MERGE_PARTS], many_l[FATTN_MAX_MERGE_PARTS];
    reset();
    expect_ok("the fixture");
    reset();
    F.l_p = NULL;
    expect_ok("lse NULL");
    reset();
    F.parts = 1;
    expect_ok("one part");
    reset();
    F.outs[1] = F.outs[0]; /* parts may share memory: inputs only */
    F.lses[2].data = F.ob[0];
    expect_ok("parts sharing memory");
    reset();
    F.outs[0].stride[0] = F.outs[0].stride[2] = 0; /* broadcast parts */
    F.lses[1].stride[1] = 0;
    expect_ok("stride-0 parts");
    reset();
    for (int k = 0; k < P; k++)
        F.outs[k].shape[0] = F.lses[k].shape[0] = 0;
    F.o.shape[0] = F.l.shape[0] = 0;
    expect_ok("B = 0");
    reset();
    for (int k = 0; k < FATTN_MAX_MERGE_PARTS; k++) {
        many_o[k] = F.outs[k % P];
        many_l[k] = F.lses[k % P];
    }
    F.outs_p = many_o;
    F.lses_p = many_l;
    F.parts = FATTN_MAX_MERGE_PARTS;
    expect_ok("FATTN_MAX_MERGE_PARTS parts");
    /* A BSHD output (the [B, S, H * Dv] rows of a model) and lse. */
    reset();
    F.o.stride[1] = DV;
    F.o.stride[2] = H * DV;
    F.l.stride[1] = 1;
    F.l.stride[2] = H;
    expect_ok("BSHD output and lse");
}

int main(int argc, char **argv)
{
    int bogus = argc > 1 && strcmp(argv[1], "env-bogus") == 0;
    test_valid();
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        run_row(&rows[i]);
    /* Every status fattn.h lists for fattn_merge, and no other. */
    static const fattn_status codes[] = {
        FATTN_OK, FATTN_ERR_NULL_POINTER, FATTN_ERR_INVALID_ENUM,
        FATTN_ERR_UNSUPPORTED_DTYPE, FATTN_ERR_DTYPE_MISMATCH,
        FATTN_ERR_INVALID_DIMENSION, FATTN_ERR_SHAPE_MISMATCH,
        FATTN_ERR_INVALID_STRIDE, FATTN_ERR_SIZE_OVERFLOW,
        FATTN_ERR_INVALID_VALUE, FATTN_ERR_OVERLAP, FATTN_ERR_MISALIGNED};
    int listed[FATTN_STATUS_COUNT] = {0};
    for (size_t i = 0; i < PU_COUNT(codes); i++) {
        listed[codes[i]] = 1;
        if (!reached[codes[i]])
            pu_fail("statuses", "%s never reached", fattn_status_name(codes[i]));
    }
    for (int s = 0; s < FATTN_STATUS_COUNT; s++)
        if (reached[s] && !listed[s])
            pu_fail("statuses", "%s is not one fattn.h lists for fattn_merge",
                    fattn_status_name(s));
    printf("%zu error rows%s\n", PU_COUNT(rows), bogus ? " under FATTN_ISA=bogus" : "");
    return pu_finish("test_merge_errors");
}
