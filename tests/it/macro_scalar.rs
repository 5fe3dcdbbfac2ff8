//! The scalar kernel path of `model!`: distribution statements whose operands are all numbers
//! (elements of data, scalar latents, scalar expressions of them) call the one-element
//! kernels, keeping each statement's parameter-only pieces across loop iterations. Every
//! distribution observed per element in a loop, with latents in every parameter, scales that
//! change with each element next to scales that do not, and integer and `bool` data
//! elements; and the same statement mixing the scalar and the vectorised path. Log density
//! against a formula written here (1e-10), gradient against finite differences (1e-6),
//! through `check_model`.

use crate::helpers::*;
use nalgebra::{DMatrix, DVector};
use vi::prelude::*;

model! {
    fn scalar_every_distribution(
        x: &DVector<f64>,
        y_real: &DVector<f64>,
        y_pos: &Vec<f64>,
        y_unit: &[f64],
        hit: &[bool],
        k: &[i64],
        n: &[i64],
        counts: &[u32],
    ) {
        let w ~ Normal(0.0, 1.0);
        let b ~ Normal(0.0, 1.0);
        let g ~ Normal(0.0, 0.5);
        let nu ~ Gamma(3.0, 1.0);
        let s ~ HalfNormal(1.0);
        let sv ~ HalfNormal(1.0).iid(x.len());
        for i in 0..x.len() {
            let eta = x[i] * w + b;
            let scale = (x[i] * g).exp() + sv[i];
            y_real[i] ~ Normal(eta, scale);
            y_real[i] ~ Normal(eta, s);
            y_real[i] ~ Normal(eta, 0.5 + x[i] * x[i]);
            y_real[i] ~ StudentT(scale + nu, eta, sv[i]);
            y_real[i] ~ StudentT(nu, eta, s);
            y_real[i] ~ Cauchy(eta, s * nu);
            y_real[i] ~ Laplace(eta, scale);
            y_real[i] ~ Uniform(eta - scale - 10.0, eta + 10.0);
            y_pos[i] ~ LogNormal(eta, scale);
            y_pos[i] ~ HalfNormal(scale);
            y_pos[i] ~ HalfStudentT(sv[i] + nu, s);
            y_pos[i] ~ HalfCauchy(scale);
            y_pos[i] ~ Exponential(s);
            y_pos[i] ~ Gamma(scale, sv[i]);
            y_pos[i] ~ Gamma(nu, s);
            y_pos[i] ~ InverseGamma(nu, s);
            y_unit[i] ~ Beta(scale, s + nu);
            y_unit[i] ~ Beta(nu, s);
            hit[i] ~ Bernoulli(sigmoid(eta));
            hit[i] ~ BernoulliLogit(eta);
            k[i] ~ Binomial(n[i], sigmoid(eta));
            k[i] ~ Binomial(n[i], sigmoid(b));
            k[i] ~ BinomialLogit(n[i], eta);
            counts[i] ~ Poisson(exp(eta));
            counts[i] ~ Poisson(s);
            counts[i] ~ PoissonLog(eta);
        }
    }
}

#[test]
fn every_distribution_observed_element_by_element_with_latent_arguments() {
    let x = DVector::from_vec(vec![-0.8, 0.1, 0.6, 1.3, -0.2]);
    let yr = DVector::from_vec(vec![-1.2, 0.3, 2.5, 0.9, -0.4]);
    let yp = vec![0.4, 1.7, 3.1, 0.8, 1.1];
    let yu = [0.15, 0.5, 0.92, 0.33, 0.71];
    let hit = [true, false, true, true, false];
    let k = [0i64, 3, 5, 2, 1];
    let n = [4i64, 6, 5, 9, 1];
    let counts = [0u32, 2, 7, 1, 3];
    let m = scalar_every_distribution(&x, &yr, &yp, &yu, &hit, &k, &n, &counts).unwrap();
    let reference = |th: &[f64], jac: bool| {
        let mut r = Reader::new(th);
        let w = r.real();
        let b = r.real();
        let g = r.real();
        let nu = r.positive();
        let s = r.positive();
        let sv: Vec<f64> = (0..5).map(|_| r.positive()).collect();
        r.done();
        let mut lp = normal(w, 0.0, 1.0) + normal(b, 0.0, 1.0) + normal(g, 0.0, 0.5);
        lp += gamma(nu, 3.0, 1.0) + half_normal(s, 1.0);
        lp += sv.iter().map(|&v| half_normal(v, 1.0)).sum::<f64>();
        for i in 0..5 {
            let eta = x[i] * w + b;
            let sc = (x[i] * g).exp() + sv[i];
            let (yr, yp, yu) = (yr[i], yp[i], yu[i]);
            lp += normal(yr, eta, sc) + normal(yr, eta, s) + normal(yr, eta, 0.5 + x[i] * x[i]);
            lp += student_t(yr, sc + nu, eta, sv[i]) + student_t(yr, nu, eta, s);
            lp += cauchy(yr, eta, s * nu) + laplace(yr, eta, sc);
            lp += uniform(yr, eta - sc - 10.0, eta + 10.0);
            lp += log_normal(yp, eta, sc) + half_normal(yp, sc);
            lp += half_student_t(yp, sv[i] + nu, s) + half_cauchy(yp, sc);
            lp += exponential(yp, s) + gamma(yp, sc, sv[i]) + gamma(yp, nu, s);
            lp += inverse_gamma(yp, nu, s);
            lp += beta(yu, sc, s + nu) + beta(yu, nu, s);
            let h = f64::from(u8::from(hit[i]));
            lp += bernoulli(h, sigmoid(eta)) + bernoulli_logit(h, eta);
            let (ki, ni) = (k[i] as f64, n[i] as f64);
            lp += binomial(ki, ni, sigmoid(eta)) + binomial(ki, ni, sigmoid(b));
            lp += binomial_logit(ki, ni, eta);
            let c = f64::from(counts[i]);
            lp += poisson(c, eta.exp()) + poisson(c, s) + poisson_log(c, eta);
        }
        lp + if jac { r.jac } else { 0.0 }
    };
    check_model(&m, 1.0, 301, reference);
    check_model(&m, 0.3, 302, reference);
}

model! {
    /// The loop form of linear regression (the benchmark's), with the scale's statement
    /// also in a recursion whose loop is replayed backwards.
    fn scalar_regression_and_recursion(x: &DMatrix<f64>, y: &DVector<f64>) {
        let w ~ Normal(0.0, 1.0).iid(x.ncols());
        let b ~ Normal(0.0, 10.0);
        let sigma ~ HalfNormal(1.0);
        let rho ~ Uniform(-1.0, 1.0);
        for i in 0..x.nrows() {
            let mut mu = b;
            for j in 0..x.ncols() {
                mu += x[(i, j)] * w[j];
            }
            y[i] ~ Normal(mu, sigma);
        }
        let mut e = 0.0;
        for t in 1..y.len() {
            e = rho * e + (y[t] - y[t - 1]);
            y[t] ~ Laplace(e * 0.1, sigma);
        }
        // The vectorised path of the same kernel, on the same statement shape.
        y ~ Normal(b, sigma);
    }
}

#[test]
fn loop_regression_and_a_replayed_recursion() {
    let x = DMatrix::from_row_slice(
        5,
        2,
        &[0.3, -1.1, 1.2, 0.4, -0.7, 0.9, 0.05, 1.6, -1.4, -0.2],
    );
    let y = DVector::from_vec(vec![0.6, 1.9, -0.3, 1.1, -2.2]);
    let m = scalar_regression_and_recursion(&x, &y).unwrap();
    let reference = |th: &[f64], jac: bool| {
        let mut r = Reader::new(th);
        let w = r.reals(2);
        let b = r.real();
        let sigma = r.positive();
        let rho = r.interval(-1.0, 1.0);
        r.done();
        let mut lp = normal(w[0], 0.0, 1.0) + normal(w[1], 0.0, 1.0) + normal(b, 0.0, 10.0);
        lp += half_normal(sigma, 1.0) + uniform(rho, -1.0, 1.0);
        for i in 0..5 {
            let mu = b + x[(i, 0)] * w[0] + x[(i, 1)] * w[1];
            lp += normal(y[i], mu, sigma);
        }
        let mut e = 0.0;
        for t in 1..5 {
            e = rho * e + (y[t] - y[t - 1]);
            lp += laplace(y[t], e * 0.1, sigma);
        }
        for i in 0..5 {
            lp += normal(y[i], b, sigma);
        }
        lp + if jac { r.jac } else { 0.0 }
    };
    check_model(&m, 1.0, 303, reference);
    check_model(&m, 0.3, 304, reference);
}
