"""NumPy arrays to the library's tensor descriptors.

Everything here is a check the library cannot make itself, because it sees
only an address, a shape and strides: that an argument is an array at all,
its dtype, byte order and byte strides, and the lengths of the small option
arrays (ALiBi slopes, per-batch lengths) that the library reads without
knowing their size. Everything the library can check (shapes against each
other, alignment, overlap, values) is left to it, so its message is the one
the user sees.
"""

import numpy as np

from . import _fattn

try:  # bf16 arrays, when the user has ml_dtypes
    import ml_dtypes as _ml_dtypes

    BFLOAT16 = np.dtype(_ml_dtypes.bfloat16)
except ImportError:  # pragma: no cover - depends on the environment
    BFLOAT16 = None

_FLOAT_CODES = {
    np.dtype(np.float32): _fattn.DTYPE_F32,
    np.dtype(np.float16): _fattn.DTYPE_F16,
}
if BFLOAT16 is not None:
    _FLOAT_CODES[BFLOAT16] = _fattn.DTYPE_BF16

# What a uint16 array holds, by the name given in uint16_dtype=.
UINT16_DTYPES = {"bfloat16": _fattn.DTYPE_BF16, "float16": _fattn.DTYPE_F16}

DTYPE_NAMES = {
    _fattn.DTYPE_F32: "float32",
    _fattn.DTYPE_BF16: "bfloat16",
    _fattn.DTYPE_F16: "float16",
    _fattn.DTYPE_BOOL: "bool",
}

LAYOUTS = ("bhsd", "bshd")


def _taken(mask):
    names = "float32, float16, bfloat16 (ml_dtypes.bfloat16, or its bits as " \
            "uint16 with uint16_dtype='bfloat16')"
    return names + (" or bool" if mask else "")  # bool: masks only


def check_uint16_dtype(uint16_dtype):
    if uint16_dtype is not None and uint16_dtype not in UINT16_DTYPES:
        raise ValueError(
            f"uint16_dtype = {uint16_dtype!r}: must be None, 'bfloat16' or "
            "'float16' (what the bits of uint16 arrays are)")


def dtype_code(a, name, uint16_dtype, mask=False):
    """The library dtype of array `a`, after the checks of its dtype."""
    dt = a.dtype
    if not dt.isnative:
        raise ValueError(
            f"{name} has non-native byte order (dtype {dt.str}): fattn reads "
            f"native {dt.newbyteorder('=').str} only and never copies; convert "
            f"it with {name}.astype({name}.dtype.newbyteorder('='))")
    code = _FLOAT_CODES.get(dt)
    if code is not None:
        return code
    if dt == np.bool_:  # the library says where bool is allowed (masks)
        return _fattn.DTYPE_BOOL
    if dt == np.uint16:
        if uint16_dtype is None:
            raise TypeError(
                f"{name} is a uint16 array: say what its bits are with "
                "uint16_dtype='bfloat16' or 'float16'"
                + ("" if BFLOAT16 is not None else
                   " (or install ml_dtypes and use ml_dtypes.bfloat16)"))
        return UINT16_DTYPES[uint16_dtype]
    raise TypeError(f"{name} has dtype {dt}; fattn takes {_taken(mask)}")


def require_array(a, name):
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, not {type(a).__name__}")
    return a


def require_writable(out):
    if not out.flags.writeable:
        raise ValueError("out is read-only: fattn writes the output in place")


def check_layout(layout):
    if layout not in LAYOUTS:
        raise ValueError(f"layout = {layout!r}: must be 'bhsd' or 'bshd'")


def address(a):
    return a.__array_interface__["data"][0]


def element_strides(a, name):
    """Byte strides to element strides; size-1 dimensions get 0 (NumPy may
    give them any stride, and none is ever applied)."""
    out = []
    for i, (n, s) in enumerate(zip(a.shape, a.strides)):
        if n <= 1:
            out.append(0)
        elif s % a.itemsize:
            raise ValueError(
                f"{name}.strides[{i}] = {s} bytes is not a multiple of its "
                f"element size {a.itemsize}: fattn takes element strides")
        else:
            out.append(s // a.itemsize)
    return out


def descriptor(a, name, code, layout, ndim, lse=False):
    """The descriptor of a query, key, value or output array (lse: of an
    LSE array, the same shape without the last dimension) in `layout`, with
    `ndim` 4 ([batch, ...]) or 3 (no batch dimension)."""
    want = ndim - 1 if lse else ndim
    if a.ndim != want:
        dims = "[batch, heads, seq]" if layout == "bhsd" else "[batch, seq, heads]"
        if not lse:
            dims = dims[:-1] + ", head_dim]"
        if ndim == 3:
            dims = "[" + dims[len("[batch, "):]
        raise ValueError(
            f"{name} must be {want}-D {dims} like the query, "
            f"got {a.ndim}-D shape {a.shape}")
    shape = list(a.shape)
    stride = element_strides(a, name)
    if lse:
        shape.append(1)
        stride.append(0)
    if ndim == 3:
        shape.insert(0, 1)
        stride.insert(0, 0)
    if layout == "bshd":
        shape[1], shape[2] = shape[2], shape[1]
        stride[1], stride[2] = stride[2], stride[1]
    return (address(a), code, tuple(shape), tuple(stride))


def mask_descriptor(m, uint16_dtype):
    """A mask broadcasts NumPy-style to [batch, heads, seq_q, seq_k],
    whatever the layout (as PyTorch's attn_mask)."""
    require_array(m, "mask")
    code = dtype_code(m, "mask", uint16_dtype, mask=True)
    if m.ndim > 4:
        raise ValueError(
            f"mask must have at most 4 dimensions [batch, heads, seq_q, seq_k] "
            f"(broadcast), got {m.ndim}-D shape {m.shape}")
    shape = [1] * (4 - m.ndim) + list(m.shape)
    stride = [0] * (4 - m.ndim) + element_strides(m, "mask")
    return (address(m), code, tuple(shape), tuple(stride))


def option_array(values, name, dtype, count, what):
    """A small option array the library reads `count` values of, as a
    contiguous array of `dtype` (converted: these are a few numbers per
    head or batch, not tensors)."""
    if values is None:
        return None
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{name} must be a sequence of numbers, not {type(values).__name__}")
    arr = np.asarray(values)
    kinds = "iu" if np.dtype(dtype).kind in "iu" else "iuf"
    if arr.dtype.kind not in kinds and arr.size:
        kind = "integers" if kinds == "iu" else "numbers"
        raise TypeError(f"{name} must hold {kind}, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=dtype)
    if arr.ndim != 1 or arr.shape[0] != count:
        raise ValueError(
            f"{name} has shape {arr.shape}; it must hold one value per "
            f"{what}: ({count},)")
    return arr
