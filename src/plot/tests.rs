use std::path::{Path, PathBuf};

use super::figure::{padded, tick};
use super::fits::fmt_level;
use super::*;
use crate::infer::laplace::LaplaceDiagnostics;
use crate::infer::nuts::NutsDiagnostics;
use crate::infer::vi::ViDiagnostics;
use crate::{Chain, Diagnostics, ParamLayout, Posterior, Transform};

/// A fresh scratch directory under the system's temp dir, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch(name: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("vi-plot-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    Scratch(dir)
}

/// `mu` (real) and `p` (in (0, 1)), two chains of deterministic draws.
fn posterior(diagnostics: Diagnostics) -> Posterior {
    let mut layout = ParamLayout::new();
    layout.push("mu", vec![], Transform::Identity);
    layout.push("p", vec![], Transform::UNIT);
    let chain = |shift: f64| {
        let n = 200;
        let mut draws = Vec::with_capacity(2 * n);
        for i in 0..n {
            let u = (i as f64 + 0.5) / n as f64;
            draws.push(shift + (u - 0.5) * 3.0);
            draws.push(u * u);
        }
        Chain {
            draws,
            lp: vec![0.0; n],
        }
    };
    Posterior::new(layout, vec![chain(0.0), chain(0.2)], diagnostics)
}

fn read(path: &Path) -> String {
    let svg = std::fs::read_to_string(path).expect("figure written");
    assert!(
        svg.starts_with("<svg"),
        "not an SVG document: {}",
        &svg[..40]
    );
    assert!(svg.trim_end().ends_with("</svg>"));
    svg
}

#[test]
// `ViDiagnostics` grows fields as VI does; setting the one we need keeps this test stable.
#[allow(clippy::field_reassign_with_default)]
fn elbo_trace_writes_the_trace_and_needs_vi() {
    let dir = scratch("elbo");
    let trace: Vec<f64> = (0..300)
        .map(|i| -10.0 - 1000.0 * (-(i as f64) / 20.0).exp())
        .chain([f64::NAN])
        .collect();
    let mut d = ViDiagnostics::default();
    d.elbo_trace = trace;
    let vi = posterior(Diagnostics::Vi(d));
    let path = dir.join("nested/elbo.svg");
    elbo_trace(&vi, &path).unwrap();
    let svg = read(&path);
    assert!(svg.contains("ELBO trace") && svg.contains("iteration"));
    let laplace = posterior(Diagnostics::Laplace(LaplaceDiagnostics::default()));
    assert!(matches!(
        elbo_trace(&laplace, dir.join("x.svg")),
        Err(PlotError::WrongMethod {
            expected: "VI",
            found: "Laplace"
        })
    ));
    let empty = posterior(Diagnostics::Vi(ViDiagnostics::default()));
    assert!(matches!(
        elbo_trace(&empty, dir.join("y.svg")),
        Err(PlotError::NoData { .. })
    ));
}

#[test]
fn densities_overlay_every_method_and_the_exact_curve() {
    let dir = scratch("dens");
    let a = posterior(Diagnostics::Nuts(NutsDiagnostics::default()));
    let b = posterior(Diagnostics::Laplace(LaplaceDiagnostics::default()));
    let path = dir.join("p.svg");
    let exact = |x: f64| 2.0 * x;
    posterior_densities(
        &[("NUTS", &a), ("Laplace", &b)],
        "p",
        0,
        Some(&exact),
        &path,
    )
    .unwrap();
    let svg = read(&path);
    for name in ["NUTS", "Laplace", "exact", "Posterior of p"] {
        assert!(svg.contains(name), "`{name}` missing");
    }
    assert!(matches!(
        posterior_densities(&[("NUTS", &a)], "sigma", 0, None, &path),
        Err(PlotError::UnknownName(_))
    ));
    assert!(matches!(
        posterior_densities(&[("NUTS", &a)], "mu", 1, None, &path),
        Err(PlotError::ElementOutOfRange {
            index: 1,
            size: 1,
            ..
        })
    ));
}

#[test]
fn trace_plots_have_one_line_per_chain() {
    let dir = scratch("trace");
    let post = posterior(Diagnostics::Nuts(NutsDiagnostics::default()));
    let path = dir.join("mu.svg");
    trace_plots(&post, "mu", &path).unwrap();
    let svg = read(&path);
    assert!(svg.contains("chain 1") && svg.contains("chain 2") && !svg.contains("chain 3"));
    assert!(svg.contains("NUTS trace of mu"));
}

#[test]
fn predictive_bands_summarise_the_draws() {
    // Draw d at grid point g is g + (d - 49.5) / 10: the mean is g, and the 95% interval
    // (numpy.quantile(range(100), [0.025, 0.975]) = [2.475, 96.525]) is g -/+ 4.7025.
    let grid = linspace(0.0, 4.0, 5);
    let draws: Vec<Vec<f64>> = (0..100)
        .map(|d| grid.iter().map(|g| g + (d as f64 - 49.5) / 10.0).collect())
        .collect();
    let [mean, lo, hi] = band_summary(&draws, 0.95).unwrap();
    for j in 0..5 {
        assert!((mean[j] - grid[j]).abs() < 1e-12);
        assert!((lo[j] - (grid[j] - 4.7025)).abs() < 1e-12);
        assert!((hi[j] - (grid[j] + 4.7025)).abs() < 1e-12);
    }
    let dir = scratch("band");
    let path = dir.join("band.svg");
    predictive_bands(
        "Predictive",
        &grid,
        &[("VI", &draws)],
        0.95,
        (&[1.0, 2.0], &[1.5, 2.5]),
        &path,
    )
    .unwrap();
    let svg = read(&path);
    for name in ["VI mean", "VI 95% band", "data", "Predictive"] {
        assert!(svg.contains(name), "`{name}` missing");
    }
    assert!(matches!(
        band_summary(&draws, 1.5),
        Err(PlotError::InvalidSetting { .. })
    ));
    let ragged = vec![vec![1.0, 2.0], vec![1.0]];
    assert!(matches!(
        band_summary(&ragged, 0.9),
        Err(PlotError::LengthMismatch { .. })
    ));
}

#[test]
fn figure_log_axes_and_errors() {
    let dir = scratch("fig");
    let n: Vec<f64> = (1..=4).map(|k| 10f64.powi(k)).collect();
    let err: Vec<f64> = n.iter().map(|n| 1.0 / n.sqrt()).collect();
    let fig = Figure::new("Monte Carlo error")
        .x_label("n")
        .y_label("error")
        .log_log()
        .points("estimate", &n, &err)
        .reference("1/sqrt(n)", &n, &err);
    let path = dir.join("mc.svg");
    fig.save(&path).unwrap();
    let svg = read(&path);
    assert!(svg.contains("estimate") && svg.contains("1/sqrt(n)"));
    // A directory that is a file cannot be created: an error, not a panic.
    let file = dir.join("plain-file");
    std::fs::write(&file, "x").unwrap();
    let bad = file.join("fig.svg");
    assert!(matches!(fig.save(&bad), Err(PlotError::Io { .. })));
    // Nothing positive on a log axis: nothing to draw.
    let empty = Figure::new("none").log_y().line("zero", &[1.0], &[0.0]);
    assert!(matches!(empty.to_svg(), Err(PlotError::NoData { .. })));
    let bad_range = Figure::new("r").line("a", &[1.0], &[1.0]).x_range(2.0, 1.0);
    assert!(matches!(
        bad_range.to_svg(),
        Err(PlotError::InvalidSetting { .. })
    ));
}

#[test]
fn tick_labels_are_short() {
    assert_eq!(tick(0.300_000_000_000_000_04), "0.3");
    assert_eq!(tick(10.0), "10");
    assert_eq!(tick(1e6), "1e6");
    assert_eq!(tick(-2.5e-5), "-2.5e-5");
    assert_eq!(tick(1234.5678), "1235");
    assert_eq!(tick(0.012_345_6), "0.01235");
}

#[test]
fn fmt_level_reads_as_percent() {
    assert_eq!(fmt_level(0.95), "95");
    assert_eq!(fmt_level(0.995), "99.5");
}

#[test]
fn padded_range_of_one_value_is_not_empty() {
    let (lo, hi) = padded(&[3.0], false);
    assert!(lo < 3.0 && hi > 3.0);
    let (lo, hi) = padded(&[10.0, 1000.0], true);
    assert!(lo < 10.0 && lo > 0.0 && hi > 1000.0);
}
