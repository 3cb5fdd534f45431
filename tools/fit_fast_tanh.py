"""Fit the rational tanh used by the C++ kernel (cpp/include/neuralfx/activations.hpp).

tanh(x) ~ x * P(x^2) / Q(x^2), P of degree 3 and Q of degree 4 in x^2 (a [7/8] rational),
on [0, clamp]; the kernel clamps its input to +-clamp, where float tanh is 1 within 2.7e-7.
Near-minimax by Lawson's iteration: weighted least squares on the linearised error
x P(y) - tanh(x) Q(y), reweighted by the error until the peaks level out. The printed
coefficients are pasted into activations.hpp; cpp/tests/test_activations.cpp checks the
float32 result against tanh in double.

    python tools/fit_fast_tanh.py
"""

import numpy as np

CLAMP = 7.90531110763549805  # largest float x with float32 tanh(x) < 1 by at most one ulp
P_DEGREE, Q_DEGREE = 3, 4


def fit(clamp: float = CLAMP, iterations: int = 200) -> tuple[float, np.ndarray, np.ndarray]:
    x = np.linspace(1e-5, clamp, 40000)
    y = x * x
    target = np.tanh(x)
    columns = [x * y**k for k in range(P_DEGREE + 1)] + [-target * y**k for k in range(1, Q_DEGREE + 1)]
    design = np.stack(columns, axis=1)
    weight = np.ones_like(x)
    q_values = np.ones_like(x)
    best = (np.inf, None, None)
    for _ in range(iterations):
        scale = np.sqrt(weight) / np.abs(q_values)
        solution, *_ = np.linalg.lstsq(design * scale[:, None], target * scale, rcond=None)
        p = solution[: P_DEGREE + 1]
        q = np.concatenate([[1.0], solution[P_DEGREE + 1 :]])
        q_values = np.polynomial.polynomial.polyval(y, q)
        error = x * np.polynomial.polynomial.polyval(y, p) / q_values - target
        worst = float(np.abs(error).max())
        if worst < best[0]:
            best = (worst, p, q)
        weight = weight * (np.abs(error) + 1e-30)
        weight /= weight.sum()
    return best


if __name__ == "__main__":
    worst, p, q = fit()
    print(f"max error of the fit in double: {worst:.3e} on [0, {CLAMP}]")
    print("P:", ", ".join(f"{v:.17g}" for v in p))
    print("Q:", ", ".join(f"{v:.17g}" for v in q))
