//! Sufficient statistics (issue 16): an observation statement with scalar parameters and
//! data that never changes is evaluated from statistics of the data made once; its density
//! and gradient equal the per-observation form (the same statement written as a loop over
//! the observations, which runs the one-element kernels) to 1e-12 relative, at N in the
//! thousands with unstandardised values.

use crate::helpers::unif;
use vi::prelude::*;

/// Agreement of value and gradient to 1e-12 relative at several points.
fn same(a: &impl Model, b: &impl Model, points: &[Vec<f64>]) {
    assert_eq!(a.dim(), b.dim());
    for th in points {
        let (mut ga, mut gb) = (vec![0.0; th.len()], vec![0.0; th.len()]);
        let la = a.log_density_grad(th, &mut ga);
        let lb = b.log_density_grad(th, &mut gb);
        assert!(la.is_finite(), "{la} at {th:?}");
        assert!(
            (la - lb).abs() <= 1e-12 * lb.abs(),
            "{la} vs {lb} at {th:?}"
        );
        for (x, y) in ga.iter().zip(&gb) {
            // Relative to the gradient's scale: a partial that cancels to near 0 is compared
            // with the size of its terms (the largest partial).
            let scale = gb.iter().fold(1.0f64, |m, v| m.max(v.abs()));
            assert!((x - y).abs() <= 1e-12 * scale, "{x} vs {y} at {th:?}");
        }
    }
}

model! {
    fn normal_vec(y: &[f64]) {
        let mu ~ Normal(100.0, 50.0);
        let sigma ~ HalfNormal(30.0);
        y ~ Normal(mu, sigma);
    }
}

model! {
    fn normal_loop(y: &[f64]) {
        let mu ~ Normal(100.0, 50.0);
        let sigma ~ HalfNormal(30.0);
        for i in 0..y.len() {
            y[i] ~ Normal(mu, sigma);
        }
    }
}

#[test]
fn normal_statistics_equal_the_per_observation_sum() {
    // Heights near 170 with a spread of 10 (unstandardised), N = 4000.
    let y: Vec<f64> = unif(4000, 1)
        .iter()
        .map(|u| 170.0 + 20.0 * (u - 0.5))
        .collect();
    let (a, b) = (normal_vec(&y).unwrap(), normal_loop(&y).unwrap());
    same(
        &a,
        &b,
        &[vec![170.2, 1.7], vec![150.0, 0.5], vec![171.0, 4.0]],
    );
}

model! {
    fn bern_vec(y: &[i64]) {
        let p ~ Beta(2.0, 2.0);
        y ~ Bernoulli(p);
    }
}

model! {
    fn bern_loop(y: &[i64]) {
        let p ~ Beta(2.0, 2.0);
        for i in 0..y.len() {
            y[i] ~ Bernoulli(p);
        }
    }
}

model! {
    fn bern_logit_vec(y: &[i64]) {
        let a ~ Normal(0.0, 3.0);
        y ~ BernoulliLogit(a);
    }
}

model! {
    fn bern_logit_loop(y: &[i64]) {
        let a ~ Normal(0.0, 3.0);
        for i in 0..y.len() {
            y[i] ~ BernoulliLogit(a);
        }
    }
}

#[test]
fn bernoulli_statistics_equal_the_per_observation_sum() {
    let y: Vec<i64> = unif(3001, 2).iter().map(|u| i64::from(*u < 0.71)).collect();
    let pts = [vec![0.9], vec![-0.4], vec![2.5]];
    same(&bern_vec(&y).unwrap(), &bern_loop(&y).unwrap(), &pts);
    same(
        &bern_logit_vec(&y).unwrap(),
        &bern_logit_loop(&y).unwrap(),
        &pts,
    );
}

model! {
    fn pois_vec(k: &[i64]) {
        let lambda ~ Gamma(2.0, 0.1);
        k ~ Poisson(lambda);
    }
}

model! {
    fn pois_loop(k: &[i64]) {
        let lambda ~ Gamma(2.0, 0.1);
        for i in 0..k.len() {
            k[i] ~ Poisson(lambda);
        }
    }
}

model! {
    fn pois_log_vec(k: &[i64]) {
        let a ~ Normal(0.0, 5.0);
        k ~ PoissonLog(a);
    }
}

model! {
    fn pois_log_loop(k: &[i64]) {
        let a ~ Normal(0.0, 5.0);
        for i in 0..k.len() {
            k[i] ~ PoissonLog(a);
        }
    }
}

#[test]
fn poisson_statistics_equal_the_per_observation_sum() {
    // Counts near 40 (sum ln k! is large), N = 2500.
    let k: Vec<i64> = unif(2500, 3)
        .iter()
        .map(|u| (25.0 + 30.0 * u) as i64)
        .collect();
    let pts = [vec![3.7], vec![3.0], vec![4.2]];
    same(&pois_vec(&k).unwrap(), &pois_loop(&k).unwrap(), &pts);
    same(
        &pois_log_vec(&k).unwrap(),
        &pois_log_loop(&k).unwrap(),
        &pts,
    );
}

model! {
    fn binom_vec(k: &[i64], n: i64) {
        let p ~ Beta(1.0, 1.0);
        k ~ Binomial(n, p);
    }
}

model! {
    fn binom_loop(k: &[i64], n: i64) {
        let p ~ Beta(1.0, 1.0);
        for i in 0..k.len() {
            k[i] ~ Binomial(n, p);
        }
    }
}

#[test]
fn binomial_statistics_equal_the_per_observation_sum() {
    let k: Vec<i64> = unif(2000, 4).iter().map(|u| (60.0 * u) as i64).collect();
    let pts = [vec![0.1], vec![-1.0], vec![1.5]];
    same(
        &binom_vec(&k, 80).unwrap(),
        &binom_loop(&k, 80).unwrap(),
        &pts,
    );
}

model! {
    fn expo_vec(y: &[f64]) {
        let rate ~ Gamma(1.0, 1.0);
        y ~ Exponential(rate);
    }
}

model! {
    fn expo_loop(y: &[f64]) {
        let rate ~ Gamma(1.0, 1.0);
        for i in 0..y.len() {
            y[i] ~ Exponential(rate);
        }
    }
}

model! {
    fn gamma_vec(y: &[f64]) {
        let a ~ Gamma(2.0, 0.5);
        let b ~ Gamma(2.0, 0.5);
        y ~ Gamma(a, b);
    }
}

model! {
    fn gamma_loop(y: &[f64]) {
        let a ~ Gamma(2.0, 0.5);
        let b ~ Gamma(2.0, 0.5);
        for i in 0..y.len() {
            y[i] ~ Gamma(a, b);
        }
    }
}

#[test]
fn exponential_and_gamma_statistics_equal_the_per_observation_sum() {
    // Waiting times near 300 (unstandardised), N = 3000.
    let y: Vec<f64> = unif(3000, 5)
        .iter()
        .map(|u| -300.0 * (1.0 - u).ln() + 1.0)
        .collect();
    same(
        &expo_vec(&y).unwrap(),
        &expo_loop(&y).unwrap(),
        &[vec![-5.7], vec![-4.0], vec![-7.0]],
    );
    same(
        &gamma_vec(&y).unwrap(),
        &gamma_loop(&y).unwrap(),
        &[vec![0.1, -5.6], vec![1.0, -4.0], vec![-0.5, -6.5]],
    );
}
