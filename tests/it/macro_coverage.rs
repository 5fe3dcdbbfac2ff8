// Longer than 800 lines: a catalogue of the DSL's vocabulary through `model!`, one short
// test per group of distributions, functions or constructs; a reader looks up one group,
// never reads the file through.
//! Coverage of `model!`: every distribution as a prior (with the constraint its support
//! chooses) and as an observation model whose every argument depends on a latent, every
//! differentiable function as a method and as a function on scalars, vectors and matrices,
//! broadcasting, deterministic `let`, `let mut` running sums, element writes in a loop, `if`
//! over data and `target +=`. Each model's log density equals a formula written here by hand
//! (from `helpers`' textbook densities, themselves pinned to scipy below) and its gradient
//! equals central finite differences, with and without the Jacobian (`check_model`).

use crate::helpers::*;
use nalgebra::{DMatrix, DVector};
use vi::prelude::*;

// --- The reference densities themselves, against scipy ---------------------------------------

#[test]
fn reference_densities_match_scipy() {
    // Each value: scipy 1.17.1, the call in the comment.
    let cases: [(&str, f64, f64); 19] = [
        // st.norm(0.3, 1.7).logpdf(-0.8)
        ("normal", normal(-0.8, 0.3, 1.7), -1.6589093448204761),
        // st.halfnorm(scale=1.3).logpdf(0.9)
        ("half_normal", half_normal(0.9, 1.3), -0.7278005875264196),
        // st.lognorm(s=0.7, scale=np.exp(0.2)).logpdf(1.9)
        ("log_normal", log_normal(1.9, 0.2, 0.7), -1.403336716995118),
        // st.t(df=3.5, loc=0.4, scale=1.2).logpdf(-1.1)
        (
            "student_t",
            student_t(-1.1, 3.5, 0.4, 1.2),
            -2.0022644419123576,
        ),
        // np.log(2 * st.t(df=2.5, scale=0.8).pdf(1.4))
        (
            "half_student_t",
            half_student_t(1.4, 2.5, 0.8),
            -1.499923463918151,
        ),
        // st.cauchy(0.5, 2.0).logpdf(-1.5)
        ("cauchy", cauchy(-1.5, 0.5, 2.0), -2.5310242469692907),
        // st.halfcauchy(scale=2.5).logpdf(0.7)
        ("half_cauchy", half_cauchy(0.7, 2.5), -1.4433518983395155),
        // st.laplace(0.2, 1.5).logpdf(2.0)
        ("laplace", laplace(2.0, 0.2, 1.5), -2.2986122886681093),
        // st.expon(scale=1/2.5).logpdf(0.6)
        ("exponential", exponential(0.6, 2.5), -0.5837092681258448),
        // st.gamma(a=2.0, scale=1/3.0).logpdf(0.5)
        ("gamma", gamma(0.5, 2.0, 3.0), 0.004077396776274167),
        // st.invgamma(a=3.0, scale=2.0).logpdf(0.8)
        (
            "inverse_gamma",
            inverse_gamma(0.8, 3.0, 2.0),
            -0.2211314336232707,
        ),
        // st.beta(2.5, 1.5).logpdf(0.3)
        ("beta", beta(0.3, 2.5, 1.5), -0.3564378420678893),
        // st.uniform(-1.0, 4.0).logpdf(0.5)
        ("uniform", uniform(0.5, -1.0, 3.0), -1.3862943611198906),
        // st.bernoulli(0.3).logpmf(1)
        ("bernoulli", bernoulli(1.0, 0.3), -1.2039728043259361),
        // st.bernoulli(scipy.special.expit(-0.7)).logpmf(0)
        (
            "bernoulli_logit",
            bernoulli_logit(0.0, -0.7),
            -0.40318604888545784,
        ),
        // st.binom(9, 0.35).logpmf(4)
        ("binomial", binomial(4.0, 9.0, 0.35), -1.5169211715055053),
        // st.binom(7, scipy.special.expit(0.8)).logpmf(6)
        (
            "binomial_logit",
            binomial_logit(6.0, 7.0, 0.8),
            -1.4517945125791303,
        ),
        // st.poisson(2.3).logpmf(5)
        ("poisson", poisson(5.0, 2.3), -2.922946128106526),
        // st.poisson(np.exp(0.4)).logpmf(3)
        ("poisson_log", poisson_log(3.0, 0.4), -2.083584166869325),
    ];
    for (name, got, want) in cases {
        assert!(close(got, want, 1e-12), "{name}: {got} vs scipy {want}");
    }
}

// --- Every continuous distribution as a prior with fixed arguments: the constraints ---------

model! {
    fn cov_priors(lo: f64, hi: f64) {
        let a ~ Normal(0.5, 2.0);
        let b ~ HalfNormal(1.5);
        let c ~ LogNormal(0.2, 0.7);
        let d ~ StudentT(3.5, 0.4, 1.2);
        let e ~ HalfStudentT(2.5, 0.8);
        let f ~ Cauchy(0.5, 2.0);
        let g ~ HalfCauchy(2.5);
        let h ~ Laplace(0.2, 1.5);
        let i ~ Exponential(2.5).iid(2);
        let j ~ Gamma(2.0, 3.0).iid((2, 2));
        let k ~ InverseGamma(3.0, 2.0);
        let p ~ Beta(2.5, 1.5).iid(3);
        let u ~ Uniform(-1.0, 3.0);
        let v ~ Uniform(lo, hi).iid(2);
    }
}

#[test]
fn every_continuous_prior_and_its_constraint() {
    let m = cov_priors(-0.5, 4.0).unwrap();
    let want = [
        ("a", Transform::Identity),
        ("b", Transform::POSITIVE),
        ("c", Transform::POSITIVE),
        ("d", Transform::Identity),
        ("e", Transform::POSITIVE),
        ("f", Transform::Identity),
        ("g", Transform::POSITIVE),
        ("h", Transform::Identity),
        ("i", Transform::POSITIVE),
        ("j", Transform::POSITIVE),
        ("k", Transform::POSITIVE),
        ("p", Transform::UNIT),
        ("u", Transform::Interval(-1.0, 3.0)),
        ("v", Transform::Interval(-0.5, 4.0)),
    ];
    for (name, t) in want {
        assert_eq!(m.layout().get(name).unwrap().transform, t, "{name}");
    }
    assert_eq!(m.layout().get("j").unwrap().shape, [2, 2]);
    assert_eq!(m.dim(), 8 + 2 + 4 + 1 + 3 + 1 + 2);
    // `constrain` maps each element as the transform written by hand does, and back.
    let th: Vec<f64> = (0..m.dim())
        .map(|i| (i as f64 * 0.37).sin() * 2.0)
        .collect();
    let mut x = vec![0.0; m.dim()];
    m.constrain(&th, &mut x);
    let mut r = Reader::new(&th);
    let mut want: Vec<f64> = vec![r.real(), r.positive(), r.positive(), r.real(), r.positive()];
    want.extend([r.real(), r.positive(), r.real()]);
    want.extend((0..7).map(|_| r.positive()));
    want.extend((0..3).map(|_| r.unit()));
    want.push(r.interval(-1.0, 3.0));
    want.extend((0..2).map(|_| r.interval(-0.5, 4.0)));
    r.done();
    let mut back = vec![0.0; m.dim()];
    m.unconstrain(&x, &mut back).unwrap();
    for i in 0..m.dim() {
        assert!(close(x[i], want[i], 1e-12), "{i}: {} vs {}", x[i], want[i]);
        assert!(close(back[i], th[i], 1e-9), "{i}: {} vs {}", back[i], th[i]);
    }
    check_model(&m, 2.0, 101, |th, jac| {
        let mut r = Reader::new(th);
        let mut lp = normal(r.real(), 0.5, 2.0);
        lp += half_normal(r.positive(), 1.5);
        lp += log_normal(r.positive(), 0.2, 0.7);
        lp += student_t(r.real(), 3.5, 0.4, 1.2);
        lp += half_student_t(r.positive(), 2.5, 0.8);
        lp += cauchy(r.real(), 0.5, 2.0);
        lp += half_cauchy(r.positive(), 2.5);
        lp += laplace(r.real(), 0.2, 1.5);
        for _ in 0..2 {
            lp += exponential(r.positive(), 2.5);
        }
        for _ in 0..4 {
            lp += gamma(r.positive(), 2.0, 3.0);
        }
        lp += inverse_gamma(r.positive(), 3.0, 2.0);
        for _ in 0..3 {
            lp += beta(r.unit(), 2.5, 1.5);
        }
        lp += uniform(r.interval(-1.0, 3.0), -1.0, 3.0);
        for _ in 0..2 {
            lp += uniform(r.interval(-0.5, 4.0), -0.5, 4.0);
        }
        r.done();
        lp + if jac { r.jac } else { 0.0 }
    });
}

// --- Every continuous distribution as a prior whose arguments are latents -------------------
//
// The latent being declared sits in the `y` slot and every argument depends on other
// latents, so every partial of every continuous distribution runs through generated code.

model! {
    fn cov_hierarchy(scale: f64) {
        let mu ~ Normal(0.0, scale);
        let s ~ HalfNormal(1.0);
        let nu ~ Gamma(4.0, 1.0);
        let x1 ~ Normal(mu * 2.0, s);
        let x2 ~ HalfNormal(s + 0.5);
        let x3 ~ LogNormal(mu, s * nu);
        let x4 ~ StudentT(nu, mu, s);
        let x5 ~ HalfStudentT(nu + 1.0, s);
        let x6 ~ Cauchy(-mu, s);
        let x7 ~ HalfCauchy(s.sqrt());
        let x8 ~ Laplace(mu, s);
        let x9 ~ Exponential(s);
        let x10 ~ Gamma(nu, s);
        let x11 ~ InverseGamma(nu, s);
        let x12 ~ Beta(nu, s);
        let z ~ Normal(mu, s).iid(3);
        let q ~ Gamma(nu, s / 2.0).iid((1, 2));
        let x13 ~ Uniform(-2.0, 2.0);
        target += x13 * mu;
    }
}

#[test]
fn every_continuous_distribution_with_latent_arguments() {
    let m = cov_hierarchy(1.5).unwrap();
    assert_eq!(m.layout().get("x12").unwrap().transform, Transform::UNIT);
    assert_eq!(m.layout().get("q").unwrap().shape, [1, 2]);
    let reference = |th: &[f64], jac: bool| {
        let mut r = Reader::new(th);
        let mu = r.real();
        let s = r.positive();
        let nu = r.positive();
        let mut lp = normal(mu, 0.0, 1.5) + half_normal(s, 1.0) + gamma(nu, 4.0, 1.0);
        lp += normal(r.real(), mu * 2.0, s);
        lp += half_normal(r.positive(), s + 0.5);
        lp += log_normal(r.positive(), mu, s * nu);
        lp += student_t(r.real(), nu, mu, s);
        lp += half_student_t(r.positive(), nu + 1.0, s);
        lp += cauchy(r.real(), -mu, s);
        lp += half_cauchy(r.positive(), s.sqrt());
        lp += laplace(r.real(), mu, s);
        lp += exponential(r.positive(), s);
        lp += gamma(r.positive(), nu, s);
        lp += inverse_gamma(r.positive(), nu, s);
        lp += beta(r.unit(), nu, s);
        for _ in 0..3 {
            lp += normal(r.real(), mu, s);
        }
        for _ in 0..2 {
            lp += gamma(r.positive(), nu, s / 2.0);
        }
        let x13 = r.interval(-2.0, 2.0);
        lp += uniform(x13, -2.0, 2.0) + x13 * mu;
        r.done();
        lp + if jac { r.jac } else { 0.0 }
    };
    check_model(&m, 1.0, 102, reference);
    check_model(&m, 0.3, 103, reference);
}

// --- Every distribution as a vectorised observation model with latent vector arguments -----

model! {
    fn cov_observations(
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
        let sv ~ HalfNormal(1.0).iid(x.len());
        let eta = x * w + b;
        let scale = (x * g).exp() + sv;
        y_real ~ Normal(eta, scale);
        y_real ~ StudentT(scale + nu, eta, sv);
        y_real ~ Cauchy(eta, sv * nu);
        y_real ~ Laplace(eta, scale);
        y_real ~ Uniform(eta - scale - 10.0, eta + 10.0);
        y_pos ~ LogNormal(eta, scale);
        y_pos ~ HalfNormal(scale);
        y_pos ~ HalfStudentT(sv + nu, scale);
        y_pos ~ HalfCauchy(scale);
        y_pos ~ Exponential(scale);
        y_pos ~ Gamma(scale, sv);
        y_pos ~ InverseGamma(scale, nu);
        y_unit ~ Beta(scale, sv + nu);
        hit ~ Bernoulli(sigmoid(eta));
        hit ~ BernoulliLogit(eta);
        k ~ Binomial(n, sigmoid(eta));
        k ~ BinomialLogit(n, eta);
        counts ~ Poisson(exp(eta));
        counts ~ PoissonLog(eta);
    }
}

#[test]
fn every_distribution_observed_with_latent_vector_arguments() {
    let x = DVector::from_vec(vec![-0.8, 0.1, 0.6, 1.3]);
    let yr = DVector::from_vec(vec![-1.2, 0.3, 2.5, 0.9]);
    let yp = vec![0.4, 1.7, 3.1, 0.8];
    let yu = [0.15, 0.5, 0.92, 0.33];
    let hit = [true, false, true, true];
    let k = [0i64, 3, 5, 2];
    let n = [4i64, 6, 5, 9];
    let counts = [0u32, 2, 7, 1];
    let m = cov_observations(&x, &yr, &yp, &yu, &hit, &k, &n, &counts).unwrap();
    let reference = |th: &[f64], jac: bool| {
        let mut r = Reader::new(th);
        let w = r.real();
        let b = r.real();
        let g = r.real();
        let nu = r.positive();
        let sv: Vec<f64> = (0..4).map(|_| r.positive()).collect();
        r.done();
        let mut lp = normal(w, 0.0, 1.0) + normal(b, 0.0, 1.0) + normal(g, 0.0, 0.5);
        lp += gamma(nu, 3.0, 1.0) + sv.iter().map(|&v| half_normal(v, 1.0)).sum::<f64>();
        for i in 0..4 {
            let eta = x[i] * w + b;
            let sc = (x[i] * g).exp() + sv[i];
            let (yr, yp, yu) = (yr[i], yp[i], yu[i]);
            lp += normal(yr, eta, sc) + student_t(yr, sc + nu, eta, sv[i]);
            lp += cauchy(yr, eta, sv[i] * nu) + laplace(yr, eta, sc);
            lp += uniform(yr, eta - sc - 10.0, eta + 10.0);
            lp += log_normal(yp, eta, sc) + half_normal(yp, sc);
            lp += half_student_t(yp, sv[i] + nu, sc) + half_cauchy(yp, sc);
            lp += exponential(yp, sc) + gamma(yp, sc, sv[i]) + inverse_gamma(yp, sc, nu);
            lp += beta(yu, sc, sv[i] + nu);
            let h = f64::from(u8::from(hit[i]));
            lp += bernoulli(h, sigmoid(eta)) + bernoulli_logit(h, eta);
            let (ki, ni) = (k[i] as f64, n[i] as f64);
            lp += binomial(ki, ni, sigmoid(eta)) + binomial_logit(ki, ni, eta);
            let c = f64::from(counts[i]);
            lp += poisson(c, eta.exp()) + poisson_log(c, eta);
        }
        lp + if jac { r.jac } else { 0.0 }
    };
    check_model(&m, 1.0, 104, reference);
    check_model(&m, 0.4, 105, reference);
}

// --- Every differentiable function on vectors and matrices, methods and functions ----------

model! {
    fn cov_vector_functions(x: &DVector<f64>, xm: &DMatrix<f64>, y: &[f64]) {
        let a ~ Normal(0.0, 1.0);
        let v ~ Normal(0.0, 1.0).iid(3);
        let c ~ Normal(0.0, 1.0).iid(2);
        let pv ~ Exponential(1.0).iid(3);
        let w ~ Normal(0.0, 1.0).iid((2, 3));
        let pw ~ Gamma(2.0, 2.0).iid((2, 3));
        let ps ~ LogNormal(0.0, 0.5);
        let t1 = sum(v.exp()) + exp(v).mean() + sum(w.exp()) + mean(exp(w));
        let t2 = sum(pv.ln()) + sum(ln(pw)) + sum(log(pv)) + pw.log().sum();
        let t3 = sum(pv.log1p()) + log1p(pw).sum() + sum(pv.ln_1p()) + pw.ln_1p().mean();
        let t4 = sum(v.expm1()) + expm1(w).sum() + sum(v.exp_m1()) + w.exp_m1().mean();
        let t5 = sum(pv.sqrt()) + sqrt(pw).sum() + sum(v.powi(3)) + powi(w, 2).sum();
        let t6 = sum(pv.powf(a)) + sum(powf(pw, a)) + sum(pv.powf(v)) + sum(powf(ps, v));
        let t7 = sum(v.tanh()) + tanh(w).sum() + sum(sigmoid(v)) + w.sigmoid().sum();
        let t8 = sum(v.softplus()) + softplus(w).sum() + sum(log_sigmoid(v)) + w.log_sigmoid().sum();
        let t9 = sum(v.sin()) + sin(w).sum() + sum(cos(v)) + w.cos().sum();
        let t10 = sum(v.abs()) + abs(w).sum() + v.sum() + w.mean();
        let t11 = dot(v, pv) + v.dot(x) + dot(x, pv) + sum(w * v) + sum(xm * w);
        let t12 = sum(v.transpose() * pw.transpose()) + sum(transpose(w) * c);
        let t13 = v[1] * w[(1, 2)] + sum(row(w, 1)) + w.row(0).mean() + sum(col(pw, 2)) + pw.column(0).sum();
        target += t1 + t2 + t3 + t4 + t5 + t6 + t7 + t8 + t9 + t10 + t11 + t12 + t13;
        y ~ Normal(sum(v) + a, ps);
    }
}

#[test]
fn every_function_on_vectors_and_matrices() {
    let x = DVector::from_vec(vec![0.3, -1.1, 0.8]);
    let xm = DMatrix::from_row_slice(2, 2, &[0.5, -0.2, 1.3, 0.7]);
    let y = [0.2, -0.4];
    let m = cov_vector_functions(&x, &xm, &y).unwrap();
    let reference = |th: &[f64], jac: bool| {
        let mut r = Reader::new(th);
        let a = r.real();
        let v = DVector::from_vec(r.reals(3));
        let c = DVector::from_vec(r.reals(2));
        let pv = DVector::from_fn(3, |_, _| r.positive());
        let w = DMatrix::from_row_slice(2, 3, &r.reals(6));
        let pwv: Vec<f64> = (0..6).map(|_| r.positive()).collect();
        let pw = DMatrix::from_row_slice(2, 3, &pwv);
        let ps = r.positive();
        r.done();
        let mut lp = normal(a, 0.0, 1.0);
        lp += v
            .iter()
            .chain(c.iter())
            .chain(w.iter())
            .map(|&z| normal(z, 0.0, 1.0))
            .sum::<f64>();
        lp += pv.iter().map(|&z| exponential(z, 1.0)).sum::<f64>();
        lp += pw.iter().map(|&z| gamma(z, 2.0, 2.0)).sum::<f64>();
        lp += log_normal(ps, 0.0, 0.5);
        let sum = |it: &mut dyn Iterator<Item = f64>| it.sum::<f64>();
        let ve = sum(&mut v.iter().map(|z| z.exp()));
        let we = sum(&mut w.iter().map(|z| z.exp()));
        let t1 = ve + ve / 3.0 + we + we / 6.0;
        let t2 =
            2.0 * sum(&mut pv.iter().map(|z| z.ln())) + 2.0 * sum(&mut pw.iter().map(|z| z.ln()));
        let t3 = 2.0 * sum(&mut pv.iter().map(|z| z.ln_1p()))
            + sum(&mut pw.iter().map(|z| z.ln_1p())) * (1.0 + 1.0 / 6.0);
        let t4 = 2.0 * sum(&mut v.iter().map(|z| z.exp_m1()))
            + sum(&mut w.iter().map(|z| z.exp_m1())) * (1.0 + 1.0 / 6.0);
        let t5 = sum(&mut pv.iter().map(|z| z.sqrt()))
            + sum(&mut pw.iter().map(|z| z.sqrt()))
            + sum(&mut v.iter().map(|z| z * z * z))
            + sum(&mut w.iter().map(|z| z * z));
        let t6 = sum(&mut pv.iter().map(|z| z.powf(a)))
            + sum(&mut pw.iter().map(|z| z.powf(a)))
            + sum(&mut (0..3).map(|i| pv[i].powf(v[i])))
            + sum(&mut v.iter().map(|z| ps.powf(*z)));
        let sp = |z: f64| (1.0 + z.exp()).ln();
        let t7 = sum(&mut v.iter().map(|z| z.tanh()))
            + sum(&mut w.iter().map(|z| z.tanh()))
            + sum(&mut v.iter().map(|&z| sigmoid(z)))
            + sum(&mut w.iter().map(|&z| sigmoid(z)));
        let t8 = sum(&mut v.iter().map(|&z| sp(z))) + sum(&mut w.iter().map(|&z| sp(z)))
            - sum(&mut v.iter().map(|&z| sp(-z)))
            - sum(&mut w.iter().map(|&z| sp(-z)));
        let t9 = sum(&mut v.iter().map(|z| z.sin()))
            + sum(&mut w.iter().map(|z| z.sin()))
            + sum(&mut v.iter().map(|z| z.cos()))
            + sum(&mut w.iter().map(|z| z.cos()));
        let t10 = sum(&mut v.iter().map(|z| z.abs()))
            + sum(&mut w.iter().map(|z| z.abs()))
            + v.sum()
            + w.sum() / 6.0;
        // Matrix products written out element by element.
        let wv: f64 = (0..2)
            .map(|i| (0..3).map(|j| w[(i, j)] * v[j]).sum::<f64>())
            .sum();
        let xw: f64 = (0..2)
            .map(|i| {
                (0..3)
                    .map(|j| (0..2).map(|l| xm[(i, l)] * w[(l, j)]).sum::<f64>())
                    .sum::<f64>()
            })
            .sum();
        let t11 = (0..3)
            .map(|i| v[i] * pv[i] + v[i] * x[i] + x[i] * pv[i])
            .sum::<f64>()
            + wv
            + xw;
        // v^T (1x3) * pw^T (3x2): a row of two; w^T (3x2) * c (2).
        let vp: f64 = (0..2)
            .map(|k| (0..3).map(|j| v[j] * pw[(k, j)]).sum::<f64>())
            .sum();
        let wc: f64 = (0..3)
            .map(|j| (0..2).map(|i| w[(i, j)] * c[i]).sum::<f64>())
            .sum();
        let t12 = vp + wc;
        let t13 = v[1] * w[(1, 2)]
            + (w[(1, 0)] + w[(1, 1)] + w[(1, 2)])
            + (w[(0, 0)] + w[(0, 1)] + w[(0, 2)]) / 3.0
            + (pw[(0, 2)] + pw[(1, 2)])
            + (pw[(0, 0)] + pw[(1, 0)]);
        lp += t1 + t2 + t3 + t4 + t5 + t6 + t7 + t8 + t9 + t10 + t11 + t12 + t13;
        for &yi in &y {
            lp += normal(yi, v.sum() + a, ps);
        }
        lp + if jac { r.jac } else { 0.0 }
    };
    check_model(&m, 1.0, 106, reference);
    check_model(&m, 0.5, 107, reference);
}

// --- Every function on scalars, as a method and as a function --------------------------------

model! {
    fn cov_scalar_functions(y: f64) {
        let a ~ Normal(0.0, 1.0);
        let p ~ Gamma(3.0, 2.0);
        let e = 0.5 * a.exp() + exp(a) + p.ln() + ln(p) + log(p) + p.log() - a;
        let f = log1p(p) + p.log1p() + p.ln_1p() + expm1(a) + a.expm1() + a.exp_m1();
        let g = sqrt(p) + p.sqrt() + powi(a, 3) + a.powi(2) + p.powf(a) + powf(p, 1.5) + powf(2.0, a);
        let h = tanh(a) + a.tanh() + sigmoid(a) + a.sigmoid() + softplus(a) + a.softplus();
        let k = log_sigmoid(a) + a.log_sigmoid() + sin(a) + a.sin() + cos(a) + a.cos();
        let l = abs(a) + (-a).abs() + f64::exp(a) + f64::sqrt(p) + f64::powf(p, a);
        target += e + f + g + h + k + l;
        y ~ Normal(a, p);
    }
}

#[test]
fn every_function_on_scalars_as_method_and_function() {
    let m = cov_scalar_functions(0.7).unwrap();
    let reference = |th: &[f64], jac: bool| {
        let mut r = Reader::new(th);
        let a = r.real();
        let p = r.positive();
        r.done();
        let sp = |z: f64| (1.0 + z.exp()).ln();
        let e = 1.5 * a.exp() + 4.0 * p.ln() - a;
        let f = 3.0 * (1.0 + p).ln() + 3.0 * (a.exp() - 1.0);
        let g = 2.0 * p.sqrt() + a * a * a + a * a + p.powf(a) + p.powf(1.5) + 2f64.powf(a);
        let h = 2.0 * a.tanh() + 2.0 * sigmoid(a) + 2.0 * sp(a);
        let k = -2.0 * sp(-a) + 2.0 * a.sin() + 2.0 * a.cos();
        let l = 2.0 * a.abs() + a.exp() + p.sqrt() + p.powf(a);
        let lp = normal(a, 0.0, 1.0) + gamma(p, 3.0, 2.0) + e + f + g + h + k + l;
        lp + normal(0.7, a, p) + if jac { r.jac } else { 0.0 }
    };
    check_model(&m, 1.5, 108, reference);
    check_model(&m, 0.2, 109, reference);
}

// --- Broadcasting ----------------------------------------------------------------------------

model! {
    fn cov_broadcast(x: &DVector<f64>, xc: &DVector<f64>, xm: &DMatrix<f64>, y: &DMatrix<f64>) {
        let a ~ Normal(0.0, 1.0);
        let v ~ Normal(0.0, 1.0).iid(3);
        let c ~ Normal(0.0, 1.0).iid(2);
        let w ~ Normal(0.0, 1.0).iid((2, 3));
        let s ~ HalfNormal(1.0);
        // A scalar against a vector, on either side and with every operator.
        let sv = (a + v) * (v - a) + a * v - v / (a.exp() + 1.0) + (2.0 - v) / 3.0 + x * a;
        // A row vector against every row of a matrix (latent and data matrices).
        let rows = w + v.transpose() - xm * v.transpose().exp() + w * v.transpose();
        // A column vector against every column of a matrix.
        let cols = c * (w - c) + xc * w / (c.exp() + 1.0) - (c - xm) / 2.0;
        // A column against a row: the outer sum and product.
        let outer = c + v.transpose() * a + c * v.transpose();
        target += sum(sv) + sum(rows.powi(2)) / 10.0 + sum(cols) + mean(outer);
        y ~ Normal(w + v.transpose() + c * a, s);
        x ~ Normal(v * a, s + v.abs());
    }
}

#[test]
fn broadcasting_scalar_row_and_column() {
    let x = DVector::from_vec(vec![0.3, -1.1, 0.8]);
    let xm = DMatrix::from_row_slice(2, 3, &[0.5, -0.2, 1.3, 0.7, 0.1, -0.9]);
    let y = DMatrix::from_row_slice(2, 3, &[0.4, -1.0, 0.2, 1.1, 0.0, -0.3]);
    let xc = DVector::from_vec(vec![1.5, -0.6]);
    let m = cov_broadcast(&x, &xc, &xm, &y).unwrap();
    let reference = |th: &[f64], jac: bool| {
        let mut r = Reader::new(th);
        let a = r.real();
        let v = r.reals(3);
        let c = r.reals(2);
        let w = r.reals(6); // row-major 2x3
        let s = r.positive();
        r.done();
        let mut lp = normal(a, 0.0, 1.0) + half_normal(s, 1.0);
        lp += v
            .iter()
            .chain(&c)
            .chain(&w)
            .map(|&z| normal(z, 0.0, 1.0))
            .sum::<f64>();
        let mut t = 0.0;
        for j in 0..3 {
            t += (a + v[j]) * (v[j] - a) + a * v[j] - v[j] / (a.exp() + 1.0)
                + (2.0 - v[j]) / 3.0
                + x[j] * a;
        }
        let (mut rows, mut cols, mut outer) = (0.0, 0.0, 0.0);
        for i in 0..2 {
            for j in 0..3 {
                let wij = w[i * 3 + j];
                let rr = wij + v[j] - xm[(i, j)] * v[j].exp() + wij * v[j];
                rows += rr * rr;
                cols += c[i] * (wij - c[i]) + xc[i] * wij / (c[i].exp() + 1.0)
                    - (c[i] - xm[(i, j)]) / 2.0;
                outer += c[i] + v[j] * a + c[i] * v[j];
                lp += normal(y[(i, j)], wij + v[j] + c[i] * a, s);
            }
        }
        for j in 0..3 {
            lp += normal(x[j], v[j] * a, s + v[j].abs());
        }
        lp += t + rows / 10.0 + cols + outer / 6.0;
        lp + if jac { r.jac } else { 0.0 }
    };
    check_model(&m, 1.0, 110, reference);
    check_model(&m, 0.3, 113, reference);
}

// --- Deterministic `let`, `let mut` running sums, element writes, `if` over data ------------

model! {
    fn cov_control_flow(x: &[f64], flag: &[bool], k: usize) {
        let a ~ Normal(0.0, 1.0);
        let b ~ Normal(0.0, 1.0).iid(x.len());
        let s ~ HalfNormal(1.0);
        let half = s / 2.0;
        let mut acc = 0.0;
        let mut run = DVector::zeros(x.len());
        for i in 0..x.len() {
            acc += b[i] * x[i];
            if flag[i] {
                run[i] = acc.tanh() + half;
            } else {
                run[i] = acc * a;
            }
        }
        let mut prod = 1.0;
        let mut m = a;
        for i in 0..x.len() {
            prod *= (b[i] * 0.5).exp();
            m = m * 0.5 + b[i];
            if i + 1 == k {
                target += m.powi(2) * -0.25;
            }
        }
        let mut grid = DMatrix::zeros(2, 2);
        for i in 0..2 {
            for j in 0..2 {
                grid[(i, j)] = b[i + j] * (i as f64 + 1.0) - m;
            }
        }
        target += -0.5 * sum(run.powi(2)) + prod.ln() - sum(grid.powi(2));
        let shifted = run + a;
        x ~ Normal(shifted, s);
    }
}

#[test]
fn running_sums_element_writes_and_branches_over_data() {
    let x = [0.5, -1.0, 2.0, 0.1, -0.3];
    let flag = [true, false, false, true, true];
    let m = cov_control_flow(&x, &flag, 3).unwrap();
    let reference = |th: &[f64], jac: bool| {
        let mut r = Reader::new(th);
        let a = r.real();
        let b = r.reals(5);
        let s = r.positive();
        r.done();
        let mut lp = normal(a, 0.0, 1.0) + b.iter().map(|&z| normal(z, 0.0, 1.0)).sum::<f64>();
        lp += half_normal(s, 1.0);
        let mut acc = 0.0;
        let mut run = [0.0; 5];
        for i in 0..5 {
            acc += b[i] * x[i];
            run[i] = if flag[i] {
                acc.tanh() + s / 2.0
            } else {
                acc * a
            };
        }
        let mut m = a;
        for (i, bi) in b.iter().enumerate() {
            m = m * 0.5 + bi;
            if i + 1 == 3 {
                lp -= 0.25 * m * m;
            }
        }
        let mut grid = 0.0;
        for i in 0..2 {
            for j in 0..2 {
                grid += (b[i + j] * (i as f64 + 1.0) - m).powi(2);
            }
        }
        let ln_prod: f64 = b.iter().map(|z| z * 0.5).sum();
        lp += -0.5 * run.iter().map(|z| z * z).sum::<f64>() + ln_prod - grid;
        for i in 0..5 {
            lp += normal(x[i], run[i] + a, s);
        }
        lp + if jac { r.jac } else { 0.0 }
    };
    check_model(&m, 1.0, 111, reference);
    check_model(&m, 0.3, 112, reference);
}

// --- Compound assignment, shadowing, whole-vector state, `else if`, a data base to a latent power

model! {
    fn cov_compound(x: &[f64], xp: &DVector<f64>) {
        let a ~ Normal(0.0, 1.0);
        let v ~ Normal(0.0, 1.0).iid(x.len());
        let s ~ LogNormal(0.0, 0.5);
        let z = a * 2.0;
        let z = z + s;
        let mut t = s;
        t -= a;
        t *= z;
        t /= s + 1.0;
        t += 1.0;
        let mut u = v.clone();
        for i in 0..x.len() {
            u[i] += x[i] * a;
            u[i] -= s;
            u[i] *= 0.5;
        }
        let mut w = -v;
        for _ in 0..3 {
            w = w * a.tanh() + 1.0 / (v.powi(2) + s);
        }
        if x.len() > 10 {
            target += a;
        } else if x.len() > 2 {
            target += t;
        } else {
            target += z;
        }
        target += sum(u.powi(2)) * -0.5 + sum(w) / 5.0 + dot(w, u) / 10.0;
        target += sum(powf(xp, a)) + mean(xp.powf(z));
        x ~ Normal(u, s);
    }
}

#[test]
fn compound_assignment_shadowing_and_vector_state() {
    let x = [0.5, -1.0, 2.0, 0.1];
    let xp = DVector::from_vec(vec![0.5, 1.2, 2.0]);
    let m = cov_compound(&x, &xp).unwrap();
    let reference = |th: &[f64], jac: bool| {
        let mut r = Reader::new(th);
        let a = r.real();
        let v = r.reals(4);
        let s = r.positive();
        r.done();
        let mut lp = normal(a, 0.0, 1.0) + v.iter().map(|&z| normal(z, 0.0, 1.0)).sum::<f64>();
        lp += log_normal(s, 0.0, 0.5);
        let z = 2.0 * a + s;
        let t = (s - a) * z / (s + 1.0) + 1.0;
        let u: Vec<f64> = (0..4).map(|i| (v[i] + x[i] * a - s) * 0.5).collect();
        let mut w: Vec<f64> = v.iter().map(|z| -z).collect();
        for _ in 0..3 {
            for i in 0..4 {
                w[i] = w[i] * a.tanh() + 1.0 / (v[i] * v[i] + s);
            }
        }
        lp += t;
        lp += -0.5 * u.iter().map(|z| z * z).sum::<f64>() + w.iter().sum::<f64>() / 5.0;
        lp += (0..4).map(|i| w[i] * u[i]).sum::<f64>() / 10.0;
        lp += xp.iter().map(|b| b.powf(a)).sum::<f64>()
            + xp.iter().map(|b| b.powf(z)).sum::<f64>() / 3.0;
        for i in 0..4 {
            lp += normal(x[i], u[i], s);
        }
        lp + if jac { r.jac } else { 0.0 }
    };
    check_model(&m, 1.0, 114, reference);
    check_model(&m, 0.3, 115, reference);
}

// --- Rows of a latent matrix in a loop, `let` and observations inside branches ---------------

model! {
    fn cov_rows(x: &DMatrix<f64>, y: &DVector<f64>, kind: &[usize]) {
        let w ~ Normal(0.0, 1.0).iid((x.ncols(), 2));
        let b ~ Normal(0.0, 1.0).iid(2);
        let s ~ HalfCauchy(1.0);
        let h = (x * w + b.transpose()).tanh();
        let mut total = 0.0;
        for i in 0..x.nrows() {
            let hi = h.row(i);
            if kind[i] == 0 {
                let e = hi[0] - hi[1];
                total += e * e;
                y[i] ~ Normal(hi[0], s);
            } else {
                y[i] ~ StudentT(3.0, sum(hi), s);
            }
        }
        target += -total + mean(w) - sum(h.column(1));
    }
}

#[test]
fn rows_of_a_latent_matrix_and_branch_local_lets() {
    let x = DMatrix::from_row_slice(
        4,
        3,
        &[
            0.5, -0.2, 1.3, 0.7, 0.1, -0.9, -1.1, 0.4, 0.0, 0.3, 0.8, -0.6,
        ],
    );
    let y = DVector::from_vec(vec![0.2, -0.4, 1.1, 0.6]);
    let kind = [0usize, 1, 0, 1];
    let m = cov_rows(&x, &y, &kind).unwrap();
    check_model(&m, 1.0, 116, |th, jac| {
        let mut r = Reader::new(th);
        let w = r.reals(6); // 3x2 row-major
        let b = r.reals(2);
        let s = r.positive();
        r.done();
        let mut lp = w
            .iter()
            .chain(&b)
            .map(|&z| normal(z, 0.0, 1.0))
            .sum::<f64>();
        lp += half_cauchy(s, 1.0);
        let mut total = 0.0;
        let mut col1 = 0.0;
        for i in 0..4 {
            let h: Vec<f64> = (0..2)
                .map(|k| ((0..3).map(|j| x[(i, j)] * w[j * 2 + k]).sum::<f64>() + b[k]).tanh())
                .collect();
            col1 += h[1];
            if kind[i] == 0 {
                total += (h[0] - h[1]).powi(2);
                lp += normal(y[i], h[0], s);
            } else {
                lp += student_t(y[i], 3.0, h[0] + h[1], s);
            }
        }
        lp += -total + w.iter().sum::<f64>() / 6.0 - col1;
        lp + if jac { r.jac } else { 0.0 }
    });
}

// --- Scalar observations of every data type, observed data expressions, literal counts ------

model! {
    fn cov_scalar_observations(
        y0: f64,
        k0: i64,
        n0: i64,
        b0: bool,
        c0: u32,
        ys: &DVector<f64>,
        xm: &DMatrix<f64>,
        ks: &[i32],
    ) {
        let mu ~ Normal(0.0, 1.0);
        let s ~ HalfNormal(1.0);
        let p ~ Beta(2.0, 2.0);
        let q ~ Beta(1.5, 2.5).iid((2, ys.len() - 1));
        y0 ~ Normal(mu, s);
        y0 * 2.0 ~ Laplace(mu, s);
        y0.exp() ~ Gamma(s + 1.0, p);
        k0 ~ Binomial(n0, p);
        k0 ~ Binomial(10, q[(1, 0)]);
        b0 ~ Bernoulli(p);
        c0 ~ Poisson(s * 3.0);
        ks ~ PoissonLog(mu);
        xm.column(0).clone_owned() ~ Normal(mu, s);
        for i in 0..ys.len() {
            ys[i] - 1.0 ~ Normal(mu * (i as f64), s);
        }
        target += sum(q.ln());
    }
}

#[test]
fn scalar_observations_and_observed_data_expressions() {
    let ys = DVector::from_vec(vec![0.3, 1.4, -0.2]);
    let xm = DMatrix::from_row_slice(2, 2, &[0.5, -0.2, 1.3, 0.7]);
    let ks = [2i32, 0, 5];
    let m = cov_scalar_observations(0.4, 3, 7, true, 4, &ys, &xm, &ks).unwrap();
    assert_eq!(m.layout().get("q").unwrap().shape, [2, 2]);
    assert_eq!(m.layout().get("q").unwrap().transform, Transform::UNIT);
    check_model(&m, 1.5, 117, |th, jac| {
        let mut r = Reader::new(th);
        let mu = r.real();
        let s = r.positive();
        let p = r.unit();
        let q: Vec<f64> = (0..4).map(|_| r.unit()).collect(); // row-major 2x2
        r.done();
        let mut lp = normal(mu, 0.0, 1.0) + half_normal(s, 1.0) + beta(p, 2.0, 2.0);
        lp += q.iter().map(|&z| beta(z, 1.5, 2.5) + z.ln()).sum::<f64>();
        lp += normal(0.4, mu, s) + laplace(0.8, mu, s) + gamma(0.4f64.exp(), s + 1.0, p);
        lp += binomial(3.0, 7.0, p) + binomial(3.0, 10.0, q[2]) + bernoulli(1.0, p);
        lp += poisson(4.0, s * 3.0);
        lp += ks
            .iter()
            .map(|&k| poisson_log(f64::from(k), mu))
            .sum::<f64>();
        lp += normal(0.5, mu, s) + normal(1.3, mu, s);
        for i in 0..3 {
            lp += normal(ys[i] - 1.0, mu * i as f64, s);
        }
        lp + if jac { r.jac } else { 0.0 }
    });
}

// --- Elements overwritten repeatedly, state reset per iteration, conditional updates -------

model! {
    fn cov_overwrites(x: &[f64], on: &[bool]) {
        let a ~ Normal(0.0, 1.0);
        let v ~ Normal(0.0, 1.0).iid(x.len());
        let s ~ Exponential(1.0);
        let mut u = DVector::zeros(x.len());
        for t in 0..3 {
            for i in 0..x.len() {
                u[i] = u[i] * a.tanh() + v[i] * (t as f64 + 1.0);
            }
        }
        let mut pair = DVector::zeros(2);
        for i in 0..x.len() {
            pair[i % 2] = pair[i % 2] * 0.5 + u[i] * s;
        }
        let mut acc = a;
        for i in 0..x.len() {
            let mut local = v[i];
            local *= s;
            if on[i] {
                acc = acc * 0.9 + local;
            }
        }
        let mut hm = DMatrix::zeros(2, 2);
        for i in 0..2 {
            hm[(i, i)] = v[i] + a;
            hm[(i, 1 - i)] = s;
        }
        let mut hs = hm.clone();
        for _ in 0..2 {
            hs = (hs * 0.5).tanh() + hm;
        }
        target += -0.5 * sum(u.powi(2)) / 10.0 + sum(pair) - acc.powi(2) + sum(hs);
        for &xi in x.iter() {
            target += -0.5 * (xi - a).powi(2);
        }
        x ~ Normal(v, s);
    }
}

#[test]
fn elements_overwritten_state_reset_and_conditional_updates() {
    let x = [0.5, -1.0, 2.0, 0.1, -0.7];
    let on = [true, false, true, true, false];
    let m = cov_overwrites(&x, &on).unwrap();
    let reference = |th: &[f64], jac: bool| {
        let mut r = Reader::new(th);
        let a = r.real();
        let v = r.reals(5);
        let s = r.positive();
        r.done();
        let mut lp = normal(a, 0.0, 1.0) + v.iter().map(|&z| normal(z, 0.0, 1.0)).sum::<f64>();
        lp += exponential(s, 1.0);
        let mut u = [0.0; 5];
        for t in 0..3 {
            for i in 0..5 {
                u[i] = u[i] * a.tanh() + v[i] * (t as f64 + 1.0);
            }
        }
        let mut pair = [0.0; 2];
        for i in 0..5 {
            pair[i % 2] = pair[i % 2] * 0.5 + u[i] * s;
        }
        let mut acc = a;
        for i in 0..5 {
            if on[i] {
                acc = acc * 0.9 + v[i] * s;
            }
        }
        let hm = [[v[0] + a, s], [s, v[1] + a]];
        let mut hs = hm;
        for _ in 0..2 {
            for i in 0..2 {
                for j in 0..2 {
                    hs[i][j] = (hs[i][j] * 0.5).tanh() + hm[i][j];
                }
            }
        }
        let hsum: f64 = hs.iter().flatten().sum();
        lp += -0.05 * u.iter().map(|z| z * z).sum::<f64>() + pair[0] + pair[1] - acc * acc + hsum;
        lp += x.iter().map(|xi| -0.5 * (xi - a).powi(2)).sum::<f64>();
        for i in 0..5 {
            lp += normal(x[i], v[i], s);
        }
        lp + if jac { r.jac } else { 0.0 }
    };
    check_model(&m, 1.0, 118, reference);
    check_model(&m, 0.4, 119, reference);
}

// --- Integer data in arithmetic, a data row vector; empty data and empty latents -----------

model! {
    fn cov_data_kinds(
        k0: i64,
        ks: &[i64],
        r: &RowDVector<f64>,
        x: &DMatrix<f64>,
        empty: &[f64],
        extra: &[f64],
    ) {
        let a ~ Normal(0.0, 1.0);
        let w ~ Normal(0.0, 1.0).iid((x.nrows(), x.ncols()));
        let none ~ Normal(0.0, 1.0).iid(extra.len());
        let s ~ HalfNormal(1.0);
        // Data code converting integers by hand, and integer data as operands.
        let kf: Vec<f64> = ks.iter().map(|&k| k as f64).collect();
        target += a * k0 + sum(kf * a) + sum(none) + a * (k0 as f64) - sum(ks * a);
        target += sum((w + r).powi(2)) * -0.5 + sum(x * a - w * r);
        empty ~ Normal(a, s);
        ks ~ Poisson(s + a.powi(2));
    }
}

#[test]
fn integer_data_row_vector_data_and_empty_data() {
    let ks = [2i64, 0, 5];
    let r = RowDVector::from_vec(vec![0.3, -0.7]);
    let x = DMatrix::from_row_slice(2, 2, &[0.5, -0.2, 1.3, 0.7]);
    // An empty latent and empty observed data (N = 0) add nothing to the density.
    for (empty, extra) in [
        (&[0.4][..], &[0.0, 0.0][..]),
        (&[0.4][..], &[][..]),
        (&[][..], &[0.0][..]),
    ] {
        let m = cov_data_kinds(3, &ks, &r, &x, empty, extra).unwrap();
        let n_none = extra.len();
        assert_eq!(m.layout().get("none").unwrap().shape, [n_none]);
        assert_eq!(m.dim(), 1 + 4 + n_none + 1);
        check_model(&m, 1.0, 120, |th, jac| {
            let mut rd = Reader::new(th);
            let a = rd.real();
            let w = rd.reals(4); // row-major 2x2
            let none = rd.reals(n_none);
            let s = rd.positive();
            rd.done();
            let mut lp = normal(a, 0.0, 1.0) + w.iter().map(|&z| normal(z, 0.0, 1.0)).sum::<f64>();
            lp += half_normal(s, 1.0);
            lp += none.iter().map(|&z| normal(z, 0.0, 1.0) + z).sum::<f64>();
            lp += 3.0 * a + 7.0 * a + 3.0 * a - 7.0 * a;
            for i in 0..2 {
                for j in 0..2 {
                    let wij = w[i * 2 + j];
                    lp += -0.5 * (wij + r[j]).powi(2) + x[(i, j)] * a - wij * r[j];
                }
            }
            for &k in &ks {
                lp += poisson(k as f64, s + a * a);
            }
            for &y in empty {
                lp += normal(y, a, s);
            }
            lp + if jac { rd.jac } else { 0.0 }
        });
    }
}

// --- Active values overwritten by data, shadowing that changes activity ---------------------

model! {
    fn cov_overwrite_with_data(x: &[f64], keep: &[bool]) {
        let a ~ Normal(0.0, 1.0);
        let v ~ Normal(0.0, 1.0).iid(x.len());
        let s ~ Gamma(2.0, 2.0);
        let mut u = v.clone();
        for i in 0..x.len() {
            if !keep[i] {
                u[i] = x[i];
            }
        }
        let mut t = a * s;
        target += t;
        t = 2.0;
        target += t * s;
        let z = a.exp();
        target += z;
        let z = x.len() as f64;
        target += z * s;
        let z = z * v[0];
        target += z;
        let a = 0.5;
        target += a * s;
        target += sum(u.powi(2)) * -0.5;
        x ~ Normal(u, s);
    }
}

#[test]
fn active_values_overwritten_by_data_and_shadowed() {
    let x = [0.5, -1.0, 2.0, 0.1];
    let keep = [true, false, true, false];
    let m = cov_overwrite_with_data(&x, &keep).unwrap();
    assert_eq!(m.layout().names(), ["a", "v", "s"]);
    check_model(&m, 1.0, 121, |th, jac| {
        let mut r = Reader::new(th);
        let a = r.real();
        let v = r.reals(4);
        let s = r.positive();
        r.done();
        let mut lp = normal(a, 0.0, 1.0) + v.iter().map(|&z| normal(z, 0.0, 1.0)).sum::<f64>();
        lp += gamma(s, 2.0, 2.0);
        let u: Vec<f64> = (0..4).map(|i| if keep[i] { v[i] } else { x[i] }).collect();
        lp += a * s + 2.0 * s + a.exp() + 4.0 * s + 4.0 * v[0] + 0.5 * s;
        lp += -0.5 * u.iter().map(|z| z * z).sum::<f64>();
        for i in 0..4 {
            lp += normal(x[i], u[i], s);
        }
        lp + if jac { r.jac } else { 0.0 }
    });
}

// --- A recurrent state through a matrix product, loops over reversed and stepped ranges -----

model! {
    fn cov_recurrent(xs: &[f64], y: &[f64]) {
        let wm ~ Normal(0.0, 0.5).iid((2, 2));
        let u ~ Normal(0.0, 1.0).iid(2);
        let c ~ Normal(0.0, 1.0).iid(2);
        let s ~ HalfNormal(1.0);
        let mut h = DVector::zeros(2);
        for t in 0..xs.len() {
            h = (wm * h + u * xs[t]).tanh();
            y[t] ~ Normal(dot(c, h), s);
        }
        let mut back = 0.0;
        for t in (0..xs.len()).rev() {
            back = back * 0.5 + xs[t] * u[0];
        }
        for t in (0..xs.len()).step_by(2) {
            target += softplus(dot(u, c) * xs[t]).ln();
        }
        target += -back.powi(2);
    }
}

#[test]
fn recurrent_state_and_reversed_and_stepped_loops() {
    let xs = [0.5, -1.0, 2.0, 0.1, -0.3];
    let y = [0.2, -0.4, 0.9, 0.0, 0.3];
    let m = cov_recurrent(&xs, &y).unwrap();
    let reference = |th: &[f64], jac: bool| {
        let mut r = Reader::new(th);
        let w = r.reals(4); // row-major 2x2
        let u = r.reals(2);
        let c = r.reals(2);
        let s = r.positive();
        r.done();
        let mut lp = w.iter().map(|&z| normal(z, 0.0, 0.5)).sum::<f64>();
        lp += u
            .iter()
            .chain(&c)
            .map(|&z| normal(z, 0.0, 1.0))
            .sum::<f64>();
        lp += half_normal(s, 1.0);
        let mut h = [0.0; 2];
        for t in 0..5 {
            let h0 = (w[0] * h[0] + w[1] * h[1] + u[0] * xs[t]).tanh();
            let h1 = (w[2] * h[0] + w[3] * h[1] + u[1] * xs[t]).tanh();
            h = [h0, h1];
            lp += normal(y[t], c[0] * h[0] + c[1] * h[1], s);
        }
        let mut back = 0.0;
        for t in (0..5).rev() {
            back = back * 0.5 + xs[t] * u[0];
        }
        let uc = u[0] * c[0] + u[1] * c[1];
        for t in [0, 2, 4] {
            lp += (1.0 + (uc * xs[t]).exp()).ln().ln();
        }
        lp += -back * back;
        lp + if jac { r.jac } else { 0.0 }
    };
    check_model(&m, 1.0, 122, reference);
    check_model(&m, 2.0, 123, reference);
}

// --- Far in the tails: the logistic functions stay finite and exact -------------------------

model! {
    fn cov_tails(y: &[bool]) {
        let a ~ Normal(0.0, 100.0);
        let v ~ Normal(0.0, 100.0).iid(2);
        let z = a * 30.0;
        target += log_sigmoid(z) + softplus(z) * 0.5 - sigmoid(z) + sum(log_sigmoid(v * 30.0));
        target += sum(softplus(v * -30.0)) * -0.25 + sum(sigmoid(v * 30.0));
        y ~ BernoulliLogit(z);
        y ~ BernoulliLogit(v * 30.0);
    }
}

#[test]
fn logistic_functions_far_in_the_tails() {
    // softplus(x) = max(x, 0) + ln(1 + e^-|x|), written so that it cannot overflow; the
    // arguments reach +-750, where e^x overflows.
    let sp = |x: f64| x.max(0.0) + (-x.abs()).exp().ln_1p();
    let sig = |x: f64| {
        if x >= 0.0 {
            1.0 / (1.0 + (-x).exp())
        } else {
            x.exp() / (1.0 + x.exp())
        }
    };
    let y = [true, false];
    let m = cov_tails(&y).unwrap();
    let reference = |th: &[f64], _: bool| {
        let (a, v) = (th[0], [th[1], th[2]]);
        let z = a * 30.0;
        let mut lp = normal(a, 0.0, 100.0) + normal(v[0], 0.0, 100.0) + normal(v[1], 0.0, 100.0);
        lp += -sp(-z) + 0.5 * sp(z) - sig(z);
        for (i, &vi) in v.iter().enumerate() {
            let w = vi * 30.0;
            lp += -sp(-w) - 0.25 * sp(-w) + sig(w);
            let yi = f64::from(u8::from(y[i]));
            lp += yi * z - sp(z) + yi * w - sp(w);
        }
        lp
    };
    check_model(&m, 25.0, 124, reference);
    for th in [[25.0, -25.0, 25.0], [-25.0, 25.0, -25.0]] {
        let mut g = [0.0; 3];
        let lp = m.log_density_grad(&th, &mut g);
        assert!(close(lp, reference(&th, true), 1e-10), "{lp}");
        assert!(g.iter().all(|x| x.is_finite()), "{g:?}");
    }
}

// --- `.iid` latents whose prior arguments are latent vectors of the same shape --------------

model! {
    fn cov_vector_prior_arguments(n: usize) {
        let m ~ Normal(0.0, 1.0).iid(n);
        let s ~ HalfNormal(1.0).iid(n);
        let z ~ Normal(m, s).iid(n);
        let g ~ Gamma(s + 1.0, m.exp()).iid(n);
        let p ~ Beta(s, g).iid(n);
        let q ~ Normal(m.transpose(), 1.0).iid((1, n));
        target += sum(z) + sum(p) + sum(q);
    }
}

#[test]
fn iid_latents_with_latent_vector_arguments() {
    let m = cov_vector_prior_arguments(3).unwrap();
    check_model(&m, 1.0, 125, |th, jac| {
        let mut r = Reader::new(th);
        let mm = r.reals(3);
        let s: Vec<f64> = (0..3).map(|_| r.positive()).collect();
        let z = r.reals(3);
        let g: Vec<f64> = (0..3).map(|_| r.positive()).collect();
        let p: Vec<f64> = (0..3).map(|_| r.unit()).collect();
        let q = r.reals(3);
        r.done();
        let mut lp = 0.0;
        for i in 0..3 {
            lp += normal(mm[i], 0.0, 1.0) + half_normal(s[i], 1.0) + normal(z[i], mm[i], s[i]);
            lp += gamma(g[i], s[i] + 1.0, mm[i].exp()) + beta(p[i], s[i], g[i]);
            lp += normal(q[i], mm[i], 1.0) + z[i] + p[i] + q[i];
        }
        lp + if jac { r.jac } else { 0.0 }
    });
}

model! {
    fn cov_prior_shape_mismatch(n: usize, k: usize) {
        let m ~ Normal(0.0, 1.0).iid(k);
        let z ~ Normal(m, 1.0).iid(n);
    }
}

#[test]
fn prior_argument_of_another_shape_is_an_error_naming_the_statement() {
    assert_eq!(cov_prior_shape_mismatch(3, 3).unwrap().dim(), 6);
    match cov_prior_shape_mismatch(3, 4) {
        Err(ModelError::Shape { statement, .. }) => {
            assert_eq!(statement, "let z ~ Normal(m, 1.0).iid(n)")
        }
        Err(e) => panic!("expected a shape error, got {e}"),
        Ok(_) => panic!("a 4-vector mean for a 3-vector latent was accepted"),
    }
}
