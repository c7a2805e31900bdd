"""The loops kernel (loops4_approx: 4 x over k too) with the second layer unrolled 4 x over j (inputs) and 2 x over k
(outputs): 4 a1 loads + 2 z2 loads + 2 z2 stores per 8 FMAs instead of 2 loads + 1 store
per FMA. Needs h1 % 4 == 0 and h2 % 2 == 0."""
import numpy as np
from numba import njit, prange

import math

from tanh32 import FM, tanh_f32


@njit(fastmath=FM, inline="always", cache=True)
def _tanh_exp(x):
    return 1.0 - 2.0 / (math.exp(2.0 * x) + 1.0)



@njit(parallel=True, fastmath=FM, cache=True)
def loops2_approx(S, T, A, B, C, W2, b2, w3, b3, y, out, chunk):
    N = S.shape[0]
    h1, m = A.shape
    h2 = W2.shape[1]
    nch = (N + chunk - 1) // chunk
    for c in prange(nch):
        W = np.empty((h2, h1), A.dtype)
        bb = np.empty(h2, A.dtype)
        ww = np.empty(h2, A.dtype)
        a1 = np.empty((h1, m), A.dtype)
        z2 = np.empty((h2, m), A.dtype)
        u = np.empty(m, A.dtype)
        hi = min(N, (c + 1) * chunk)
        for p in range(c * chunk, hi):
            s = S[p]
            t = T[p]
            for k in range(h2):
                for j in range(h1):
                    W[k, j] = W2[0, k, j] + s * W2[1, k, j] + t * W2[2, k, j]
                bb[k] = b2[0, k] + s * b2[1, k] + t * b2[2, k]
                ww[k] = w3[0, k] + s * w3[1, k] + t * w3[2, k]
            bo = b3[0] + s * b3[1] + t * b3[2]
            for j in range(h1):
                for i in range(m):
                    a1[j, i] = tanh_f32(A[j, i] + s * B[j, i] + t * C[j, i])
            for k in range(0, h2, 2):
                b0 = bb[k]
                b1 = bb[k + 1]
                for i in range(m):
                    z2[k, i] = b0
                    z2[k + 1, i] = b1
                for j in range(0, h1, 4):
                    p0 = W[k, j]; p1 = W[k, j + 1]; p2 = W[k, j + 2]; p3 = W[k, j + 3]  # noqa: E702
                    q0 = W[k + 1, j]; q1 = W[k + 1, j + 1]; q2 = W[k + 1, j + 2]; q3 = W[k + 1, j + 3]  # noqa: E702
                    for i in range(m):
                        x0 = a1[j, i]
                        x1 = a1[j + 1, i]
                        x2 = a1[j + 2, i]
                        x3 = a1[j + 3, i]
                        z2[k, i] += p0 * x0 + p1 * x1 + p2 * x2 + p3 * x3
                        z2[k + 1, i] += q0 * x0 + q1 * x1 + q2 * x2 + q3 * x3
            for i in range(m):
                u[i] = bo
            for k in range(h2):
                w = ww[k]
                for i in range(m):
                    u[i] += w * tanh_f32(z2[k, i])
            acc = 0.0
            for i in range(m):
                e = np.float64(u[i] - y[i])
                acc += e * e
            out[p] = acc / m


@njit(parallel=True, fastmath=FM, cache=True)
def loops4_approx(S, T, A, B, C, W2, b2, w3, b3, y, out, chunk):
    N = S.shape[0]
    h1, m = A.shape
    h2 = W2.shape[1]
    nch = (N + chunk - 1) // chunk
    for c in prange(nch):
        W = np.empty((h2, h1), A.dtype)
        bb = np.empty(h2, A.dtype)
        ww = np.empty(h2, A.dtype)
        a1 = np.empty((h1, m), A.dtype)
        z2 = np.empty((h2, m), A.dtype)
        u = np.empty(m, A.dtype)
        hi = min(N, (c + 1) * chunk)
        for p in range(c * chunk, hi):
            s = S[p]
            t = T[p]
            for k in range(h2):
                for j in range(h1):
                    W[k, j] = W2[0, k, j] + s * W2[1, k, j] + t * W2[2, k, j]
                bb[k] = b2[0, k] + s * b2[1, k] + t * b2[2, k]
                ww[k] = w3[0, k] + s * w3[1, k] + t * w3[2, k]
            bo = b3[0] + s * b3[1] + t * b3[2]
            for j in range(h1):
                for i in range(m):
                    a1[j, i] = tanh_f32(A[j, i] + s * B[j, i] + t * C[j, i])
            for k in range(0, h2, 4):
                b0 = bb[k]
                b1 = bb[k + 1]
                b2_ = bb[k + 2]
                b3_ = bb[k + 3]
                for i in range(m):
                    z2[k, i] = b0
                    z2[k + 1, i] = b1
                    z2[k + 2, i] = b2_
                    z2[k + 3, i] = b3_
                for j in range(0, h1, 4):
                    p0 = W[k, j]; p1 = W[k, j + 1]; p2 = W[k, j + 2]; p3 = W[k, j + 3]  # noqa: E702
                    q0 = W[k + 1, j]; q1 = W[k + 1, j + 1]; q2 = W[k + 1, j + 2]; q3 = W[k + 1, j + 3]  # noqa: E702
                    r0 = W[k + 2, j]; r1 = W[k + 2, j + 1]; r2 = W[k + 2, j + 2]; r3 = W[k + 2, j + 3]  # noqa: E702
                    v0 = W[k + 3, j]; v1 = W[k + 3, j + 1]; v2 = W[k + 3, j + 2]; v3 = W[k + 3, j + 3]  # noqa: E702
                    for i in range(m):
                        x0 = a1[j, i]
                        x1 = a1[j + 1, i]
                        x2 = a1[j + 2, i]
                        x3 = a1[j + 3, i]
                        z2[k, i] += p0 * x0 + p1 * x1 + p2 * x2 + p3 * x3
                        z2[k + 1, i] += q0 * x0 + q1 * x1 + q2 * x2 + q3 * x3
                        z2[k + 2, i] += r0 * x0 + r1 * x1 + r2 * x2 + r3 * x3
                        z2[k + 3, i] += v0 * x0 + v1 * x1 + v2 * x2 + v3 * x3
            for i in range(m):
                u[i] = bo
            for k in range(h2):
                w = ww[k]
                for i in range(m):
                    u[i] += w * tanh_f32(z2[k, i])
            acc = 0.0
            for i in range(m):
                e = np.float64(u[i] - y[i])
                acc += e * e
            out[p] = acc / m


@njit(parallel=True, fastmath=FM, cache=True)
def loops2_exp(S, T, A, B, C, W2, b2, w3, b3, y, out, chunk):
    N = S.shape[0]
    h1, m = A.shape
    h2 = W2.shape[1]
    nch = (N + chunk - 1) // chunk
    for c in prange(nch):
        W = np.empty((h2, h1), A.dtype)
        bb = np.empty(h2, A.dtype)
        ww = np.empty(h2, A.dtype)
        a1 = np.empty((h1, m), A.dtype)
        z2 = np.empty((h2, m), A.dtype)
        u = np.empty(m, A.dtype)
        hi = min(N, (c + 1) * chunk)
        for p in range(c * chunk, hi):
            s = S[p]
            t = T[p]
            for k in range(h2):
                for j in range(h1):
                    W[k, j] = W2[0, k, j] + s * W2[1, k, j] + t * W2[2, k, j]
                bb[k] = b2[0, k] + s * b2[1, k] + t * b2[2, k]
                ww[k] = w3[0, k] + s * w3[1, k] + t * w3[2, k]
            bo = b3[0] + s * b3[1] + t * b3[2]
            for j in range(h1):
                for i in range(m):
                    a1[j, i] = _tanh_exp(A[j, i] + s * B[j, i] + t * C[j, i])
            for k in range(0, h2, 2):
                b0 = bb[k]
                b1 = bb[k + 1]
                for i in range(m):
                    z2[k, i] = b0
                    z2[k + 1, i] = b1
                for j in range(0, h1, 4):
                    p0 = W[k, j]; p1 = W[k, j + 1]; p2 = W[k, j + 2]; p3 = W[k, j + 3]  # noqa: E702
                    q0 = W[k + 1, j]; q1 = W[k + 1, j + 1]; q2 = W[k + 1, j + 2]; q3 = W[k + 1, j + 3]  # noqa: E702
                    for i in range(m):
                        x0 = a1[j, i]
                        x1 = a1[j + 1, i]
                        x2 = a1[j + 2, i]
                        x3 = a1[j + 3, i]
                        z2[k, i] += p0 * x0 + p1 * x1 + p2 * x2 + p3 * x3
                        z2[k + 1, i] += q0 * x0 + q1 * x1 + q2 * x2 + q3 * x3
            for i in range(m):
                u[i] = bo
            for k in range(h2):
                w = ww[k]
                for i in range(m):
                    u[i] += w * _tanh_exp(z2[k, i])
            acc = 0.0
            for i in range(m):
                e = np.float64(u[i] - y[i])
                acc += e * e
            out[p] = acc / m
