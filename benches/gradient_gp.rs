//! The compiled gradient of a Gaussian-process regression written as in Stan (N = 30,
//! `add_diag(gp_exp_quad_cov(x, alpha, rho), sigma^2).cholesky()` observed through
//! `MultiNormalCholesky`) against a hand-written analytic gradient of the same density, in
//! the same run. A section of its own (rather than in `gradient.rs`) so the two files can
//! change independently; it follows `gradient.rs`'s pattern and shares `common`.
//!
//! The hand-written gradient: one Cholesky of `K = alpha^2 E + sigma^2 I`, `a = K^-1 y`,
//! `dL/dK = (a a^T - K^-1) / 2`, contracted with `dK/drho`, `dK/dalpha`, `dK/dsigma`, then
//! the priors and the log transforms' chain rule and Jacobians.
//!
//! `cargo bench --bench gradient_gp -- --warm-up-time 1 --measurement-time 3`

use criterion::{black_box, Criterion};
use nalgebra::{DMatrix, DVector};
use vi::prelude::*;

mod common;
use common::{check, theta};

model! {
    fn gp(x: &DVector<f64>, y: &DVector<f64>, mu0: &DVector<f64>) {
        let rho ~ Gamma(4.0, 4.0);
        let alpha ~ HalfNormal(2.0);
        let sigma ~ HalfNormal(1.0);
        let l = add_diag(gp_exp_quad_cov(x, alpha, rho), sigma * sigma).cholesky();
        y ~ MultiNormalCholesky(mu0, l);
    }
}

const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// `ln Gamma(4)`.
const LGAMMA_4: f64 = 1.791_759_469_228_055;

/// The GP's log density and gradient by hand (unconstrained `theta` = logs of rho, alpha,
/// sigma; Jacobian included).
fn gp_hand(x: &DVector<f64>, y: &DVector<f64>, th: &[f64], g: &mut [f64]) -> f64 {
    let n = x.len();
    let (rho, alpha, sigma) = (th[0].exp(), th[1].exp(), th[2].exp());
    let e = DMatrix::from_fn(n, n, |i, j| {
        let d = x[i] - x[j];
        (-d * d / (2.0 * rho * rho)).exp()
    });
    let mut k = &e * (alpha * alpha);
    for i in 0..n {
        k[(i, i)] += sigma * sigma;
    }
    let ch = nalgebra::Cholesky::new(k).expect("positive definite");
    let a = ch.solve(y);
    let ln_det: f64 = 2.0 * ch.l_dirty().diagonal().iter().map(|v| v.ln()).sum::<f64>();
    let ll = -0.5 * y.dot(&a) - 0.5 * ln_det - 0.5 * n as f64 * LN_2PI;
    // dL/dK = (a a^T - K^-1) / 2.
    let mut w = ch.inverse();
    w.ger(-1.0, &a, &a, 1.0);
    w *= -0.5;
    let (mut d_rho, mut d_alpha) = (0.0, 0.0);
    for j in 0..n {
        for i in 0..n {
            let d = x[i] - x[j];
            let wij = w[(i, j)];
            d_rho += wij * alpha * alpha * e[(i, j)] * d * d / (rho * rho * rho);
            d_alpha += wij * 2.0 * alpha * e[(i, j)];
        }
    }
    let d_sigma = w.trace() * 2.0 * sigma;
    // Priors: Gamma(4, 4) on rho, HalfNormal(2) on alpha, HalfNormal(1) on sigma.
    let lp_rho = 4.0 * 4f64.ln() - LGAMMA_4 + 3.0 * rho.ln() - 4.0 * rho;
    let half_normal =
        |v: f64, s: f64| 0.5 * (2.0 / std::f64::consts::PI).ln() - s.ln() - 0.5 * (v / s).powi(2);
    let lp = lp_rho + half_normal(alpha, 2.0) + half_normal(sigma, 1.0);
    // Chain rule through x = e^t (dx/dt = x) plus the Jacobian's 1.
    g[0] = (d_rho + 3.0 / rho - 4.0) * rho + 1.0;
    g[1] = (d_alpha - alpha / 4.0) * alpha + 1.0;
    g[2] = (d_sigma - sigma) * sigma + 1.0;
    ll + lp + th[0] + th[1] + th[2]
}

fn main() {
    let n = 30;
    let x = DVector::from_fn(n, |i, _| -2.0 + 4.0 * i as f64 / (n - 1) as f64);
    let y = DVector::from_fn(n, |i, _| (1.7 * x[i]).sin() + 0.15 * (i as f64 * 2.1).cos());
    let mu0 = DVector::zeros(n);
    let m = gp(&x, &y, &mu0).expect("valid data");
    check("gp", &m, |t, g| gp_hand(&x, &y, t, g));
    let th = theta(m.dim());
    let mut grad = vec![0.0; th.len()];
    let mut c = Criterion::default().configure_from_args();
    let mut grp = c.benchmark_group("gp N=30");
    grp.bench_function("hand-written nalgebra", |b| {
        b.iter(|| black_box(gp_hand(&x, &y, black_box(&th), &mut grad)))
    });
    grp.bench_function("compiled", |b| {
        b.iter(|| black_box(m.log_density_grad(black_box(&th), &mut grad)))
    });
    grp.finish();
    c.final_summary();
}
