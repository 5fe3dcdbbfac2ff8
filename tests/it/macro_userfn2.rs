//! User functions with statements (issue 13 item 2): bodies with `for` loops, `let mut`
//! state, element writes and `if`/`else` on data, on realistic data. Each model goes through
//! `check_model` (log density against the formula written out, 1e-10; gradient against
//! central finite differences, 1e-6):
//! - a broken-stick (hinge) regression, a piecewise function whose branch depends on a data
//!   argument, on 2000 predictors near 100 (not standardised);
//! - a four-parameter dose-response (Hill) curve with an untreated control group (dose 0
//!   takes the other branch), 3000 responses at doses 0 and 0.1 to 1000;
//! - a distributed-lag time series, a loop accumulating a sum over the data series with a
//!   latent coefficient, on 1500 points of a series near 100;
//! - a random walk built by a function returning a vector filled by a loop, on a latent;
//! - functions calling functions, and a call on data only.
//!
//! And: an argument of a call is evaluated once per evaluation of the density, however
//! often the body reads it.
//!
//! The models on a series near 100 are checked near plausible values of their parameters
//! ([`check_near`]): at a point far from them the log density is near -1e6, and central
//! finite differences of such a value lose the 1e-6 the check asks for to rounding.

use std::cell::Cell;

use vi::Model;
use vi_runtime::check::gradient_mismatch;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vi::prelude::*;

use crate::helpers::*;

/// `check_model`'s checks at three seeded points in `centre + (-r, r)^d`: the log density
/// against `reference` (1e-10 relative, with and without the Jacobian), the gradient call's
/// value, and the gradient against central finite differences (1e-6).
pub(crate) fn check_near<M: Model>(
    m: &M,
    centre: &[f64],
    r: f64,
    seed: u64,
    reference: impl Fn(&[f64], bool) -> f64,
) {
    assert_eq!(m.dim(), centre.len());
    let mut rng = StdRng::seed_from_u64(seed);
    for _ in 0..3 {
        let th: Vec<f64> = centre.iter().map(|c| c + rng.random_range(-r..r)).collect();
        for jac in [true, false] {
            let want = reference(&th, jac);
            assert!(want.is_finite(), "reference not finite at {th:?}");
            let got = m.log_density_jac(&th, jac);
            assert!(
                close(got, want, 1e-10),
                "log density {got} vs {want} at {th:?}"
            );
            let mut g = vec![0.0; th.len()];
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
    }
}

model! {
    /// A hinge at `knot`: slope `above` past it, `below` within 10 under it, flat further
    /// down. The branch depends on the data argument `x` only.
    fn hinge(x: f64, knot: f64, below: f64, above: f64) -> f64 {
        let d = x - knot;
        if d > 0.0 {
            above * d
        } else if d > -10.0 {
            below * d
        } else {
            -10.0 * below
        }
    }

    fn broken_stick(x: &[f64], y: &[f64]) {
        let alpha ~ Normal(0.0, 10.0);
        let b1 ~ Normal(0.0, 1.0);
        let b2 ~ Normal(0.0, 1.0);
        let sigma ~ HalfNormal(5.0);
        for i in 0..y.len() {
            y[i] ~ Normal(alpha + hinge(x[i], 100.0, b1, b2), sigma);
        }
    }
}

fn hinge_ref(x: f64, knot: f64, below: f64, above: f64) -> f64 {
    let d = x - knot;
    if d > 0.0 {
        above * d
    } else if d > -10.0 {
        below * d
    } else {
        -10.0 * below
    }
}

#[test]
fn a_piecewise_function_branching_on_data_on_predictors_near_100() {
    let mut rng = StdRng::seed_from_u64(7);
    let n = 2000;
    let x: Vec<f64> = (0..n).map(|_| rng.random_range(80.0..120.0)).collect();
    let y: Vec<f64> = x
        .iter()
        .map(|&xi| 3.0 + hinge_ref(xi, 100.0, 0.2, -0.5) + rng.random_range(-1.0..1.0))
        .collect();
    // All three branches are taken.
    assert!(x.iter().any(|&v| v < 90.0) && x.iter().any(|&v| v > 100.0));
    let m = broken_stick(&x, &y).unwrap();
    check_model(&m, 1.0, 21, |th, jac| {
        let mut r = Reader::new(th);
        let alpha = r.real();
        let b1 = r.real();
        let b2 = r.real();
        let sigma = r.positive();
        r.done();
        let mut lp = normal(alpha, 0.0, 10.0)
            + normal(b1, 0.0, 1.0)
            + normal(b2, 0.0, 1.0)
            + half_normal(sigma, 5.0);
        for i in 0..n {
            lp += normal(y[i], alpha + hinge_ref(x[i], 100.0, b1, b2), sigma);
        }
        lp + if jac { r.jac } else { 0.0 }
    });
}

model! {
    /// The four-parameter log-logistic (Hill) curve; an untreated control (`dose` 0) is at
    /// `bottom`.
    fn hill4(dose: f64, bottom: f64, top: f64, ec50: f64, h: f64) -> f64 {
        if dose > 0.0 {
            let r = (dose / ec50).powf(h);
            bottom + (top - bottom) * r / (1.0 + r)
        } else {
            bottom
        }
    }

    /// The fraction of the way from `bottom` to `top`, through `hill4`.
    fn fraction(dose: f64, ec50: f64, h: f64) -> f64 {
        hill4(dose, 0.0, 1.0, ec50, h)
    }

    fn dose_response(dose: &[f64], y: &[f64]) {
        let bottom ~ Normal(0.0, 5.0);
        let top ~ Normal(50.0, 20.0);
        let ec50 ~ LogNormal(3.0, 2.0);
        let h ~ LogNormal(0.0, 0.5);
        let sigma ~ HalfNormal(5.0);
        // On data only: the fraction at a fixed reference curve, a Rust value.
        let reference = fraction(30.0, 30.0, 1.0);
        target += -0.5 * (fraction(30.0, ec50, h) - reference).powi(2);
        for i in 0..y.len() {
            y[i] ~ Normal(hill4(dose[i], bottom, top, ec50, h), sigma);
        }
    }
}

fn hill4_ref(dose: f64, bottom: f64, top: f64, ec50: f64, h: f64) -> f64 {
    if dose > 0.0 {
        let r = (dose / ec50).powf(h);
        bottom + (top - bottom) * r / (1.0 + r)
    } else {
        bottom
    }
}

#[test]
fn a_hill_dose_response_with_a_control_group() {
    let mut rng = StdRng::seed_from_u64(8);
    let levels = [0.0, 0.1, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0];
    let n = 3000;
    let dose: Vec<f64> = (0..n).map(|i| levels[i % levels.len()]).collect();
    let y: Vec<f64> = dose
        .iter()
        .map(|&d| hill4_ref(d, 2.0, 40.0, 25.0, 1.3) + rng.random_range(-3.0..3.0))
        .collect();
    let m = dose_response(&dose, &y).unwrap();
    // bottom, top, ln ec50, ln h, ln sigma near the curve the data were drawn from.
    let centre = [2.0, 40.0, 25f64.ln(), 1.3f64.ln(), 3f64.sqrt().ln()];
    check_near(&m, &centre, 0.3, 22, |th, jac| {
        let mut r = Reader::new(th);
        let bottom = r.real();
        let top = r.real();
        let ec50 = r.positive();
        let h = r.positive();
        let sigma = r.positive();
        r.done();
        let mut lp = normal(bottom, 0.0, 5.0)
            + normal(top, 50.0, 20.0)
            + log_normal(ec50, 3.0, 2.0)
            + log_normal(h, 0.0, 0.5)
            + half_normal(sigma, 5.0);
        lp += -0.5 * (hill4_ref(30.0, 0.0, 1.0, ec50, h) - 0.5).powi(2);
        for i in 0..n {
            lp += normal(y[i], hill4_ref(dose[i], bottom, top, ec50, h), sigma);
        }
        lp + if jac { r.jac } else { 0.0 }
    });
}

model! {
    /// A geometric distributed lag: `y[t-1] + w y[t-2] + .. + w^(k-1) y[t-k]`, a loop over
    /// the data series with a latent coefficient.
    fn lagged(y: &[f64], t: usize, w: f64, k: usize) -> f64 {
        let mut acc = 0.0;
        let mut weight = 1.0;
        for j in 0..k {
            acc += weight * y[t - 1 - j];
            weight = weight * w;
        }
        acc
    }

    fn distributed_lag(y: &[f64], k: usize) {
        let mu ~ Normal(100.0, 20.0);
        let beta ~ Normal(0.0, 1.0);
        let w ~ Beta(2.0, 2.0);
        let sigma ~ HalfNormal(5.0);
        for t in k..y.len() {
            y[t] ~ Normal(mu + beta * (lagged(y, t, w, k) - 100.0 * (1.0 - w.powi(4)) / (1.0 - w)), sigma);
        }
    }
}

#[test]
fn a_loop_over_a_data_series_with_a_latent_coefficient() {
    let mut rng = StdRng::seed_from_u64(9);
    let t_len = 1500;
    let k = 4;
    let mut y = vec![100.0; t_len];
    for t in 1..t_len {
        y[t] = 100.0 + 0.6 * (y[t - 1] - 100.0) + rng.random_range(-2.0..2.0);
    }
    let m = distributed_lag(&y, k).unwrap();
    // mu, beta, logit w, ln sigma.
    let centre = [100.0, 0.6, -1.0, 0.15];
    check_near(&m, &centre, 0.3, 23, |th, jac| {
        let mut r = Reader::new(th);
        let mu = r.real();
        let beta = r.real();
        let w = r.unit();
        let sigma = r.positive();
        r.done();
        let mut lp = normal(mu, 100.0, 20.0)
            + normal(beta, 0.0, 1.0)
            + beta_ld(w, 2.0, 2.0)
            + half_normal(sigma, 5.0);
        for t in k..t_len {
            let lag: f64 = (0..k).map(|j| w.powi(j as i32) * y[t - 1 - j]).sum();
            let centre = 100.0 * (1.0 - w.powi(4)) / (1.0 - w);
            lp += normal(y[t], mu + beta * (lag - centre), sigma);
        }
        lp + if jac { r.jac } else { 0.0 }
    });
}

fn beta_ld(y: f64, a: f64, b: f64) -> f64 {
    beta(y, a, b)
}

model! {
    /// The path of a random walk with steps `s * x[i]`: a vector filled by a loop.
    fn walk(x: DVector<f64>, n: usize, s: f64) -> DVector<f64> {
        let mut out = DVector::zeros(n);
        let mut run = 0.0;
        for i in 0..n {
            run += s * x[i];
            out[i] = run;
        }
        out
    }

    fn random_walk(y: &DVector<f64>) {
        let mu ~ Normal(100.0, 20.0);
        let tau ~ HalfNormal(1.0);
        let sigma ~ HalfNormal(1.0);
        let z ~ Normal(0.0, 1.0).iid(y.len());
        y ~ Normal(mu + walk(z, y.len(), tau), sigma);
    }
}

#[test]
fn a_function_returning_a_vector_built_by_a_loop() {
    let mut rng = StdRng::seed_from_u64(10);
    let n = 200;
    let mut level = 100.0;
    let y = DVector::from_fn(n, |_, _| {
        level += rng.random_range(-0.5..0.5);
        level + rng.random_range(-0.2..0.2)
    });
    let m = random_walk(&y).unwrap();
    // mu, ln tau, ln sigma, then the steps.
    let mut centre = vec![100.0, 0.3f64.ln(), 0.0];
    centre.extend((0..n).map(|_| 0.0));
    check_near(&m, &centre, 0.5, 24, |th, jac| {
        let mut r = Reader::new(th);
        let mu = r.real();
        let tau = r.positive();
        let sigma = r.positive();
        let z = r.reals(n);
        r.done();
        let mut lp = normal(mu, 100.0, 20.0) + half_normal(tau, 1.0) + half_normal(sigma, 1.0);
        let mut run = 0.0;
        for i in 0..n {
            lp += normal(z[i], 0.0, 1.0);
            run += tau * z[i];
            lp += normal(y[i], mu + run, sigma);
        }
        lp + if jac { r.jac } else { 0.0 }
    });
}

thread_local! {
    static CALLS: Cell<usize> = const { Cell::new(0) };
}

/// A data value whose evaluations are counted.
fn counted(v: f64) -> f64 {
    CALLS.with(|c| c.set(c.get() + 1));
    v
}

model! {
    /// Reads its argument three times.
    fn cubic(x: f64) -> f64 {
        x * x * x + x
    }

    fn once(y: &[f64]) {
        let a ~ Normal(0.0, 1.0);
        let sigma ~ HalfNormal(1.0);
        for i in 0..y.len() {
            y[i] ~ Normal(cubic(a + counted(y[i])), sigma);
        }
    }
}

#[test]
fn an_argument_is_evaluated_once_per_call() {
    let y = [0.3, -0.2, 1.1, 0.7];
    let m = once(&y).unwrap();
    let th = [0.4, -0.1];
    CALLS.with(|c| c.set(0));
    let lp = m.log_density_jac(&th, false);
    // One evaluation per call: one call per observation.
    assert_eq!(CALLS.with(Cell::get), y.len());
    let (a, sigma) = (0.4, (-0.1f64).exp());
    let want = normal(a, 0.0, 1.0)
        + half_normal(sigma, 1.0)
        + y.iter()
            .map(|&yi| {
                let v = a + yi;
                normal(yi, v * v * v + v, sigma)
            })
            .sum::<f64>();
    assert!(close(lp, want, 1e-12), "{lp} vs {want}");
}
