//! The examples, run at their small size, checked against exact answers. Each example file
//! is compiled into this test binary as a module; its `main` is unused here.

#[allow(dead_code)]
#[path = "../../examples/coin_toss.rs"]
mod coin_toss;
#[allow(dead_code)]
#[path = "../../examples/linear_regression.rs"]
mod linear_regression;

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
        assert!(svg.starts_with("<svg") && svg.len() > 1000, "{}", p.display());
    }
}

#[test]
fn coin_toss_matches_the_beta_posterior() {
    let report = coin_toss::run(true).unwrap();
    // scipy.stats.beta(16, 8): .mean(), .std(), .ppf(0.05), .ppf(0.95)
    let exact = report.row("exact").unwrap();
    assert!((exact.mean - 0.666_666_666_666_666_6).abs() < 1e-12);
    assert!((exact.sd - 0.094_280_904_158_206_34).abs() < 1e-12);
    assert!((exact.q5 - 0.503_564_916_285_937_2).abs() < 1e-9);
    assert!((exact.q95 - 0.813_656_196_782_889_1).abs() < 1e-9);

    let draws = |method: &str| {
        report
            .fits
            .iter()
            .find(|f| f.method() == method)
            .unwrap()
            .num_draws() as f64
    };
    // Laplace on the logit scale: z ~ N(logit(16/24), 1/(24 p (1 - p))). Mean and sd of
    // p = sigmoid(z) by 200-point Gauss-Hermite quadrature (/tmp script: numpy
    // hermegauss(200), scipy.special.expit): 0.6602151819156373, 0.09374775399675109.
    let lap = report.row("Laplace").unwrap();
    let mc = 4.0 * 0.0937 / draws("Laplace").sqrt();
    assert!((lap.mean - 0.660_215_181_915_637_3).abs() < mc, "{lap:?}");
    assert!((lap.sd / 0.093_747_753_996_751_09 - 1.0).abs() < 0.1, "{lap:?}");

    // The mean-field optimum on the logit scale, z ~ N(0.72443, 0.44203) (minimising
    // KL(q || p) by Nelder-Mead over the same quadrature): p has mean 0.6666666691751196
    // and sd 0.09472970561814877. VI is stochastic: Monte Carlo error plus 0.01.
    let vi = report.row("VI").unwrap();
    let mc = 4.0 * 0.0947 / draws("VI").sqrt();
    assert!((vi.mean - 0.666_666_669_175_119_6).abs() < mc + 0.01, "{vi:?}");
    assert!((vi.sd / 0.094_729_705_618_148_77 - 1.0).abs() < 0.15, "{vi:?}");

    // NUTS targets the exact posterior: mean within 4 MCSE, sd within 10%.
    let nuts = report.row("NUTS").unwrap();
    let mcse = nuts.mcse.unwrap();
    assert!((nuts.mean - exact.mean).abs() < 4.0 * mcse, "{nuts:?}");
    assert!((nuts.sd / exact.sd - 1.0).abs() < 0.1, "{nuts:?}");

    #[cfg(feature = "plot")]
    check_figures(&coin_toss::figures(&report, &scratch("coin_toss")).unwrap());
}

#[test]
fn linear_regression_exact_posterior_matches_numpy() {
    use nalgebra::{DMatrix, DVector};
    let x = DMatrix::from_column_slice(3, 1, &[-1.0, 0.0, 2.0]);
    let y = DVector::from_column_slice(&[0.5, -0.2, 1.1]);
    let (mean, cov) = linear_regression::exact_posterior(&x, &y);
    // numpy: Phi = [x 1]; P = Phi.T @ Phi / 0.5**2 + diag([1, 1/100]); C = inv(P);
    // m = C @ Phi.T @ y / 0.5**2
    let m = [0.250_912_32, 0.382_710_3];
    let c = [[0.050_844_59, -0.016_934_08], [-0.016_934_08, 0.088_903_94]];
    for i in 0..2 {
        assert!((mean[i] - m[i]).abs() < 1e-7);
        for j in 0..2 {
            assert!((cov[(i, j)] - c[i][j]).abs() < 1e-7);
        }
    }
}

#[test]
fn linear_regression_matches_the_exact_posterior() {
    let report = linear_regression::run(true).unwrap();
    let n_draws = |method: &str| {
        report
            .fits
            .iter()
            .find(|f| f.method() == method)
            .unwrap()
            .num_draws() as f64
    };
    for p in &report.params {
        for &(method, mean, sd, mcse) in &p.fits {
            let ctx = format!("{} {method}: mean {mean} sd {sd}, exact {p:?}", p.name);
            match method {
                // Gaussian posterior: Laplace is exact up to the Monte Carlo error of its draws.
                "Laplace" => {
                    let mc = 4.0 * p.exact_sd / n_draws(method).sqrt();
                    assert!((mean - p.exact_mean).abs() < mc, "{ctx}");
                    assert!((sd / p.exact_sd - 1.0).abs() < 0.1, "{ctx}");
                }
                // Mean-field VI: the exact means, sds 1 / sqrt(precision_jj).
                "VI" => {
                    let mc = 4.0 * p.mean_field_sd / n_draws(method).sqrt();
                    assert!(
                        (mean - p.exact_mean).abs() < mc + 0.05 * p.exact_sd,
                        "{ctx}"
                    );
                    assert!((sd / p.mean_field_sd - 1.0).abs() < 0.1, "{ctx}");
                }
                "NUTS" => {
                    assert!((mean - p.exact_mean).abs() < 4.0 * mcse.unwrap(), "{ctx}");
                    assert!((sd / p.exact_sd - 1.0).abs() < 0.1, "{ctx}");
                }
                other => panic!("unexpected method {other}"),
            }
        }
    }
    // Predictive bands of Laplace and NUTS against the exact Gaussian band, at every
    // tenth grid point: within 8% of the band's width (Monte Carlo error of a 2.5%
    // quantile from ~1000 draws is about 2%).
    let exact = &report.bands[0];
    for band in &report.bands[1..] {
        if band.method == "VI" {
            continue; // mean-field: too narrow by design
        }
        for j in (0..report.grid.len()).step_by(10) {
            let width = exact.upper[j] - exact.lower[j];
            for (got, want) in [
                (band.mean[j], exact.mean[j]),
                (band.lower[j], exact.lower[j]),
                (band.upper[j], exact.upper[j]),
            ] {
                assert!(
                    (got - want).abs() < 0.08 * width,
                    "{} at x = {}: {got} vs {want}",
                    band.method,
                    report.grid[j]
                );
            }
        }
    }

    #[cfg(feature = "plot")]
    check_figures(&linear_regression::figures(&report, &scratch("linreg")).unwrap());
}
