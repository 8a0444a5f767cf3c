"""Every mistake is an exception with a precise message, never a crash,
and a failing call leaves its output untouched. Library checks raise
fattn.Error (status and code); Python-side ones TypeError or ValueError."""

import os
import subprocess
import sys

import numpy as np
import pytest

import fattn
from conftest import PATHS


def arrays(b=1, h=2, sq=8, sk=8, d=16):
    q = np.ones((b, h, sq, d), np.float32)
    k = np.ones((b, h, sk, d), np.float32)
    return q, k, k.copy()


def lib_error(status, code, *fragments, call=fattn.attention, args=None, **kw):
    with pytest.raises(fattn.Error) as e:
        call(*(args if args is not None else arrays()), **kw)
    assert (e.value.status, e.value.code) == (status, code), str(e.value)
    for f in fragments:
        assert f in str(e.value), str(e.value)
    assert "\n" not in str(e.value)
    return e.value


# --- what only Python can check ------------------------------------------


def test_not_an_array():
    q, k, v = arrays()
    with pytest.raises(TypeError, match="q must be a numpy.ndarray, not list"):
        fattn.attention(q.tolist(), k, v)


def test_dtypes_the_library_does_not_take():
    q, k, v = arrays()
    with pytest.raises(TypeError, match="k has dtype float64; fattn takes float32"):
        fattn.attention(q, k.astype(np.float64), v)
    with pytest.raises(TypeError, match="mask has dtype int32"):
        fattn.attention(q, k, v, mask=np.zeros((8, 8), np.int32))
    with pytest.raises(TypeError, match="q is a uint16 array: say what its bits are"):
        fattn.attention(q.view(np.uint16)[..., ::2], k, v)
    with pytest.raises(ValueError, match="uint16_dtype = 'int16'"):
        fattn.attention(q, k, v, uint16_dtype="int16")


def test_non_native_byte_order_is_refused_not_copied():
    q, k, v = arrays()
    with pytest.raises(ValueError, match="v has non-native byte order"):
        fattn.attention(q, k, v.astype(">f4"))


def test_byte_strides_that_are_not_elements():
    q, k, v = arrays()
    buf = np.zeros(2 * 8 * 16 * 4 + 64, np.uint8)
    odd = np.ndarray((1, 2, 8, 16), np.float32, buf, 0,
                     (2 * 8 * 66, 8 * 66, 66, 4))
    with pytest.raises(ValueError, match=r"k.strides\[2\] = 66 bytes is not a "
                       r"multiple of its element size 4"):
        fattn.attention(q, odd, v)


def test_bad_option_values_on_the_python_side():
    q, k, v = arrays()
    with pytest.raises(ValueError, match="causal = True: say which diagonal"):
        fattn.attention(q, k, v, causal=True)
    with pytest.raises(ValueError, match="causal = 'diagonal': must be one of"):
        fattn.attention(q, k, v, causal="diagonal")
    with pytest.raises(ValueError, match="scale = 0: must be finite and > 0"):
        fattn.attention(q, k, v, scale=0)
    with pytest.raises(ValueError, match="softcap = 0.0: must be finite and > 0"):
        fattn.attention(q, k, v, softcap=0.0)
    with pytest.raises(TypeError, match="window = 3: must be"):
        fattn.attention(q, k, v, window=3)
    with pytest.raises(ValueError, match="layout = 'sbhd'"):
        fattn.attention(q, k, v, layout="sbhd")
    with pytest.raises(ValueError, match="isa = 'avx1024': must be one of"):
        fattn.attention(q, k, v, isa="avx1024")
    with pytest.raises(ValueError, match=r"alibi_slopes has shape \(3,\); it must "
                       r"hold one value per query head: \(2,\)"):
        fattn.attention(q, k, v, alibi_slopes=[1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="q_lengths must hold integers"):
        fattn.attention(q, k, v, q_lengths=[2.5])
    with pytest.raises(ValueError, match="k must be 4-D"):
        fattn.attention(q, k[0], v)
    with pytest.raises(TypeError, match="pool must be a fattn.Pool"):
        fattn.attention(q, k, v, pool=4)


def test_read_only_out():
    q, k, v = arrays()
    out = np.zeros_like(q)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="out is read-only"):
        fattn.attention(q, k, v, out=out)


# --- what the library checks: fattn.Error, one per status ---------------


def test_shape_mismatch_names_tensor_dimension_and_both_values():
    q, k, v = arrays(sk=8)
    lib_error("shape_mismatch", 6, "value.shape[2] (seq_k) = 9", "key.shape[2] (seq_k) = 8",
              args=(q, k, np.ones((1, 2, 9, 16), np.float32)))
    lib_error("shape_mismatch", 6, "output", args=arrays(),
              out=np.zeros((1, 2, 8, 17), np.float32))
    lib_error("shape_mismatch", 6, "mask", mask=np.zeros((3, 8), np.float32))


def test_not_divisible_heads():
    q = np.ones((1, 6, 8, 16), np.float32)
    kv = np.ones((1, 4, 8, 16), np.float32)
    lib_error("not_divisible", 7, "6", "4", args=(q, kv, kv))


def test_invalid_dimension():
    q = np.ones((1, 2, 8, 0), np.float32)
    lib_error("invalid_dimension", 5, "head_dim", args=(q, q, q))


def test_invalid_stride():
    q, k, v = arrays()
    lib_error("invalid_stride", 8, "query.stride[2]", args=(q[:, :, ::-1], k, v))


def test_size_overflow():
    q, k, v = arrays()
    huge = np.lib.stride_tricks.as_strided(k, shape=(1, 2, 8, 16),
                                           strides=(0, 0, 2 ** 61, 4))
    lib_error("size_overflow", 9, "key", args=(q, huge, v))


def test_invalid_values():
    lib_error("invalid_value", 10, "scale", scale=-1.0)
    lib_error("invalid_value", 10, "scale", scale=float("nan"))
    lib_error("invalid_value", 10, "softcap", softcap=float("inf"))
    lib_error("invalid_value", 10, "window", window=(-5, 0))
    lib_error("invalid_value", 10, "kv_lengths", kv_lengths=[9])
    lib_error("invalid_value", 10, "alibi", alibi_slopes=[0.0, float("nan")])
    with pytest.raises(fattn.Error) as e:
        fattn.Pool(fattn._fattn.MAX_THREADS + 1)
    assert e.value.status == "invalid_value"


def test_overlap():
    q, k, v = arrays()
    lib_error("overlap", 11, "output", args=(q, k, v), out=q)


def test_misaligned_data():
    q, k, v = arrays()
    raw = np.zeros(k.nbytes + 4, np.uint8)
    bad = np.frombuffer(raw.data, np.float32, k.size, offset=1).reshape(k.shape)
    lib_error("misaligned", 15, "key", args=(q, bad, v))


def test_incompatible_options():
    lib_error("incompatible_options", 16, causal="top-left", align="bottom-right",
              window=(2, 0))


def test_merge_dtypes():
    o = np.zeros((1, 2, 8, 16), np.float16)
    lse = np.zeros((1, 2, 8), np.float32)
    lib_error("unsupported_dtype", 3, "outputs[0]", call=fattn.merge,
              args=([o], [lse]), out=np.zeros((1, 2, 8, 16), np.float32))
    lib_error("unsupported_dtype", 3, "lses[0]", call=fattn.merge,
              args=([o.astype(np.float32)], [lse.astype(np.float16)]))


def test_bool_where_only_masks_take_it():
    q, k, v = arrays()
    lib_error("dtype_mismatch", 4, "query", args=(q.astype(bool), k, v))


def test_isa_unavailable_from_the_environment():
    """FATTN_ISA naming a path that does not exist fails every automatic
    call, never a silent fallback (a fresh process: it is read once)."""
    code = ("import numpy as np, fattn\n"
            "q = np.ones((1, 1, 4, 8), np.float32)\n"
            "try:\n    fattn.attention(q, q, q)\n"
            "except fattn.Error as e:\n    print(e.status, e.code, e)\n")
    env = dict(os.environ, FATTN_ISA="avx9000")
    got = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                         capture_output=True, text=True).stdout
    assert got.startswith("isa_unavailable 14 ") and "avx9000" in got


@pytest.mark.skipif(len(PATHS) == len(fattn.info()["isas"]),
                    reason="every kernel path runs on this machine: forcing "
                    "a missing one cannot be tried")
def test_forcing_a_missing_path():
    missing = [n for n, ok in fattn.info()["isas"].items() if not ok][0]
    lib_error("isa_unavailable", 14, missing, isa=missing)


def test_statuses_not_reachable_from_python_are_named():
    """null_pointer, invalid_enum, out_of_memory and unsupported_version
    cannot come from Python (arrays are never NULL, options are mapped from
    names, the C layer sets the version); the C suite reaches them. Their
    names are still the library's."""
    names = [fattn._fattn.status_name(i) for i in range(fattn._fattn.STATUS_COUNT)]
    assert names[:3] == ["ok", "null_pointer", "invalid_enum"]
    assert names[12:14] == ["out_of_memory", "unsupported_version"]


def test_a_failing_call_leaves_out_untouched():
    q, k, v = arrays()
    out = np.full(q.shape, 7.0, np.float32)
    with pytest.raises(fattn.Error):
        fattn.attention(q, k, v, out=out, scale=-2.0)
    with pytest.raises(TypeError):
        fattn.attention(q, k.astype(np.float64), v, out=out)
    assert (out == 7.0).all()
