//! Models written with `model!`: each log density equals a hand-written formula and each
//! gradient equals central finite differences, with and without the Jacobian.

use crate::helpers::*;
use nalgebra::{DMatrix, DVector};
use vi::prelude::*;

pub mod data {
    include!("../data/posteriordb.rs");
}

// --- Eight schools, non-centred (posteriordb eight_schools_noncentered) ---------------------

model! {
    /// Eight schools, non-centred.
    pub fn eight_schools(j: usize, y: &[f64], sigma: &[f64]) {
        let mu ~ Normal(0.0, 5.0);
        let tau ~ HalfCauchy(5.0);
        let theta_trans ~ Normal(0.0, 1.0).iid(j);
        let theta = theta_trans * tau + mu;
        y ~ Normal(theta, sigma);
    }
}

#[test]
fn eight_schools_noncentred() {
    let (y, s) = (data::EIGHT_SCHOOLS_Y, data::EIGHT_SCHOOLS_SIGMA);
    let m = eight_schools(8, &y, &s).unwrap();
    assert_eq!(m.layout().names(), ["mu", "tau", "theta_trans"]);
    assert_eq!(m.dim(), 10);
    check_model(&m, 2.0, 1, |th, jac| {
        let mut r = Reader::new(th);
        let mu = r.real();
        let tau = r.positive();
        let tt = r.reals(8);
        r.done();
        let mut lp = normal(mu, 0.0, 5.0) + half_cauchy(tau, 5.0);
        for i in 0..8 {
            lp += normal(tt[i], 0.0, 1.0) + normal(y[i], tt[i] * tau + mu, s[i]);
        }
        lp + if jac { r.jac } else { 0.0 }
    });
}

// --- Logistic regression --------------------------------------------------------------------

model! {
    fn logistic(x: &DMatrix<f64>, y: &[bool]) {
        let w ~ Normal(0.0, 2.0).iid(x.ncols());
        let b ~ Normal(0.0, 5.0);
        y ~ BernoulliLogit(x * w + b);
    }
}

fn design(n: usize, d: usize) -> DMatrix<f64> {
    DMatrix::from_fn(n, d, |i, j| ((i * 7 + j * 3) % 11) as f64 / 5.0 - 1.0)
}

#[test]
fn logistic_regression() {
    let x = design(9, 3);
    let y: Vec<bool> = (0..9).map(|i| i % 3 != 0).collect();
    let m = logistic(&x, &y).unwrap();
    check_model(&m, 1.5, 2, |th, _| {
        let mut r = Reader::new(th);
        let w = r.reals(3);
        let b = r.real();
        r.done();
        let mut lp = w.iter().map(|&wi| normal(wi, 0.0, 2.0)).sum::<f64>() + normal(b, 0.0, 5.0);
        for i in 0..9 {
            let eta = (0..3).map(|j| x[(i, j)] * w[j]).sum::<f64>() + b;
            lp += bernoulli_logit(f64::from(u8::from(y[i])), eta);
        }
        lp
    });
}

// --- Poisson regression ---------------------------------------------------------------------

model! {
    fn poisson_regression(x: &DMatrix<f64>, counts: &Vec<i64>) {
        let w ~ Normal(0.0, 1.0).iid(x.ncols());
        let a ~ Normal(0.0, 2.0);
        counts ~ PoissonLog(a + x * w);
    }
}

#[test]
fn poisson_regression_log_link() {
    let x = design(7, 2);
    let counts: Vec<i64> = vec![0, 3, 1, 7, 2, 0, 4];
    let m = poisson_regression(&x, &counts).unwrap();
    check_model(&m, 1.0, 3, |th, _| {
        let mut r = Reader::new(th);
        let w = r.reals(2);
        let a = r.real();
        r.done();
        let mut lp = normal(w[0], 0.0, 1.0) + normal(w[1], 0.0, 1.0) + normal(a, 0.0, 2.0);
        for i in 0..7 {
            lp += poisson_log(counts[i] as f64, a + x[(i, 0)] * w[0] + x[(i, 1)] * w[1]);
        }
        lp
    });
}

// --- AR(K) with a nested loop (posteriordb arK) ---------------------------------------------

model! {
    pub fn ar_k(k: usize, y: &[f64]) {
        let alpha ~ Normal(0.0, 10.0);
        let beta ~ Normal(0.0, 10.0).iid(k);
        let sigma ~ HalfCauchy(2.5);
        for t in k..y.len() {
            let mut mu = alpha;
            for j in 0..k {
                mu += beta[j] * y[t - j - 1];
            }
            y[t] ~ Normal(mu, sigma);
        }
    }
}

#[test]
fn ar_k_nested_loop() {
    let (k, y) = (data::ARK_K, &data::ARK_Y[..]);
    let m = ar_k(k, y).unwrap();
    check_model(&m, 0.5, 4, |th, jac| {
        let mut r = Reader::new(th);
        let alpha = r.real();
        let beta = r.reals(k);
        let sigma = r.positive();
        r.done();
        let mut lp = normal(alpha, 0.0, 10.0) + half_cauchy(sigma, 2.5);
        lp += beta.iter().map(|&b| normal(b, 0.0, 10.0)).sum::<f64>();
        for t in k..y.len() {
            let mu = alpha + (0..k).map(|j| beta[j] * y[t - j - 1]).sum::<f64>();
            lp += normal(y[t], mu, sigma);
        }
        lp + if jac { r.jac } else { 0.0 }
    });
}

// --- ARMA(1,1) (posteriordb arma11; the error recursion carried across iterations) ----------

model! {
    pub fn arma11(y: &[f64]) {
        let mu ~ Normal(0.0, 10.0);
        let phi ~ Normal(0.0, 2.0);
        let theta ~ Normal(0.0, 2.0);
        let sigma ~ HalfCauchy(5.0);
        let mut err = y[0] - (mu + phi * mu);
        target += -0.5 * (err / sigma).powi(2) - sigma.ln();
        for t in 1..y.len() {
            let nu = mu + phi * y[t - 1] + theta * err;
            err = y[t] - nu;
            y[t] ~ Normal(nu, sigma);
        }
    }
}

#[test]
fn arma_1_1_carried_error() {
    let y = &data::ARMA_Y[..];
    let m = arma11(y).unwrap();
    check_model(&m, 0.4, 5, |th, jac| {
        let mut r = Reader::new(th);
        let mu = r.real();
        let phi = r.real();
        let theta = r.real();
        let sigma = r.positive();
        r.done();
        let mut lp = normal(mu, 0.0, 10.0) + normal(phi, 0.0, 2.0) + normal(theta, 0.0, 2.0);
        lp += half_cauchy(sigma, 5.0);
        let mut err = y[0] - (mu + phi * mu);
        lp += -0.5 * (err / sigma).powi(2) - sigma.ln();
        for t in 1..y.len() {
            let nu = mu + phi * y[t - 1] + theta * err;
            err = y[t] - nu;
            lp += normal(y[t], nu, sigma);
        }
        lp + if jac { r.jac } else { 0.0 }
    });
}

// --- GARCH(1,1) (posteriordb garch11; the volatility recursion carried) ---------------------

model! {
    pub fn garch11(y: &[f64], sigma1: f64) {
        let mu ~ Normal(0.0, 10.0);
        let alpha0 ~ HalfNormal(1.0);
        let alpha1 ~ Beta(2.0, 2.0);
        let beta1 ~ Beta(2.0, 2.0);
        let mut s = sigma1;
        y[0] ~ Normal(mu, sigma1);
        for t in 1..y.len() {
            s = (alpha0 + alpha1 * (y[t - 1] - mu).powi(2) + beta1 * s * s).sqrt();
            y[t] ~ Normal(mu, s);
        }
    }
}

#[test]
fn garch_1_1_carried_volatility() {
    let y = &data::GARCH_Y[..];
    let s1 = data::GARCH_SIGMA1;
    let m = garch11(y, s1).unwrap();
    check_model(&m, 1.0, 6, |th, jac| {
        let mut r = Reader::new(th);
        let mu = r.real();
        let a0 = r.positive();
        let a1 = r.unit();
        let b1 = r.unit();
        r.done();
        let mut lp =
            normal(mu, 0.0, 10.0) + half_normal(a0, 1.0) + beta(a1, 2.0, 2.0) + beta(b1, 2.0, 2.0);
        lp += normal(y[0], mu, s1);
        let mut s = s1;
        for t in 1..y.len() {
            s = (a0 + a1 * (y[t - 1] - mu).powi(2) + b1 * s * s).sqrt();
            lp += normal(y[t], mu, s);
        }
        lp + if jac { r.jac } else { 0.0 }
    });
}

// --- One-hidden-layer tanh network, matrix form and per-observation loop form ---------------

model! {
    fn bnn_matrix(x: &DMatrix<f64>, y: &DVector<f64>, h: usize) {
        let w1 ~ Normal(0.0, 1.0).iid((x.ncols(), h));
        let b1 ~ Normal(0.0, 1.0).iid(h);
        let w2 ~ Normal(0.0, 1.0).iid(h);
        let b2 ~ Normal(0.0, 1.0);
        let sigma ~ HalfNormal(1.0);
        let hidden = (x * w1 + b1.transpose()).tanh();
        y ~ Normal(hidden * w2 + b2, sigma);
    }
}

model! {
    /// `bnn_matrix` with the location in a `let`: not fused, the rules make the layer.
    fn bnn_matrix_rules(x: &DMatrix<f64>, y: &DVector<f64>, h: usize) {
        let w1 ~ Normal(0.0, 1.0).iid((x.ncols(), h));
        let b1 ~ Normal(0.0, 1.0).iid(h);
        let w2 ~ Normal(0.0, 1.0).iid(h);
        let b2 ~ Normal(0.0, 1.0);
        let sigma ~ HalfNormal(1.0);
        let hidden = (x * w1 + b1.transpose()).tanh();
        let mu = hidden * w2 + b2;
        y ~ Normal(mu, sigma);
    }
}

model! {
    fn bnn_loop(x: &DMatrix<f64>, y: &DVector<f64>, h: usize) {
        let w1 ~ Normal(0.0, 1.0).iid((x.ncols(), h));
        let b1 ~ Normal(0.0, 1.0).iid(h);
        let w2 ~ Normal(0.0, 1.0).iid(h);
        let b2 ~ Normal(0.0, 1.0);
        let sigma ~ HalfNormal(1.0);
        for i in 0..x.nrows() {
            let xi = x.row(i).clone_owned();
            let hidden = tanh(xi * w1 + b1.transpose());
            y[i] ~ Normal(dot(hidden, w2) + b2, sigma);
        }
    }
}

fn bnn_reference(x: &DMatrix<f64>, y: &DVector<f64>, hn: usize, th: &[f64], jac: bool) -> f64 {
    let d = x.ncols();
    let mut r = Reader::new(th);
    let w1 = r.reals(d * hn); // row-major
    let b1 = r.reals(hn);
    let w2 = r.reals(hn);
    let b2 = r.real();
    let sigma = r.positive();
    r.done();
    let mut lp: f64 = w1
        .iter()
        .chain(&b1)
        .chain(&w2)
        .map(|&v| normal(v, 0.0, 1.0))
        .sum();
    lp += normal(b2, 0.0, 1.0) + half_normal(sigma, 1.0);
    for i in 0..x.nrows() {
        let mut out = b2;
        for k in 0..hn {
            let a = b1[k] + (0..d).map(|j| x[(i, j)] * w1[j * hn + k]).sum::<f64>();
            out += a.tanh() * w2[k];
        }
        lp += normal(y[i], out, sigma);
    }
    lp + if jac { r.jac } else { 0.0 }
}

#[test]
fn neural_network_matrix_and_loop_forms() {
    let x = design(6, 2);
    let y = DVector::from_fn(6, |i, _| (i as f64 * 0.7).sin());
    let m = bnn_matrix(&x, &y, 3).unwrap();
    let l = bnn_loop(&x, &y, 3).unwrap();
    assert_eq!(m.layout(), l.layout());
    assert_eq!(m.layout().flat_names()[..3], ["w1.1.1", "w1.1.2", "w1.1.3"]);
    check_model(&m, 1.0, 7, |th, jac| bnn_reference(&x, &y, 3, th, jac));
    check_model(&l, 1.0, 8, |th, jac| bnn_reference(&x, &y, 3, th, jac));
}

#[test]
fn calling_again_at_a_point_gives_bit_identical_results() {
    use vi::__private::pool;
    let (n, hn) = (40, 8);
    let x = design(n, 3);
    let y = DVector::from_fn(n, |i, _| (i as f64 * 0.3).cos());
    // (The rules' form: `bnn_matrix` itself runs as one fused kernel, macro_tanh_layer.rs.)
    let m = bnn_matrix_rules(&x, &y, hn).unwrap();
    let d = m.dim();
    let a: Vec<f64> = (0..d).map(|k| ((k * 5) % 9) as f64 / 9.0 - 0.5).collect();
    let b: Vec<f64> = (0..d).map(|k| ((k * 4) % 7) as f64 / 7.0 - 0.4).collect();
    // A thread of its own: its pool starts empty.
    std::thread::spawn(move || {
        assert_eq!(pool::kept(), (0, 0));
        let mut g1 = vec![0.0; d];
        let lp1 = m.log_density_grad(&a, &mut g1);
        let kept = pool::kept();
        // x * w1 + b1' (one fused rule), the hidden layer (n x hn each) and their adjoints
        // went back.
        assert!(kept.1 >= 4 * n * hn, "{kept:?}");
        let mut g = vec![0.0; d];
        m.log_density_grad(&b, &mut g);
        assert_eq!(
            pool::kept(),
            kept,
            "a second call takes and gives back the same buffers"
        );
        let mut g2 = vec![0.0; d];
        let lp2 = m.log_density_grad(&a, &mut g2);
        assert_eq!(lp1.to_bits(), lp2.to_bits());
        assert_eq!(
            g1.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            g2.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        assert_eq!(pool::kept(), kept);
        // The log density alone gives back its values too, and agrees with the gradient's.
        assert_eq!(m.log_density(&a).to_bits(), lp1.to_bits());
        assert!(pool::kept().1 >= 2 * n * hn);
    })
    .join()
    .unwrap();
}

// --- Linear regression, vectorised and as a scalar loop -------------------------------------

model! {
    fn linreg_vec(x: &DMatrix<f64>, y: &DVector<f64>) {
        let w ~ Normal(0.0, 1.0).iid(x.ncols());
        let b ~ Normal(0.0, 10.0);
        let sigma ~ HalfNormal(1.0);
        y ~ Normal(x * w + b, sigma);
    }
}

model! {
    fn linreg_loop(x: &DMatrix<f64>, y: &DVector<f64>) {
        let w ~ Normal(0.0, 1.0).iid(x.ncols());
        let b ~ Normal(0.0, 10.0);
        let sigma ~ HalfNormal(1.0);
        for i in 0..x.nrows() {
            let mut mu = b;
            for j in 0..x.ncols() {
                mu += x[(i, j)] * w[j];
            }
            y[i] ~ Normal(mu, sigma);
        }
    }
}

#[test]
fn linear_regression_vectorised_and_loop() {
    let x = design(8, 3);
    let y = DVector::from_fn(8, |i, _| 0.3 * i as f64 - 1.0);
    let reference = |th: &[f64], jac: bool| {
        let mut r = Reader::new(th);
        let w = r.reals(3);
        let b = r.real();
        let sigma = r.positive();
        r.done();
        let mut lp = w.iter().map(|&v| normal(v, 0.0, 1.0)).sum::<f64>();
        lp += normal(b, 0.0, 10.0) + half_normal(sigma, 1.0);
        for i in 0..8 {
            lp += normal(
                y[i],
                b + (0..3).map(|j| x[(i, j)] * w[j]).sum::<f64>(),
                sigma,
            );
        }
        lp + if jac { r.jac } else { 0.0 }
    };
    check_model(&linreg_vec(&x, &y).unwrap(), 1.0, 9, reference);
    check_model(&linreg_loop(&x, &y).unwrap(), 1.0, 10, reference);
}

// --- Every continuous distribution, as a prior and as a likelihood with latent arguments ----

model! {
    fn all_continuous(y_real: &[f64], y_pos: &[f64], y_unit: &[f64]) {
        let mu ~ Normal(0.0, 2.0);
        let s ~ HalfNormal(1.5);
        let ls ~ LogNormal(0.0, 1.0);
        let nu ~ Gamma(4.0, 0.5);
        let t ~ StudentT(5.0, 0.0, 2.0);
        let hs ~ HalfStudentT(3.0, 1.0);
        let c ~ Cauchy(0.5, 2.0);
        let hc ~ HalfCauchy(2.0);
        let l ~ Laplace(0.0, 1.5);
        let e ~ Exponential(2.0);
        let ig ~ InverseGamma(3.0, 2.0);
        let p ~ Beta(2.0, 3.0);
        let u ~ Uniform(-1.0, 3.0);
        y_real ~ Normal(mu, s);
        y_real ~ StudentT(nu, t, hs);
        y_real ~ Cauchy(c, hc);
        y_real ~ Laplace(l, e);
        y_pos ~ LogNormal(mu, ls);
        y_pos ~ Gamma(nu, e);
        y_pos ~ InverseGamma(ig, s);
        y_pos ~ Exponential(hc);
        y_pos ~ HalfNormal(s);
        y_pos ~ HalfCauchy(hs);
        y_pos ~ HalfStudentT(nu, ls);
        y_unit ~ Beta(p * 4.0, ig);
        y_unit ~ Uniform(u - 5.0, u + 4.0);
    }
}

#[test]
fn every_continuous_distribution() {
    let yr = [-1.2, 0.3, 2.5];
    let yp = [0.4, 1.7, 3.1];
    let yu = [0.15, 0.5, 0.92];
    let m = all_continuous(&yr, &yp, &yu).unwrap();
    check_model(&m, 1.0, 11, |th, jac| {
        let mut r = Reader::new(th);
        let mu = r.real();
        let s = r.positive();
        let ls = r.positive();
        let nu = r.positive();
        let t = r.real();
        let hs = r.positive();
        let c = r.real();
        let hc = r.positive();
        let l = r.real();
        let e = r.positive();
        let ig = r.positive();
        let p = r.unit();
        let u = r.interval(-1.0, 3.0);
        r.done();
        let mut lp = normal(mu, 0.0, 2.0) + half_normal(s, 1.5) + log_normal(ls, 0.0, 1.0);
        lp += gamma(nu, 4.0, 0.5) + student_t(t, 5.0, 0.0, 2.0) + half_student_t(hs, 3.0, 1.0);
        lp += cauchy(c, 0.5, 2.0) + half_cauchy(hc, 2.0) + laplace(l, 0.0, 1.5);
        lp += exponential(e, 2.0) + inverse_gamma(ig, 3.0, 2.0) + beta(p, 2.0, 3.0);
        lp += uniform(u, -1.0, 3.0);
        for &y in &yr {
            lp += normal(y, mu, s) + student_t(y, nu, t, hs) + cauchy(y, c, hc) + laplace(y, l, e);
        }
        for &y in &yp {
            lp += log_normal(y, mu, ls) + gamma(y, nu, e) + inverse_gamma(y, ig, s);
            lp += exponential(y, hc) + half_normal(y, s) + half_cauchy(y, hs);
            lp += half_student_t(y, nu, ls);
        }
        for &y in &yu {
            lp += beta(y, p * 4.0, ig) + uniform(y, u - 5.0, u + 4.0);
        }
        lp + if jac { r.jac } else { 0.0 }
    });
}

// --- Every discrete distribution, observed (bool, i64 and u32 data) -------------------------

model! {
    fn all_discrete(b: &[bool], k: &[i64], n: &[i64], counts: &[u32]) {
        let p ~ Beta(1.5, 1.5);
        let a ~ Normal(0.0, 1.0);
        let lambda ~ Gamma(2.0, 1.0);
        b ~ Bernoulli(p);
        b ~ BernoulliLogit(a);
        k ~ Binomial(n, p);
        k ~ BinomialLogit(n, a);
        counts ~ Poisson(lambda);
        counts ~ PoissonLog(a);
    }
}

#[test]
fn every_discrete_distribution() {
    let b = [true, false, true, true];
    let k = [0i64, 3, 5, 2];
    let n = [4i64, 6, 5, 9];
    let counts = [0u32, 2, 7, 1];
    let m = all_discrete(&b, &k, &n, &counts).unwrap();
    check_model(&m, 1.5, 12, |th, jac| {
        let mut r = Reader::new(th);
        let p = r.unit();
        let a = r.real();
        let lambda = r.positive();
        r.done();
        let mut lp = beta(p, 1.5, 1.5) + normal(a, 0.0, 1.0) + gamma(lambda, 2.0, 1.0);
        for i in 0..4 {
            let bi = f64::from(u8::from(b[i]));
            lp += bernoulli(bi, p) + bernoulli_logit(bi, a);
            lp +=
                binomial(k[i] as f64, n[i] as f64, p) + binomial_logit(k[i] as f64, n[i] as f64, a);
            lp += poisson(f64::from(counts[i]), lambda) + poisson_log(f64::from(counts[i]), a);
        }
        lp + if jac { r.jac } else { 0.0 }
    });
}

// --- Every differentiable function, as a method and as a function ---------------------------

model! {
    fn all_functions(x: &DVector<f64>, m: &DMatrix<f64>, y: &[f64]) {
        let a ~ Normal(0.0, 1.0);
        let v ~ Normal(0.0, 1.0).iid(3);
        let w ~ Normal(0.0, 1.0).iid((2, 3));
        let pos ~ HalfNormal(1.0);
        let f1 = a.exp() + exp(a) * 0.5 + pos.ln() + ln(pos) + log(pos) * 0.1 - a;
        let f2 = a.tanh() + sigmoid(a) + softplus(a) + log_sigmoid(a) + a.sin() + cos(a) + a.abs();
        let f3 = pos.sqrt() + sqrt(pos) + a.powi(3) + pos.powf(a) + powf(pos, 1.5) + powi(a, 2);
        let f4 = log1p(pos) + pos.ln_1p() + expm1(a) + a.exp_m1() + abs(-a) + tanh(a);
        let f5 = sum(v) + v.mean() + dot(v, x) + x.dot(&v) + sum(w * x) + (v / 2.0).sum();
        let r = w.row(1);
        let c = w.column(2);
        let f6 = sum(r) + sum(c) + col(w, 0).sum() + row(w, 0).mean() + w[(0, 1)] + v[2];
        let f7 = dot(r.transpose(), v) + mean(w.transpose() * m) + (v * a - x / pos).powi(2).sum();
        target += f1 + f2 + f3 + f4 + f5 + f6 - f7 / 10.0;
        y ~ Normal(v[0] * 2.0 - 1.0, pos + 0.5);
    }
}

#[test]
fn every_differentiable_function() {
    let x = DVector::from_vec(vec![0.3, -1.1, 0.8]);
    let mm = DMatrix::from_row_slice(2, 2, &[0.5, -0.2, 1.3, 0.7]);
    let y = [0.2, -0.4];
    let model = all_functions(&x, &mm, &y).unwrap();
    check_model(&model, 1.0, 13, |th, jac| {
        let mut r = Reader::new(th);
        let a = r.real();
        let v = r.reals(3);
        let w = r.reals(6); // row-major 2x3
        let pos = r.positive();
        r.done();
        let sp = |z: f64| (1.0 + z.exp()).ln();
        let mut lp = normal(a, 0.0, 1.0)
            + v.iter()
                .chain(&w)
                .map(|&z| normal(z, 0.0, 1.0))
                .sum::<f64>();
        lp += half_normal(pos, 1.0);
        let f1 = a.exp() * 1.5 + pos.ln() * 2.1 - a;
        let f2 = a.tanh() + sigmoid(a) + sp(a) - sp(-a) + a.sin() + a.cos() + a.abs();
        let f3 = 2.0 * pos.sqrt() + a.powi(3) + pos.powf(a) + pos.powf(1.5) + a * a;
        let f4 = 2.0 * (1.0 + pos).ln() + 2.0 * (a.exp() - 1.0) + a.abs() + a.tanh();
        let vx: f64 = (0..3).map(|i| v[i] * x[i]).sum();
        let wx: f64 = (0..2)
            .map(|i| (0..3).map(|j| w[i * 3 + j] * x[j]).sum::<f64>())
            .sum();
        let vs: f64 = v.iter().sum();
        let f5 = vs + vs / 3.0 + 2.0 * vx + wx + vs / 2.0;
        let f6 = (w[3] + w[4] + w[5])
            + (w[2] + w[5])
            + (w[0] + w[3])
            + (w[0] + w[1] + w[2]) / 3.0
            + w[1]
            + v[2];
        let rv: f64 = (0..3).map(|j| w[3 + j] * v[j]).sum();
        // mean of w^T (3x2) * m (2x2)
        let mut s = 0.0;
        for i in 0..3 {
            for k in 0..2 {
                s += (0..2).map(|l| w[l * 3 + i] * mm[(l, k)]).sum::<f64>();
            }
        }
        let sq: f64 = (0..3).map(|i| (v[i] * a - x[i] / pos).powi(2)).sum();
        let f7 = rv + s / 6.0 + sq;
        lp += f1 + f2 + f3 + f4 + f5 + f6 - f7 / 10.0;
        for &yi in &y {
            lp += normal(yi, v[0] * 2.0 - 1.0, pos + 0.5);
        }
        lp + if jac { r.jac } else { 0.0 }
    });
}

// --- `if` over data, `target +=` of data, a matrix latent, Vec data, element writes ---------

model! {
    fn branches(x: &Vec<f64>, group: &[usize]) {
        let g ~ Normal(0.0, 1.0).iid((2, 2));
        let s ~ Exponential(1.0);
        let mut offsets = DVector::zeros(x.len());
        for i in 0..x.len() {
            if group[i] == 0 {
                offsets[i] = g[(0, 0)] + g[(0, 1)] * x[i];
            } else {
                offsets[i] = g[(1, 0)] + g[(1, 1)] * x[i];
            }
        }
        let mut total = 0.0;
        for i in 0..x.len() {
            if x[i] > 0.0 {
                total += offsets[i] * s;
            }
        }
        target += -0.5 * total * total;
        target += x.iter().sum::<f64>();
        x ~ Normal(offsets, s);
    }
}

#[test]
fn branches_over_data_and_element_writes() {
    let x = vec![0.5, -1.0, 2.0, 0.1];
    let group = [0usize, 1, 1, 0];
    let m = branches(&x, &group).unwrap();
    check_model(&m, 1.0, 14, |th, jac| {
        let mut r = Reader::new(th);
        let g = r.reals(4); // row-major
        let s = r.positive();
        r.done();
        let mut lp = g.iter().map(|&z| normal(z, 0.0, 1.0)).sum::<f64>() + exponential(s, 1.0);
        let off: Vec<f64> = (0..4)
            .map(|i| {
                if group[i] == 0 {
                    g[0] + g[1] * x[i]
                } else {
                    g[2] + g[3] * x[i]
                }
            })
            .collect();
        let total: f64 = (0..4).filter(|&i| x[i] > 0.0).map(|i| off[i] * s).sum();
        lp += -0.5 * total * total + x.iter().sum::<f64>();
        for i in 0..4 {
            lp += normal(x[i], off[i], s);
        }
        lp + if jac { r.jac } else { 0.0 }
    });
}

// --- State updated in a branch inside a carried loop, data state, element writes with `+=`,
// --- a Uniform prior with data bounds, a centred hierarchical prior -------------------------

model! {
    fn mixed_state(x: &[f64], y: &[f64], z: f64, lo: f64, hi: f64) {
        let mu ~ Normal(0.0, 1.0);
        let phi ~ Uniform(lo, hi);
        let tau ~ Gamma(2.0, 2.0);
        let a ~ Normal(mu, tau).iid(2);
        let mut s = 0.0;
        let mut k = 0usize;
        for t in 0..y.len() {
            s = mu + phi * s;
            if t % 2 == 0 {
                s = s * phi;
            }
            k += 1;
            y[t] ~ Normal(s, 1.0);
        }
        let mut acc = 0.0;
        for i in 0..x.len() {
            acc += a[0] * x[i];
        }
        z ~ Normal(acc, 1.0);
        let mut v = DVector::zeros(x.len());
        for i in 0..x.len() {
            v[i] = a[1] * x[i];
            v[i] += mu;
        }
        y ~ Normal(v, (k as f64).sqrt());
        target += s.powi(2) * -0.5;
    }
}

#[test]
fn state_in_branches_data_state_and_data_bounds() {
    let x = [0.1, 0.5, -1.0];
    let y = [0.3, 1.1, -1.5];
    let (z, lo, hi) = (0.4, -0.5, 0.9);
    let m = mixed_state(&x, &y, z, lo, hi).unwrap();
    assert_eq!(
        m.layout().params()[1].transform,
        Transform::Interval(lo, hi)
    );
    check_model(&m, 1.5, 15, |th, jac| {
        let mut r = Reader::new(th);
        let mu = r.real();
        let phi = r.interval(lo, hi);
        let tau = r.positive();
        let a = r.reals(2);
        r.done();
        let mut lp = normal(mu, 0.0, 1.0) + uniform(phi, lo, hi) + gamma(tau, 2.0, 2.0);
        lp += normal(a[0], mu, tau) + normal(a[1], mu, tau);
        let mut s = 0.0;
        for (t, &yt) in y.iter().enumerate() {
            s = mu + phi * s;
            if t % 2 == 0 {
                s *= phi;
            }
            lp += normal(yt, s, 1.0);
        }
        let acc: f64 = x.iter().map(|xi| a[0] * xi).sum();
        lp += normal(z, acc, 1.0);
        for i in 0..3 {
            lp += normal(y[i], a[1] * x[i] + mu, 3f64.sqrt());
        }
        lp += -0.5 * s * s;
        lp + if jac { r.jac } else { 0.0 }
    });
    // The terms name their statements.
    let names: Vec<String> = m
        .log_density_terms(&[0.0; 5])
        .into_iter()
        .map(|t| t.0)
        .collect();
    assert_eq!(
        names,
        [
            "let mu ~ Normal(0.0, 1.0)",
            "let phi ~ Uniform(lo, hi)",
            "let tau ~ Gamma(2.0, 2.0)",
            "let a ~ Normal(mu, tau).iid(2)",
            "y[t] ~ Normal(s, 1.0)",
            "z ~ Normal(acc, 1.0)",
            "y ~ Normal(v, (k as f64).sqrt())",
            "target += s.powi(2) * -0.5",
        ]
    );
}
