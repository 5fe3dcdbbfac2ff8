import numpy as np, mpmath as mp
from scipy import stats as st, special as sp
mp.mp.dps = 50
def I(a, b, x): return mp.betainc(a, b, 0, x, regularized=True)
def Ic(a, b, x): return mp.betainc(a, b, x, 1, regularized=True)
print("# inc beta: a, b, x, lnI, ln(1-I), dlnI/da, dlnI/db  (mpmath 50 digits) ; scipy betainc check")
for a, b, x in [(2, 3, 0.4), (0.5, 0.7, 1e-6), (200, 300, 0.45), (5, 0.5, 0.999), (1000, 2, 0.9995), (0.01, 5, 0.3), (30, 40, 0.9)]:
    a, b, x = mp.mpf(a), mp.mpf(b), mp.mpf(x)
    lp = mp.log(I(a, b, x)); lq = mp.log(Ic(a, b, x))
    da = mp.diff(lambda t: mp.log(I(t, b, x)), a); db = mp.diff(lambda t: mp.log(I(a, t, x)), b)
    dqa = mp.diff(lambda t: mp.log(Ic(t, b, x)), a); dqb = mp.diff(lambda t: mp.log(Ic(a, t, x)), b)
    print(f"    ({float(a)!r}, {float(b)!r}, {float(x)!r}, {float(lp)!r}, {float(lq)!r}, {float(da)!r}, {float(db)!r}, {float(dqa)!r}, {float(dqb)!r}),",
          "scipy", repr(float(np.log(sp.betainc(float(a), float(b), float(x))))), repr(float(np.log(sp.betaincc(float(a), float(b), float(x))))))

def row(mod, params, y, lc, ls, note=""):
    print(f'    ("{mod}", &{list(map(float, params))}, {float(y)!r}, {float(lc)!r}, {float(ls)!r}), // {note}')
def cmp(mod, params, y, d, mpc, mps, expr):
    lc, ls = d.logcdf(y), d.logsf(y)
    mc, ms = float(mpc), float(mps)
    ok = lambda s, m: (s == m) or abs(s - m) <= 1e-12 * abs(m) or (m == 0 and abs(s) < 1e-16)
    if ok(lc, mc) and ok(ls, ms):
        row(mod, params, y, lc, ls, f"{expr}.logcdf({y}), .logsf({y}) (scipy 1.17.1)")
    else:
        row(mod, params, y, mc, ms, f"mpmath 1.3.0 (50 digits); scipy 1.17.1's {expr}.logcdf/.logsf give {lc!r}, {ls!r}")

print("# student t")
for (nu, mu, s), ys in [((3, 1, 2), [-1e4, -1, 1, 1.5, 50, 1e6]), ((0.7, 0, 1), [-100, 2]), ((300, 0, 1), [-8, 0.5])]:
    for y in ys:
        z = (mp.mpf(y) - mu) / s
        nu_ = mp.mpf(nu)
        F = lambda zz: (mp.mpf(1)/2 * I(nu_/2, mp.mpf(1)/2, nu_/(nu_+zz*zz))) if zz < 0 else (1 - mp.mpf(1)/2 * I(nu_/2, mp.mpf(1)/2, nu_/(nu_+zz*zz)))
        mc = mp.log(F(z)); ms = mp.log(F(-z))
        cmp("student_t", (nu, mu, s), y, st.t(nu, mu, s), mc, ms, f"st.t({nu}, {mu}, {s})")
print("# half student t: P(Y > y) = 2 P(T > y / sigma)")
for (nu, s), ys in [((3, 2), [1e-8, 1, 1e5]), ((1.5, 0.5), [0.2, 30])]:
    for y in ys:
        lsf = np.log(2) + st.t(nu).logsf(y / s); lcdf = np.log1p(-np.exp(lsf))
        z = mp.mpf(y)/s; nu_ = mp.mpf(nu)
        ms = mp.log(I(nu_/2, mp.mpf(1)/2, nu_/(nu_+z*z))); mc = mp.log(Ic(nu_/2, mp.mpf(1)/2, nu_/(nu_+z*z)))
        row("half_student_t", (nu, s), y, mc, ms, f"mpmath: log(betainc(nu/2, 1/2, 0|1, nu/(nu+z^2))); scipy np.log(2) + st.t({nu}).logsf({y}/{s}) = {lsf!r}")
print("# beta")
for (a, b), ys in [((2, 3), [1e-10, 0.4, 0.999999]), ((0.5, 0.7), [1e-12, 0.5, 1 - 1e-9]), ((200, 300), [0.3, 0.4, 0.5])]:
    for y in ys:
        cmp("beta", (a, b), y, st.beta(a, b), mp.log(I(a, b, mp.mpf(y))), mp.log(Ic(a, b, mp.mpf(y))), f"st.beta({a}, {b})")
def binom_mp(n, p, k):
    n = int(n); k = int(k)
    pm = lambda j: mp.binomial(n, j) * mp.mpf(p)**j * (1 - mp.mpf(p))**(n - j)
    return mp.log(mp.fsum(pm(j) for j in range(0, k + 1))), mp.log(mp.fsum(pm(j) for j in range(k + 1, n + 1)))
print("# binomial")
for (n, p), ks in [((10, 0.3), [0, 3, 9]), ((1000, 0.01), [0, 10, 60]), ((50, 0.999), [30, 49])]:
    for k in ks:
        mc, ms = binom_mp(n, p, k)
        cmp("binomial", (n, p), k, st.binom(n, p), mc, ms, f"st.binom({n}, {p})")
print("# binomial_logit")
for (n, al), ks in [((20, -1.0), [0, 5, 19])]:
    for k in ks:
        p = 1/(1+mp.e**(-mp.mpf(al)))
        mc, ms = binom_mp(n, p, k)
        cmp("binomial_logit", (n, al), k, st.binom(n, float(p)), mc, ms, f"st.binom({n}, expit({al}))")
def nb_mp(mu, phi, k):
    mu = mp.mpf(mu); phi = mp.mpf(phi); p = phi / (mu + phi)
    return mp.log(I(phi, k + 1, p)), mp.log(Ic(phi, k + 1, p))
print("# neg_binomial_2")
for (mu, phi), ks in [((4, 2.5), [0, 3, 60]), ((1000, 0.5), [2, 1000, 50000]), ((0.01, 100), [0, 3])]:
    for k in ks:
        mc, ms = nb_mp(mu, phi, k)
        cmp("neg_binomial_2", (mu, phi), k, st.nbinom(phi, phi / (mu + phi)), mc, ms, f"st.nbinom({phi}, {phi}/({mu}+{phi}))")
print("# neg_binomial_2_log")
for (eta, phi), ks in [((np.log(4.0), 2.5), [0, 3, 60]), ((-20.0, 3.0), [0, 1]), ((8.0, 1.5), [10, 2000])]:
    for k in ks:
        mc, ms = nb_mp(mp.e**mp.mpf(eta), phi, k)
        mu = np.exp(eta)
        cmp("neg_binomial_2_log", (eta, phi), k, st.nbinom(phi, phi / (mu + phi)), mc, ms, f"st.nbinom({phi}, {phi}/(exp({eta})+{phi}))")
def bb_mp(n, a, b, k):
    a = mp.mpf(a); b = mp.mpf(b)
    pm = lambda j: mp.binomial(n, j) * mp.beta(j + a, n - j + b) / mp.beta(a, b)
    return mp.log(mp.fsum(pm(j) for j in range(0, k + 1))), mp.log(mp.fsum(pm(j) for j in range(k + 1, n + 1)))
print("# beta_binomial")
for (n, a, b), ks in [((10, 2, 3), [0, 4, 9]), ((1000, 50, 80), [300, 400, 500]), ((200, 0.5, 0.7), [0, 199])]:
    for k in ks:
        mc, ms = bb_mp(n, a, b, k)
        cmp("beta_binomial", (n, a, b), k, st.betabinom(n, a, b), mc, ms, f"st.betabinom({n}, {a}, {b})")
