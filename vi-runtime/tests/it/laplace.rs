//! Laplace: exact on Gaussian posteriors, closed-form modes, evidence, errors.

use crate::models::{CoinToss, GammaPoisson, LinRegKnownNoise, NormalMean};
use nalgebra::{DMatrix, DVector};
use vi_runtime::math::{LN_2PI, LN_SQRT_2PI};
use vi_runtime::{
    Diagnostics, FitError, Laplace, LaplaceDiagnostics, Model, ParamLayout, Posterior, Reliability,
    Transform,
};

fn diag(post: &Posterior) -> &LaplaceDiagnostics {
    match post.diagnostics() {
        Diagnostics::Laplace(d) => d,
        other => panic!("expected Laplace diagnostics, got {}", other.method()),
    }
}

const TOL: f64 = 1e-6;

/// ln N(y | 0, C) by Cholesky: the marginal likelihood of a Gaussian linear model.
fn mvn_log_pdf(y: &DVector<f64>, c: DMatrix<f64>) -> f64 {
    let n = y.len() as f64;
    let chol = c.cholesky().expect("covariance is positive definite");
    let log_det = 2.0 * chol.l().diagonal().iter().map(|v| v.ln()).sum::<f64>();
    let alpha = chol.solve(y);
    -0.5 * (n * LN_2PI + log_det + y.dot(&alpha))
}

#[test]
fn normal_mean_is_exact() {
    let m = NormalMean::new(vec![0.5, 1.5, -0.2, 0.9], 1.3, 0.3, 2.0);
    let (mean, sd) = m.posterior();
    let post = Laplace::default().seed(1).fit(&m).unwrap();
    let d = diag(&post);
    assert!(d.converged);
    assert!((d.mode[0] - mean).abs() < TOL, "{} vs {mean}", d.mode[0]);
    assert!((d.covariance[(0, 0)] - sd * sd).abs() < TOL);
    // The evidence of the model's (unnormalised) density, exp(log_density) integrated:
    // ln N(y | mu0 1, sigma^2 I + tau0^2 11') plus the constants the model drops.
    // scipy.stats.multivariate_normal(mean=np.full(4, 0.3),
    //     cov=1.3**2*np.eye(4) + 2.0**2*np.ones((4, 4))).logpdf([0.5, 1.5, -0.2, 0.9])
    //   = -6.367168570118725  (scipy 1.17.1)
    let log_z =
        -6.367168570118725 + 4.0 * (1.3f64.ln() + LN_SQRT_2PI) + (2.0f64.ln() + LN_SQRT_2PI);
    assert!(
        (d.log_evidence - log_z).abs() < TOL,
        "{} vs {log_z}",
        d.log_evidence
    );
    // A Gaussian target: the importance ratios are constant.
    assert_eq!(d.reliability, Reliability::Reliable);
    for (p, q) in d.log_p.iter().zip(&d.log_q) {
        assert!((p - q - log_z).abs() < 1e-6);
    }
}

#[test]
fn linear_regression_is_exact() {
    let m = LinRegKnownNoise::synthetic(50, 3, 0.5, 4);
    let (mean, cov) = m.posterior();
    let post = Laplace::default().seed(2).fit(&m).unwrap();
    let d = diag(&post);
    for i in 0..3 {
        assert!((d.mode[i] - mean[i]).abs() < TOL, "w.{}", i + 1);
        for j in 0..3 {
            assert!(
                (d.covariance[(i, j)] - cov[(i, j)]).abs() < TOL,
                "cov[{i}, {j}]"
            );
        }
    }
    // Closed-form evidence: y ~ N(0, sigma^2 I + tau^2 X X'); the model drops the
    // normalising constants of the likelihood (N terms) and of the prior (D terms).
    let (n, dim) = (m.x.nrows() as f64, m.x.ncols() as f64);
    let c = DMatrix::identity(50, 50) * m.sigma.powi(2) + &m.x * m.x.transpose() * m.tau.powi(2);
    let log_z =
        mvn_log_pdf(&m.y, c) + n * (m.sigma.ln() + LN_SQRT_2PI) + dim * (m.tau.ln() + LN_SQRT_2PI);
    assert!(
        (d.log_evidence - log_z).abs() < TOL,
        "{} vs {log_z}",
        d.log_evidence
    );
    // Draws: their mean within 4 Monte Carlo standard errors of the exact mean.
    let draws_mean = post.mean("w").unwrap();
    for i in 0..3 {
        let se = (cov[(i, i)] / post.num_draws() as f64).sqrt();
        assert!((draws_mean[i] - mean[i]).abs() < 4.0 * se);
    }
    assert!(d.to_string().contains("log evidence"));
}

#[test]
fn coin_toss_mode_matches_the_closed_form() {
    // p ~ Beta(2, 3), 7 heads in 10: posterior Beta(9, 6). On the logit scale with the
    // Jacobian the density is p^9 (1-p)^6: mode logit(9/15) = ln(9/6), and
    // -H = (9 + 6) p (1 - p) = 9 * 6 / 15.
    let m = CoinToss::new(2.0, 3.0, 7, 10);
    let post = Laplace::default().seed(3).fit(&m).unwrap();
    let d = diag(&post);
    assert!((d.mode_unconstrained[0] - 1.5f64.ln()).abs() < TOL);
    assert!((d.mode[0] - 0.6).abs() < TOL);
    assert!((d.covariance[(0, 0)] - 15.0 / 54.0).abs() < 1e-6);
    // lp__ at each draw is the log density with the Jacobian, as CmdStan's.
    let draws = post.draws("p").unwrap();
    let lp = &post.chains()[0].lp;
    let theta = vi_runtime::math::logit(draws[0][0]);
    assert!((lp[0] - m.log_density(&[theta])).abs() < 1e-9);
    // Without the Jacobian: the constrained-space MAP, (alpha - 1) / (alpha + beta - 2) = 8/13.
    let post = Laplace::default().seed(3).jacobian(false).fit(&m).unwrap();
    let d = diag(&post);
    assert!((d.mode[0] - 8.0 / 13.0).abs() < TOL);
    assert!(!d.to_string().contains("log evidence"));
}

#[test]
fn gamma_poisson_mode_matches_the_closed_form() {
    // lambda ~ Gamma(2, 1), counts 3 1 4 1 5: posterior Gamma(16, 6). On the log scale with
    // the Jacobian the density is lambda^16 e^(-6 lambda): mode ln(16 / 6), and
    // -H = 6 lambda = 16 there, so the variance is 1/16.
    let m = GammaPoisson::new(2.0, 1.0, vec![3, 1, 4, 1, 5]);
    let post = Laplace::default().seed(8).fit(&m).unwrap();
    let d = diag(&post);
    assert!((d.mode_unconstrained[0] - (16.0f64 / 6.0).ln()).abs() < TOL);
    assert!((d.mode[0] - 16.0 / 6.0).abs() < TOL);
    assert!((d.covariance[(0, 0)] - 1.0 / 16.0).abs() < TOL);
    // Draws are constrained: every lambda is positive.
    assert!(post.draws("lambda").unwrap().iter().all(|v| v[0] > 0.0));
}

#[test]
fn coin_toss_evidence_is_close_for_many_tosses() {
    // Not exact (the logit-scale posterior is not Gaussian), but the Laplace error is
    // O(1/n): with 700 heads in 1000 it is a few thousandths of a nat.
    let m = CoinToss::new(2.0, 3.0, 700, 1000);
    let d = Laplace::default().seed(4).fit(&m).unwrap();
    let d = diag(&d);
    assert!(
        (d.log_evidence - m.log_evidence()).abs() < 5e-3,
        "{} vs {}",
        d.log_evidence,
        m.log_evidence()
    );
    assert_eq!(d.reliability, Reliability::Reliable);
}

/// y ~ Normal(a + 2 b, 1) for a few y, with no prior: only a + 2b is identified, so the
/// negative Hessian is singular along (2, -1) / sqrt(5), dominated by `w.1`.
struct Ridge(ParamLayout);

impl Model for Ridge {
    fn layout(&self) -> &ParamLayout {
        &self.0
    }
    fn log_density_grad_jac(&self, t: &[f64], g: &mut [f64], _: bool) -> f64 {
        let mut lp = 0.0;
        g[0] = 0.0;
        g[1] = 0.0;
        for y in [0.3, 1.1, -0.4] {
            let r = y - t[0] - 2.0 * t[1];
            lp -= 0.5 * r * r;
            g[0] += r;
            g[1] += 2.0 * r;
        }
        lp
    }
}

#[test]
fn singular_hessian_names_the_parameter() {
    let mut l = ParamLayout::new();
    l.push("w", vec![2], Transform::Identity);
    let e = Laplace::default().seed(5).fit(&Ridge(l)).unwrap_err();
    match &e {
        FitError::SingularMode {
            parameter,
            condition_number,
        } => {
            assert_eq!(parameter, "w.1");
            assert!(*condition_number > 1e15, "{condition_number}");
        }
        other => panic!("expected SingularMode, got {other:?}"),
    }
    let msg = e.to_string();
    assert!(
        msg.starts_with("the mode is numerically singular (condition number 4.5e15)"),
        "{msg}"
    );
    assert!(msg.contains("`w.1`"), "{msg}");
}

/// ln p = -x^2 / 2 + y^2 / 2: a saddle, unbounded along `y`. L-BFGS stopped after three
/// iterations is somewhere on it; the Hessian there is diag(-1, +1).
struct Saddle(ParamLayout);

impl Model for Saddle {
    fn layout(&self) -> &ParamLayout {
        &self.0
    }
    fn log_density_grad_jac(&self, t: &[f64], g: &mut [f64], _: bool) -> f64 {
        g[0] = -t[0];
        g[1] = t[1];
        -0.5 * t[0] * t[0] + 0.5 * t[1] * t[1]
    }
}

#[test]
fn not_a_maximum_has_its_own_message_and_sign() {
    let mut l = ParamLayout::new();
    l.push("x", vec![], Transform::Identity);
    l.push("y", vec![], Transform::Identity);
    let e = Laplace::default()
        .seed(2)
        .max_iterations(3)
        .fit(&Saddle(l))
        .unwrap_err();
    match &e {
        FitError::NotNegativeDefinite {
            parameter,
            eigenvalue,
        } => {
            assert_eq!(parameter, "y");
            // The negative Hessian's eigenvalue along y is exactly -1.
            assert!((eigenvalue + 1.0).abs() < 1e-6, "{eigenvalue}");
        }
        other => panic!("expected NotNegativeDefinite, got {other:?}"),
    }
    assert_eq!(
        e.to_string(),
        "not a maximum: the Hessian has a positive eigenvalue +1.000e0 along `y`"
    );
}

#[test]
fn same_seed_same_result() {
    let m = CoinToss::new(2.0, 3.0, 7, 10);
    let a = Laplace::default().seed(9).draws(50).fit(&m).unwrap();
    let b = Laplace::default().seed(9).draws(50).fit(&m).unwrap();
    let c = Laplace::default().seed(10).draws(50).fit(&m).unwrap();
    assert_eq!(a.chains(), b.chains());
    assert_eq!(diag(&a), diag(&b));
    assert_ne!(a.chains(), c.chains());
}

#[test]
fn invalid_settings_are_errors() {
    let m = CoinToss::new(2.0, 3.0, 7, 10);
    for l in [
        Laplace::default().draws(0),
        Laplace::default().tolerance(0.0),
        Laplace::default().max_iterations(0),
        Laplace::default().history(0),
    ] {
        assert!(
            matches!(l.fit(&m), Err(FitError::InvalidSettings { .. })),
            "{l:?}"
        );
    }
}

/// Finite only for x > 5: never reached from the uniform(-2, 2) initialisation.
struct Nowhere(ParamLayout);

impl Model for Nowhere {
    fn layout(&self) -> &ParamLayout {
        &self.0
    }
    fn log_density_grad_jac(&self, t: &[f64], g: &mut [f64], _: bool) -> f64 {
        g[0] = 0.0;
        if t[0] > 5.0 {
            0.0
        } else {
            f64::NEG_INFINITY
        }
    }
    fn log_density_terms(&self, t: &[f64]) -> Vec<(String, f64)> {
        vec![
            ("x ~ Normal(0, 1)".into(), -0.5 * t[0] * t[0]),
            ("target += barrier(x)".into(), self.log_density(t)),
        ]
    }
}

#[test]
fn no_finite_start_names_the_statement() {
    let mut l = ParamLayout::new();
    l.push("x", vec![], Transform::Identity);
    let e = Laplace::default().seed(1).fit(&Nowhere(l)).unwrap_err();
    assert!(
        matches!(&e, FitError::NoFiniteStart { statement: Some(s), .. } if s == "target += barrier(x)"),
        "{e:?}"
    );
}
