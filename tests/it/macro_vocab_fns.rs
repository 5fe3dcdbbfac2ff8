//! Issue 17's vocabulary in `model!`: Stan's functions on a latent's path (and on data),
//! `Dist(..).lpdf(x)` / `.lcdf(x)` / `.lccdf(x)` as expressions, and the new scalar
//! distributions as priors and observations. Densities against formulas written here
//! (with `libm` and the textbook densities of `support`; digamma and Phi from
//! `vi::math::special`, which the runtime's tests pin to scipy), gradients against central
//! finite differences (`check_model`), posteriors against quadrature, conjugate closed forms
//! and our own NUTS.

use crate::support::*;
use nalgebra::{DMatrix, DVector};
use vi::math::special as sp;
use vi::prelude::*;

fn sq(x: f64) -> f64 {
    x * x
}

fn phi(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

fn lse(a: f64, b: f64) -> f64 {
    let m = a.max(b);
    m + ((a - m).exp() + (b - m).exp()).ln()
}

fn lbeta(a: f64, b: f64) -> f64 {
    lgamma(a) + lgamma(b) - lgamma(a + b)
}

model! {
    /// Every scalar function of issue 17 on a latent's path, as a function and as a method.
    fn scalar_fns(y: f64) {
        let a ~ Normal(0.0, 1.0);
        let b ~ Gamma(2.0, 2.0);
        let u ~ Beta(2.0, 2.0);
        target += log_sum_exp(a, y) + log_mix(u, a, -b) + log_diff_exp(b + 1.0, b.ln());
        target += log1m(u) + u.log1m() + log1m_exp(-b) + log1p_exp(a) + a.log1p_exp();
        target += logit(u) + inv_logit(a) + a.inv_logit() + sigmoid(a);
        target += lgamma(b) + b.lgamma() + lbeta(b, u + 1.0) + digamma(b) + lchoose(b + 3.0, u + 1.0);
        target += Phi(a) + erf(a) + a.erfc();
        target += square(a) + a.square() + inv(b) + pow(b, u) + b.pow(2.0);
        target += fmin(a, y) + fmax(a, y) + a.fmax(0.1);
        target += atan(a) + a.atan() + tan(u) + u.tan();
        // On data only: the DSL's functions compile there too.
        target += lgamma(y + 2.0) + log1m(y) + Normal(0.0, 1.0).lpdf(y);
    }
}

fn scalar_fns_ref(th: &[f64], jac: bool, y: f64) -> f64 {
    let mut r = Reader::new(th);
    let a = r.real();
    let b = r.positive();
    let u = r.unit();
    r.done();
    let mut lp = normal(a, 0.0, 1.0) + gamma(b, 2.0, 2.0) + beta(u, 2.0, 2.0);
    if jac {
        lp += r.jac;
    }
    let sigm = |x: f64| 1.0 / (1.0 + (-x).exp());
    lp += lse(a, y) + (u * a.exp() + (1.0 - u) * (-b).exp()).ln() + ((b + 1.0).exp() - b).ln();
    lp += 2.0 * (1.0 - u).ln() + (1.0 - (-b).exp()).ln() + 2.0 * (1.0 + a.exp()).ln();
    lp += (u / (1.0 - u)).ln() + 3.0 * sigm(a);
    lp += 2.0 * lgamma(b) + lbeta(b, u + 1.0) + sp::digamma(b)
        + (lgamma(b + 4.0) - lgamma(u + 2.0) - lgamma(b + 3.0 - u));
    lp += phi(a) + libm::erf(a) + libm::erfc(a);
    lp += 2.0 * a * a + 1.0 / b + b.powf(u) + b * b;
    lp += a.min(y) + a.max(y) + a.max(0.1);
    lp += 2.0 * a.atan() + 2.0 * u.tan();
    lp + lgamma(y + 2.0) + (1.0 - y).ln() + normal(y, 0.0, 1.0)
}

#[test]
fn every_scalar_function_on_a_latent_path() {
    let y = 0.3;
    let m = scalar_fns(y).unwrap();
    assert_eq!(m.dim(), 3);
    check_model(&m, 1.5, 1, |th, jac| scalar_fns_ref(th, jac, y));
}
