"""fattn.attention against the fp64 reference, option by option, on every
kernel path this machine runs."""

import numpy as np
import pytest

import fattn
from conftest import PATHS, bf16_bits, bound, normal, reference, widen


def run_and_compare(q, k, v, isa="auto", **opts):
    out_dtype = opts.get("out_dtype")
    got, lse = fattn.attention(q, k, v, isa=isa, return_lse=True, **opts)
    ref_opts = {key: val for key, val in opts.items()
                if key not in ("out_dtype", "out", "pool")}
    want, want_lse = reference(q, k, v, **ref_opts)
    u16 = opts.get("uint16_dtype")
    kind = out_dtype if out_dtype is not None else \
        (u16 if q.dtype == np.uint16 else q.dtype)
    bf16_p = isa == "avx512bf16" and all(
        a.dtype == np.uint16 and u16 == "bfloat16" for a in (q, k, v))
    tol = bound(q, k, v, scale=opts.get("scale"), out_dtype=kind,
                bf16_p=bf16_p, layout=opts.get("layout", "bhsd"),
                uint16_dtype=u16, softcap=opts.get("softcap"))
    got_v = widen(got, u16 if got.dtype == np.uint16 else None)
    assert got.shape == want.shape
    err = np.abs(got_v - want).max() if got.size else 0.0
    assert err <= tol, f"max error {err:.3g} > bound {tol:.3g}"
    assert lse.shape == want_lse.shape and lse.dtype == np.float32
    fin = np.isfinite(want_lse)
    assert np.array_equal(np.isneginf(lse), ~fin)
    if fin.any():
        lse_tol = 64 * 2.0 ** -24 * (1 + np.abs(want_lse[fin]).max()) + \
            (2.0 ** -8 if bf16_p else 0)
        assert np.abs(lse[fin] - want_lse[fin]).max() <= lse_tol
    return got


@pytest.mark.parametrize("isa", PATHS)
def test_plain_gqa_each_path(rng, isa):
    q = normal(rng, (2, 8, 67, 64))
    k = normal(rng, (2, 2, 91, 64))
    v = normal(rng, (2, 2, 91, 48))
    run_and_compare(q, k, v, isa=isa)


@pytest.mark.parametrize("causal", ["top-left", "bottom-right"])
@pytest.mark.parametrize("sq,sk", [(37, 37), (20, 53), (53, 20)])
def test_causal(rng, causal, sq, sk):
    q = normal(rng, (1, 4, sq, 32))
    k = normal(rng, (1, 4, sk, 32))
    v = normal(rng, (1, 4, sk, 32))
    out = run_and_compare(q, k, v, causal=causal)
    if causal == "bottom-right" and sq > sk:
        assert not out[0, :, : sq - sk].any()  # rows that see no key


def test_scale_and_softcap(rng):
    q, k, v = (normal(rng, (1, 2, 40, 16)) for _ in range(3))
    run_and_compare(q, k, v, scale=0.7)
    run_and_compare(q * 4, k * 4, v, softcap=5.0)


@pytest.mark.parametrize("window,align,causal", [
    ((8, 0), None, "top-left"), ((5, 3), None, None),
    ((None, 4), "bottom-right", None), ((6, None), None, "bottom-right")])
def test_window(rng, window, align, causal):
    q = normal(rng, (1, 2, 30, 16))
    k = normal(rng, (1, 2, 45, 16))
    v = normal(rng, (1, 2, 45, 16))
    run_and_compare(q, k, v, window=window, align=align, causal=causal)


@pytest.mark.parametrize("shape", [(2, 4, 25, 33), (2, 1, 1, 33), (25, 33),
                                   (33,), (1, 4, 25, 1)])
def test_additive_mask_broadcast(rng, shape):
    q, k, v = (normal(rng, (2, 4, n, 16)) for n in (25, 33, 33))
    mask = normal(rng, shape)
    mask[..., :1] = -np.inf if shape[-1] > 1 else 0.0
    run_and_compare(q, k, v, mask=mask)


def test_bool_mask_and_fully_masked_rows(rng):
    q, k, v = (normal(rng, (1, 2, n, 16)) for n in (12, 20, 20))
    mask = rng.random((1, 2, 12, 20)) < 0.6
    mask[0, 1, 3] = False  # one row sees nothing: output 0, lse -inf
    out = run_and_compare(q, k, v, mask=mask)
    assert not out[0, 1, 3].any()


def test_f16_mask(rng):
    q, k, v = (normal(rng, (1, 2, n, 16)) for n in (12, 20, 20))
    run_and_compare(q, k, v, mask=normal(rng, (12, 20), np.float16))


def test_alibi(rng):
    q, k, v = (normal(rng, (1, 4, n, 16)) for n in (18, 26, 26))
    run_and_compare(q, k, v, alibi_slopes=[0.5, 0.25, 0.0, -0.1],
                    causal="bottom-right")


def test_lengths(rng):
    q, k, v = (normal(rng, (3, 2, n, 16)) for n in (14, 40, 40))
    out = run_and_compare(q, k, v, q_lengths=[14, 5, 0], kv_lengths=[40, 7, 3])
    assert not out[1, :, 5:].any() and not out[2].any()


@pytest.mark.parametrize("layout", ["bhsd", "bshd"])
def test_layouts_3d_and_strides(rng, layout):
    q = normal(rng, (2, 30, 4, 32)) if layout == "bshd" else normal(rng, (2, 4, 30, 32))
    base = normal(rng, (2, 50, 2, 80))  # a wider buffer: k, v as slices
    k, v = base[..., :32], base[..., 40:72]
    if layout == "bhsd":
        k, v = k.transpose(0, 2, 1, 3), v.transpose(0, 2, 1, 3)
    run_and_compare(q, k, v, layout=layout, causal="bottom-right")
    run_and_compare(q[0], k[0], v[0], layout=layout)  # no batch dimension
    every_other = q[:, :, ::2] if layout == "bhsd" else q[:, ::2]
    run_and_compare(every_other, k, v, layout=layout)


def test_split_heads_packed_qkv(rng):
    """A fused QKV projection [B, S, 3 * E], split into heads without a copy."""
    qkv = normal(rng, (2, 24, 3 * 64))
    q, k, v = (fattn.split_heads(qkv[..., i * 64:(i + 1) * 64], 4) for i in range(3))
    assert q.shape == (2, 4, 24, 16) and np.shares_memory(q, qkv)
    run_and_compare(q, k, v, causal="top-left")
    q2 = fattn.split_heads(qkv[0, :, :64], 4)
    assert q2.shape == (4, 24, 16)


def test_out_in_place_and_out_dtype(rng):
    q, k, v = (normal(rng, (1, 2, 20, 16)) for _ in range(3))
    out = np.full((1, 2, 20, 16), 7.0, np.float32)
    got = fattn.attention(q, k, v, out=out)
    assert got is out
    want, _ = reference(q, k, v)
    assert np.abs(out - want).max() <= bound(q, k, v)
    wide = np.zeros((1, 2, 20, 40), np.float32)  # a strided out: a slice
    fattn.attention(q, k, v, out=wide[..., 8:24])
    assert not wide[..., :8].any() and not wide[..., 24:].any()
    assert np.abs(wide[..., 8:24] - want).max() <= bound(q, k, v)
    h = fattn.attention(q, k, v, out_dtype=np.float16)
    assert h.dtype == np.float16
    assert np.abs(h - want).max() <= bound(q, k, v, out_dtype=np.float16)


@pytest.mark.parametrize("isa", PATHS)
def test_half_dtypes(rng, isa):
    q = normal(rng, (1, 8, 9, 64))
    kf, vf = normal(rng, (1, 2, 70, 64)), normal(rng, (1, 2, 70, 64))
    # f32 query with a f16 KV cache, f32 output
    run_and_compare(q, kf.astype(np.float16), vf.astype(np.float16), isa=isa)
    # all bf16 as uint16 bits: the output is uint16 bf16 bits too
    qb, kb, vb = bf16_bits(q), bf16_bits(kf), bf16_bits(vf)
    out = run_and_compare(qb, kb, vb, isa=isa, uint16_dtype="bfloat16")
    assert out.dtype == np.uint16
    # f16 everything
    run_and_compare(*(a.astype(np.float16) for a in (q, kf, vf)), isa=isa)


def test_ml_dtypes_bfloat16(rng):
    ml_dtypes = pytest.importorskip(
        "ml_dtypes", reason="ml_dtypes is not installed: bf16 arrays are "
        "tested as uint16 bits only (test_half_dtypes)")
    q, k, v = (normal(rng, (1, 2, n, 32)).astype(ml_dtypes.bfloat16)
               for n in (10, 30, 30))
    out = fattn.attention(q, k, v)
    assert out.dtype == ml_dtypes.bfloat16
    want, _ = reference(q.view(np.uint16), k.view(np.uint16), v.view(np.uint16),
                        uint16_dtype="bfloat16")
    tol = bound(q.view(np.uint16), k.view(np.uint16), v.view(np.uint16),
                uint16_dtype="bfloat16", out_dtype="bfloat16", bf16_p=True)
    assert np.abs(out.astype(np.float64) - want).max() <= tol


def test_empty_problems(rng):
    q = normal(rng, (0, 2, 5, 8))
    assert fattn.attention(q, q, q).shape == (0, 2, 5, 8)
    q = normal(rng, (1, 2, 5, 8))
    kv = normal(rng, (1, 2, 0, 8))
    out, lse = fattn.attention(q, kv, kv, return_lse=True)
    assert not out.any() and np.isneginf(lse).all()


def test_info():
    i = fattn.info()
    assert i["version"] == fattn.__version__
    assert i["isas"]["scalar"] is True
    assert i["isa"] in i["isas"] and i["isas"][i["isa"]]
    assert i["usable_cpus"] >= 1


def test_workspace_size_and_check(rng):
    q, k, v = (normal(rng, (1, 2, 64, 32)) for _ in range(3))
    assert fattn.check(q, k, v, causal="top-left") is None
    assert fattn.workspace_size(q, k, v) > 0
