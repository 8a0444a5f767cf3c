"""fattn's Python API: attention, check, merge, split_heads, Pool, info."""

import contextlib
import threading

import numpy as np

from . import _fattn
from . import _tensors as T


class Error(ValueError):
    """A call the library refused: the message is the library's one line
    (naming the function, the tensor, the dimension and both values);
    `status` is the stable status name (e.g. "shape_mismatch") and `code`
    its number (fattn_status in fattn.h)."""

    def __init__(self, message, status, code):
        super().__init__(message)
        self.status = status
        self.code = code


def raise_if(err):
    """Raise fattn.Error for an (code, name, message) from the C layer."""
    if err is not None:
        code, status, message = err
        raise Error(message, status, code)


_CAUSAL = {None: _fattn.CAUSAL_NONE, "none": _fattn.CAUSAL_NONE,
           "top-left": _fattn.CAUSAL_TOP_LEFT,
           "bottom-right": _fattn.CAUSAL_BOTTOM_RIGHT}
_ALIGN = {None: _fattn.ALIGN_TOP_LEFT, "top-left": _fattn.ALIGN_TOP_LEFT,
          "bottom-right": _fattn.ALIGN_BOTTOM_RIGHT}
ISAS = {_fattn.isa_name(i): i for i in range(_fattn.ISA_COUNT)}


def _choice(table, value, name):
    if isinstance(value, bool):
        if name == "causal":
            raise ValueError(
                f"causal = {value}: say which diagonal, 'top-left' (PyTorch's "
                "is_causal) or 'bottom-right' (a KV cache: the last query sees "
                "the last key); they differ when seq_q != seq_k")
        raise TypeError(f"{name} = {value}: not a bool option")
    try:
        return table[value]
    except (KeyError, TypeError):
        names = ", ".join(repr(k) for k in table)
        raise ValueError(f"{name} = {value!r}: must be one of {names}") from None


def _positive(value, name, default):
    """scale and softcap: None is the default; 0 would silently mean the
    default (or off) in the C API, so it is refused here."""
    if value is None:
        return 0.0
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, not {type(value).__name__}") from None
    if f == 0.0:
        raise ValueError(f"{name} = {value}: must be finite and > 0 ({default})")
    return f


def _window(window):
    if window is None:
        return None
    try:
        left, right = window
    except (TypeError, ValueError):
        raise TypeError(
            f"window = {window!r}: must be (left, right), each an int >= 0 or "
            "None (unlimited); (W - 1, 0) with causal is a window of W keys") from None
    out = []
    for side, v in (("left", left), ("right", right)):
        if v is None:
            out.append(_fattn.WINDOW_UNLIMITED)
        elif isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            out.append(int(v))
        else:
            raise TypeError(f"window {side} = {v!r}: must be an int or None")
    return tuple(out)


class Pool:
    """A pool of `threads` threads (0 = every CPU this process may use) for
    attention calls and plans: pass it as pool=. The calling thread works
    too, so Pool(2) starts one thread. A context manager: leaving the block
    closes it (stops and joins the threads). Calls on one pool from several
    Python threads are run one after another, each on all of its threads."""

    def __init__(self, threads=0):
        if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)):
            raise TypeError(f"threads must be an int, not {type(threads).__name__}")
        capsule, err = _fattn.pool_create(int(threads))
        raise_if(err)
        self._capsule = capsule
        self._lock = threading.Lock()
        self._running = 0
        self._closed = False

    @property
    def threads(self):
        """Threads of the pool, the calling thread included (0 if closed)."""
        with self._lock:
            return 0 if self._closed else _fattn.pool_threads(self._capsule)

    @property
    def closed(self):
        return self._closed

    @contextlib.contextmanager
    def held(self):
        """The capsule, for the length of one call. A closed pool is an
        error, and close() waits for no one: it refuses while a call runs."""
        with self._lock:
            if self._closed:
                raise ValueError("the pool is closed")
            self._running += 1
        try:
            yield self._capsule
        finally:
            with self._lock:
                self._running -= 1

    def close(self):
        with self._lock:
            if self._running:
                raise RuntimeError(
                    f"Pool.close: {self._running} call(s) running on this pool")
            if not self._closed:
                self._closed = True
                _fattn.pool_close(self._capsule)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __repr__(self):
        state = "closed" if self._closed else f"threads={self.threads}"
        return f"fattn.Pool({state})"


class Call:
    """One call's arrays, descriptors and options, checked on the Python
    side; `args` is the argument tuple of the C layer."""

    def __init__(self, q, k, v, *, causal=None, scale=None, mask=None,
                 window=None, align=None, softcap=None, alibi_slopes=None,
                 q_lengths=None, kv_lengths=None, return_lse=False, out=None,
                 layout="bhsd", pool=None, isa="auto", out_dtype=None,
                 uint16_dtype=None):
        T.check_layout(layout)
        T.check_uint16_dtype(uint16_dtype)
        for name, a in (("q", q), ("k", k), ("v", v)):
            T.require_array(a, name)
        ndim = q.ndim
        if ndim not in (3, 4):
            raise ValueError(
                f"q must be 4-D [batch, heads, seq, head_dim] (layout "
                f"'{layout}' orders them {_order(layout)}) or 3-D without "
                f"batch, got {ndim}-D shape {q.shape}")
        codes = [T.dtype_code(a, n, uint16_dtype) for n, a in
                 (("q", q), ("k", k), ("v", v))]
        descs = [T.descriptor(a, n, c, layout, ndim) for n, a, c in
                 (("q", q, codes[0]), ("k", k, codes[1]), ("v", v, codes[2]))]

        # check() allocates too: np.empty's pages are never touched, so
        # the check costs no page faults, and a real array is the only
        # address that cannot overlap the inputs.
        if out is None:
            dtype, code = _out_dtype(q, codes[0], out_dtype, uint16_dtype)
            out = np.empty(q.shape[:-1] + v.shape[-1:], dtype=dtype)
        else:
            T.require_array(out, "out")
            if out_dtype is not None:
                raise ValueError("pass out= or out_dtype=, not both")
            T.require_writable(out)
            code = T.dtype_code(out, "out", uint16_dtype)
        descs.append(T.descriptor(out, "out", code, layout, ndim))

        lse, lse_desc = None, None
        if return_lse:
            lse = np.empty(q.shape[:-1], dtype=np.float32)
            lse_desc = T.descriptor(lse, "lse", _fattn.DTYPE_F32, layout,
                                    ndim, lse=True)

        hq, batch = descs[0][2][1], descs[0][2][0]
        self.slopes = T.option_array(alibi_slopes, "alibi_slopes", np.float32,
                                     hq, "query head")
        self.q_lengths = T.option_array(q_lengths, "q_lengths", np.int64,
                                        batch, "batch")
        self.kv_lengths = T.option_array(kv_lengths, "kv_lengths", np.int64,
                                         batch, "batch")
        mask_desc = None if mask is None else T.mask_descriptor(mask, uint16_dtype)

        if pool is not None and not isinstance(pool, Pool):
            raise TypeError(f"pool must be a fattn.Pool, not {type(pool).__name__}")
        if not isinstance(isa, str):
            raise TypeError(f"isa must be a str, not {type(isa).__name__}")
        isa_code = _choice(ISAS, isa, "isa")
        causal_code = _choice(_CAUSAL, causal, "causal")
        align_code = _choice(_ALIGN, align, "align")
        scale_f = _positive(scale, "scale", "None = 1/sqrt(head_dim)")
        softcap_f = _positive(softcap, "softcap", "None = no soft-capping")

        self.q, self.k, self.v, self.out, self.lse, self.mask = q, k, v, out, lse, mask
        self.layout, self.ndim, self.pool = layout, ndim, pool
        self.uint16_dtype = uint16_dtype
        self.descs = descs + [mask_desc, lse_desc]
        self.head = (descs[0], descs[1], descs[2], descs[3], mask_desc, lse_desc,
                     _addr(self.slopes), _addr(self.q_lengths),
                     _addr(self.kv_lengths), scale_f, causal_code,
                     _window(window), align_code, softcap_f, isa_code)

    def args(self, pool_capsule):
        return self.head + (pool_capsule,)

    def held_pool(self):
        """A context giving the pool's capsule (None without a pool)."""
        return self.pool.held() if self.pool is not None else \
            contextlib.nullcontext()

    def run(self, op):
        """The C layer's forward(op, ...), the pool held for the call."""
        with self.held_pool() as capsule:
            value, err = _fattn.forward(op, *self.args(capsule))
        raise_if(err)
        return value

    def result(self):
        return (self.out, self.lse) if self.lse is not None else self.out


def _order(layout):
    return "[batch, heads, seq, head_dim]" if layout == "bhsd" else \
        "[batch, seq, heads, head_dim]"


def _addr(arr):
    return None if arr is None else T.address(arr)


def _out_dtype(q, q_code, out_dtype, uint16_dtype):
    """The output's NumPy dtype and library code: the query's, or
    out_dtype ('float32', 'float16', 'bfloat16' or a NumPy dtype)."""
    if out_dtype is None:
        return q.dtype, q_code
    if out_dtype == "bfloat16":
        if T.BFLOAT16 is not None:
            return T.BFLOAT16, _fattn.DTYPE_BF16
        return np.dtype(np.uint16), _fattn.DTYPE_BF16
    try:
        dt = np.dtype(out_dtype)
    except TypeError:
        raise TypeError(f"out_dtype = {out_dtype!r}: not a dtype") from None
    probe = np.empty(0, dtype=dt)
    return dt, T.dtype_code(probe, "out_dtype", uint16_dtype)


_DOC_OPTIONS = """
    q, k, v: query [B, Hq, Sq, D], key [B, Hkv, Sk, D], value [B, Hkv, Sk, Dv]
        NumPy arrays (layout='bhsd'; 'bshd' is [B, S, H, D]; 3-D arrays have
        no batch dimension), of any strides, dtype float32, float16 or
        bfloat16 (ml_dtypes.bfloat16, or uint16 bits with uint16_dtype=),
        each its own. Hq must be a multiple of Hkv (GQA, MQA).
    causal: None, 'top-left' (PyTorch's is_causal) or 'bottom-right' (the
        last query sees the last key: a KV cache).
    scale: multiplies Q.K^T; None = 1/sqrt(D).
    mask: an array broadcastable NumPy-style to [B, Hq, Sq, Sk] in every
        layout: bool keeps a key where True (PyTorch's boolean attn_mask),
        a float mask is added to the scores (-inf removes a key).
    window: (left, right): row i sees keys pos(i) - left .. pos(i) + right;
        None on a side = unlimited. align: where pos(i) sits without causal
        masking ('top-left' or 'bottom-right'; with causal it follows it).
    softcap: logits become softcap * tanh(logits / softcap); None = off.
    alibi_slopes: Hq numbers; adds -slope * |pos(i) - j|.
    q_lengths, kv_lengths: B valid lengths; rows past q_lengths get 0.
    return_lse: also return the log-sum-exp per row, float32, shaped like
        q without its last dimension.
    out: the output array, written in place (no copy is ever made);
        otherwise one is allocated, of q's dtype or out_dtype.
    pool: a fattn.Pool to run on; isa: 'auto', 'scalar', 'avx2', 'avx512'
        or 'avx512bf16' (forcing a path this CPU lacks is an error).
    uint16_dtype: what uint16 arrays hold, 'bfloat16' or 'float16'.

    Errors: fattn.Error (a ValueError) with the library's message for
    everything the library checks; TypeError and ValueError for arguments
    that never reach it (not an array, an unknown option, float64 data,
    non-native byte order, byte strides that are not whole elements)."""


def attention(q, k, v, **options):
    c = Call(q, k, v, **options)
    c.run(0)
    return c.result()


def check(q, k, v, **options):
    c = Call(q, k, v, **options)
    c.run(1)


def workspace_size(q, k, v, **options):
    """Bytes of scratch memory the call would allocate (the C API's
    fattn_workspace_size), after the checks of check()."""
    c = Call(q, k, v, **options)
    return c.run(2)


attention.__doc__ = """O = softmax(scale * q @ k^T + mask) @ v per batch and
    head, computed in tiles without the Sq x Sk scores. Returns out, or
    (out, lse) with return_lse=True. The GIL is released while computing.
""" + _DOC_OPTIONS

check.__doc__ = """Validate attention(q, k, v, **options) without computing:
    raises exactly what attention would raise, else returns None.
""" + _DOC_OPTIONS


def merge(outs, lses, *, out=None, return_lse=False, layout="bhsd"):
    """Combine partial results of the same query rows over disjoint sets of
    keys (context parallelism, a shared prefix): outs[i] and lses[i] are an
    output and the LSE that attention(..., return_lse=True) gave for one
    set. Returns out, or (out, lse). float32 only."""
    T.check_layout(layout)
    outs, lses = list(outs), list(lses)
    if len(outs) != len(lses):
        raise ValueError(f"merge: {len(outs)} outputs but {len(lses)} lses")
    for i, a in enumerate(outs):
        T.require_array(a, f"outs[{i}]")
    for i, a in enumerate(lses):
        T.require_array(a, f"lses[{i}]")
    if out is None:
        if not outs:
            raise ValueError("merge: no parts, and no out= to take the shape from")
        out = np.empty(outs[0].shape, dtype=np.float32)
    T.require_array(out, "out")
    T.require_writable(out)
    ndim = out.ndim
    if ndim not in (3, 4):
        raise ValueError(f"out must be 3-D or 4-D, got {ndim}-D shape {out.shape}")
    lse = np.empty(out.shape[:-1], dtype=np.float32) if return_lse else None

    def desc(a, name, is_lse=False):
        return T.descriptor(a, name, T.dtype_code(a, name, None), layout, ndim,
                            lse=is_lse)

    args = ([desc(a, f"outs[{i}]") for i, a in enumerate(outs)],
            [desc(a, f"lses[{i}]", True) for i, a in enumerate(lses)],
            desc(out, "out"), None if lse is None else desc(lse, "lse", True))
    raise_if(_fattn.merge(*args))
    return (out, lse) if return_lse else out


def split_heads(x, num_heads):
    """View a packed [batch, seq, embed_dim] array (or [seq, embed_dim]) as
    [batch, num_heads, seq, embed_dim // num_heads] (or without batch), the
    order attention() takes by default; no copy. embed_dim must be a
    multiple of num_heads (fattn.Error otherwise, the library's message)."""
    T.require_array(x, "x")
    if isinstance(num_heads, bool) or not isinstance(num_heads, (int, np.integer)):
        raise TypeError(f"num_heads must be an int, not {type(num_heads).__name__}")
    if x.ndim not in (2, 3):
        raise ValueError(
            f"x must be [batch, seq, embed_dim] or [seq, embed_dim], got "
            f"{x.ndim}-D shape {x.shape}")
    batched = x.ndim == 3
    x3 = x if batched else x[np.newaxis]
    code = T.dtype_code(x3, "x", "bfloat16")
    batch, seq, embed = x3.shape
    value, err = _fattn.from_packed(T.address(x3), code, batch, seq, embed,
                                    int(num_heads), 0)
    raise_if(err)
    d = embed // int(num_heads)
    sb, ss, se = x3.strides
    view = np.lib.stride_tricks.as_strided(
        x3, shape=(batch, int(num_heads), seq, d),
        strides=(sb, d * se, ss, se), writeable=x.flags.writeable)
    return view if batched else view[0]


def info():
    """The library: version, the automatic path (or why it is unavailable),
    every path and whether this machine runs it, usable CPUs, and whether
    ml_dtypes (bf16 arrays) is there."""
    auto, err = _fattn.isa_auto()
    return {
        "version": _fattn.version(),
        "isa": auto,
        "isa_error": None if err is None else err[2],
        "isas": {name: bool(_fattn.isa_available(i))
                 for name, i in ISAS.items() if name != "auto"},
        "usable_cpus": _fattn.usable_cpus(),
        "ml_dtypes": T.BFLOAT16 is not None,
    }
