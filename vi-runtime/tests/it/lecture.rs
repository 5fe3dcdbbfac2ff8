//! Lecture tools: closed-form KL against numerical integration and the multivariate-normal
//! formula (SciPy / NumPy), Monte Carlo KL against closed form, gradient estimators against
//! the closed-form gradient of E[x^2].

use vi_runtime::dist::Normal;
use vi_runtime::infer::rng_for;
use vi_runtime::lecture::{
    kl_diag_normal, kl_monte_carlo, kl_normal, kl_normal_grad, monte_carlo, reparam_gradient,
    score_gradient, DiagNormal, TooFewDraws,
};
use vi_runtime::DistError;

/// How many standard errors a Monte Carlo estimate may be off.
const Z: f64 = 4.0;

fn n(mu: f64, sigma: f64) -> Normal {
    Normal::new(mu, sigma).unwrap()
}

#[test]
fn kl_normal_against_numerical_integration() {
    // q = norm(mq, sq), p = norm(mp, sp):
    // scipy.integrate.quad(lambda x: q.pdf(x) * (q.logpdf(x) - p.logpdf(x)), -inf, inf,
    //                      epsabs=1e-14, epsrel=1e-13)[0]
    let cases = [
        ((0.3, 0.7, -1.2, 1.9), 0.878_030_215_152_678_5),
        ((-1.2, 1.9, 0.3, 0.7), 4.481_063_006_623_567),
        ((2.0, 0.1, 0.0, 1.0), 3.807_585_092_994_046_7),
    ];
    for ((mq, sq, mp, sp), want) in cases {
        let got = kl_normal(&n(mq, sq), &n(mp, sp));
        assert!(
            (got - want).abs() < 1e-12,
            "KL(N({mq},{sq}) || N({mp},{sp})) = {got}, want {want}"
        );
    }
    // Asymmetric: the first two cases are each other's reverse.
    let (q, p) = (n(0.3, 0.7), n(-1.2, 1.9));
    assert!((kl_normal(&q, &p) - kl_normal(&p, &q)).abs() > 1.0);
    // KL(p || p) = 0 and KL >= 0.
    assert_eq!(kl_normal(&p, &p), 0.0);
    assert!(kl_normal(&n(0.0, 1.0), &n(0.0, 1.0 + 1e-9)) >= 0.0);
}

#[test]
fn kl_normal_gradient_against_finite_differences() {
    let f = |t: &[f64]| kl_normal(&n(t[0], t[1]), &n(t[2], t[3]));
    for t in [
        [0.3, 0.7, -1.2, 1.9],
        [-1.2, 1.9, 0.3, 0.7],
        [2.0, 0.1, 0.0, 1.0],
    ] {
        let g = kl_normal_grad(&n(t[0], t[1]), &n(t[2], t[3]));
        assert_eq!(
            vi_runtime::check::gradient_mismatch(f, &g, &t, 1e-6),
            None,
            "at {t:?}"
        );
    }
}

#[test]
fn kl_diag_normal_against_the_multivariate_formula() {
    let q = DiagNormal::new(vec![0.5, -1.0, 2.0], vec![0.3, 1.5, 1.0]).unwrap();
    let p = DiagNormal::new(vec![0.0, 0.0, 1.0], vec![1.0, 2.0, 0.5]).unwrap();
    // 0.5 * (tr(Sp^-1 Sq) + d^T Sp^-1 d - k + ln(det Sp / det Sq)) with numpy.linalg on
    // Sq = diag(sq^2), Sp = diag(sp^2), d = mp - mq, k = 3.
    let want = 3.874_757_696_217_771_7;
    assert!((kl_diag_normal(&q, &p).unwrap() - want).abs() < 1e-12);
    assert_eq!(kl_diag_normal(&q, &q).unwrap(), 0.0);
    assert!((kl_diag_normal(&q, &p).unwrap() - kl_diag_normal(&p, &q).unwrap()).abs() > 0.1);
    let short = DiagNormal::new(vec![0.0], vec![1.0]).unwrap();
    assert_eq!(
        kl_diag_normal(&q, &short),
        Err(DistError::LengthMismatch {
            dist: "DiagNormal",
            lengths: vec![3, 1]
        })
    );
}

#[test]
fn kl_monte_carlo_agrees_with_closed_form() {
    let pairs = [
        (n(0.3, 0.7), n(-1.2, 1.9)),
        (n(-1.2, 1.9), n(0.3, 0.7)),
        (n(2.0, 0.5), n(0.0, 1.0)),
    ];
    for (i, (q, p)) in pairs.iter().enumerate() {
        let est = kl_monte_carlo(q, p, 20_000, &mut rng_for(11, i as u64)).unwrap();
        let exact = kl_normal(q, p);
        assert!(
            (est.mean - exact).abs() < Z * est.std_error(),
            "pair {i}: {} +- {} vs {exact}",
            est.mean,
            est.std_error()
        );
        assert!(est.std_error() < 0.05 * exact.max(0.1));
    }
    let q = DiagNormal::new(vec![0.5, -1.0, 2.0], vec![0.3, 1.5, 1.0]).unwrap();
    let p = DiagNormal::new(vec![0.0, 0.0, 1.0], vec![1.0, 2.0, 0.5]).unwrap();
    let est = kl_monte_carlo(&q, &p, 20_000, &mut rng_for(12, 0)).unwrap();
    let exact = kl_diag_normal(&q, &p).unwrap();
    assert!(
        (est.mean - exact).abs() < Z * est.std_error(),
        "{} +- {} vs {exact}",
        est.mean,
        est.std_error()
    );
    // KL(p || p) by Monte Carlo is exactly 0: every draw contributes ln p - ln p.
    let zero = kl_monte_carlo(&p, &p, 100, &mut rng_for(13, 0)).unwrap();
    assert_eq!((zero.mean, zero.variance), (0.0, 0.0));
    // Seeded: the same seed gives the same estimate, another seed another.
    let a = kl_monte_carlo(&q, &p, 1000, &mut rng_for(5, 0)).unwrap();
    let b = kl_monte_carlo(&q, &p, 1000, &mut rng_for(5, 0)).unwrap();
    let c = kl_monte_carlo(&q, &p, 1000, &mut rng_for(6, 0)).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn monte_carlo_expectation_and_its_standard_error() {
    // E[x^2] = mu^2 + sigma^2 = 5.44; Var[x^2] = 4 mu^2 sigma^2 + 2 sigma^4 = 19.8464 for
    // N(-1.2, 2), whose standard error at n draws is sqrt(19.8464 / n).
    let q = n(-1.2, 2.0);
    let e = monte_carlo(&q, |x: &f64| x * x, 40_000, &mut rng_for(21, 0)).unwrap();
    assert!((e.mean - 5.44).abs() < Z * e.std_error());
    let want_var: f64 = 4.0 * 1.44 * 4.0 + 2.0 * 16.0;
    assert!(
        (e.variance / want_var - 1.0).abs() < 0.1,
        "variance {} vs {want_var}",
        e.variance
    );
    assert!((e.std_error() - (want_var / 40_000.0).sqrt()).abs() < 0.1 * e.std_error());
    assert_eq!(
        monte_carlo(&q, |x: &f64| *x, 1, &mut rng_for(0, 0)),
        Err(TooFewDraws { n: 1 })
    );
}

#[test]
fn gradient_estimators_for_x_squared() {
    // f(x) = x^2 under N(mu, sigma): E f = mu^2 + sigma^2, so d/dmu = 2 mu, d/dsigma = 2 sigma.
    for (k, (mu, sigma)) in [(1.0, 2.0), (-0.5, 0.3), (3.0, 1.0)]
        .into_iter()
        .enumerate()
    {
        let q = n(mu, sigma);
        let draws = 20_000;
        let r = reparam_gradient(&q, |x| 2.0 * x, draws, &mut rng_for(31, k as u64)).unwrap();
        let s = score_gradient(&q, |x| x * x, draws, &mut rng_for(32, k as u64)).unwrap();
        for (name, est, want) in [
            ("reparam d/dmu", r.mu, 2.0 * mu),
            ("reparam d/dsigma", r.sigma, 2.0 * sigma),
            ("score d/dmu", s.mu, 2.0 * mu),
            ("score d/dsigma", s.sigma, 2.0 * sigma),
        ] {
            assert!(
                (est.mean - want).abs() < Z * est.std_error(),
                "{name} at ({mu}, {sigma}): {} +- {} vs {want}",
                est.mean,
                est.std_error()
            );
        }
        // Per-draw variances of the pathwise estimator in closed form: 2x has variance
        // 4 sigma^2; 2 x eps = 2 mu eps + 2 sigma eps^2 has variance 4 mu^2 + 8 sigma^2.
        assert!((r.mu.variance / (4.0 * sigma * sigma) - 1.0).abs() < 0.1);
        assert!((r.sigma.variance / (4.0 * mu * mu + 8.0 * sigma * sigma) - 1.0).abs() < 0.1);
        // The score function pays in variance.
        assert!(s.mu.variance > r.mu.variance, "d/dmu at ({mu}, {sigma})");
        assert!(
            s.sigma.variance > r.sigma.variance,
            "d/dsigma at ({mu}, {sigma})"
        );
    }
    assert!(reparam_gradient(&n(0.0, 1.0), |x| x, 0, &mut rng_for(0, 0)).is_err());
    assert!(score_gradient(&n(0.0, 1.0), |x| x, 1, &mut rng_for(0, 0)).is_err());
}

#[test]
fn diag_normal_validates_and_samples() {
    assert!(matches!(
        DiagNormal::new(vec![0.0, 1.0], vec![1.0, -2.0]),
        Err(DistError::NotPositive { dist: "DiagNormal", value, .. }) if value == -2.0
    ));
    assert!(matches!(
        DiagNormal::new(vec![f64::NAN], vec![1.0]),
        Err(DistError::NotFinite {
            dist: "DiagNormal",
            ..
        })
    ));
    assert!(DiagNormal::new(vec![0.0], vec![]).is_err());
    // ln density: scipy.stats.norm(0.5, 0.3).logpdf(0.2) + scipy.stats.norm(-1, 1.5).logpdf(0)
    let q = DiagNormal::new(vec![0.5, -1.0], vec![0.3, 1.5]).unwrap();
    let want = -0.214_965_728_878_736_55 + -1.546_625_863_535_059_4;
    assert!((q.ln_density(&[0.2, 0.0]) - want).abs() < 1e-12);
    assert!(q.ln_density(&[0.0]).is_nan());
}
