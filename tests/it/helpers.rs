//! Shared helpers of the macro's model tests: reference log densities written independently
//! of the runtime (from the distributions' textbook formulas), constraint transforms by hand,
//! and the check every model goes through.

#![allow(dead_code)]

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vi::Model;
use vi_runtime::check::gradient_mismatch;

const LN_2PI: f64 = 1.837_877_066_409_345_5;

pub fn lgamma(x: f64) -> f64 {
    libm::lgamma(x)
}
pub fn normal(y: f64, m: f64, s: f64) -> f64 {
    let z = (y - m) / s;
    -0.5 * z * z - s.ln() - 0.5 * LN_2PI
}
pub fn half_normal(y: f64, s: f64) -> f64 {
    std::f64::consts::LN_2 + normal(y, 0.0, s)
}
pub fn log_normal(y: f64, m: f64, s: f64) -> f64 {
    normal(y.ln(), m, s) - y.ln()
}
pub fn student_t(y: f64, nu: f64, m: f64, s: f64) -> f64 {
    let z = (y - m) / s;
    lgamma((nu + 1.0) / 2.0)
        - lgamma(nu / 2.0)
        - 0.5 * (nu * std::f64::consts::PI).ln()
        - s.ln()
        - (nu + 1.0) / 2.0 * (1.0 + z * z / nu).ln()
}
pub fn half_student_t(y: f64, nu: f64, s: f64) -> f64 {
    std::f64::consts::LN_2 + student_t(y, nu, 0.0, s)
}
pub fn cauchy(y: f64, m: f64, s: f64) -> f64 {
    let z = (y - m) / s;
    -std::f64::consts::PI.ln() - s.ln() - (1.0 + z * z).ln()
}
pub fn half_cauchy(y: f64, s: f64) -> f64 {
    std::f64::consts::LN_2 + cauchy(y, 0.0, s)
}
pub fn laplace(y: f64, m: f64, b: f64) -> f64 {
    -(2.0 * b).ln() - (y - m).abs() / b
}
pub fn exponential(y: f64, r: f64) -> f64 {
    r.ln() - r * y
}
pub fn gamma(y: f64, a: f64, b: f64) -> f64 {
    a * b.ln() - lgamma(a) + (a - 1.0) * y.ln() - b * y
}
pub fn inverse_gamma(y: f64, a: f64, b: f64) -> f64 {
    a * b.ln() - lgamma(a) - (a + 1.0) * y.ln() - b / y
}
pub fn beta(y: f64, a: f64, b: f64) -> f64 {
    lgamma(a + b) - lgamma(a) - lgamma(b) + (a - 1.0) * y.ln() + (b - 1.0) * (1.0 - y).ln()
}
pub fn uniform(y: f64, l: f64, u: f64) -> f64 {
    if y > l && y < u {
        -(u - l).ln()
    } else {
        f64::NEG_INFINITY
    }
}
pub fn bernoulli(y: f64, p: f64) -> f64 {
    y * p.ln() + (1.0 - y) * (1.0 - p).ln()
}
pub fn bernoulli_logit(y: f64, a: f64) -> f64 {
    y * a - (1.0 + a.exp()).ln()
}
fn lchoose(n: f64, k: f64) -> f64 {
    lgamma(n + 1.0) - lgamma(k + 1.0) - lgamma(n - k + 1.0)
}
pub fn binomial(y: f64, n: f64, p: f64) -> f64 {
    lchoose(n, y) + y * p.ln() + (n - y) * (1.0 - p).ln()
}
pub fn binomial_logit(y: f64, n: f64, a: f64) -> f64 {
    let p = 1.0 / (1.0 + (-a).exp());
    binomial(y, n, p)
}
pub fn poisson(y: f64, l: f64) -> f64 {
    y * l.ln() - l - lgamma(y + 1.0)
}
pub fn poisson_log(y: f64, a: f64) -> f64 {
    y * a - a.exp() - lgamma(y + 1.0)
}
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Reads constrained values from theta by hand, adding log-Jacobians.
pub struct Reader<'a> {
    theta: &'a [f64],
    pos: usize,
    pub jac: f64,
}

impl<'a> Reader<'a> {
    pub fn new(theta: &'a [f64]) -> Self {
        Reader {
            theta,
            pos: 0,
            jac: 0.0,
        }
    }
    fn next(&mut self) -> f64 {
        self.pos += 1;
        self.theta[self.pos - 1]
    }
    pub fn real(&mut self) -> f64 {
        self.next()
    }
    pub fn reals(&mut self, n: usize) -> Vec<f64> {
        (0..n).map(|_| self.real()).collect()
    }
    /// (0, inf) by exp; log-Jacobian y.
    pub fn positive(&mut self) -> f64 {
        let y = self.next();
        self.jac += y;
        y.exp()
    }
    /// (a, b) by a scaled logistic; log-Jacobian ln((b - a) s (1 - s)).
    pub fn interval(&mut self, a: f64, b: f64) -> f64 {
        let y = self.next();
        let s = sigmoid(y);
        self.jac += ((b - a) * s * (1.0 - s)).ln();
        a + (b - a) * s
    }
    pub fn unit(&mut self) -> f64 {
        self.interval(0.0, 1.0)
    }
    pub fn done(&self) {
        assert_eq!(
            self.pos,
            self.theta.len(),
            "reference read a different number of parameters"
        );
    }
}

/// Relative closeness for log densities.
pub fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

/// The check every model goes through: at three seeded points in `(-r, r)^d`, with and without
/// the Jacobian, the log density equals `reference` (1e-10 relative), `log_density_grad_jac`
/// returns the same value, and its gradient equals central finite differences (1e-6).
pub fn check_model<M: Model>(m: &M, r: f64, seed: u64, reference: impl Fn(&[f64], bool) -> f64) {
    let d = m.dim();
    let mut rng = StdRng::seed_from_u64(seed);
    for _ in 0..3 {
        let th: Vec<f64> = (0..d).map(|_| rng.random_range(-r..r)).collect();
        for jac in [true, false] {
            let want = reference(&th, jac);
            assert!(want.is_finite(), "reference not finite at {th:?}");
            let got = m.log_density_jac(&th, jac);
            assert!(
                close(got, want, 1e-10),
                "log density {got} vs reference {want} (jacobian {jac}) at {th:?}"
            );
            let mut g = vec![0.0; d];
            let lp = m.log_density_grad_jac(&th, &mut g, jac);
            assert!(
                close(lp, want, 1e-10),
                "gradient call's value {lp} vs {want}"
            );
            let f = |t: &[f64]| m.log_density_jac(t, jac);
            assert_eq!(
                gradient_mismatch(f, &g, &th, 1e-6),
                None,
                "(index, compiled, finite difference), jacobian {jac}, at {th:?}"
            );
        }
        // The per-statement terms add up to the density.
        let terms: f64 = m.log_density_terms(&th).iter().map(|t| t.1).sum();
        assert!(close(terms, m.log_density(&th), 1e-10));
    }
}

/// Deterministic pseudo-random numbers in [0, 1).
pub fn unif(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64
        })
        .collect()
}
