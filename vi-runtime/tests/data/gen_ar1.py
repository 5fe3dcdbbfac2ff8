# Generates vi-runtime/tests/data/ar1_draws.csv and prints ArviZ's diagnostics of it.
# Run from vi-runtime/tests/data: python3 gen_ar1.py
import numpy as np, arviz as az, warnings
warnings.filterwarnings("ignore")
rng = np.random.default_rng(20261123)
C, N = 4, 500
def ar1(phi, offsets, scale):
    out = np.empty((C, N))
    for c in range(C):
        e = rng.normal(size=N)
        v = 0.0
        for t in range(N):
            v = phi * v + e[t]
            out[c, t] = v
        out[c] = offsets[c] + scale * out[c]
    return out
x = ar1(0.7, [0.0, 0.1, -0.1, 0.3], 1.0)
# y: strongly autocorrelated and rounded to 0.5 (ties), chains shifted apart (R-hat > 1.01)
y = np.round(2 * ar1(0.95, [0.0, 0.5, 1.0, -0.5], 1.0)) / 2
with open("ar1_draws.csv", "w") as f:
    f.write(",".join([f"x.{c+1}" for c in range(C)] + [f"y.{c+1}" for c in range(C)]) + "\n")
    for t in range(N):
        f.write(",".join(repr(float(v)) for v in list(x[:, t]) + list(y[:, t])) + "\n")
# Read back exactly what the file holds
d = np.loadtxt("ar1_draws.csv", delimiter=",", skiprows=1)
x = d[:, :4].T.copy(); y = d[:, 4:].T.copy()
print("arviz", az.__version__)
for name, a in [("x", x), ("y", y), ("x3x101", x[:3, :101])]:
    print(name,
          "rhat", repr(float(az.rhat(a))),
          "ess_bulk", repr(float(az.ess(a, method="bulk"))),
          "ess_tail", repr(float(az.ess(a, method="tail"))),
          "mcse", repr(float(az.mcse(a))),
          "ess_mean", repr(float(az.ess(a, method="mean"))))
