//! A fused `Normal` statement whose scale is one number for every lane (issue 13, item 6's
//! speed): the loop keeps only each lane's residual and the sum of their squares, and the
//! density and the scale's adjoint come from that sum after the loop
//! (`vi-runtime/src/private/fused_normal.rs`). Checked on radon-shaped data (N = 3000
//! houses in J = 85 counties of skewed sizes, a predictor near 100, non-centred intercepts
//! `a = mu_a + sigma_a * z`) against the density written out with finite-difference
//! gradients, and against the same model kept per iteration (1e-12 relative); a data scale
//! of zero or below gives what the loop gives.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vi::prelude::*;

use crate::helpers::*;

model! {
    /// Radon's varying intercepts, non-centred, with an unstandardised predictor.
    fn radon_big(county: &[usize], x: &[f64], y: &[f64], j: usize) {
        let mu_a ~ Normal(0.0, 10.0);
        let sigma_a ~ HalfNormal(1.0);
        let z ~ Normal(0.0, 1.0).iid(j);
        let b ~ Normal(0.0, 1.0);
        let sigma ~ HalfNormal(1.0);
        let a = mu_a + sigma_a * z;
        for i in 0..y.len() {
            y[i] ~ Normal(a[county[i]] + b * x[i], sigma);
        }
    }
}

model! {
    /// The same, kept per iteration by a data statement in the body.
    fn radon_big_loop(county: &[usize], x: &[f64], y: &[f64], j: usize) {
        let mu_a ~ Normal(0.0, 10.0);
        let sigma_a ~ HalfNormal(1.0);
        let z ~ Normal(0.0, 1.0).iid(j);
        let b ~ Normal(0.0, 1.0);
        let sigma ~ HalfNormal(1.0);
        let a = mu_a + sigma_a * z;
        for i in 0..y.len() {
            let _iteration = i;
            y[i] ~ Normal(a[county[i]] + b * x[i], sigma);
        }
    }
}

model! {
    /// A data scale `s` (a number argument) and the value on the gather's side.
    fn gather_data_scale(county: &[usize], x: &[f64], y: &[f64], s: f64) {
        let a ~ Normal(0.0, 10.0).iid(4);
        let b ~ Normal(0.0, 1.0);
        for i in 0..y.len() {
            y[i] ~ Normal(b * x[i] - a[county[i]], s);
        }
    }
}

model! {
    /// The same, per iteration.
    fn gather_data_scale_loop(county: &[usize], x: &[f64], y: &[f64], s: f64) {
        let a ~ Normal(0.0, 10.0).iid(4);
        let b ~ Normal(0.0, 1.0);
        for i in 0..y.len() {
            let _iteration = i;
            y[i] ~ Normal(b * x[i] - a[county[i]], s);
        }
    }
}

const J: usize = 85;

/// Radon-shaped data: every county has a house, the rest skewed towards low codes (as
/// Minnesota's counties are), a predictor near 100 (used raw by the models), `y` from the
/// model with a small slope, so that the density stays moderate near the origin (finite
/// differences of a density of -10^4 would carry its rounding).
fn radon_data(n: usize) -> (Vec<usize>, Vec<f64>, Vec<f64>) {
    let mut rng = StdRng::seed_from_u64(1313);
    let effect: Vec<f64> = (0..J).map(|_| 0.3 * rng.random_range(-1.0..1.0)).collect();
    let mut county: Vec<usize> = (0..J).collect();
    while county.len() < n {
        let u: f64 = rng.random_range(0.0..1.0);
        county.push(((u * u * u) * J as f64) as usize);
    }
    let x: Vec<f64> = (0..n)
        .map(|_| 90.0 + 20.0 * rng.random_range(0.0..1.0))
        .collect();
    let y = (0..n)
        .map(|i| effect[county[i]] + 0.002 * (x[i] - 100.0) + 0.8 * rng.random_range(-1.0..1.0))
        .collect();
    (county, x, y)
}

#[test]
fn radon_with_thousands_of_houses_and_a_predictor_near_100() {
    // Finite differences on 1200 houses, the per-iteration form on 3000.
    let (county, x, y) = radon_data(1200);
    let m = radon_big(&county, &x, &y, J).unwrap();
    check_model(&m, 0.01, 131, |th, jac| {
        let mut r = Reader::new(th);
        let mu_a = r.real();
        let sigma_a = r.positive();
        let z = r.reals(J);
        let b = r.real();
        let sigma = r.positive();
        r.done();
        let mut lp = normal(mu_a, 0.0, 10.0) + half_normal(sigma_a, 1.0);
        lp += z.iter().map(|&zk| normal(zk, 0.0, 1.0)).sum::<f64>();
        lp += normal(b, 0.0, 1.0) + half_normal(sigma, 1.0);
        for i in 0..y.len() {
            let a = mu_a + sigma_a * z[county[i]];
            lp += normal(y[i], a + b * x[i], sigma);
        }
        lp + if jac { r.jac } else { 0.0 }
    });
    // Against the per-iteration form, near the posterior and away from it.
    let (county, x, y) = radon_data(3000);
    let m = radon_big(&county, &x, &y, J).unwrap();
    let l = radon_big_loop(&county, &x, &y, J).unwrap();
    let mut rng = StdRng::seed_from_u64(132);
    for r in [0.05, 1.0] {
        let th: Vec<f64> = (0..m.dim()).map(|_| rng.random_range(-r..r)).collect();
        let (mut ga, mut gb) = (vec![0.0; th.len()], vec![0.0; th.len()]);
        let (la, lb) = (
            m.log_density_grad(&th, &mut ga),
            l.log_density_grad(&th, &mut gb),
        );
        assert!(close(la, lb, 1e-12), "log density {la} vs {lb}");
        let scale = gb.iter().fold(1.0f64, |m, g| m.max(g.abs()));
        for (k, (p, q)) in ga.iter().zip(&gb).enumerate() {
            assert!((p - q).abs() <= 1e-12 * scale, "gradient {k}: {p} vs {q}");
        }
    }
}

#[test]
fn a_data_scale_and_a_subtracted_gather() {
    let (county, x, y) = radon_data(400);
    let county: Vec<usize> = county.iter().map(|c| c % 4).collect();
    let m = gather_data_scale(&county, &x, &y, 0.7).unwrap();
    check_model(&m, 0.05, 133, |th, jac| {
        let mut r = Reader::new(th);
        let a = r.reals(4);
        let b = r.real();
        r.done();
        let mut lp = a.iter().map(|&ak| normal(ak, 0.0, 10.0)).sum::<f64>();
        lp += normal(b, 0.0, 1.0);
        for i in 0..y.len() {
            lp += normal(y[i], b * x[i] - a[county[i]], 0.7);
        }
        lp + if jac { r.jac } else { 0.0 }
    });
    // A data scale of zero or below is refused when the model is built, fused or not.
    for s in [0.0, -1.0] {
        assert!(gather_data_scale(&county, &x, &y, s).is_err());
        assert!(gather_data_scale_loop(&county, &x, &y, s).is_err());
    }
}

model! {
    /// A scale that can go below zero (`tau - 0.5`, one number for every lane).
    fn gather_shifted_scale(county: &[usize], y: &[f64]) {
        let a ~ Normal(0.0, 1.0).iid(4);
        let tau ~ HalfNormal(1.0);
        for i in 0..y.len() {
            y[i] ~ Normal(a[county[i]], tau - 0.5);
        }
    }
}

model! {
    /// The same, per iteration.
    fn gather_shifted_scale_loop(county: &[usize], y: &[f64]) {
        let a ~ Normal(0.0, 1.0).iid(4);
        let tau ~ HalfNormal(1.0);
        for i in 0..y.len() {
            let _iteration = i;
            y[i] ~ Normal(a[county[i]], tau - 0.5);
        }
    }
}

#[test]
fn a_scale_below_zero_gives_what_the_loop_gives() {
    let (county, _, y) = radon_data(300);
    let county: Vec<usize> = county.iter().map(|c| c % 4).collect();
    let m = gather_shifted_scale(&county, &y).unwrap();
    let l = gather_shifted_scale_loop(&county, &y).unwrap();
    // ln tau = -2: tau - 0.5 < 0, NaN from both; ln tau = 0.5: tau - 0.5 > 0, equal values.
    for (ln_tau, finite) in [(-2.0, false), (0.5, true)] {
        let th = [0.1, -0.2, 0.3, 0.0, ln_tau];
        let (mut g, mut g2) = (vec![0.0; 5], vec![0.0; 5]);
        let (lp, ll) = (
            m.log_density_grad(&th, &mut g),
            l.log_density_grad(&th, &mut g2),
        );
        assert_eq!(lp.is_finite(), finite, "{lp}");
        assert_eq!(lp.is_nan(), ll.is_nan(), "{lp} vs {ll}");
        if finite {
            assert!(close(lp, ll, 1e-12), "{lp} vs {ll}");
            for (p, q) in g.iter().zip(&g2) {
                assert!((p - q).abs() <= 1e-12 * (1.0 + q.abs()), "{g:?} vs {g2:?}");
            }
        }
    }
}
