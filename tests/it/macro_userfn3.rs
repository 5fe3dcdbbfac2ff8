//! User functions called where an expression is evaluated only sometimes (issue 13 item 2):
//! in a branch of an expression-level `if`/`else`, after `&&` or `||`. As in Stan, a call's
//! body runs only when its branch is taken, in every generated body (density, gradient, the
//! constructor's checking run, `derive`, `simulate`), on data and on a latent's path.
//!
//! Each model would fail without that: at `t = 0` the untaken branch reads `y[t - 1]`, out
//! of range. Data: the posteriordb garch11 returns (T = 200, tests/data/posteriordb.rs)
//! repeated five times (T = 1000) and shifted by 95, a series near 100. Each model goes
//! through `check_near` (log density against the formula written out, 1e-10; gradient
//! against central finite differences, 1e-6) near plausible parameter values.

use rand::SeedableRng;
use vi::prelude::*;
use vi::Model;

use crate::helpers::*;
use crate::macro_models::data::GARCH_Y;
use crate::macro_userfn2::check_near;

/// The garch11 returns five times over, shifted to a level near 100 (T = 1000).
pub(crate) fn series() -> Vec<f64> {
    (0..5)
        .flat_map(|_| GARCH_Y.iter().map(|v| v + 95.0))
        .collect()
}

/// Mean and log standard deviation of a series: the centre of the checks.
pub(crate) fn centre(y: &[f64]) -> (f64, f64) {
    let n = y.len() as f64;
    let mean = y.iter().sum::<f64>() / n;
    let var = y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, 0.5 * var.ln())
}

model! {
    /// The AR(1) mean after `prev`, through a statement (so the body is placed before the
    /// statement that calls it).
    fn pull(prev: f64, mu: f64, phi: f64) -> f64 {
        let dev = prev - mu;
        mu + phi * dev
    }

    /// AR(1) whose first observation has the stationary mean: the lag is read only for
    /// `t > 0`, on a latent's path. The one-step forecast is kept.
    fn ar_guarded(y: &[f64]) {
        let mu ~ Normal(100.0, 10.0);
        let phi ~ Uniform(-1.0, 1.0);
        let sigma ~ HalfNormal(5.0);
        let n = y.len();
        for t in 0..n {
            let m = if t > 0 { pull(y[t - 1], mu, phi) } else { mu };
            y[t] ~ Normal(m, sigma);
        }
        #[keep]
        let forecast = if n > 0 { pull(y[n - 1], mu, phi) } else { mu };
    }
}

fn ar_reference(y: &[f64], th: &[f64], jac: bool) -> f64 {
    let mut r = Reader::new(th);
    let mu = r.real();
    let phi = r.interval(-1.0, 1.0);
    let sigma = r.positive();
    r.done();
    let mut lp = normal(mu, 100.0, 10.0) + uniform(phi, -1.0, 1.0) + half_normal(sigma, 5.0);
    for t in 0..y.len() {
        let m = if t > 0 {
            mu + phi * (y[t - 1] - mu)
        } else {
            mu
        };
        lp += normal(y[t], m, sigma);
    }
    lp + if jac { r.jac } else { 0.0 }
}

#[test]
fn a_lag_read_only_in_the_branch_taken_on_a_latent_path() {
    let y = series();
    assert_eq!(y.len(), 1000);
    let m = ar_guarded(&y).expect("the constructor's run takes only the branch taken");
    let (mean, log_sd) = centre(&y);
    check_near(&m, &[mean, 0.5, log_sd], 0.3, 31, |th, jac| {
        ar_reference(&y, th, jac)
    });
    // `derive` takes the branch too: the forecast is the formula at the draw.
    let draw = [101.0, 0.6, 2.5];
    let mut out = vec![0.0; m.derived_layout().dim()];
    m.derive(&draw, &mut out);
    let want = 101.0 + 0.6 * (y[999] - 101.0);
    assert!(close(out[0], want, 1e-14), "{} vs {want}", out[0]);
    // `simulate` runs the statements too.
    let sims = m.simulate(&draw, &mut rand::rngs::StdRng::seed_from_u64(5));
    assert_eq!(sims[0].1.len(), 1000);
    // With one observation, the `else` branch is taken at `t = 0` and the `then` branch of
    // the forecast; with none, the forecast's `else` branch.
    let one = ar_guarded(&y[..1]).unwrap();
    let mut out = vec![0.0; 1];
    one.derive(&draw, &mut out);
    assert!(close(out[0], 101.0 + 0.6 * (y[0] - 101.0), 1e-14));
    check_near(&one, &[100.0, 0.0, 1.0], 0.3, 32, |th, jac| {
        ar_reference(&y[..1], th, jac)
    });
    let none = ar_guarded(&y[..0]).unwrap();
    none.derive(&draw, &mut out);
    assert_eq!(out[0], 101.0);
}

model! {
    /// The previous value's relative deviation from a base, through a statement.
    fn rel_dev(prev: f64, base: f64) -> f64 {
        let d = prev - base;
        d / base
    }

    /// Regression on the lagged relative deviation, a data-only value computed by a user
    /// function in a branch of an `if` expression.
    fn lag_regression(y: &[f64], base: f64) {
        let alpha ~ Normal(100.0, 10.0);
        let beta ~ Normal(0.0, 100.0);
        let sigma ~ HalfNormal(5.0);
        for t in 0..y.len() {
            let x = if t == 0 { 0.0 } else { rel_dev(y[t - 1], base) };
            y[t] ~ Normal(alpha + beta * x, sigma);
        }
    }
}

#[test]
fn a_data_value_computed_by_a_function_only_in_the_branch_taken() {
    let y = series();
    let base = 100.0;
    let m = lag_regression(&y, base).unwrap();
    let (mean, log_sd) = centre(&y);
    check_near(&m, &[mean, 10.0, log_sd], 0.3, 33, |th, jac| {
        let mut r = Reader::new(th);
        let alpha = r.real();
        let beta = r.real();
        let sigma = r.positive();
        r.done();
        let mut lp =
            normal(alpha, 100.0, 10.0) + normal(beta, 0.0, 100.0) + half_normal(sigma, 5.0);
        for t in 0..y.len() {
            let x = if t == 0 {
                0.0
            } else {
                (y[t - 1] - base) / base
            };
            lp += normal(y[t], alpha + beta * x, sigma);
        }
        lp + if jac { r.jac } else { 0.0 }
    });
}

model! {
    /// How far `x` is above `c`, through a statement.
    fn excess(x: f64, c: f64) -> f64 {
        let d = x - c;
        d
    }

    /// A two-regime (threshold) AR(1): the regime is the side of `c` the previous value is
    /// on, decided with `&&` and `||` so that the lag is read only for `t > 0`.
    fn setar(y: &[f64], c: f64) {
        let mu ~ Normal(100.0, 10.0);
        let phi_hi ~ Uniform(-1.0, 1.0);
        let phi_lo ~ Uniform(-1.0, 1.0);
        let sigma ~ HalfNormal(5.0);
        for t in 0..y.len() {
            let hi = t > 0 && excess(y[t - 1], c) > 0.0;
            let lo = !(t == 0 || excess(y[t - 1], c) > 0.0);
            if hi {
                y[t] ~ Normal(mu + phi_hi * (y[t - 1] - mu), sigma);
            }
            if lo {
                y[t] ~ Normal(mu + phi_lo * (y[t - 1] - mu), sigma);
            }
            if t == 0 {
                y[t] ~ Normal(mu, sigma);
            }
        }
    }
}

#[test]
fn regimes_chosen_with_and_and_or_read_the_lag_only_when_needed() {
    let y = series();
    let c = 100.0;
    assert!(y.iter().any(|&v| v > c) && y.iter().any(|&v| v <= c));
    let m = setar(&y, c).unwrap();
    let (mean, log_sd) = centre(&y);
    check_near(&m, &[mean, 0.5, 0.5, log_sd], 0.3, 34, |th, jac| {
        let mut r = Reader::new(th);
        let mu = r.real();
        let phi_hi = r.interval(-1.0, 1.0);
        let phi_lo = r.interval(-1.0, 1.0);
        let sigma = r.positive();
        r.done();
        let mut lp = normal(mu, 100.0, 10.0)
            + uniform(phi_hi, -1.0, 1.0)
            + uniform(phi_lo, -1.0, 1.0)
            + half_normal(sigma, 5.0);
        for t in 0..y.len() {
            let m = if t == 0 {
                mu
            } else if y[t - 1] > c {
                mu + phi_hi * (y[t - 1] - mu)
            } else {
                mu + phi_lo * (y[t - 1] - mu)
            };
            lp += normal(y[t], m, sigma);
        }
        lp + if jac { r.jac } else { 0.0 }
    });
}
