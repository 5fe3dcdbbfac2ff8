//! Fused statements of vectorised loops (issue 13, item 6's speed): in the gradient, a
//! distribution statement that reads a gather (`a[g[i]]`), a segment (`h[t - 1]`) or shifted
//! data (`y[t - k]`) runs as one loop over the lanes (operands, the distribution's
//! one-element formula and the adjoints together; `vi-macros/src/codegen/fused.rs`). Each
//! model here is checked against the same model kept per iteration (a data statement in the
//! loop's body keeps the loop a loop, so neither vectorised nor fused; 1e-12 relative), and
//! against its density written out here with finite-difference gradients (`check_model`).
//! Radon, AR(5) and stochastic volatility in `macro_gather.rs` take the fused path too.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use vi::prelude::*;

use crate::helpers::*;

/// Asserts that two models give the same log density and gradient at seeded points in
/// `[-r, r]`, to `1e-12` relative.
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
        let scale = gb.iter().fold(1.0f64, |m, g| m.max(g.abs()));
        for (k, (x, y)) in ga.iter().zip(&gb).enumerate() {
            assert!(
                (x - y).abs() <= 1e-12 * scale,
                "gradient {k}: {x} vs {y} (largest {scale})"
            );
        }
    }
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).expect("the data file is JSON")
}

fn column(v: &serde_json::Value, name: &str) -> Vec<f64> {
    v[name]
        .as_array()
        .expect("an array")
        .iter()
        .map(|x| x.as_f64().expect("a number"))
        .collect()
}

// --- kidiq: a gather by mother's schooling, mother's IQ near 100 --------------------------

model! {
    /// Kid's score by mother's high-school completion (an intercept per group, gathered
    /// through the 0/1 codes) and mother's IQ as measured (near 100, unstandardised).
    fn kidiq_groups(hs: &[usize], iq: &[f64], score: &[f64]) {
        let a ~ Normal(0.0, 100.0).iid(2);
        let b ~ Normal(0.0, 10.0);
        let sigma ~ HalfNormal(50.0);
        for i in 0..score.len() {
            score[i] ~ Normal(a[hs[i]] + b * iq[i], sigma);
        }
    }
}

model! {
    /// The same, per iteration.
    fn kidiq_groups_loop(hs: &[usize], iq: &[f64], score: &[f64]) {
        let a ~ Normal(0.0, 100.0).iid(2);
        let b ~ Normal(0.0, 10.0);
        let sigma ~ HalfNormal(50.0);
        for i in 0..score.len() {
            let _iteration = i;
            score[i] ~ Normal(a[hs[i]] + b * iq[i], sigma);
        }
    }
}

#[test]
fn kidiq_posteriordb_gather_with_raw_iq() {
    let v = json(include_str!(
        "../data/posteriordb/kidiq-kidscore_interaction.json"
    ));
    let hs: Vec<usize> = column(&v, "mom_hs").iter().map(|&h| h as usize).collect();
    let (iq, score) = (column(&v, "mom_iq"), column(&v, "kid_score"));
    assert_eq!(score.len(), 434);
    let m = kidiq_groups(&hs, &iq, &score).unwrap();
    check_model(&m, 0.05, 61, |th, jac| {
        let mut r = Reader::new(th);
        let a = r.reals(2);
        let b = r.real();
        let sigma = r.positive();
        r.done();
        let mut lp = normal(a[0], 0.0, 100.0) + normal(a[1], 0.0, 100.0);
        lp += normal(b, 0.0, 10.0) + half_normal(sigma, 50.0);
        for i in 0..score.len() {
            lp += normal(score[i], a[hs[i]] + b * iq[i], sigma);
        }
        lp + if jac { r.jac } else { 0.0 }
    });
    // Near the posterior (intercepts about 26, slope about 0.6, sigma about 18) and away.
    same_as(&m, &kidiq_groups_loop(&hs, &iq, &score).unwrap(), 0.5, 62);
}

// --- A time series: `y[t - 1]` through a `let`, a scale per lane, negation, division ----

model! {
    /// AR(1) around a level near 100 with a time-varying scale `sigma * w[t]`, the mean
    /// through a `let` of the loop, written with a subtraction, a negation and a division.
    fn ar1_hetero(y: &[f64], w: &[f64], c: f64) {
        let alpha ~ Normal(0.0, 10.0);
        let phi ~ Normal(0.0, 1.0);
        let sigma ~ HalfNormal(5.0);
        for t in 1..y.len() {
            let mu = alpha - (-phi) * y[t - 1] / c;
            y[t] ~ Normal(mu, sigma * w[t]);
        }
    }
}

model! {
    /// The same, per iteration.
    fn ar1_hetero_loop(y: &[f64], w: &[f64], c: f64) {
        let alpha ~ Normal(0.0, 10.0);
        let phi ~ Normal(0.0, 1.0);
        let sigma ~ HalfNormal(5.0);
        for t in 1..y.len() {
            let _iteration = t;
            let mu = alpha - (-phi) * y[t - 1] / c;
            y[t] ~ Normal(mu, sigma * w[t]);
        }
    }
}

/// An AR(1) series of length `n` around 100 with scales `w` between 0.5 and 1.5.
fn ar1_series(n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut rng = StdRng::seed_from_u64(71);
    let w: Vec<f64> = (0..n)
        .map(|t| 1.0 + 0.5 * (t as f64 / 50.0).sin())
        .collect();
    let mut y = vec![100.0];
    while y.len() < n {
        let t = y.len();
        let e: f64 = rng.sample(StandardNormal);
        y.push(20.0 + 0.8 * y[t - 1] + 2.0 * w[t] * e);
    }
    (y, w)
}

#[test]
fn ar1_with_a_scale_per_lane_through_a_let() {
    let (y, w) = ar1_series(1000);
    let m = ar1_hetero(&y, &w, 2.0).unwrap();
    check_model(&m, 0.05, 72, |th, jac| {
        let mut r = Reader::new(th);
        let alpha = r.real();
        let phi = r.real();
        let sigma = r.positive();
        r.done();
        let mut lp = normal(alpha, 0.0, 10.0) + normal(phi, 0.0, 1.0) + half_normal(sigma, 5.0);
        for t in 1..y.len() {
            lp += normal(y[t], alpha + phi * y[t - 1] / 2.0, sigma * w[t]);
        }
        lp + if jac { r.jac } else { 0.0 }
    });
    same_as(&m, &ar1_hetero_loop(&y, &w, 2.0).unwrap(), 0.05, 73);
}

// --- Another distribution, and a vector read twice -------------------------------------

model! {
    /// Counts with an origin and a destination effect read from the same vector (two
    /// gathers of one latent, one adjoint), `exp` of a gather computed before the loop, and a
    /// lagged exposure.
    fn flows(from: &[usize], to: &[usize], x: &[f64], n: &[i64]) {
        let e ~ Normal(0.0, 0.5).iid(6);
        let b ~ Normal(0.0, 1.0);
        for k in 1..n.len() {
            n[k] ~ PoissonLog(e[from[k]] - e[to[k]] + b * x[k - 1] + 0.1 * e[to[k]].exp());
        }
    }
}

model! {
    /// The same, per iteration.
    fn flows_loop(from: &[usize], to: &[usize], x: &[f64], n: &[i64]) {
        let e ~ Normal(0.0, 0.5).iid(6);
        let b ~ Normal(0.0, 1.0);
        for k in 1..n.len() {
            let _iteration = k;
            n[k] ~ PoissonLog(e[from[k]] - e[to[k]] + b * x[k - 1] + 0.1 * e[to[k]].exp());
        }
    }
}

#[test]
fn poisson_log_with_one_vector_gathered_twice() {
    let mut rng = StdRng::seed_from_u64(81);
    let len = 600;
    let from: Vec<usize> = (0..len).map(|_| rng.random_range(0..6)).collect();
    let to: Vec<usize> = (0..len).map(|_| rng.random_range(0..6)).collect();
    let x: Vec<f64> = (0..len).map(|_| rng.random_range(0.0..2.0)).collect();
    let n: Vec<i64> = (0..len).map(|_| rng.random_range(0..20)).collect();
    let m = flows(&from, &to, &x, &n).unwrap();
    check_model(&m, 0.3, 82, |th, jac| {
        let mut r = Reader::new(th);
        let e = r.reals(6);
        let b = r.real();
        r.done();
        let mut lp: f64 = e.iter().map(|&v| normal(v, 0.0, 0.5)).sum::<f64>() + normal(b, 0.0, 1.0);
        for k in 1..len {
            let eta = e[from[k]] - e[to[k]] + b * x[k - 1] + 0.1 * e[to[k]].exp();
            lp += poisson_log(n[k] as f64, eta);
        }
        lp + if jac { r.jac } else { 0.0 }
    });
    same_as(&m, &flows_loop(&from, &to, &x, &n).unwrap(), 0.3, 83);
}

// --- Errors are the vectorised loop's -------------------------------------------------

#[test]
fn a_gather_out_of_range_names_the_vector_the_index_and_the_loop() {
    let (from, mut to) = (vec![0usize, 1, 2, 3, 4, 5, 0, 1], vec![1usize; 8]);
    let (x, n) = (vec![0.5; 8], vec![3i64; 8]);
    assert!(flows(&from, &to, &x, &n).is_ok());
    to[5] = 6;
    let e = flows(&from, &to, &x, &n).err().expect("an index error");
    assert!(
        e.to_string()
            .ends_with("index 6 is out of range for `e` of length 6 at k = 5"),
        "{e}"
    );
    let e2 = flows_loop(&from, &to, &x, &n)
        .err()
        .expect("an index error");
    assert_eq!(e.to_string(), e2.to_string());
}

#[test]
fn a_zero_scale_in_one_lane_gives_what_the_loop_gives() {
    let (y, mut w) = ar1_series(20);
    w[7] = 0.0;
    let th = [0.0, 0.5, 0.0];
    let (mut g, mut g2) = (vec![0.0; 3], vec![0.0; 3]);
    let lp = ar1_hetero(&y, &w, 2.0)
        .unwrap()
        .log_density_grad(&th, &mut g);
    let ll = ar1_hetero_loop(&y, &w, 2.0)
        .unwrap()
        .log_density_grad(&th, &mut g2);
    assert!(!lp.is_finite() && !ll.is_finite(), "{lp} vs {ll}");
    assert_eq!(lp.is_nan(), ll.is_nan(), "{lp} vs {ll}");
}
