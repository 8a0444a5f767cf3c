"""fattn.Plan: validate once, run many times with new arrays."""

from . import _fattn
from . import _tensors as T
from ._api import Call, raise_if


class Plan:
    """A validated attention call, for repeated calls of one shape:
    Plan(q, k, v, **options) takes attention()'s arguments and checks them
    once; plan.run() computes, on the arrays of creation or on new arrays of
    the same shape, dtype and strides (new data, same description: what a
    serving loop does every step). Only the cheap checks of new memory run
    again (alignment, overlap, lengths and slopes values).

    The plan holds its arrays, out and the LSE included (allocated at
    creation when not given): run() returns the plan's out unless given
    out=, so the next run overwrites it. Any number of threads may run one
    plan at once, each with its own out=. With pool=, the pool must stay
    open while the plan is used."""

    def __init__(self, q, k, v, **options):
        call = Call(q, k, v, **options)
        with call.held_pool() as capsule:
            plan, err = _fattn.plan_create(*call.args(capsule))
        raise_if(err)
        self._call = call
        self._plan = plan
        (self.isa, self.kernel, self.work_items, self.tasks,
         self.workspace_size) = _fattn.plan_info(plan)

    @property
    def out(self):
        """The plan's own output array."""
        return self._call.out

    @property
    def lse(self):
        """The plan's own LSE array (None without return_lse)."""
        return self._call.lse

    def _bind(self, a, name, index, made):
        """The address of a new array, which must be described exactly as
        the plan's: the library trusts the plan's shape and strides."""
        c = self._call
        T.require_array(a, name)
        if index == 4:
            d = T.mask_descriptor(a, c.uint16_dtype)
        else:
            d = T.descriptor(a, name, T.dtype_code(a, name, c.uint16_dtype),
                             c.layout, c.ndim)
        want = c.descs[index]
        if want is not None and d[1:] != want[1:]:
            raise ValueError(
                f"Plan.run: {name} is {_describe(a)} but the plan was made "
                f"for {_describe(made)}: a plan runs one shape, dtype and "
                "strides (make another plan for another)")
        return d[0]

    def run(self, q=None, k=None, v=None, *, out=None, mask=None,
            alibi_slopes=None, q_lengths=None, kv_lengths=None):
        """Compute; arrays left None are the plan's. Returns out (or
        (out, lse) for a plan with return_lse)."""
        c = self._call
        addrs = []
        for name, a, index, made in (("q", q, 0, c.q), ("k", k, 1, c.k),
                                     ("v", v, 2, c.v), ("out", out, 3, c.out)):
            addrs.append(None if a is None else self._bind(a, name, index, made))
        if out is not None:
            T.require_writable(out)
        mask_addr = None if mask is None else self._bind(mask, "mask", 4, c.mask)
        hq, batch = c.descs[0][2][1], c.descs[0][2][0]
        keep = [T.option_array(alibi_slopes, "alibi_slopes", "float32", hq,
                               "query head"),
                T.option_array(q_lengths, "q_lengths", "int64", batch, "batch"),
                T.option_array(kv_lengths, "kv_lengths", "int64", batch, "batch")]
        opts = [None if a is None else T.address(a) for a in keep]
        with c.held_pool():  # close() refuses while the run uses the pool
            err = _fattn.plan_run(self._plan, *addrs[:4], None, mask_addr, *opts)
        raise_if(err)
        o = c.out if out is None else out
        return (o, c.lse) if c.lse is not None else o

    def __repr__(self):
        return (f"fattn.Plan(kernel={self.kernel!r}, isa={self.isa!r}, "
                f"work_items={self.work_items}, tasks={self.tasks})")


def _describe(a):
    return f"{a.dtype} {a.shape} strides {a.strides}"
