"""Designed 2-D landscapes realised by identity networks (review of issue 21).

f(t) = (1/m) sum_i (Q_i(t) - y_i)^2 with Q_i(t) = sum_j (alpha_j + beta_j . t)(gamma_j + delta_j . t): the loss of an
identity network d-h-1 without bias on the samples x_i = e_i (d = m inputs), where hidden unit j serves one sample i
only: W1[j, i] = gamma_j + delta_j . t, W2[0, j] = alpha_j + beta_j . t.  So any sum of squares of quadratics is a
network loss on a 2-D slice, and the grid truth is computed from the formula, independently of the package.
"""
from __future__ import annotations

import numpy as np

from bettibounds.spec import ArchitectureSpec


class QuadLandscape:
    """terms[i] = list of ((alpha, beta1, beta2), (gamma, delta1, delta2)) for sample i; y[i]."""

    def __init__(self, terms, y, l2=0.0):
        self.terms = [[(tuple(map(float, a)), tuple(map(float, g))) for a, g in ts] for ts in terms]
        self.y = [float(v) for v in y]
        self.m = len(terms)
        self.h = sum(len(ts) for ts in terms)
        self.l2 = l2
        self.spec = ArchitectureSpec(inputs=self.m, widths=(self.h,), outputs=1, activation="identity", loss="mse",
                                     samples=self.m, bias=False, l2=l2)
        P = self.h * self.m + self.h
        c0 = np.zeros(P)
        D = np.zeros((2, P))
        j = 0
        for i, ts in enumerate(self.terms):
            for (al, b1, b2), (ga, d1, d2) in ts:
                w = j * self.m + i  # W1[j, i]
                v = self.h * self.m + j  # W2[0, j]
                c0[w], D[0, w], D[1, w] = ga, d1, d2
                c0[v], D[0, v], D[1, v] = al, b1, b2
                j += 1
        self.center, self.D = c0, D
        self.x = np.eye(self.m).tolist()
        self.yy = [[v] for v in self.y]

    def Q(self, i, t1, t2):
        out = 0.0
        for (al, b1, b2), (ga, d1, d2) in self.terms[i]:
            out = out + (al + b1 * t1 + b2 * t2) * (ga + d1 * t1 + d2 * t2)
        return out

    def f(self, t1, t2):
        """float64 numpy evaluation from the formula (the grid's truth)."""
        s = 0.0
        for i in range(self.m):
            s = s + (self.Q(i, t1, t2) - self.y[i]) ** 2
        s = s / self.m
        if self.l2:
            th = self.center[:, None, None] + self.D[0][:, None, None] * t1 + self.D[1][:, None, None] * t2
            s = s + self.l2 * (th ** 2).sum(0)
        return s

    def experiment(self, low, high, levels, grid=(201, 201)):
        return {"network": {"layers": [self.m, self.h, 1], "activation": "identity", "bias": False},
                "loss": {"kind": "mse", "l2": self.l2},
                "data": {"x": self.x, "y": self.yy},
                "region": {"kind": "slice", "center": self.center.tolist(), "directions": self.D.tolist(),
                           "low": list(map(float, low)), "high": list(map(float, high))},
                "grid": list(grid), "levels": list(levels)}


def sq(a, g):
    """The product (a0 + a1 t1 + a2 t2)(g0 + g1 t1 + g2 t2)."""
    return (tuple(a), tuple(g))


T1, T2, ONE = (0, 1, 0), (0, 0, 1), (1, 0, 0)


def const(v):
    return (float(v), 0, 0)


def four_wells(a=1.0, b=1.0):
    """((t1^2 - a)^2 + (t2^2 - b)^2) / 2: 4 wells, saddles at a^2/2 and b^2/2, max (a^2+b^2)/2 at 0."""
    return QuadLandscape([[sq(T1, T1)], [sq(T2, T2)]], [a, b])


def ring(rho):
    """(t1^2 + t2^2 - rho^2)^2: a ring of radius rho; f(0) = rho^4 is the local max (a hole below it)."""
    return QuadLandscape([[sq(T1, T1), sq(T2, T2)]], [rho ** 2])


def valley(K=100.0):
    """((K (t2 - t1^2))^2 + (1 - t1)^2) / 2 (Rosenbrock): a thin curved valley, min 0 at (1, 1)."""
    return QuadLandscape([[sq((0, 0, K), ONE), sq((0, -K, 0), T1)], [sq(ONE, (1, -1, 0))]], [0.0, 0.0])


def parabola_band(a):
    """(t2 - t1^2 - a)^2: a band around a parabola whose vertex (0, a) nearly touches the line t2 = 0."""
    return QuadLandscape([[sq(T2, ONE), sq((0, -1, 0), T1)]], [a])


def disk(cx, cy):
    """((t1 - cx)^2 + (t2 - cy)^2)^2 ... as (Q - 0)^2 with Q = (t1 - cx)^2 + (t2 - cy)^2: X_c = disk radius c^(1/4)."""
    return QuadLandscape([[sq((-cx, 1, 0), (-cx, 1, 0)), sq((-cy, 0, 1), (-cy, 0, 1))]], [0.0])


def random_quads(rng, m=3, terms=2, scale=1.0):
    ts = []
    for i in range(m):
        ts.append([sq(rng.normal(size=3) * scale, rng.normal(size=3) * scale) for _ in range(terms)])
    return QuadLandscape(ts, rng.normal(size=m))
