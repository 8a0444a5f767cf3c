#!/usr/bin/env python3
"""Fit the polynomial of vf_tanh's small-argument branch (simd/vec_math.h).

usage: fit_tanh.py [T] [DEGREE]      (defaults: 0.7 4)

tanh(a) = a + a^3 P(a^2) on [0, T], P of the given degree, minimising the
maximum relative error of tanh (not of P): a weighted minimax fit by
Lawson's iteration (iteratively reweighted least squares) on Chebyshev
nodes, in 40-digit arithmetic. Prints the error bound and P's coefficients,
lowest degree first. Needs mpmath (Debian: python3-mpmath).

The coefficients are rounded to float in the C source; the rounded
function is then measured by tests/kernel/test_simd_math.c.
"""
import sys

import mpmath as mp


def fit(T, degree, nodes=600, iterations=40):
    mp.mp.dps = 40
    ts = [T * T * (1 - mp.cos(mp.pi * (i + 0.5) / nodes)) / 2 for i in range(nodes)]

    def target(t):  # P(t) = (tanh(a) - a) / a^3, a = sqrt(t)
        a = mp.sqrt(t)
        return (mp.tanh(a) - a) / a ** 3

    def weight(t):  # turns an error in P into a relative error of tanh
        a = mp.sqrt(t)
        return a ** 3 / mp.tanh(a)

    gs = [target(t) for t in ts]
    ws = [weight(t) for t in ts]
    lawson = [mp.mpf(1)] * nodes
    best = None
    for _ in range(iterations):
        A = mp.matrix(nodes, degree + 1)
        b = mp.matrix(nodes, 1)
        for i, t in enumerate(ts):
            s = ws[i] * mp.sqrt(lawson[i])
            for k in range(degree + 1):
                A[i, k] = t ** k * s
            b[i] = gs[i] * s
        c, _ = mp.qr_solve(A, b)
        errs = [ws[i] * (sum(c[k] * ts[i] ** k for k in range(degree + 1)) - gs[i])
                for i in range(nodes)]
        worst = max(abs(e) for e in errs)
        if best is None or worst < best[0]:
            best = (worst, c)
        total = sum(lawson[i] * abs(errs[i]) for i in range(nodes))
        lawson = [lawson[i] * abs(errs[i]) / total * nodes + mp.mpf(10) ** -40
                  for i in range(nodes)]
    return best


def main():
    T = mp.mpf(sys.argv[1]) if len(sys.argv) > 1 else mp.mpf("0.7")
    degree = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    worst, c = fit(T, degree)
    print("max relative error of tanh on [0, %s]: %s" % (mp.nstr(T, 6), mp.nstr(worst, 4)))
    for k in range(degree + 1):
        print("c%d = %s" % (k, mp.nstr(c[k], 17)))


if __name__ == "__main__":
    main()
