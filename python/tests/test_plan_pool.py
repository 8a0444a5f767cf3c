"""Plans (validate once, run with new arrays), pools (threads the caller
asked for, more than the cores included) and the GIL."""

import threading

import numpy as np
import pytest

import fattn
from conftest import bound, normal, reference


def problem(rng, b=1, hq=8, hkv=2, sq=1, sk=700, d=64):
    return (normal(rng, (b, hq, sq, d)), normal(rng, (b, hkv, sk, d)),
            normal(rng, (b, hkv, sk, d)))


def test_plan_runs_new_arrays_bitwise_as_one_call(rng):
    q, k, v = problem(rng, sq=3)
    plan = fattn.Plan(q, k, v, causal="bottom-right")
    assert plan.isa in fattn.info()["isas"] and plan.kernel
    assert plan.work_items >= 1 and plan.tasks == 1 and plan.workspace_size > 0
    first = plan.run().copy()
    assert np.array_equal(first, fattn.attention(q, k, v, causal="bottom-right"))
    q2, k2, v2 = problem(rng, sq=3)
    out = np.empty_like(first)
    got = plan.run(q2, k2, v2, out=out)
    assert got is out
    assert np.array_equal(out, fattn.attention(q2, k2, v2, causal="bottom-right"))
    assert np.array_equal(plan.run(), first)  # the plan's own arrays again


def test_plan_with_lse_and_new_lengths(rng):
    q, k, v = problem(rng, b=2, sq=2, sk=300)
    plan = fattn.Plan(q, k, v, kv_lengths=[300, 300], return_lse=True)
    out, lse = plan.run(kv_lengths=[120, 7])
    want, want_lse = reference(q, k, v, kv_lengths=[120, 7])
    assert np.abs(out - want).max() <= bound(q, k, v)
    assert np.abs(lse - want_lse).max() <= 1e-5
    with pytest.raises(fattn.Error) as e:
        plan.run(kv_lengths=[301, 1])  # contents are re-checked every run
    assert e.value.status == "invalid_value"


def test_plan_refuses_arrays_described_otherwise(rng):
    q, k, v = problem(rng, sq=2)
    plan = fattn.Plan(q, k, v)
    with pytest.raises(ValueError, match="Plan.run: k is float32 .* but the plan "
                       "was made for float32"):
        plan.run(k=normal(rng, (1, 2, 701, 64)))
    with pytest.raises(ValueError, match="Plan.run: v is float16"):
        plan.run(v=v.astype(np.float16))
    wide = normal(rng, (1, 2, 700, 128))
    with pytest.raises(ValueError, match="strides"):
        plan.run(k=wide[..., :64])
    with pytest.raises(fattn.Error) as e:  # no mask at creation: options are fixed
        plan.run(mask=np.zeros((2, 700), np.float32))
    assert e.value.status == "incompatible_options"
    with pytest.raises(fattn.Error) as e:  # new memory is checked: overlap
        plan.run(out=q)
    assert e.value.status == "overlap" and "output" in str(e.value)


@pytest.mark.parametrize("threads", [1, 2, 3, 5])
def test_pool_results_are_the_same_bits_for_every_thread_count(rng, threads):
    q, k, v = problem(rng, b=2, hq=8, hkv=8, sq=70, sk=300, d=32)
    want = fattn.attention(q, k, v, causal="top-left")
    with fattn.Pool(threads) as pool:
        assert pool.threads == threads
        got = fattn.attention(q, k, v, causal="top-left", pool=pool)
        plan = fattn.Plan(q, k, v, causal="top-left", pool=pool)
        assert plan.tasks == threads
        planned = plan.run()
    assert np.array_equal(got, want) and np.array_equal(planned, want)
    assert pool.closed and pool.threads == 0


def test_decode_split_k_on_a_pool(rng):
    q, k, v = problem(rng, sq=1, sk=4096)
    want, _ = reference(q, k, v)
    with fattn.Pool(3) as pool:
        got = fattn.attention(q, k, v, pool=pool)
    assert np.abs(got - want).max() <= bound(q, k, v)
    assert np.array_equal(got, fattn.attention(q, k, v))


def test_closed_pool(rng):
    q, k, v = problem(rng)
    pool = fattn.Pool(2)
    plan = fattn.Plan(q, k, v, pool=pool)
    pool.close()
    pool.close()  # closing twice is fine
    with pytest.raises(ValueError, match="the pool is closed"):
        fattn.attention(q, k, v, pool=pool)
    with pytest.raises(ValueError, match="the pool is closed"):
        plan.run()


def test_one_plan_from_many_python_threads(rng):
    q, k, v = problem(rng, sq=4, sk=2000)
    plan = fattn.Plan(q, k, v)
    inputs = [problem(rng, sq=4, sk=2000) for _ in range(6)]
    outs = [np.empty((1, 8, 4, 64), np.float32) for _ in inputs]
    workers = [threading.Thread(target=plan.run, args=inp, kwargs={"out": o})
               for inp, o in zip(inputs, outs)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    for inp, o in zip(inputs, outs):
        assert np.array_equal(o, fattn.attention(*inp))


def test_the_gil_is_released_while_computing(rng):
    """Another Python thread runs during a call: with the GIL held it could
    not run at all between entering and leaving the C call."""
    q, k, v = problem(rng, b=1, hq=8, hkv=8, sq=512, sk=512, d=64)
    counter = [0]
    done = threading.Event()

    def spin():
        while not done.is_set():
            counter[0] += 1

    spinner = threading.Thread(target=spin)
    spinner.start()
    try:
        progress = 0
        for _ in range(5):  # a scheduler may starve the spinner once
            before = counter[0]
            fattn.attention(q, k, v, isa="scalar")
            progress = counter[0] - before
            if progress > 0:
                break
    finally:
        done.set()
        spinner.join()
    assert progress > 0


def test_pool_argument_errors():
    with pytest.raises(TypeError, match="threads must be an int"):
        fattn.Pool(2.0)
    with pytest.raises(fattn.Error) as e:
        fattn.Pool(-1)
    assert e.value.status == "invalid_value" and "-1" in str(e.value)
