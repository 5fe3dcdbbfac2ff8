//! Issue 17's vocabulary in `model!`: Stan's functions on a latent's path (and on data),
//! `Dist(..).lpdf(x)` / `.lcdf(x)` / `.lccdf(x)` as expressions, and the new scalar
//! distributions as priors and observations. Densities against formulas written here
//! (with `libm` and the textbook densities of `support`; digamma and Phi from
//! `vi::math::special`, which the runtime's tests pin to scipy), gradients against central
//! finite differences (`check_model`), posteriors against quadrature, conjugate closed forms
//! and our own NUTS.

use crate::support::*;
use nalgebra::DVector;
use vi::math::special as sp;
use vi::prelude::*;

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
    lp += 2.0 * lgamma(b)
        + lbeta(b, u + 1.0)
        + sp::digamma(b)
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

model! {
    /// The elementwise functions on vectors and matrices, `log_sum_exp` over a vector and a
    /// matrix, and two-operand functions broadcasting a scalar.
    fn vector_fns(x: &DVector<f64>) {
        let v ~ Normal(0.0, 1.0).iid(3);
        let w ~ Normal(0.0, 1.0).iid((2, 2));
        let s ~ HalfNormal(1.0);
        target += log_sum_exp(v) + w.log_sum_exp() + log_sum_exp(v * 2.0);
        target += sum(log1p_exp(v)) + sum(square(w)) + sum(Phi(v)) + sum(v.lgamma() * 0.0);
        target += sum(log_sum_exp(v, x)) + sum(fmax(v, s)) + sum(lbeta(s, v.exp()));
        target += sum(log_mix(0.3, v, x)) + sum(pow(v.exp(), s));
    }
}

fn vector_fns_ref(th: &[f64], jac: bool, x: &[f64]) -> f64 {
    let mut r = Reader::new(th);
    let v = r.reals(3);
    let w = r.reals(4);
    let s = r.positive();
    r.done();
    let mut lp: f64 = v
        .iter()
        .chain(&w)
        .map(|&z| normal(z, 0.0, 1.0))
        .sum::<f64>()
        + half_normal(s, 1.0);
    if jac {
        lp += r.jac;
    }
    let lse_all = |z: &[f64]| z.iter().map(|t| t.exp()).sum::<f64>().ln();
    let v2: Vec<f64> = v.iter().map(|t| 2.0 * t).collect();
    lp += lse_all(&v) + lse_all(&w) + lse_all(&v2);
    for i in 0..3 {
        lp += (1.0 + v[i].exp()).ln() + phi(v[i]);
        lp += lse(v[i], x[i]) + v[i].max(s) + lbeta(s, v[i].exp());
        lp += (0.3 * v[i].exp() + 0.7 * x[i].exp()).ln() + (v[i] * s).exp();
    }
    lp + w.iter().map(|t| t * t).sum::<f64>()
}

#[test]
fn elementwise_functions_and_reductions_on_vectors_and_matrices() {
    let x = [0.2, -1.0, 0.5];
    let m = vector_fns(&DVector::from_column_slice(&x)).unwrap();
    assert_eq!(m.dim(), 8);
    check_model(&m, 1.2, 2, |th, jac| vector_fns_ref(th, jac, &x));
}

model! {
    /// Densities and log CDFs as values: a latent's path into `lpdf`, `lcdf` and `lccdf`
    /// of scalars and of a vector (the sum of the elements' terms), inside `log_mix` and
    /// `log_sum_exp`, a discrete `lpmf` and a density written in a loop.
    fn density_exprs(y: &DVector<f64>, t: &[f64], k: &[i64]) {
        let mu ~ Normal(0.0, 2.0);
        let sigma ~ LogNormal(0.0, 0.5);
        let lambda ~ Gamma(3.0, 1.0);
        target += Normal(mu, sigma).lpdf(y);
        target += Weibull(lambda, sigma).lccdf(t) + Gumbel(mu, sigma).lcdf(t[0]);
        target += Logistic(mu, sigma).lccdf(y) + Exponential(lambda).lcdf(t);
        target += Poisson(lambda).lpmf(k) + Poisson(lambda).lccdf(k[1]);
        target += LogNormal(mu, sigma).lcdf(lambda);
        for i in 0..y.len() {
            target += log_mix(0.3, Normal(mu, 1.0).lpdf(y[i]), Normal(-mu, sigma).lpdf(y[i]));
            target += log_sum_exp(Cauchy(mu, 1.0).lpdf(y[i]), Gamma(2.0, lambda).lccdf(t[i]));
        }
    }
}

fn weibull_lccdf(t: f64, k: f64, s: f64) -> f64 {
    -(t / s).powf(k)
}

fn density_exprs_ref(th: &[f64], jac: bool, y: &[f64], t: &[f64], k: &[i64]) -> f64 {
    let mut r = Reader::new(th);
    let mu = r.real();
    let sigma = r.positive();
    let lambda = r.positive();
    r.done();
    let mut lp = normal(mu, 0.0, 2.0) + log_normal(sigma, 0.0, 0.5) + gamma(lambda, 3.0, 1.0);
    if jac {
        lp += r.jac;
    }
    let logistic_lccdf = |x: f64| -(1.0 + ((x - mu) / sigma).exp()).ln();
    for &yi in y {
        lp += normal(yi, mu, sigma) + logistic_lccdf(yi);
    }
    for &ti in t {
        lp += weibull_lccdf(ti, lambda, sigma) + (1.0 - (-lambda * ti).exp()).ln();
    }
    // Gumbel CDF: exp(-exp(-(x - mu) / beta)).
    lp += -(-(t[0] - mu) / sigma).exp();
    for &ki in k {
        lp += poisson(ki as f64, lambda);
    }
    // P(K > k1) = 1 - sum_{j <= k1} pmf(j)
    let cdf: f64 = (0..=k[1]).map(|j| poisson(j as f64, lambda).exp()).sum();
    lp += (1.0 - cdf).ln();
    lp += phi((lambda.ln() - mu) / sigma).ln();
    for i in 0..y.len() {
        lp += (0.3 * normal(y[i], mu, 1.0).exp() + 0.7 * normal(y[i], -mu, sigma).exp()).ln();
        // Gamma(2, rate) survival: (1 + rate t) e^{-rate t}.
        let surv = (1.0 + lambda * t[i]).ln() - lambda * t[i];
        lp += lse(cauchy(y[i], mu, 1.0), surv);
    }
    lp
}

#[test]
fn densities_and_cdfs_as_values() {
    let y = [0.3, -1.2, 2.0];
    let t = [0.5, 1.5, 0.8];
    let k = [2i64, 0, 5];
    let m = density_exprs(&DVector::from_column_slice(&y), &t, &k).unwrap();
    check_model(&m, 1.0, 3, |th, jac| density_exprs_ref(th, jac, &y, &t, &k));
}

model! {
    /// The new scalar distributions: continuous ones as priors, every one as an observation
    /// whose arguments depend on latents (Pareto's `y_min` and BetaBinomial's `n` are data;
    /// Categorical's probabilities are a softmax of a latent vector, OrderedLogistic's
    /// cutpoints data shifted by a latent).
    #[allow(clippy::too_many_arguments)]
    fn new_dists(
        t: &[f64], g: &[f64], z: &[f64], p: &[f64], bb: &[i64], n: &[i64], c: &[i64],
        cat: &[usize], ord: &[i64], cut: &DVector<f64>,
    ) {
        let k ~ Weibull(2.0, 1.5);
        let mu ~ Gumbel(0.0, 1.0);
        let loc ~ Logistic(0.0, 2.0);
        let v ~ Normal(0.0, 1.0).iid(3);
        t ~ Weibull(k, k + 0.5);
        g ~ Gumbel(mu, k);
        z ~ Logistic(loc, k);
        p ~ Pareto(0.5, k);
        bb ~ BetaBinomial(n, k, k + 1.0);
        c ~ NegBinomial2(k * 3.0, k);
        c ~ NegBinomial2Log(mu, k);
        let theta = (v - log_sum_exp(v)).exp();
        cat ~ Categorical(theta);
        cat ~ CategoricalLogit(v);
        ord ~ OrderedLogistic(loc, cut + mu);
    }
}

fn weibull(y: f64, a: f64, s: f64) -> f64 {
    (a / s).ln() + (a - 1.0) * (y / s).ln() - (y / s).powf(a)
}
fn gumbel(y: f64, m: f64, b: f64) -> f64 {
    let z = (y - m) / b;
    -b.ln() - z - (-z).exp()
}
fn logistic(y: f64, m: f64, s: f64) -> f64 {
    let z = (y - m) / s;
    -z - s.ln() - 2.0 * (1.0 + (-z).exp()).ln()
}
fn neg_binomial_2(y: f64, mu: f64, phi: f64) -> f64 {
    lgamma(y + phi) - lgamma(y + 1.0) - lgamma(phi)
        + y * (mu / (mu + phi)).ln()
        + phi * (phi / (mu + phi)).ln()
}
fn ordered_logistic(k: usize, eta: f64, c: &[f64]) -> f64 {
    let sigm = |x: f64| 1.0 / (1.0 + (-x).exp());
    let above = |j: usize| sigm(eta - c[j]);
    let p = if k == 0 {
        1.0 - above(0)
    } else if k == c.len() {
        above(k - 1)
    } else {
        above(k - 1) - above(k)
    };
    p.ln()
}

#[test]
fn new_scalar_distributions_as_priors_and_observations() {
    let t = [0.7, 1.9, 1.1];
    let g = [0.4, -0.6];
    let z = [1.3, -0.2];
    let p = [0.9, 2.5];
    let (bb, n) = ([3i64, 0, 7], [5i64, 4, 9]);
    let c = [0i64, 4, 11];
    let cat = [2usize, 0, 1, 2];
    let ord = [0i64, 2, 1, 2];
    let cut = [-0.5, 0.7];
    let m = new_dists(
        &t,
        &g,
        &z,
        &p,
        &bb,
        &n,
        &c,
        &cat,
        &ord,
        &DVector::from_column_slice(&cut),
    )
    .unwrap();
    assert_eq!(m.dim(), 6);
    check_model(&m, 1.0, 4, |th, jac| {
        let mut r = Reader::new(th);
        let k = r.positive();
        let mu = r.real();
        let loc = r.real();
        let v = r.reals(3);
        r.done();
        let mut lp = weibull(k, 2.0, 1.5) + gumbel(mu, 0.0, 1.0) + logistic(loc, 0.0, 2.0);
        lp += v.iter().map(|&x| normal(x, 0.0, 1.0)).sum::<f64>();
        if jac {
            lp += r.jac;
        }
        lp += t.iter().map(|&y| weibull(y, k, k + 0.5)).sum::<f64>();
        lp += g.iter().map(|&y| gumbel(y, mu, k)).sum::<f64>();
        lp += z.iter().map(|&y| logistic(y, loc, k)).sum::<f64>();
        lp += p
            .iter()
            .map(|&y| k.ln() + k * 0.5f64.ln() - (k + 1.0) * y.ln())
            .sum::<f64>();
        for i in 0..3 {
            let (y, nn) = (bb[i] as f64, n[i] as f64);
            lp += lgamma(nn + 1.0) - lgamma(y + 1.0) - lgamma(nn - y + 1.0)
                + lbeta(y + k, nn - y + k + 1.0)
                - lbeta(k, k + 1.0);
            lp +=
                neg_binomial_2(c[i] as f64, k * 3.0, k) + neg_binomial_2(c[i] as f64, mu.exp(), k);
        }
        let l = lse(lse(v[0], v[1]), v[2]);
        lp += 2.0 * cat.iter().map(|&j| v[j] - l).sum::<f64>();
        let cm: Vec<f64> = cut.iter().map(|x| x + mu).collect();
        lp += ord
            .iter()
            .map(|&j| ordered_logistic(j as usize, loc, &cm))
            .sum::<f64>();
        lp
    });
}

// --- Posteriors ------------------------------------------------------------------------------

use rand::{Rng, SeedableRng};

fn nuts_diag(post: &Posterior) -> &vi::NutsDiagnostics {
    match post.diagnostics() {
        Diagnostics::Nuts(d) => d,
        other => panic!("expected NUTS diagnostics, got {}", other.method()),
    }
}

/// NUTS's mean of the scalar `name` within 4 MCSE of `mean`, its sd within 5% of `sd`.
fn check_nuts_scalar(post: &Posterior, name: &str, mean: f64, sd: f64) {
    let d = nuts_diag(post);
    let p = d.param(name).unwrap();
    let got = post.mean(name).unwrap()[0];
    let got_sd = post.sd(name).unwrap()[0];
    assert!(
        (got - mean).abs() < 4.0 * p.mcse_mean,
        "{name}: mean {got} vs {mean} (mcse {})",
        p.mcse_mean
    );
    assert!(
        (got_sd / sd - 1.0).abs() < 0.05,
        "{name}: sd {got_sd} vs {sd}"
    );
    assert!(p.rhat < 1.01, "{name}: R-hat {}", p.rhat);
    assert_eq!(d.total_divergences(), 0);
}

/// Weibull survival times, right-censored at uniform times: (observed, censored).
fn censored_weibull(n: usize, k: f64, lambda: f64, seed: u64) -> (Vec<f64>, Vec<f64>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let (mut obs, mut cens) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let u: f64 = rng.random();
        let t = lambda * (-(1.0 - u).ln()).powf(1.0 / k);
        let c = rng.random_range(0.5..4.0);
        if t <= c {
            obs.push(t);
        } else {
            cens.push(c);
        }
    }
    (obs, cens)
}

model! {
    /// A right-censored Weibull survival model, Stan's way.
    fn weibull_survival(t_obs: &[f64], t_cens: &[f64]) {
        let k ~ Gamma(2.0, 1.0);
        let lambda ~ LogNormal(0.0, 1.0);
        t_obs ~ Weibull(k, lambda);
        target += Weibull(k, lambda).lccdf(t_cens);
    }
}

#[test]
fn censored_weibull_survival_with_thousands_of_rows() {
    let (obs, cens) = censored_weibull(3000, 1.5, 2.0, 11);
    assert!(
        cens.len() > 500 && obs.len() > 1000,
        "{} censored",
        cens.len()
    );
    let m = weibull_survival(&obs, &cens).unwrap();
    check_model(&m, 1.0, 5, |th, jac| {
        let mut r = Reader::new(th);
        let k = r.positive();
        let lambda = r.positive();
        r.done();
        let mut lp = gamma(k, 2.0, 1.0) + log_normal(lambda, 0.0, 1.0);
        if jac {
            lp += r.jac;
        }
        lp += obs.iter().map(|&t| weibull(t, k, lambda)).sum::<f64>();
        lp + cens
            .iter()
            .map(|&c| weibull_lccdf(c, k, lambda))
            .sum::<f64>()
    });
    // The fit recovers the simulation's parameters (within 4 posterior sds).
    let post = Laplace::default().seed(1).fit(&m).unwrap();
    for (name, truth) in [("k", 1.5), ("lambda", 2.0)] {
        let (mean, sd) = (post.mean(name).unwrap()[0], post.sd(name).unwrap()[0]);
        assert!(
            (mean - truth).abs() < 4.0 * sd,
            "{name}: {mean} +- {sd} vs {truth}"
        );
        assert!(sd < 0.1, "{name}: sd {sd}");
    }
}

model! {
    /// A two-component normal mixture's weight, by `log_mix`.
    fn mix_log_mix(y: &[f64], mu1: f64, mu2: f64, s1: f64, s2: f64) {
        let w ~ Beta(2.0, 2.0);
        for i in 0..y.len() {
            target += log_mix(w, Normal(mu1, s1).lpdf(y[i]), Normal(mu2, s2).lpdf(y[i]));
        }
    }
}

model! {
    /// The same mixture by `log_sum_exp` of two weighted log densities.
    fn mix_log_sum_exp(y: &[f64], mu1: f64, mu2: f64, s1: f64, s2: f64) {
        let w ~ Beta(2.0, 2.0);
        for i in 0..y.len() {
            target += log_sum_exp(
                w.ln() + Normal(mu1, s1).lpdf(y[i]),
                log1m(w) + Normal(mu2, s2).lpdf(y[i]),
            );
        }
    }
}

/// Draws from 0.3 N(-1, 1) + 0.7 N(2, 1.5).
fn mixture_data(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let u: f64 = rng.random();
            let z: f64 = rand_distr::Distribution::sample(&rand_distr::StandardNormal, &mut rng);
            if u < 0.3 {
                -1.0 + z
            } else {
                2.0 + 1.5 * z
            }
        })
        .collect()
}

/// The log posterior of the weight, by hand.
fn mixture_lp(w: f64, y: &[f64]) -> f64 {
    beta(w, 2.0, 2.0)
        + y.iter()
            .map(|&v| (w * normal(v, -1.0, 1.0).exp() + (1.0 - w) * normal(v, 2.0, 1.5).exp()).ln())
            .sum::<f64>()
}

#[test]
fn a_mixture_weight_against_quadrature() {
    let y = mixture_data(400, 21);
    // The reference: the posterior of w on a grid of 20000 midpoints of (0, 1).
    let n = 20_000;
    let grid: Vec<f64> = (0..n).map(|i| (i as f64 + 0.5) / n as f64).collect();
    let lps: Vec<f64> = grid.iter().map(|&w| mixture_lp(w, &y)).collect();
    let top = lps.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let ps: Vec<f64> = lps.iter().map(|l| (l - top).exp()).collect();
    let z: f64 = ps.iter().sum();
    let mean: f64 = grid.iter().zip(&ps).map(|(w, p)| w * p).sum::<f64>() / z;
    let var: f64 = grid
        .iter()
        .zip(&ps)
        .map(|(w, p)| (w - mean).powi(2) * p)
        .sum::<f64>()
        / z;
    let sd = var.sqrt();
    assert!((mean - 0.3).abs() < 0.1, "{mean}");

    let by_mix = mix_log_mix(&y, -1.0, 2.0, 1.0, 1.5).unwrap();
    let by_lse = mix_log_sum_exp(&y, -1.0, 2.0, 1.0, 1.5).unwrap();
    let reference = |th: &[f64], jac: bool| {
        let mut r = Reader::new(th);
        let w = r.unit();
        r.done();
        mixture_lp(w, &y) + if jac { r.jac } else { 0.0 }
    };
    check_model(&by_mix, 2.0, 6, reference);
    check_model(&by_lse, 2.0, 6, reference);
    let nuts = || {
        Nuts::default()
            .seed(3)
            .chains(4)
            .warmup(500)
            .draws(1500)
            .progress(false)
    };
    check_nuts_scalar(&nuts().fit(&by_mix).unwrap(), "w", mean, sd);
    check_nuts_scalar(&nuts().fit(&by_lse).unwrap(), "w", mean, sd);
}

model! {
    /// A Beta prior and binomial counts written as a log-probability expression.
    fn beta_binomial_expr(k: &[i64], n: &[i64]) {
        let p ~ Beta(2.0, 3.0);
        target += Binomial(n, p).lpmf(k);
    }
}

model! {
    /// The same likelihood by hand with `lchoose` and `log1m`.
    fn beta_binomial_hand(k: &DVector<f64>, n: &DVector<f64>) {
        let p ~ Beta(2.0, 3.0);
        target += sum(lchoose(n, k)) + sum(k) * p.ln() + sum(n - k) * log1m(p);
    }
}

#[test]
fn beta_binomial_conjugate_posterior_by_nuts() {
    let k = [3i64, 7, 1, 4, 6, 2];
    let n = [10i64, 12, 5, 9, 8, 6];
    let (sk, sn) = (k.iter().sum::<i64>() as f64, n.iter().sum::<i64>() as f64);
    let (a, b) = (2.0 + sk, 3.0 + sn - sk);
    let mean = a / (a + b);
    let sd = (a * b / ((a + b).powi(2) * (a + b + 1.0))).sqrt();
    let nuts = || {
        Nuts::default()
            .seed(9)
            .chains(4)
            .warmup(500)
            .draws(1500)
            .progress(false)
    };
    let expr = beta_binomial_expr(&k, &n).unwrap();
    check_nuts_scalar(&nuts().fit(&expr).unwrap(), "p", mean, sd);
    let kf = DVector::from_iterator(6, k.iter().map(|&v| v as f64));
    let nf = DVector::from_iterator(6, n.iter().map(|&v| v as f64));
    let hand = beta_binomial_hand(&kf, &nf).unwrap();
    check_nuts_scalar(&nuts().fit(&hand).unwrap(), "p", mean, sd);
    // Both are the conjugate posterior's density up to one constant.
    for u in [-1.0, 0.3, 2.0] {
        let d1 = expr.log_density(&[u]) - expr.log_density(&[0.0]);
        let d2 = hand.log_density(&[u]) - hand.log_density(&[0.0]);
        assert!((d1 - d2).abs() < 1e-10, "{d1} vs {d2}");
    }
}

model! {
    /// A negative-binomial GLM on a raw predictor near 100.
    fn neg_binomial_glm(x: &DVector<f64>, y: &[i64]) {
        let b0 ~ Normal(0.0, 5.0);
        let b1 ~ Normal(0.0, 1.0);
        let phi ~ Gamma(2.0, 0.5);
        y ~ NegBinomial2((x * b1 + b0).exp(), phi);
    }
}

#[test]
fn negative_binomial_glm_on_raw_predictors_vi_against_nuts() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(31);
    let n = 600;
    let x: Vec<f64> = (0..n).map(|_| rng.random_range(80.0..120.0)).collect();
    let sim = neg_binomial_2_log_rng(&x, -1.0, 0.025, 4.0, &mut rng);
    let m = neg_binomial_glm(&DVector::from_vec(x), &sim).unwrap();
    crate::vi_realistic::check_against_nuts("neg_binomial_glm", &m, 0.1);
}

/// NegBinomial2(exp(b0 + b1 x), phi) draws, as a Gamma-Poisson mixture.
fn neg_binomial_2_log_rng(
    x: &[f64],
    b0: f64,
    b1: f64,
    phi: f64,
    rng: &mut rand::rngs::StdRng,
) -> Vec<i64> {
    x.iter()
        .map(|&xi| {
            let mu = (b0 + b1 * xi).exp();
            let g = rand_distr::Gamma::new(phi, mu / phi).unwrap();
            let rate = rand_distr::Distribution::sample(&g, rng);
            let p = rand_distr::Poisson::new(rate.max(1e-12)).unwrap();
            rand_distr::Distribution::<f64>::sample(&p, rng) as i64
        })
        .collect()
}
