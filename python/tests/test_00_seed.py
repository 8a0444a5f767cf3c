"""The first tests: the three mistakes of the write-up fattn started from, each a
fattn.Error (a ValueError) whose message names both values, where Python
attention code used to raise an opaque error or none at all."""

import numpy as np
import pytest

import fattn


def test_query_head_dim_64_vs_key_head_dim_128():
    q = np.zeros((1, 8, 16, 64), np.float32)
    k = np.zeros((1, 8, 16, 128), np.float32)
    v = np.zeros((1, 8, 16, 128), np.float32)
    with pytest.raises(fattn.Error) as e:
        fattn.attention(q, k, v)
    assert isinstance(e.value, ValueError)
    assert e.value.status == "shape_mismatch" and e.value.code == 6
    msg = str(e.value)
    assert "key.shape[3] (head_dim) = 128" in msg
    assert "query.shape[3] (head_dim) = 64" in msg
    assert "\n" not in msg


def test_embed_dim_257_into_8_heads():
    x = np.zeros((2, 10, 257), np.float32)
    with pytest.raises(fattn.Error) as e:
        fattn.split_heads(x, 8)
    assert e.value.status == "not_divisible" and e.value.code == 7
    assert "embed_dim = 257" in str(e.value)
    assert "num_heads = 8" in str(e.value)


def test_batch_10_vs_12():
    q = np.zeros((10, 4, 16, 32), np.float32)
    kv = np.zeros((12, 4, 16, 32), np.float32)
    with pytest.raises(fattn.Error) as e:
        fattn.attention(q, kv, kv)
    assert e.value.status == "shape_mismatch"
    msg = str(e.value)
    assert "key.shape[0] (batch) = 12" in msg
    assert "query.shape[0] (batch) = 10" in msg
