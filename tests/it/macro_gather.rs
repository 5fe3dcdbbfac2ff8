//! Vectorised gathers, shifts and slices (issue 13, item 6, and slices on the left of `~`).
//! A loop over observations that reads a vector through a data index vector
//! (`a[county[i]]`), at a constant shift of the loop variable (`y[t - 1]`, `h[t - 1]`) or
//! writes `h[t] ~ ..` runs as whole vectors: one gather with a scatter-add in the sweep, one
//! segment. Checked by `check_model` (log density against a formula written here, 1e-10;
//! gradient against central finite differences, 1e-6), against the same model kept
//! per-iteration (a data statement in the body keeps a loop a loop; 1e-12), and by the
//! index errors the loop's own code gives.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use vi::prelude::*;

use crate::helpers::*;
use crate::macro_models::{ar_k, data};

// --- Radon: varying intercepts by county (N = 900, J = 85) ------------------------------------

model! {
    /// Radon's varying-intercept model, non-centred: the county intercepts are a derived
    /// vector `a = mu_a + sigma_a * z`, read through the 0-based county codes.
    fn radon(county: &[usize], x: &[f64], y: &[f64], j: usize) {
        let mu_a ~ Normal(0.0, 10.0);
        let sigma_a ~ HalfNormal(1.0);
        let z ~ Normal(0.0, 1.0).iid(j);
        let b ~ Normal(0.0, 10.0);
        let sigma ~ HalfNormal(1.0);
        let a = mu_a + sigma_a * z;
        for i in 0..y.len() {
            y[i] ~ Normal(a[county[i]] + b * x[i], sigma);
        }
    }
}

model! {
    /// The same model kept per iteration: the data statement in the body keeps the loop a
    /// loop (the vectoriser leaves loops with data statements alone).
    fn radon_loop(county: &[usize], x: &[f64], y: &[f64], j: usize) {
        let mu_a ~ Normal(0.0, 10.0);
        let sigma_a ~ HalfNormal(1.0);
        let z ~ Normal(0.0, 1.0).iid(j);
        let b ~ Normal(0.0, 10.0);
        let sigma ~ HalfNormal(1.0);
        let a = mu_a + sigma_a * z;
        for i in 0..y.len() {
            let _iteration = i;
            y[i] ~ Normal(a[county[i]] + b * x[i], sigma);
        }
    }
}

model! {
    /// Centred, with 1-based county codes (`county[i] - 1`), a county-level predictor near
    /// 100 (`u`, unstandardised) gathered too, and a household predictor near 100.
    fn radon_centred(county: &[usize], u: &[f64], x: &[f64], y: &[f64], j: usize) {
        let mu_a ~ Normal(0.0, 10.0);
        let sigma_a ~ HalfNormal(1.0);
        let a ~ Normal(mu_a, sigma_a).iid(j);
        let g ~ Normal(0.0, 1.0);
        let b ~ Normal(0.0, 1.0);
        let sigma ~ HalfNormal(1.0);
        let county_level = a + g * u;
        for i in 0..y.len() {
            y[i] ~ Normal(county_level[county[i] - 1] + b * x[i], sigma);
        }
    }
}

/// Radon-shaped data: J = 85 counties of very unequal sizes (a few large, many with a
/// handful of houses, as in Gelman and Hill's Minnesota data), N = 900 houses, a floor
/// indicator (20% basements absent), log radon about 1.3 with county effects of sd 0.3.
/// 0-based codes; every county has at least one house.
fn radon_data(seed: u64) -> (Vec<usize>, Vec<f64>, Vec<f64>) {
    let (n, j) = (900, 85);
    let mut rng = StdRng::seed_from_u64(seed);
    let effect: Vec<f64> = (0..j)
        .map(|_| 0.3 * rng.sample::<f64, _>(StandardNormal))
        .collect();
    let mut county: Vec<usize> = (0..j).collect();
    while county.len() < n {
        // Sizes skewed towards low codes.
        let u: f64 = rng.random();
        county.push(((u * u * u) * j as f64) as usize);
    }
    let x: Vec<f64> = (0..n)
        .map(|_| f64::from(u8::from(rng.random::<f64>() < 0.2)))
        .collect();
    let y: Vec<f64> = (0..n)
        .map(|i| 1.3 + effect[county[i]] - 0.7 * x[i] + 0.8 * rng.sample::<f64, _>(StandardNormal))
        .collect();
    (county, x, y)
}

fn radon_reference(county: &[usize], x: &[f64], y: &[f64], j: usize, th: &[f64], jac: bool) -> f64 {
    let mut r = Reader::new(th);
    let mu_a = r.real();
    let sigma_a = r.positive();
    let z = r.reals(j);
    let b = r.real();
    let sigma = r.positive();
    r.done();
    let mut lp = normal(mu_a, 0.0, 10.0) + half_normal(sigma_a, 1.0);
    lp += z.iter().map(|&v| normal(v, 0.0, 1.0)).sum::<f64>();
    lp += normal(b, 0.0, 10.0) + half_normal(sigma, 1.0);
    for i in 0..y.len() {
        let a = mu_a + sigma_a * z[county[i]];
        lp += normal(y[i], a + b * x[i], sigma);
    }
    lp + if jac { r.jac } else { 0.0 }
}

#[test]
fn radon_varying_intercepts_gather() {
    let (county, x, y) = radon_data(1);
    let m = radon(&county, &x, &y, 85).unwrap();
    assert_eq!(m.dim(), 89);
    check_model(&m, 1.0, 41, |th, jac| {
        radon_reference(&county, &x, &y, 85, th, jac)
    });
}

/// Asserts that two models give the same log density and gradient at seeded points, to
/// `1e-12` relative (the vectorised path sums in another order than the loop).
fn same_as(a: &impl Model, b: &impl Model, r: f64, seed: u64) {
    assert_eq!(a.dim(), b.dim());
    let mut rng = StdRng::seed_from_u64(seed);
    for _ in 0..3 {
        let th: Vec<f64> = (0..a.dim()).map(|_| rng.random_range(-r..r)).collect();
        let (mut ga, mut gb) = (vec![0.0; th.len()], vec![0.0; th.len()]);
        let (la, lb) = (
            a.log_density_grad(&th, &mut ga),
            b.log_density_grad(&th, &mut gb),
        );
        assert!(close(la, lb, 1e-12), "log density {la} vs {lb}");
        assert!(close(a.log_density(&th), lb, 1e-12));
        for (k, (x, y)) in ga.iter().zip(&gb).enumerate() {
            assert!(
                (x - y).abs() <= 1e-12 * (1.0 + x.abs().max(y.abs())) * 10.0,
                "gradient {k}: {x} vs {y}"
            );
        }
    }
}

#[test]
fn radon_vectorised_equals_the_loop() {
    let (county, x, y) = radon_data(2);
    let v = radon(&county, &x, &y, 85).unwrap();
    let l = radon_loop(&county, &x, &y, 85).unwrap();
    same_as(&v, &l, 1.0, 42);
}

#[test]
fn radon_centred_with_one_based_codes_and_predictors_near_100() {
    let (county0, x01, y) = radon_data(3);
    let j = 85;
    let county: Vec<usize> = county0.iter().map(|c| c + 1).collect();
    // A county-level measurement near 100 and a household one near 100 (unstandardised).
    let u: Vec<f64> = (0..j).map(|c| 95.0 + (c % 11) as f64).collect();
    let x: Vec<f64> = x01
        .iter()
        .enumerate()
        .map(|(i, f)| 98.0 + 4.0 * f + (i % 3) as f64)
        .collect();
    let y: Vec<f64> = y
        .iter()
        .zip(&county0)
        .zip(&x)
        .map(|((yi, c), xi)| yi + 0.01 * u[*c] + 0.01 * xi)
        .collect();
    let m = radon_centred(&county, &u, &x, &y, j).unwrap();
    check_model(&m, 0.05, 43, |th, jac| {
        let mut r = Reader::new(th);
        let mu_a = r.real();
        let sigma_a = r.positive();
        let a = r.reals(j);
        let g = r.real();
        let b = r.real();
        let sigma = r.positive();
        r.done();
        let mut lp = normal(mu_a, 0.0, 10.0) + half_normal(sigma_a, 1.0);
        lp += a.iter().map(|&v| normal(v, mu_a, sigma_a)).sum::<f64>();
        lp += normal(g, 0.0, 1.0) + normal(b, 0.0, 1.0) + half_normal(sigma, 1.0);
        for i in 0..y.len() {
            let c = county[i] - 1;
            lp += normal(y[i], a[c] + g * u[c] + b * x[i], sigma);
        }
        lp + if jac { r.jac } else { 0.0 }
    });
}

// --- Index errors through the vectorised path --------------------------------------------

model! {
    /// Counties within regions: the gather's loop inside a loop over regions.
    fn by_region(start: &[usize], county: &[usize], y: &[f64]) {
        let a ~ Normal(0.0, 1.0).iid(3);
        for r in 0..start.len() - 1 {
            let lo = start[r];
            let hi = start[r + 1];
            for i in lo..hi {
                y[i] ~ Normal(a[county[i]], 1.0);
            }
        }
    }
}

#[test]
fn an_index_out_of_range_in_a_gather_names_the_vector_the_index_and_the_loops() {
    let (county, x, y) = radon_data(4);
    let mut bad = county.clone();
    bad[17] = 85;
    let e = radon(&bad, &x, &y, 85).err().expect("an index error");
    assert_eq!(
        e.to_string(),
        "in `y[i] ~ Normal(a[county[i]] + b * x[i], sigma)`: index 85 is out of range for \
         `a` of length 85 at i = 17"
    );
    // The loop's own message is the same.
    let e2 = radon_loop(&bad, &x, &y, 85).err().expect("an index error");
    assert_eq!(e.to_string(), e2.to_string());
    // 1-based codes read with `- 1`: a code 0 is index -1.
    let (u, x) = (vec![100.0; 85], vec![100.0; y.len()]);
    let mut one = county.iter().map(|c| c + 1).collect::<Vec<_>>();
    one[5] = 0;
    let e = radon_centred(&one, &u, &x, &y, 85)
        .err()
        .expect("an index error");
    assert!(
        e.to_string()
            .ends_with("index -1 is out of range for `county_level` of length 85 at i = 5"),
        "{e}"
    );
    // Inside a loop over regions: both loops' values.
    let y = [0.1, 0.2, 0.3, 0.4, 0.5];
    assert!(by_region(&[0, 2, 5], &[0, 1, 2, 2, 1], &y).is_ok());
    let e = by_region(&[0, 2, 5], &[0, 1, 2, 3, 1], &y)
        .err()
        .expect("an index error");
    assert_eq!(
        e.to_string(),
        "in `y[i] ~ Normal(a[county[i]], 1.0)`: index 3 is out of range for `a` of length 3 \
         at r = 1, i = 3"
    );
}

// --- AR(5): shifted data ------------------------------------------------------------------

model! {
    /// AR(5) with its lags written out: five shifted slices of `y`.
    fn ar5(y: &[f64]) {
        let alpha ~ Normal(0.0, 10.0);
        let beta ~ Normal(0.0, 10.0).iid(5);
        let sigma ~ HalfCauchy(2.5);
        for t in 5..y.len() {
            y[t] ~ Normal(
                alpha + beta[0] * y[t - 1] + beta[1] * y[t - 2] + beta[2] * y[t - 3]
                    + beta[3] * y[t - 4] + beta[4] * y[t - 5],
                sigma
            );
        }
    }
}

model! {
    /// The same, per iteration.
    fn ar5_loop(y: &[f64]) {
        let alpha ~ Normal(0.0, 10.0);
        let beta ~ Normal(0.0, 10.0).iid(5);
        let sigma ~ HalfCauchy(2.5);
        for t in 5..y.len() {
            let _iteration = t;
            y[t] ~ Normal(
                alpha + beta[0] * y[t - 1] + beta[1] * y[t - 2] + beta[2] * y[t - 3]
                    + beta[3] * y[t - 4] + beta[4] * y[t - 5],
                sigma
            );
        }
    }
}

/// An AR(5) series, T = 1000, seeded; a level near 100 (unstandardised).
fn ar5_series(t: usize) -> Vec<f64> {
    let beta = [0.5, 0.2, -0.1, 0.15, 0.1];
    let mut rng = StdRng::seed_from_u64(51);
    let mut y = vec![100.0; 5];
    while y.len() < t {
        let n = y.len();
        let mu = 15.0 + (0..5).map(|k| beta[k] * y[n - 1 - k]).sum::<f64>();
        y.push(mu + rng.sample::<f64, _>(StandardNormal));
    }
    y
}

fn ar5_reference(y: &[f64], th: &[f64], jac: bool) -> f64 {
    let mut r = Reader::new(th);
    let alpha = r.real();
    let beta = r.reals(5);
    let sigma = r.positive();
    r.done();
    let mut lp = normal(alpha, 0.0, 10.0) + half_cauchy(sigma, 2.5);
    lp += beta.iter().map(|&b| normal(b, 0.0, 10.0)).sum::<f64>();
    for t in 5..y.len() {
        let mu = alpha + (0..5).map(|k| beta[k] * y[t - k - 1]).sum::<f64>();
        lp += normal(y[t], mu, sigma);
    }
    lp + if jac { r.jac } else { 0.0 }
}

#[test]
fn ar5_on_posteriordb_ark_shifted_slices() {
    let y = &data::ARK_Y[..];
    let m = ar5(y).unwrap();
    check_model(&m, 0.5, 52, |th, jac| ar5_reference(y, th, jac));
    // posteriordb's nested form (`mu += beta[j] * y[t - j - 1]`) is the same model.
    same_as(&m, &ar_k(5, y).unwrap(), 0.5, 53);
}

#[test]
fn ar5_on_a_long_series_near_100() {
    let y = ar5_series(1000);
    let m = ar5(&y).unwrap();
    check_model(&m, 0.05, 54, |th, jac| ar5_reference(&y, th, jac));
    same_as(&m, &ar5_loop(&y).unwrap(), 0.05, 55);
}

model! {
    /// Counts driven by a lagged predictor, from `t = 2`.
    fn counts_lagged(c: &[i64], y: &[f64]) {
        let a ~ Normal(0.0, 1.0);
        let b ~ Normal(0.0, 1.0);
        for t in 2..c.len() {
            c[t] ~ PoissonLog(a + b * y[t - 1]);
        }
    }
}

#[test]
fn an_observed_value_in_a_loop_from_k_is_named_by_the_loops_index() {
    let y: Vec<f64> = (0..20).map(|t| (t as f64 * 0.3).sin()).collect();
    let mut c: Vec<i64> = (0..20).map(|t| t % 4).collect();
    assert!(counts_lagged(&c, &y).is_ok());
    c[7] = -1;
    match counts_lagged(&c, &y) {
        Err(vi::ModelError::Statement {
            argument, index, ..
        }) => {
            assert_eq!(argument.as_deref(), Some("c[t]"));
            // Lane 5 of the loop from 2: the loop's index 7.
            assert_eq!(index, Some(7));
        }
        Err(other) => panic!("expected the statement's error, got {other}"),
        Ok(_) => panic!("a count of -1 was accepted"),
    }
    let mut y = ar5_series(50);
    y[23] = f64::NAN;
    // Data checks run first and name the element of the argument.
    let e = ar5(&y).err().expect("an error");
    assert!(e.to_string().contains("y[23]"), "{e}");
    // A shift past the start of the data: the loop would have read y[-1].
    model! {
        fn ar_bad(y: &[f64]) {
            let a ~ Normal(0.0, 1.0);
            for t in 0..y.len() {
                y[t] ~ Normal(a * y[t - 1], 1.0);
            }
        }
    }
    let y = ar5_series(10);
    assert!(ar_bad(&y).is_err());
}

// --- Stochastic volatility: a latent shifted, and slices on the left of `~` -----------------

// Stan's element form, `h[t] ~ ..` on a latent shifted by one, is `macro_constructs`'s model.
use crate::macro_constructs::sv_centred as sv_elements;

model! {
    /// The vector form, with slices on the left of `~` (Stan's `h[2:T] ~ ..`).
    fn sv_slices(y: &[f64]) {
        let mu ~ Normal(0.0, 10.0);
        let phi ~ Uniform(-1.0, 1.0);
        let sigma ~ HalfCauchy(5.0);
        let h ~ Flat.iid(y.len());
        h[0] ~ Normal(mu, sigma / (1.0 - phi * phi).sqrt());
        h[1..y.len()] ~ Normal(mu + phi * (segment(h, 0, y.len() - 1) - mu), sigma);
        y ~ Normal(0.0, (h / 2.0).exp());
    }
}

model! {
    /// Stan's element form per iteration.
    fn sv_loop(y: &[f64]) {
        let mu ~ Normal(0.0, 10.0);
        let phi ~ Uniform(-1.0, 1.0);
        let sigma ~ HalfCauchy(5.0);
        let h ~ Flat.iid(y.len());
        h[0] ~ Normal(mu, sigma / (1.0 - phi * phi).sqrt());
        for t in 1..y.len() {
            let _iteration = t;
            h[t] ~ Normal(mu + phi * (h[t - 1] - mu), sigma);
        }
        for t in 0..y.len() {
            let _iteration = t;
            y[t] ~ Normal(0.0, (h[t] / 2.0).exp());
        }
    }
}

/// Returns of the model, T = 500, seeded: mu = -1, phi = 0.95, sigma = 0.25.
fn sv_series(t: usize) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(61);
    let (mu, phi, sigma) = (-1.0, 0.95, 0.25);
    let mut h = mu + sigma / (1.0f64 - phi * phi).sqrt() * rng.sample::<f64, _>(StandardNormal);
    let mut y = Vec::with_capacity(t);
    for _ in 0..t {
        y.push((h / 2.0).exp() * rng.sample::<f64, _>(StandardNormal));
        h = mu + phi * (h - mu) + sigma * rng.sample::<f64, _>(StandardNormal);
    }
    y
}

#[test]
fn stochastic_volatility_element_form_equals_the_vector_form() {
    let y = sv_series(500);
    let e = sv_elements(&y).unwrap();
    let s = sv_slices(&y).unwrap();
    let l = sv_loop(&y).unwrap();
    check_model(&s, 1.0, 62, |th, jac| {
        let n = y.len();
        let mut r = Reader::new(th);
        let mu = r.real();
        let phi = r.interval(-1.0, 1.0);
        let sigma = r.positive();
        let h = r.reals(n);
        r.done();
        let mut lp = normal(mu, 0.0, 10.0) + uniform(phi, -1.0, 1.0) + half_cauchy(sigma, 5.0);
        lp += normal(h[0], mu, sigma / (1.0 - phi * phi).sqrt());
        for t in 1..n {
            lp += normal(h[t], mu + phi * (h[t - 1] - mu), sigma);
        }
        for t in 0..n {
            lp += normal(y[t], 0.0, (h[t] / 2.0).exp());
        }
        lp + if jac { r.jac } else { 0.0 }
    });
    same_as(&e, &s, 1.0, 63);
    same_as(&e, &l, 1.0, 64);
}

#[test]
fn a_latent_shift_past_the_start_names_the_index() {
    model! {
        fn rw_bad(y: &[f64]) {
            let h ~ Flat.iid(y.len());
            for t in 0..y.len() {
                h[t] ~ Normal(h[t - 1], 1.0);
            }
            y ~ Normal(h, 1.0);
        }
    }
    let e = rw_bad(&[0.1, 0.2, 0.3]).err().expect("an index error");
    assert_eq!(
        e.to_string(),
        "in `h[t] ~ Normal(h[t - 1], 1.0)`: index -1 is out of range for `h` of length 3 \
         at t = 0"
    );
}

#[test]
fn a_slice_past_the_end_names_the_index() {
    model! {
        fn slice_bad(y: &[f64], k: usize) {
            let h ~ Flat.iid(y.len());
            h[1..k] ~ Normal(0.0, 1.0);
            y ~ Normal(h, 1.0);
        }
    }
    assert!(slice_bad(&[0.1, 0.2, 0.3], 3).is_ok());
    let e = slice_bad(&[0.1, 0.2, 0.3], 5)
        .err()
        .expect("an index error");
    assert_eq!(
        e.to_string(),
        "in `h[1..k] ~ Normal(0.0, 1.0)`: index 3 is out of range for `h` of length 3"
    );
}
