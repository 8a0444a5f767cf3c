"""fattn: flash-style tiled attention for x86 CPUs, over NumPy arrays.

    import numpy as np, fattn
    q = np.random.rand(1, 8, 128, 64).astype(np.float32)   # [B, H, S, D]
    out = fattn.attention(q, q, q, causal="top-left")

Every error of the library raises fattn.Error (a ValueError) with its
one-line message, .status and .code. See help(fattn.attention).
"""

from ._api import (Error, Pool, attention, check, info, merge, split_heads,
                   workspace_size)
from ._plan import Plan
from ._fattn import version as _version

__version__ = _version()
__all__ = ["Error", "Plan", "Pool", "attention", "check", "info", "merge",
           "split_heads", "workspace_size"]
