"""fattn.merge: partial results over disjoint keys recombine to the whole
(context parallelism, a shared prefix)."""

import numpy as np
import pytest

import fattn
from conftest import bound, normal, reference


@pytest.mark.parametrize("layout", ["bhsd", "bshd"])
def test_shards_merge_to_the_whole(rng, layout):
    shape_q = (2, 4, 10, 32) if layout == "bhsd" else (2, 10, 4, 32)
    q = normal(rng, shape_q)
    axis = 2 if layout == "bhsd" else 1
    k = normal(rng, shape_q[:axis] + (300,) + shape_q[axis + 1:])
    v = normal(rng, k.shape)
    cuts = [0, 70, 71, 300]  # shards of 70, 1 and 229 keys
    parts = [fattn.attention(q, np.take(k, range(a, b), axis=axis),
                             np.take(v, range(a, b), axis=axis),
                             layout=layout, return_lse=True)
             for a, b in zip(cuts, cuts[1:])]
    out, lse = fattn.merge([p[0] for p in parts], [p[1] for p in parts],
                           return_lse=True, layout=layout)
    want, want_lse = reference(q, k, v, layout=layout)
    assert np.abs(out - want).max() <= 2 * bound(q, k, v, layout=layout)
    assert np.abs(lse - want_lse).max() <= 1e-5


def test_a_part_that_saw_no_key_contributes_nothing(rng):
    q, k, v = (normal(rng, (1, 2, 6, 16)) for _ in range(3))
    full, lse = fattn.attention(q, k, v, return_lse=True)
    empty = np.full_like(full, np.nan)  # never read: its lse is -inf
    out = fattn.merge([full, empty], [lse, np.full_like(lse, -np.inf)])
    assert np.array_equal(out, full)


def test_merge_in_place_and_errors(rng):
    o = normal(rng, (1, 2, 6, 16))
    lse = normal(rng, (1, 2, 6))
    out = np.zeros_like(o)
    assert fattn.merge([o, o], [lse, lse], out=out) is out
    assert np.abs(out - o).max() <= 1e-6  # one part twice: itself
    with pytest.raises(ValueError, match="2 outputs but 1 lses"):
        fattn.merge([o, o], [lse])
    with pytest.raises(ValueError, match="no parts"):
        fattn.merge([], [])
    with pytest.raises(fattn.Error) as e:
        fattn.merge([], [], out=out)
    assert e.value.status == "invalid_value" and "parts = 0" in str(e.value)
    with pytest.raises(fattn.Error) as e:
        fattn.merge([o, o[:, :, :5]], [lse, lse[:, :, :5]], out=out)
    assert e.value.status == "shape_mismatch" and "outputs[1]" in str(e.value)
    with pytest.raises(fattn.Error) as e:
        fattn.merge([o], [lse], out=o)
    assert e.value.status == "overlap"
