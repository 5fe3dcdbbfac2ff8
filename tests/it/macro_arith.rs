//! One arithmetic (issue 13 item 3): data-only parts of a model's expressions follow the
//! DSL's arithmetic and elementwise functions, as latents do. `exposure.ln()` on a data
//! vector, a data scalar minus a data vector, `2.0 * x` on a slice and `x.column(0) * w`
//! (elementwise, as on latents) are compiled by the same rules, not as nalgebra.
//!
//! Each model is checked by `check_model`: the log density against a hand-written formula
//! (1e-10), the gradient against central finite differences (1e-6). Data are realistic in
//! scale: predictors near 100, not standardised, N in the thousands.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vi::prelude::*;

use crate::helpers::*;

model! {
    /// Counts with an exposure offset on the log scale (Stan's `poisson_log(log(E) + ..)`).
    fn exposure_poisson(y: &[i64], exposure: &DVector<f64>, x: &DMatrix<f64>) {
        let alpha ~ Normal(0.0, 5.0);
        let beta ~ Normal(0.0, 1.0).iid(x.ncols());
        y ~ PoissonLog(exposure.ln() + alpha + x * beta);
    }
}

/// Counts near `exposure * exp(0.3 + 0.01 x1 - 0.005 x2)`, predictors near 100.
fn exposure_data(n: usize, seed: u64) -> (Vec<i64>, DVector<f64>, DMatrix<f64>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let exposure = DVector::from_fn(n, |_, _| rng.random_range(50.0..500.0));
    let x = DMatrix::from_fn(n, 2, |_, j| {
        if j == 0 {
            rng.random_range(80.0..120.0)
        } else {
            rng.random_range(60.0..140.0)
        }
    });
    let y = (0..n)
        .map(|i| {
            let rate: f64 = exposure[i] * (0.3f64 + 0.01 * x[(i, 0)] - 0.005 * x[(i, 1)]).exp();
            // A deterministic count near the rate (the density is checked, not a fit).
            (rate + rng.random_range(-3.0..3.0) * rate.sqrt())
                .round()
                .max(0.0) as i64
        })
        .collect();
    (y, exposure, x)
}

#[test]
fn a_data_vector_logarithm_is_an_offset() {
    let n = 2000;
    let (y, exposure, x) = exposure_data(n, 3);
    let m = exposure_poisson(&y, &exposure, &x).unwrap();
    let reference = |th: &[f64], jac: bool| {
        let mut rd = Reader::new(th);
        let alpha = rd.real();
        let beta = rd.reals(2);
        rd.done();
        let mut lp =
            normal(alpha, 0.0, 5.0) + beta.iter().map(|&b| normal(b, 0.0, 1.0)).sum::<f64>();
        for i in 0..n {
            let eta = exposure[i].ln() + alpha + x[(i, 0)] * beta[0] + x[(i, 1)] * beta[1];
            lp += poisson_log(y[i] as f64, eta);
        }
        lp + if jac { rd.jac } else { 0.0 }
    };
    // Coefficients within 0.02 of zero keep `x * beta` (x near 100) within a few units.
    check_model(&m, 0.02, 5, reference);
}

model! {
    /// A sequential (continuation-ratio) binomial: of `total` units, those still at risk at
    /// stage `k` are `total - cum_before[k]`; the stage's dose is raw (near 100).
    fn at_risk(total: i64, cum_before: &[i64], y: &[i64], dose: &[f64]) {
        let a ~ Normal(0.0, 2.0);
        let b ~ Normal(0.0, 1.0);
        y ~ BinomialLogit(total - cum_before, a + b * (dose - 100.0) / 10.0);
    }
}

#[test]
fn a_data_scalar_minus_a_data_vector_is_elementwise() {
    let k = 1500;
    let total = 1_000_000i64;
    let mut rng = StdRng::seed_from_u64(11);
    let dose: Vec<f64> = (0..k).map(|_| rng.random_range(70.0..130.0)).collect();
    let mut cum_before = Vec::with_capacity(k);
    let mut y = Vec::with_capacity(k);
    let mut cum = 0i64;
    for &d in &dose {
        cum_before.push(cum);
        let at_risk = total - cum;
        let p = sigmoid(-7.0 + 0.02 * (d - 100.0));
        let events = ((at_risk as f64) * p).round() as i64;
        y.push(events);
        cum += events;
    }
    let m = at_risk(total, &cum_before, &y, &dose).unwrap();
    let reference = |th: &[f64], jac: bool| {
        let mut rd = Reader::new(th);
        let a = rd.real();
        let b = rd.real();
        rd.done();
        let mut lp = normal(a, 0.0, 2.0) + normal(b, 0.0, 1.0);
        for i in 0..k {
            let n = (total - cum_before[i]) as f64;
            lp += binomial_logit(y[i] as f64, n, a + b * (dose[i] - 100.0) / 10.0);
        }
        lp + if jac { rd.jac } else { 0.0 }
    };
    check_model(&m, 0.5, 7, reference);
}

model! {
    /// Elementwise data arithmetic inside a mean: a scalar times a slice, a column of a
    /// matrix times a data vector (elementwise, as `*` of two vectors is on latents), a
    /// negated slice, a square root and a mean of data.
    fn mixed_terms(y: &DVector<f64>, z: &[f64], x: &DMatrix<f64>, w: &DVector<f64>) {
        let mu ~ Normal(0.0, 10.0);
        let sigma ~ HalfNormal(5.0);
        y ~ Normal(mu + 2.0 * z + x.column(0) * w - z.sqrt() / mean(z), sigma);
        target += -0.5 * (mu - (-z).sum() / 1000.0).powi(2);
    }
}

#[test]
fn scalars_slices_and_columns_combine_elementwise() {
    let n = 3000;
    let mut rng = StdRng::seed_from_u64(19);
    let z: Vec<f64> = (0..n).map(|_| rng.random_range(90.0..110.0)).collect();
    let x = DMatrix::from_fn(n, 2, |_, _| rng.random_range(0.5..1.5));
    let w = DVector::from_fn(n, |_, _| rng.random_range(95.0..105.0));
    let zbar = z.iter().sum::<f64>() / n as f64;
    let y = DVector::from_fn(n, |i, _| {
        2.0 * z[i] + x[(i, 0)] * w[i] - z[i].sqrt() / zbar + rng.random_range(-3.0..3.0)
    });
    let m = mixed_terms(&y, &z, &x, &w).unwrap();
    let reference = |th: &[f64], jac: bool| {
        let mut rd = Reader::new(th);
        let mu = rd.real();
        let sigma = rd.positive();
        rd.done();
        let mut lp = normal(mu, 0.0, 10.0) + half_normal(sigma, 5.0);
        for i in 0..n {
            let mean = mu + 2.0 * z[i] + x[(i, 0)] * w[i] - z[i].sqrt() / zbar;
            lp += normal(y[i], mean, sigma);
        }
        let neg_sum: f64 = z.iter().map(|v| -v).sum();
        lp += -0.5 * (mu - neg_sum / 1000.0).powi(2);
        lp + if jac { rd.jac } else { 0.0 }
    };
    check_model(&m, 1.0, 23, reference);
}

// --- Index errors on data (issue 13 item 5) ----------------------------------------------

model! {
    /// Stratum offsets read through 1-based codes by mistake, and a data matrix by cell.
    fn offsets(code: &[usize], offset: &[f64], y: &[f64], x: &DMatrix<f64>, col: usize) {
        let mu ~ Normal(0.0, 1.0);
        for i in 0..y.len() {
            y[i] ~ Normal(mu + offset[code[i]], 1.0);
        }
        // State carried across the loop: read element by element, not as a column.
        let mut acc = 0.0;
        for k in 0..y.len() {
            acc = acc + (mu - x[(k, col)]).powi(2);
        }
        target += -0.5 * acc;
    }
}

#[test]
fn a_data_index_out_of_range_names_the_vector_the_index_and_the_loop() {
    let y = [0.5, -0.2, 1.0, 0.3];
    let x = DMatrix::from_fn(4, 2, |i, j| (i + j) as f64);
    // 1-based codes: the third observation reads `offset[3]` of a vector of length 3.
    let e = offsets(&[1, 2, 3, 1], &[0.1, 0.2, 0.3], &y, &x, 1)
        .err()
        .expect("an index error");
    assert_eq!(
        e.to_string(),
        "in `y[i] ~ Normal(mu + offset[code[i]], 1.0)`: index 3 is out of range for `offset` of \
         length 3 at i = 2"
    );
    let e = offsets(&[0, 1, 2, 0], &[0.1, 0.2, 0.3], &y, &x, 2)
        .err()
        .expect("an index error");
    assert_eq!(
        e.to_string(),
        "in `acc = acc + (mu - x[(k, col)]).powi(2)`: index (0, 2) is out of range for `x` of \
         shape 4x2 at k = 0"
    );
    // In range, the density is the formula's.
    let m = offsets(&[0, 1, 2, 0], &[0.1, 0.2, 0.3], &y, &x, 1).unwrap();
    check_model(&m, 1.0, 31, |th, jac| {
        let mut rd = Reader::new(th);
        let mu = rd.real();
        rd.done();
        let off = [0.1, 0.2, 0.3];
        let code = [0, 1, 2, 0];
        let mut lp = normal(mu, 0.0, 1.0);
        for i in 0..4 {
            lp += normal(y[i], mu + off[code[i]], 1.0);
        }
        for k in 0..4 {
            lp += -0.5 * (mu - x[(k, 1)]).powi(2);
        }
        lp + if jac { rd.jac } else { 0.0 }
    });
}
