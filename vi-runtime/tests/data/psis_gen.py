# Regenerates the PSIS reference data and prints ArviZ's k-hat for each file.
# python3 psis_gen.py  (numpy 2.4.6, arviz 0.23.4)
import numpy as np
import arviz as az

rng = np.random.default_rng(20261123)
cases = {
    "psis_t3.txt": rng.standard_t(df=3, size=1000),
    "psis_normal.txt": rng.normal(size=1000),
    "psis_exp2.txt": rng.exponential(size=1000) * 2.0,
    "psis_normal_half.txt": rng.normal(size=1000) * 0.5,
}
for name, a in cases.items():
    np.savetxt(name, a, fmt="%.17g")
    b = np.loadtxt(name)
    lw, k = az.psislw(b.copy())
    print(name, repr(float(k)), repr(float(lw[0])), repr(float(lw[1])), repr(float(lw.max())))
