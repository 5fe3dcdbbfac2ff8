//! Data arithmetic on the model's arguments only, inside a statement (issue 13 item 3):
//! `exposure.ln()` in `y ~ PoissonLog(exposure.ln() + alpha + x * beta)` is computed once
//! per model, in the constructor's run, and read by every later evaluation. The density and
//! the gradient are those of the formula written out (1e-10; finite differences, 1e-6), at
//! the first evaluation and at later ones, on 3000 counts with exposures from 50 to 150 and
//! an unstandardised predictor near 100.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vi::prelude::*;
use vi::Model;

use crate::helpers::*;

model! {
    fn poisson_exposure(y: &[f64], exposure: &[f64], x: &[f64], x0: f64) {
        let alpha ~ Normal(0.0, 5.0);
        let beta ~ Normal(0.0, 1.0);
        y ~ PoissonLog(exposure.ln() + alpha + (x - x0) * beta);
        // A scalar computed from arguments only, kept as well.
        target += Normal(0.0, 1.0).lpdf(beta * (x0 / 100.0).ln());
    }
}

#[test]
fn a_poisson_rate_with_an_exposure_offset_kept_for_the_model() {
    let mut rng = StdRng::seed_from_u64(11);
    let n = 3000;
    let x0 = 100.0;
    let x: Vec<f64> = (0..n).map(|_| rng.random_range(80.0..120.0)).collect();
    let exposure: Vec<f64> = (0..n).map(|_| rng.random_range(50.0..150.0)).collect();
    // Counts near exposure * exp(-3 + 0.02 (x - 100)), drawn from a Poisson by inversion.
    let y: Vec<f64> = (0..n)
        .map(|i| {
            let rate = exposure[i] * (-3.0 + 0.02 * (x[i] - x0)).exp();
            let (mut k, mut p, u) = (0.0, (-rate).exp(), rng.random_range(0.0..1.0));
            let mut cdf = p;
            while u > cdf {
                k += 1.0;
                p *= rate / k;
                cdf += p;
            }
            k
        })
        .collect();
    let m = poisson_exposure(&y, &exposure, &x, x0).unwrap();
    let reference = |th: &[f64], jac: bool| {
        let mut r = Reader::new(th);
        let alpha = r.real();
        let beta = r.real();
        r.done();
        let mut lp = normal(alpha, 0.0, 5.0)
            + normal(beta, 0.0, 1.0)
            + normal(beta * (x0 / 100.0f64).ln(), 0.0, 1.0);
        for i in 0..n {
            lp += poisson_log(y[i], exposure[i].ln() + alpha + (x[i] - x0) * beta);
        }
        lp + if jac { r.jac } else { 0.0 }
    };
    // Near the values the data were drawn at (far from them the density is near -1e6 and
    // finite differences lose the tolerance to rounding); every call after the first reads
    // the kept values, and the results do not drift between calls.
    let centre = [-3.0, 0.02];
    let mut g0 = vec![0.0; 2];
    let lp0 = m.log_density_grad(&centre, &mut g0);
    crate::macro_userfn2::check_near(&m, &centre, 0.05, 12, reference);
    let mut g1 = vec![0.0; 2];
    assert_eq!(m.log_density_grad(&centre, &mut g1), lp0);
    assert_eq!(g1, g0);
    assert!(close(lp0, reference(&centre, true), 1e-10));
}
