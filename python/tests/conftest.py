"""Shared pieces of the Python tests: an fp64 NumPy reference of every
option, bf16 bit conversions and the error bound results are held to."""

import math

import numpy as np
import pytest

import fattn

U = 2.0 ** -24  # f32 unit roundoff
PATHS = [name for name, ok in fattn.info()["isas"].items() if ok]


def bf16_bits(x):
    """float32 -> bfloat16 bits, rounded to nearest even (finite data)."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def bf16_value(bits):
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def widen(a, uint16_dtype=None):
    """An input array's exact values in float64 (the library widens half
    inputs exactly, so the reference starts from the same numbers)."""
    if a.dtype == np.uint16:
        a = bf16_value(a) if uint16_dtype == "bfloat16" else a.view(np.float16)
    return np.asarray(a, dtype=np.float64)


def to_bhsd(a, layout):
    a = a if a.ndim == 4 else a[np.newaxis]
    return a if layout == "bhsd" else a.transpose(0, 2, 1, 3)


def reference(q, k, v, *, causal=None, scale=None, mask=None, window=None,
              align=None, softcap=None, alibi_slopes=None, q_lengths=None,
              kv_lengths=None, layout="bhsd", uint16_dtype=None):
    """(out, lse) in float64, shaped as fattn.attention returns them."""
    ndim = q.ndim
    qd, kd, vd = (to_bhsd(widen(a, uint16_dtype), layout) for a in (q, k, v))
    B, Hq, Sq, D = qd.shape
    Hkv, Sk = kd.shape[1], kd.shape[2]
    kd = np.repeat(kd, Hq // Hkv, axis=1)
    vd = np.repeat(vd, Hq // Hkv, axis=1)
    s = (1.0 / math.sqrt(D)) if scale is None else float(np.float32(scale))
    S = np.einsum("bhid,bhjd->bhij", qd, kd) * s
    if softcap is not None:
        S = softcap * np.tanh(S / softcap)
    keep = np.ones(S.shape, dtype=bool)
    if mask is not None:
        m = np.broadcast_to(mask if mask.dtype == np.bool_ else
                            widen(mask, uint16_dtype), S.shape)
        if mask.dtype == np.bool_:
            keep &= m
        else:
            S = S + m
    i = np.arange(Sq)[:, None]
    j = np.arange(Sk)[None, :]
    br_causal = causal == "bottom-right"
    aligned_br = br_causal if causal else align == "bottom-right"
    for b in range(B):
        sq = Sq if q_lengths is None else int(q_lengths[b])
        sk = Sk if kv_lengths is None else int(kv_lengths[b])
        kb = (j < sk) & (i < sq)
        pos_c = i + sk - sq if br_causal else i
        if causal:
            kb &= j <= pos_c
        pos = i + sk - sq if aligned_br else i
        if window is not None:
            left, right = window
            if left is not None:
                kb &= j >= pos - left
            if right is not None:
                kb &= j <= pos + right
        keep[b] &= kb
        if alibi_slopes is not None:
            slopes = np.asarray(alibi_slopes, dtype=np.float32).astype(np.float64)
            S[b] -= slopes[:, None, None] * np.abs(pos - j)[None]
    S = np.where(keep, S, -np.inf)
    mx = S.max(axis=-1, keepdims=True) if Sk else np.full(S.shape[:-1] + (1,), -np.inf)
    full = np.isneginf(mx)
    P = np.exp(S - np.where(full, 0.0, mx))
    ell = P.sum(axis=-1, keepdims=True)
    out = (P @ vd) / np.where(full, 1.0, ell)
    out = np.where(full, 0.0, out)
    lse = np.where(full, -np.inf, mx + np.log(np.where(full, 1.0, ell)))[..., 0]
    if layout == "bshd":
        out = out.transpose(0, 2, 1, 3)
        lse = lse.transpose(0, 2, 1)
    if ndim == 3:
        out, lse = out[0], lse[0]
    return out, lse


def bound(q, k, v, *, scale=None, out_dtype=np.float32, bf16_p=False,
          layout="bhsd", uint16_dtype=None, softcap=None):
    """The error allowed in an output element: f32 arithmetic (scores,
    exp, the running sums) costs some roundings of the largest score
    magnitude (max over pairs of scale * sum_d |q_d k_d|), times max|V|
    (16 of them: typical errors are a few, so a wrong result of any size
    that matters fails); a half-precision output adds its own rounding
    (2^-8 bf16, 2^-11 f16); vdpbf16ps's bf16 probabilities add 2^-8."""
    qd, kd, vd = (to_bhsd(widen(a, uint16_dtype), layout) for a in (q, k, v))
    D = qd.shape[-1]
    s = (1.0 / math.sqrt(D)) if scale is None else float(scale)
    vmax = float(np.abs(vd).max()) if vd.size else 0.0
    Hq, Hkv = qd.shape[1], kd.shape[1]
    kd = np.repeat(kd, Hq // Hkv, axis=1)
    prods = np.einsum("bhid,bhjd->bhij", np.abs(qd), np.abs(kd))
    score = s * float(prods.max()) if prods.size else 0.0
    if softcap is not None:
        score = min(score, softcap) + 1
    tol = 16 * U * (1 + score) * vmax
    if out_dtype == "bfloat16":
        tol += 2.0 ** -8 * vmax
    if bf16_p:
        tol += 2.0 ** -8 * vmax
    if out_dtype == np.float16 or out_dtype == "float16":
        tol += 2.0 ** -11 * vmax
    return tol + 1e-30


def result_values(out, uint16_dtype=None):
    return widen(out, uint16_dtype)


@pytest.fixture
def rng():
    return np.random.default_rng(20261202)


def normal(rng, shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)
