//! The examples, run at their small size, checked against exact answers. Each example file
//! is compiled into this test binary as a module; its `main` is unused here.

#[allow(dead_code)]
#[path = "../../examples/kl_divergence.rs"]
mod kl_divergence;
#[allow(dead_code)]
#[path = "../../examples/monte_carlo.rs"]
mod monte_carlo;
#[allow(dead_code)]
#[path = "../../examples/optimizing_kl.rs"]
mod optimizing_kl;
#[allow(dead_code)]
#[path = "../../examples/reparameterization.rs"]
mod reparameterization;

/// A scratch directory for figures written under test (`plot` feature only).
#[cfg(feature = "plot")]
fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("vi-examples-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Checks every figure exists and is an SVG document.
#[cfg(feature = "plot")]
fn check_figures(paths: &[std::path::PathBuf]) {
    assert!(!paths.is_empty());
    for p in paths {
        let svg = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(
            svg.starts_with("<svg") && svg.len() > 1000,
            "{}",
            p.display()
        );
    }
}

#[test]
fn kl_divergence_closed_form_and_monte_carlo_agree() {
    let r = kl_divergence::run(true).unwrap();
    // scipy.integrate.quad of q.pdf(x) * (q.logpdf(x) - p.logpdf(x)) over [-40, 40],
    // q = scipy.stats.norm(0, 1), p = scipy.stats.norm(1.5, 0.6), and the reverse.
    assert!(
        (r.kl_qp - 3.503_063_265_122_899_2).abs() < 1e-9,
        "{}",
        r.kl_qp
    );
    assert!(
        (r.kl_pq - 1.315_825_623_765_990_7).abs() < 1e-9,
        "{}",
        r.kl_pq
    );
    // The same quadrature summed over the three coordinates.
    assert!((r.diag_kl - 2.25).abs() < 1e-9, "{}", r.diag_kl);
    for row in &r.kl_qp_mc {
        let e = &row.estimate;
        assert!(
            (e.mean - r.kl_qp).abs() < 4.0 * e.std_error(),
            "n = {}: {} +/- {}",
            row.n,
            e.mean,
            e.std_error()
        );
    }
    for (e, exact) in [(&r.kl_pq_mc, r.kl_pq), (&r.diag_kl_mc, r.diag_kl)] {
        assert!(
            (e.mean - exact).abs() < 4.0 * e.std_error(),
            "{e:?} vs {exact}"
        );
    }
    // The standard error falls tenfold per hundredfold more draws (within 30%).
    let se: Vec<f64> = r.kl_qp_mc.iter().map(|m| m.estimate.std_error()).collect();
    let ratio = se[se.len() - 1] / se[se.len() - 3];
    assert!((ratio / 0.1 - 1.0).abs() < 0.3, "ratio {ratio}");

    #[cfg(feature = "plot")]
    check_figures(&kl_divergence::figures(&r, &scratch("kl")).unwrap());
}

#[test]
fn monte_carlo_errors_shrink_as_one_over_root_n() {
    let r = monte_carlo::run(true).unwrap();
    // E[x^2] = mu^2 + sigma^2 = 5 and sd(x^2) = sqrt(4 mu^2 sigma^2 + 2 sigma^4) = sqrt(48)
    // for N(1, 2); scipy.stats.norm(1, 2).sf(3) = 0.15865525393145707.
    assert_eq!(r.targets[0].exact, 5.0);
    assert!((r.targets[0].exact_sd - 48f64.sqrt()).abs() < 1e-12);
    assert!((r.targets[1].exact - 0.158_655_253_931_457_07).abs() < 1e-15);
    for t in &r.targets {
        for (n, e) in &t.estimates {
            assert!(
                (e.mean - t.exact).abs() < 4.0 * e.std_error(),
                "{} n = {n}: {} +/- {}",
                t.name,
                e.mean,
                e.std_error()
            );
        }
        // At the largest n the estimated standard error is the exact sd / sqrt(n).
        let (n, e) = t.estimates.last().unwrap();
        let exact_se = t.exact_sd / (*n as f64).sqrt();
        assert!((e.std_error() / exact_se - 1.0).abs() < 0.1, "{}", t.name);
    }
    for s in &r.slopes {
        assert!((s + 0.5).abs() < 0.1, "slope {s}");
    }

    #[cfg(feature = "plot")]
    check_figures(&monte_carlo::figures(&r, &scratch("mc")).unwrap());
}

#[test]
fn reparameterization_and_score_function_agree_on_the_mean_not_the_variance() {
    let r = reparameterization::run(true).unwrap();
    // d/d(mu, sigma) of E[(x - 2)^2] = (mu - 2)^2 + sigma^2 at (1, 2) is (-2, 4).
    assert_eq!(reparameterization::EXACT, (-2.0, 4.0));
    for row in &r.rows {
        for (e, exact) in [
            (&row.reparam.mu, -2.0),
            (&row.score.mu, -2.0),
            (&row.reparam.sigma, 4.0),
            (&row.score.sigma, 4.0),
        ] {
            assert!(
                (e.mean - exact).abs() < 4.0 * e.std_error(),
                "n = {}: {} +/- {}",
                row.n,
                e.mean,
                e.std_error()
            );
        }
    }
    // Per-draw variances. Pathwise: Var(2 (x - 2)) = 4 sigma^2 = 16 and
    // Var(2 (x - 2) eps) = 4 Var((mu - 2) eps + sigma eps^2) = 4 (1 + 4 * 2) = 36.
    // The score function's are larger: at least 3 times here.
    let last = r.rows.last().unwrap();
    assert!((last.reparam.mu.variance / 16.0 - 1.0).abs() < 0.1);
    assert!((last.reparam.sigma.variance / 36.0 - 1.0).abs() < 0.15);
    assert!(last.score.mu.variance > 3.0 * last.reparam.mu.variance);
    assert!(last.score.sigma.variance > 3.0 * last.reparam.sigma.variance);

    #[cfg(feature = "plot")]
    check_figures(&reparameterization::figures(&r, &scratch("reparam")).unwrap());
}

#[test]
fn optimizing_kl_reaches_the_target() {
    let r = optimizing_kl::run(true).unwrap();
    // KL(N(-2, 2) || N(3, 0.5)) = ln(0.5 / 2) + (4 + 25) / (2 * 0.25) - 1/2
    // = 56.11370563888011 (python: math.log(0.25) + 58 - 0.5).
    assert!((r.steps[0].kl - 56.113_705_638_880_11).abs() < 1e-9);
    let last = r.steps.last().unwrap();
    assert!((last.mu - 3.0).abs() < 0.05, "{last:?}");
    assert!((last.sigma - 0.5).abs() < 0.05, "{last:?}");
    assert!(last.kl < 0.01, "{last:?}");

    #[cfg(feature = "plot")]
    check_figures(&optimizing_kl::figures(&r, &scratch("okl")).unwrap());
}
