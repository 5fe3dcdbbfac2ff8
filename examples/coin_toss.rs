//! Coin toss: a Beta(2, 2) prior on the probability of heads, 14 heads in 20 tosses.
//!
//! The exact posterior is Beta(16, 8); VI, Laplace and NUTS approximate it. VI and Laplace
//! work on the logit scale, so their posteriors of `p` are logit-normal: close to the Beta,
//! not equal to it.
//!
//! ```text
//! cargo run --release --features plot --example coin_toss          # full size
//! cargo run --release --features plot --example coin_toss -- small # quick
//! ```
//! Figures go to `target/plots/coin_toss/`.

mod common;

use vi::dist::{Beta, Cdf};
use vi::prelude::*;
use vi::{Laplace, Nuts, Vi};

/// Prior Beta(A, B).
pub const A: f64 = 2.0;
/// Prior Beta(A, B).
pub const B: f64 = 2.0;
/// Heads observed.
pub const HEADS: u32 = 14;
/// Tosses.
pub const TOSSES: u32 = 20;
const SEED: u64 = 20;

model! {
    /// A coin with probability `p` of heads: `p ~ Beta(a, b)`, each toss (1 for heads, 0 for
    /// tails) ~ Bernoulli(p).
    pub fn coin_toss(a: f64, b: f64, tosses: &[f64]) {
        let p ~ Beta(a, b);
        tosses ~ Bernoulli(p);
    }
}

/// `HEADS` heads then `TOSSES - HEADS` tails.
pub fn tosses() -> Vec<f64> {
    (0..TOSSES)
        .map(|i| f64::from(u8::from(i < HEADS)))
        .collect()
}

/// One method's posterior of `p`.
#[derive(Debug, Clone)]
pub struct Row {
    /// `exact`, `VI`, `Laplace` or `NUTS`.
    pub method: &'static str,
    /// Posterior mean.
    pub mean: f64,
    /// Posterior sd.
    pub sd: f64,
    /// 5% quantile.
    pub q5: f64,
    /// 95% quantile.
    pub q95: f64,
    /// Monte Carlo standard error of the mean (NUTS only).
    pub mcse: Option<f64>,
}

/// What the example printed, and the fits behind its figures.
pub struct Report {
    /// Exact first, then VI, Laplace, NUTS.
    pub rows: Vec<Row>,
    /// The fits, in the order of `rows[1..]`.
    pub fits: Vec<Posterior>,
}

impl Report {
    /// The row of `method`.
    pub fn row(&self, method: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.method == method)
    }
}

/// The exact posterior, Beta(A + heads, B + tails).
pub fn exact() -> Beta {
    Beta::new(A + HEADS as f64, B + (TOSSES - HEADS) as f64).expect("positive parameters")
}

/// The q-quantile of a continuous distribution on (0, 1) by bisection of its CDF.
fn beta_quantile(d: &Beta, q: f64) -> f64 {
    let (mut lo, mut hi) = (0.0, 1.0);
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if d.cdf(mid) < q {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

fn row(method: &'static str, fit: &Posterior) -> Row {
    let summary = fit.summary();
    let r = &summary.rows[0];
    Row {
        method,
        mean: r.mean,
        sd: r.sd,
        q5: r.q5,
        q95: r.q95,
        mcse: r.mcse_mean,
    }
}

/// Fits the coin toss by VI, Laplace and NUTS (`small`: fewer NUTS draws).
///
/// # Errors
/// A fit's error.
pub fn run(small: bool) -> Result<Report, Box<dyn std::error::Error>> {
    let model = coin_toss(A, B, &tosses())?;
    let vi = Vi::default().seed(SEED).fit(&model)?;
    let laplace = Laplace::default().seed(SEED).fit(&model)?;
    let nuts = if small {
        Nuts::default().seed(SEED).chains(2).warmup(300).draws(500)
    } else {
        Nuts::default().seed(SEED)
    }
    .fit(&model)?;
    let beta = exact();
    let (pa, pb) = (beta.a(), beta.b());
    let exact_row = Row {
        method: "exact",
        mean: pa / (pa + pb),
        sd: (pa * pb / ((pa + pb).powi(2) * (pa + pb + 1.0))).sqrt(),
        q5: beta_quantile(&beta, 0.05),
        q95: beta_quantile(&beta, 0.95),
        mcse: None,
    };
    let rows = vec![
        exact_row,
        row("VI", &vi),
        row("Laplace", &laplace),
        row("NUTS", &nuts),
    ];
    Ok(Report {
        rows,
        fits: vec![vi, laplace, nuts],
    })
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "Coin toss: {HEADS} heads in {TOSSES} tosses, prior Beta({A}, {B}); posterior of p"
        )?;
        writeln!(
            f,
            "{:<8} {:>8} {:>8} {:>8} {:>8} {:>8}",
            "method", "mean", "sd", "5%", "95%", "mcse"
        )?;
        for r in &self.rows {
            let mcse = r.mcse.map_or("-".to_string(), |m| format!("{m:.4}"));
            writeln!(
                f,
                "{:<8} {:>8.4} {:>8.4} {:>8.4} {:>8.4} {:>8}",
                r.method, r.mean, r.sd, r.q5, r.q95, mcse
            )?;
        }
        Ok(())
    }
}

/// Writes the figures into `dir` and returns their paths.
#[cfg(feature = "plot")]
pub fn figures(
    report: &Report,
    dir: &std::path::Path,
) -> Result<Vec<std::path::PathBuf>, vi::plot::PlotError> {
    use vi::dist::LogDensity;
    let beta = exact();
    let density = |p: f64| beta.ln_density(p).exp();
    let fits: Vec<(&str, &Posterior)> = report.fits.iter().map(|fit| (fit.method(), fit)).collect();
    let path = dir.join("densities.svg");
    vi::plot::posterior_densities(&fits, "p", 0, Some(&density), &path)?;
    let trace = dir.join("nuts_trace.svg");
    vi::plot::trace_plots(&report.fits[2], "p", &trace)?;
    Ok(vec![path, trace])
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let report = run(common::small_requested())?;
    println!("{report}");
    #[cfg(feature = "plot")]
    for path in figures(&report, &common::plot_dir("coin_toss"))? {
        println!("wrote {}", path.display());
    }
    #[cfg(not(feature = "plot"))]
    println!("(no figures: run with `--features plot` to write them)");
    Ok(())
}
