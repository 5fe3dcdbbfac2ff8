//! The engines driven through `model!` on posteriors known in closed form: Beta-Bernoulli,
//! Gamma-Poisson, a normal mean with known sigma and Bayesian linear regression with known
//! noise. The exact answers are the conjugate updates, computed here.
//!
//! Tolerances (the issue's, as in `vi-runtime/tests/it/{nuts,vi,laplace}.rs`):
//! - NUTS: means within 4 MCSE (the MCSE NUTS reports) and sds within 10%. Runs are
//!   4 chains x 500 warmup + 1000 draws. These one- to three-dimensional posteriors give NUTS
//!   a bulk ESS of about a third of the draws (measured: 660-770 from 4 x 500), so 4000 draws
//!   give an ESS above 800 (asserted) and the sd's relative Monte Carlo error,
//!   about 1/sqrt(2 ESS), is below 2.5%: 10% is more than four of those. The four runs take
//!   well under a second together even at opt-level 1.
//! - Laplace: exact (1e-6) where the posterior is Gaussian; on the coin toss the closed-form
//!   mode and curvature of the Beta posterior on the logit scale.
//! - VI: means within 1% of a posterior sd and sds within 5% of the mean-field optimum
//!   1/sqrt(diag(precision)), with the runtime tests' "accurate" settings.

use nalgebra::{DMatrix, DVector};
use vi::prelude::*;
use vi::{math::LN_SQRT_2PI, ViDiagnostics};
use vi::{Diagnostics, FitError, Laplace, LaplaceDiagnostics, Nuts, NutsDiagnostics, Vi};

const MEAN_MCSE: f64 = 4.0;
const SD_REL: f64 = 0.10;
const LAPLACE_TOL: f64 = 1e-6;
const VI_MEAN_SDS: f64 = 0.01;
const VI_SD_REL: f64 = 0.05;

model! {
    fn coin(y: &[bool], a: f64, b: f64) {
        let p ~ Beta(a, b);
        y ~ Bernoulli(p);
    }
}

model! {
    fn coin_counts(y: &[i64], a: f64, b: f64) {
        let p ~ Beta(a, b);
        y ~ Bernoulli(p);
    }
}

model! {
    fn coin_interval(y: &[bool], lo: f64, hi: f64) {
        let p ~ Uniform(lo, hi);
        y ~ Bernoulli(p);
    }
}

model! {
    fn gamma_poisson(y: &[i64], a: f64, b: f64) {
        let lambda ~ Gamma(a, b);
        y ~ Poisson(lambda);
    }
}

model! {
    fn normal_mean(y: &[f64], sigma: f64, mu0: f64, tau0: f64) {
        let mu ~ Normal(mu0, tau0);
        y ~ Normal(mu, sigma);
    }
}

model! {
    fn linreg_known_noise(x: &DMatrix<f64>, y: &DVector<f64>, sigma: f64, tau: f64) {
        let w ~ Normal(0.0, tau).iid(x.ncols());
        y ~ Normal(x * w, sigma);
    }
}

model! {
    fn multi_output(x: &DMatrix<f64>, y: &DMatrix<f64>, sigma: f64, tau: f64) {
        let w ~ Normal(0.0, tau).iid((x.ncols(), y.ncols()));
        y ~ Normal(x * w, sigma);
    }
}

model! {
    fn impossible(y: &[f64]) {
        let mu ~ Normal(0.0, 1.0);
        y ~ Uniform(mu, mu + 0.5);
    }
}

// --- Data and exact posteriors ---------------------------------------------------------------

const TOSSES: [bool; 12] = [
    true, false, true, true, false, true, true, true, false, true, false, true,
];
const COUNTS: [i64; 6] = [3, 1, 4, 1, 5, 2];
const YS: [f64; 8] = [0.5, 1.5, -0.2, 2.1, 0.9, 1.2, 0.3, 1.8];
const SIGMA: f64 = 1.3;
const MU0: f64 = 0.3;
const TAU0: f64 = 2.0;

/// Beta(a + heads, b + tails): (alpha, beta).
fn coin_posterior(a: f64, b: f64) -> (f64, f64) {
    let heads = TOSSES.iter().filter(|t| **t).count() as f64;
    (a + heads, b + TOSSES.len() as f64 - heads)
}

/// Normal-normal: (mean, sd).
fn normal_mean_posterior() -> (f64, f64) {
    let n = YS.len() as f64;
    let precision = 1.0 / (TAU0 * TAU0) + n / (SIGMA * SIGMA);
    let mean = (MU0 / (TAU0 * TAU0) + YS.iter().sum::<f64>() / (SIGMA * SIGMA)) / precision;
    (mean, precision.sqrt().recip())
}

/// A regression whose first two columns are correlated (about 0.9), so the mean-field sds
/// differ clearly from the marginal sds.
fn regression_data() -> (DMatrix<f64>, DVector<f64>) {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(17);
    let mut z = || rng.random_range(-1.7..1.7f64);
    let n = 40;
    let mut x = DMatrix::zeros(n, 3);
    let mut y = DVector::zeros(n);
    for i in 0..n {
        let a = z();
        x[(i, 0)] = a;
        x[(i, 1)] = 0.9 * a + 0.4 * z();
        x[(i, 2)] = z();
        y[i] = 0.8 * x[(i, 0)] - 0.5 * x[(i, 1)] + 0.3 * x[(i, 2)] + 0.5 * z();
    }
    (x, y)
}
const REG_SIGMA: f64 = 0.5;
const REG_TAU: f64 = 1.0;

/// Gaussian posterior of w: precision P = X'X / sigma^2 + I / tau^2, mean P^-1 X'y / sigma^2.
fn regression_posterior(
    x: &DMatrix<f64>,
    y: &DVector<f64>,
) -> (DVector<f64>, DMatrix<f64>, DMatrix<f64>) {
    let d = x.ncols();
    let p =
        x.transpose() * x / (REG_SIGMA * REG_SIGMA) + DMatrix::identity(d, d) / (REG_TAU * REG_TAU);
    let cov = p.clone().cholesky().unwrap().inverse();
    let mean = &cov * x.transpose() * y / (REG_SIGMA * REG_SIGMA);
    (mean, cov, p)
}

// --- Helpers -----------------------------------------------------------------------------------

fn nuts() -> Nuts {
    Nuts::default().seed(7).chains(4).warmup(500).draws(1000)
}

fn nuts_diag(post: &Posterior) -> &NutsDiagnostics {
    match post.diagnostics() {
        Diagnostics::Nuts(d) => d,
        other => panic!("expected NUTS diagnostics, got {}", other.method()),
    }
}

fn laplace_diag(post: &Posterior) -> &LaplaceDiagnostics {
    match post.diagnostics() {
        Diagnostics::Laplace(d) => d,
        other => panic!("expected Laplace diagnostics, got {}", other.method()),
    }
}

fn vi_diag(post: &Posterior) -> &ViDiagnostics {
    match post.diagnostics() {
        Diagnostics::Vi(d) => d,
        other => panic!("expected VI diagnostics, got {}", other.method()),
    }
}

/// NUTS's estimate of element `i` of `name` (flat name `flat`) against the exact mean and sd.
fn check_nuts(post: &Posterior, name: &str, i: usize, flat: &str, mean: f64, sd: f64) {
    let d = nuts_diag(post);
    let p = d
        .param(flat)
        .unwrap_or_else(|| panic!("no diagnostics for {flat}"));
    let got_mean = post.mean(name).unwrap()[i];
    let got_sd = post.sd(name).unwrap()[i];
    assert!(
        (got_mean - mean).abs() < MEAN_MCSE * p.mcse_mean,
        "{flat}: mean {got_mean} vs exact {mean} (mcse {})",
        p.mcse_mean
    );
    assert!(
        (got_sd / sd - 1.0).abs() < SD_REL,
        "{flat}: sd {got_sd} vs exact {sd}"
    );
    assert!(p.ess_bulk > 800.0, "{flat}: bulk ESS {}", p.ess_bulk);
    assert!(p.rhat < 1.01, "{flat}: R-hat {}", p.rhat);
    assert_eq!(d.total_divergences(), 0);
}

// --- NUTS ------------------------------------------------------------------------------------

#[test]
fn nuts_coin_toss_bool_and_integer_data() {
    let (alpha, beta) = coin_posterior(2.0, 3.0);
    let mean = alpha / (alpha + beta);
    let sd = (alpha * beta / ((alpha + beta).powi(2) * (alpha + beta + 1.0))).sqrt();
    let post = nuts().fit(&coin(&TOSSES, 2.0, 3.0).unwrap()).unwrap();
    check_nuts(&post, "p", 0, "p", mean, sd);
    // Draws are on the constrained scale.
    assert!(post
        .draws("p")
        .unwrap()
        .iter()
        .all(|d| d[0] > 0.0 && d[0] < 1.0));
    // The same tosses as integers give the same model, hence the same draws.
    let ints: Vec<i64> = TOSSES.iter().map(|t| i64::from(*t)).collect();
    let same = nuts().fit(&coin_counts(&ints, 2.0, 3.0).unwrap()).unwrap();
    assert_eq!(post.chains(), same.chains());
}

#[test]
fn nuts_coin_toss_with_an_interval_prior() {
    // p ~ Uniform(0.2, 0.9), 8 heads of 12: Beta(9, 5) truncated to (0.2, 0.9). Moments by
    // quadrature: b = scipy.stats.beta(9, 5); Z = b.cdf(0.9) - b.cdf(0.2);
    // scipy.integrate.quad(lambda p: p**k * b.pdf(p), 0.2, 0.9)[0] / Z for k = 1, 2
    // (scipy 1.17.1) give mean 0.641142143663556, sd 0.12195708272141753.
    let m = coin_interval(&TOSSES, 0.2, 0.9).unwrap();
    assert_eq!(
        m.layout().get("p").unwrap().transform,
        Transform::Interval(0.2, 0.9)
    );
    let post = nuts().fit(&m).unwrap();
    check_nuts(&post, "p", 0, "p", 0.641142143663556, 0.12195708272141753);
    assert!(post
        .draws("p")
        .unwrap()
        .iter()
        .all(|d| d[0] > 0.2 && d[0] < 0.9));
}

#[test]
fn nuts_gamma_poisson() {
    // Gamma(a + sum y, b + n), rate parameterisation.
    let (a, b) = (2.0, 1.0);
    let shape = a + COUNTS.iter().sum::<i64>() as f64;
    let rate = b + COUNTS.len() as f64;
    let post = nuts().fit(&gamma_poisson(&COUNTS, a, b).unwrap()).unwrap();
    check_nuts(
        &post,
        "lambda",
        0,
        "lambda",
        shape / rate,
        shape.sqrt() / rate,
    );
}

#[test]
fn nuts_normal_mean() {
    let (mean, sd) = normal_mean_posterior();
    let m = normal_mean(&YS, SIGMA, MU0, TAU0).unwrap();
    let post = nuts().fit(&m).unwrap();
    check_nuts(&post, "mu", 0, "mu", mean, sd);
}

#[test]
fn nuts_linear_regression() {
    let (x, y) = regression_data();
    let (mean, cov, _) = regression_posterior(&x, &y);
    let m = linreg_known_noise(&x, &y, REG_SIGMA, REG_TAU).unwrap();
    let post = nuts().fit(&m).unwrap();
    for i in 0..3 {
        let flat = format!("w.{}", i + 1);
        check_nuts(&post, "w", i, &flat, mean[i], cov[(i, i)].sqrt());
    }
}

// --- Laplace ---------------------------------------------------------------------------------

#[test]
fn laplace_normal_mean_is_exact() {
    let (mean, sd) = normal_mean_posterior();
    let post = Laplace::default()
        .seed(1)
        .fit(&normal_mean(&YS, SIGMA, MU0, TAU0).unwrap())
        .unwrap();
    let d = laplace_diag(&post);
    assert!(d.converged, "{}", d.stop_reason);
    assert!(
        (d.mode[0] - mean).abs() < LAPLACE_TOL,
        "{} vs {mean}",
        d.mode[0]
    );
    assert!((d.covariance[(0, 0)] - sd * sd).abs() < LAPLACE_TOL);
    // `model!` keeps every normalising constant, so the Laplace evidence (exact for a
    // Gaussian) is the marginal likelihood ln N(y | mu0 1, sigma^2 I + tau0^2 11'):
    // scipy.stats.multivariate_normal(mean=np.full(8, 0.3),
    //     cov=1.3**2*np.eye(8) + 2.0**2*np.ones((8, 8))).logpdf(
    //     [0.5, 1.5, -0.2, 2.1, 0.9, 1.2, 0.3, 1.8]) = -12.287627732015906 (scipy 1.17.1)
    assert!(
        (d.log_evidence - -12.287627732015906).abs() < LAPLACE_TOL,
        "{}",
        d.log_evidence
    );
    // The draws come from N(mean, sd^2): within 4 standard errors.
    let n = post.num_draws() as f64;
    assert!((post.mean("mu").unwrap()[0] - mean).abs() < 4.0 * sd / n.sqrt());
}

#[test]
fn laplace_linear_regression_is_exact() {
    let (x, y) = regression_data();
    let (mean, cov, _) = regression_posterior(&x, &y);
    let m = linreg_known_noise(&x, &y, REG_SIGMA, REG_TAU).unwrap();
    let post = Laplace::default().seed(2).fit(&m).unwrap();
    let d = laplace_diag(&post);
    assert!(d.converged, "{}", d.stop_reason);
    for i in 0..3 {
        assert!(
            (d.mode[i] - mean[i]).abs() < LAPLACE_TOL,
            "w.{}: {} vs {}",
            i + 1,
            d.mode[i],
            mean[i]
        );
        for j in 0..3 {
            assert!(
                (d.covariance[(i, j)] - cov[(i, j)]).abs() < LAPLACE_TOL,
                "cov[{i},{j}]: {} vs {}",
                d.covariance[(i, j)],
                cov[(i, j)]
            );
        }
    }
}

#[test]
fn laplace_matrix_latent_is_exact_and_row_major() {
    // Two outputs sharing the design: each column of W has the posterior of the single-output
    // regression with that column of Y, and W is reported row-major (`w.1.1`, `w.1.2`, ...).
    let (x, y1) = regression_data();
    let y2 = DVector::from_fn(y1.len(), |i, _| 0.3 * y1[i] - 0.2 * x[(i, 2)] + 0.1);
    let mut y = DMatrix::zeros(y1.len(), 2);
    y.set_column(0, &y1);
    y.set_column(1, &y2);
    let (m1, cov, _) = regression_posterior(&x, &y1);
    let (m2, _, _) = regression_posterior(&x, &y2);
    let model = multi_output(&x, &y, REG_SIGMA, REG_TAU).unwrap();
    assert_eq!(
        model.layout().flat_names()[..3],
        ["w.1.1", "w.1.2", "w.2.1"]
    );
    let post = Laplace::default().seed(4).draws(4000).fit(&model).unwrap();
    let d = laplace_diag(&post);
    let draws_mean = post.mean("w").unwrap();
    let n = post.num_draws() as f64;
    for i in 0..3 {
        for (k, mk) in [&m1, &m2].into_iter().enumerate() {
            let flat = i * 2 + k;
            assert!(
                (d.mode[flat] - mk[i]).abs() < LAPLACE_TOL,
                "w.{}.{}",
                i + 1,
                k + 1
            );
            for j in 0..3 {
                // Columns are independent a posteriori and share the covariance.
                let c = d.covariance[(flat, j * 2 + k)];
                assert!(
                    (c - cov[(i, j)]).abs() < LAPLACE_TOL,
                    "cov {c} vs {}",
                    cov[(i, j)]
                );
                let other = d.covariance[(flat, j * 2 + 1 - k)];
                assert!(other.abs() < LAPLACE_TOL, "cross-column covariance {other}");
            }
            let se = cov[(i, i)].sqrt() / n.sqrt();
            assert!(
                (draws_mean[flat] - mk[i]).abs() < 4.0 * se,
                "draws' mean w.{}.{}",
                i + 1,
                k + 1
            );
        }
    }
}

#[test]
fn laplace_coin_toss_on_the_logit_scale() {
    // On the logit scale u, with the Jacobian, the density is p^alpha (1-p)^beta: the mode is
    // p = alpha / (alpha + beta) and the curvature -(alpha + beta) p (1 - p). Without the
    // Jacobian it is the MAP of the Beta posterior, (alpha - 1) / (alpha + beta - 2).
    let (alpha, beta) = coin_posterior(2.0, 3.0);
    let m = coin(&TOSSES, 2.0, 3.0).unwrap();
    let d = laplace_diag(&Laplace::default().seed(3).fit(&m).unwrap()).clone();
    let p = alpha / (alpha + beta);
    assert!((d.mode[0] - p).abs() < LAPLACE_TOL, "{} vs {p}", d.mode[0]);
    let var = 1.0 / ((alpha + beta) * p * (1.0 - p));
    assert!(
        (d.covariance[(0, 0)] / var - 1.0).abs() < LAPLACE_TOL,
        "{} vs {var}",
        d.covariance[(0, 0)]
    );
    let map = Laplace::default().seed(3).jacobian(false).fit(&m).unwrap();
    let want = (alpha - 1.0) / (alpha + beta - 2.0);
    assert!((laplace_diag(&map).mode[0] - want).abs() < LAPLACE_TOL);
}

// --- VI --------------------------------------------------------------------------------------

/// The default (deterministic) method reaches the optimum to the tolerances above.
fn accurate_vi() -> Vi {
    Vi::default().seed(11)
}

#[test]
fn vi_normal_mean_is_fitted() {
    let (mean, sd) = normal_mean_posterior();
    let post = accurate_vi()
        .fit(&normal_mean(&YS, SIGMA, MU0, TAU0).unwrap())
        .unwrap();
    let d = vi_diag(&post);
    assert!(
        ((d.mean[0] - mean) / sd).abs() < VI_MEAN_SDS,
        "{} vs {mean}",
        d.mean[0]
    );
    assert!(
        (d.sd[0] / sd - 1.0).abs() < VI_SD_REL,
        "{} vs {sd}",
        d.sd[0]
    );
    // With an exact guide the ELBO is the log evidence (value as in the Laplace test).
    assert!(
        (d.elbo - -12.287627732015906).abs() < 0.01,
        "ELBO {}",
        d.elbo
    );
}

#[test]
fn vi_linear_regression_reaches_the_mean_field_optimum() {
    let (x, y) = regression_data();
    let (mean, cov, precision) = regression_posterior(&x, &y);
    let m = linreg_known_noise(&x, &y, REG_SIGMA, REG_TAU).unwrap();
    let post = accurate_vi().fit(&m).unwrap();
    let d = vi_diag(&post);
    for i in 0..3 {
        let marginal = cov[(i, i)].sqrt();
        let mean_field = 1.0 / precision[(i, i)].sqrt();
        let err = (d.mean[i] - mean[i]) / marginal;
        assert!(err.abs() < VI_MEAN_SDS, "w.{}: mean error {err} sds", i + 1);
        assert!(
            (d.sd[i] / mean_field - 1.0).abs() < VI_SD_REL,
            "w.{}: sd {} vs mean-field optimum {mean_field}",
            i + 1,
            d.sd[i]
        );
    }
    // The correlated columns make the two sds differ, so the test above tells them apart.
    assert!(cov[(0, 0)].sqrt() > 1.5 / precision[(0, 0)].sqrt());
}

// --- Reproducibility, names, impossible data -------------------------------------------------

#[test]
fn same_seed_same_result_for_every_engine() {
    let m = coin(&TOSSES, 2.0, 3.0).unwrap();
    let small = || Nuts::default().chains(2).warmup(100).draws(50);
    let a = small().seed(5).fit(&m).unwrap();
    let b = small().seed(5).fit(&m).unwrap();
    assert_eq!(a.chains(), b.chains());
    assert_ne!(a.chains(), small().seed(6).fit(&m).unwrap().chains());
    // Whatever the number of threads.
    assert_eq!(
        a.chains(),
        small().seed(5).threads(1).fit(&m).unwrap().chains()
    );
    let vi = || Vi::default().draws(50);
    let a = vi().seed(5).fit(&m).unwrap();
    assert_eq!(a.chains(), vi().seed(5).fit(&m).unwrap().chains());
    assert_ne!(a.chains(), vi().seed(6).fit(&m).unwrap().chains());
    let la = || Laplace::default().draws(50);
    let a = la().seed(5).fit(&m).unwrap();
    assert_eq!(a.chains(), la().seed(5).fit(&m).unwrap().chains());
    assert_ne!(a.chains(), la().seed(6).fit(&m).unwrap().chains());
}

#[test]
fn unknown_name_lists_the_known_names() {
    let (x, y) = regression_data();
    let m = linreg_known_noise(&x, &y, REG_SIGMA, REG_TAU).unwrap();
    let post = Laplace::default().seed(1).fit(&m).unwrap();
    let e = post.mean("nope").unwrap_err();
    assert_eq!(e.name, "nope");
    assert_eq!(e.known, ["w"]);
    assert!(
        e.to_string().contains("`nope`") && e.to_string().contains('w'),
        "{e}"
    );
    assert!(post.sd("nope").is_err() && post.draws("nope").is_err());
    assert!(post.quantile("nope", 0.5).is_err());
}

#[test]
fn no_finite_start_names_the_statement() {
    // y = 10 lies outside (mu, mu + 0.5) for every start mu in (-2, 2). The constructor
    // cannot reject it: the bounds depend on a latent.
    let m = impossible(&[10.0]).unwrap();
    let want = "y ~ Uniform(mu, mu + 0.5)";
    for err in [
        Nuts::default().seed(1).fit(&m).unwrap_err(),
        Vi::default().seed(1).fit(&m).unwrap_err(),
        Laplace::default().seed(1).fit(&m).unwrap_err(),
    ] {
        match &err {
            FitError::NoFiniteStart { statement, .. } => {
                assert_eq!(statement.as_deref(), Some(want), "{err}");
            }
            other => panic!("expected NoFiniteStart, got {other}"),
        }
        assert!(err.to_string().contains(want), "{err}");
    }
}

/// The constants the normal-mean evidence above relies on are the model's own.
#[test]
fn normal_mean_density_keeps_its_constants() {
    let m = normal_mean(&[0.4], 1.0, 0.0, 1.0).unwrap();
    // ln N(0.4 | 0.1, 1) + ln N(0.1 | 0, 1), written out.
    let want = -0.5 * 0.3f64.powi(2) - 0.5 * 0.1f64.powi(2) - 2.0 * LN_SQRT_2PI;
    assert!((m.log_density(&[0.1]) - want).abs() < 1e-12);
}
