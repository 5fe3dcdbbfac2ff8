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
    lp += 2.0 * lgamma(b) + lbeta(b, u + 1.0) + sp::digamma(b)
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
    let mut lp: f64 = v.iter().chain(&w).map(|&z| normal(z, 0.0, 1.0)).sum::<f64>()
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
    lgamma(y + phi) - lgamma(y + 1.0) - lgamma(phi) + y * (mu / (mu + phi)).ln()
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
    let m = new_dists(&t, &g, &z, &p, &bb, &n, &c, &cat, &ord, &DVector::from_column_slice(&cut))
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
        lp += p.iter().map(|&y| k.ln() + k * 0.5f64.ln() - (k + 1.0) * y.ln()).sum::<f64>();
        for i in 0..3 {
            let (y, nn) = (bb[i] as f64, n[i] as f64);
            lp += lgamma(nn + 1.0) - lgamma(y + 1.0) - lgamma(nn - y + 1.0)
                + lbeta(y + k, nn - y + k + 1.0)
                - lbeta(k, k + 1.0);
            lp += neg_binomial_2(c[i] as f64, k * 3.0, k) + neg_binomial_2(c[i] as f64, mu.exp(), k);
        }
        let l = lse(lse(v[0], v[1]), v[2]);
        lp += 2.0 * cat.iter().map(|&j| v[j] - l).sum::<f64>();
        let cm: Vec<f64> = cut.iter().map(|x| x + mu).collect();
        lp += ord.iter().map(|&j| ordered_logistic(j as usize, loc, &cm)).sum::<f64>();
        lp
    });
}
