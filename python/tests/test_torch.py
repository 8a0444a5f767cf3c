"""Agreement with PyTorch's scaled_dot_product_attention (float64 on
PyTorch's side: fattn's errors are then the only ones left). Needs
PyTorch >= 2.0; enable_gqa needs >= 2.5. Without them these tests are
skipped, and say why: nothing else depends on PyTorch."""

import numpy as np
import pytest

import fattn
from conftest import bound, normal

torch = pytest.importorskip(
    "torch", reason="PyTorch is not installed (optional: only these "
    "agreement tests use it)")
_VERSION = tuple(int(x) for x in torch.__version__.split("+")[0].split(".")[:2])
if _VERSION < (2, 0):
    pytest.skip(f"PyTorch {torch.__version__} < 2.0 has no "
                "scaled_dot_product_attention", allow_module_level=True)
sdpa = torch.nn.functional.scaled_dot_product_attention


def torch_ref(q, k, v, **kw):
    t = [torch.from_numpy(a.astype(np.float64)) for a in (q, k, v)]
    if "attn_mask" in kw and kw["attn_mask"] is not None:
        m = kw["attn_mask"]
        kw["attn_mask"] = torch.from_numpy(m if m.dtype == np.bool_ else m.astype(np.float64))
    return sdpa(*t, **kw).numpy()


def test_plain_and_scale(rng):
    q, k, v = (normal(rng, (2, 4, n, 32)) for n in (40, 50, 50))
    for scale in (None, 0.3):
        got = fattn.attention(q, k, v, scale=scale)
        want = torch_ref(q, k, v, scale=scale) if scale is not None else torch_ref(q, k, v)
        assert np.abs(got - want).max() <= bound(q, k, v, scale=scale)


@pytest.mark.parametrize("sq,sk", [(33, 33), (20, 45)])
def test_is_causal_is_top_left(rng, sq, sk):
    q = normal(rng, (1, 4, sq, 32))
    k, v = normal(rng, (1, 4, sk, 32)), normal(rng, (1, 4, sk, 32))
    got = fattn.attention(q, k, v, causal="top-left")
    assert np.abs(got - torch_ref(q, k, v, is_causal=True)).max() <= bound(q, k, v)


@pytest.mark.parametrize("shape", [(1, 4, 24, 40), (24, 40), (1, 1, 1, 40)])
def test_boolean_masks(rng, shape):
    q = normal(rng, (1, 4, 24, 16))
    k, v = normal(rng, (1, 4, 40, 16)), normal(rng, (1, 4, 40, 16))
    mask = rng.random(shape) < 0.7
    mask[..., 0] = True  # torch gives NaN for rows that see no key
    got = fattn.attention(q, k, v, mask=mask)
    assert np.abs(got - torch_ref(q, k, v, attn_mask=mask)).max() <= bound(q, k, v)


def test_additive_mask(rng):
    q = normal(rng, (1, 2, 16, 16))
    k, v = normal(rng, (1, 2, 30, 16)), normal(rng, (1, 2, 30, 16))
    mask = normal(rng, (16, 30))
    got = fattn.attention(q, k, v, mask=mask)
    assert np.abs(got - torch_ref(q, k, v, attn_mask=mask)).max() <= bound(q, k, v)


def test_enable_gqa(rng):
    if _VERSION < (2, 5):
        pytest.skip(f"PyTorch {torch.__version__} < 2.5 has no enable_gqa")
    q = normal(rng, (1, 8, 12, 32))
    k, v = normal(rng, (1, 2, 30, 32)), normal(rng, (1, 2, 30, 32))
    got = fattn.attention(q, k, v, causal="top-left")
    want = torch_ref(q, k, v, is_causal=True, enable_gqa=True)
    assert np.abs(got - want).max() <= bound(q, k, v)
