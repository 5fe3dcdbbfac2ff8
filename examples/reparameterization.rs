//! The reparameterization trick: the gradient of E_q[f(x)] with respect to q's parameters,
//! estimated pathwise (x = mu + sigma * eps) and by the score function
//! (f(x) * d ln q(x)): the same mean, very different variance.
//!
//! ```text
//! cargo run --release --features plot --example reparameterization          # full size
//! cargo run --release --features plot --example reparameterization -- small # quick
//! ```
//! Figures go to `target/plots/reparameterization/`.

mod common;

use vi::dist::Normal;
use vi::infer::rng_for;
use vi::lecture::{reparam_gradient, score_gradient, GradientEstimate};

/// q = N(MU, SIGMA).
pub const MU: f64 = 1.0;
/// q = N(MU, SIGMA).
pub const SIGMA: f64 = 2.0;
/// f(x) = (x - C)^2.
pub const C: f64 = 2.0;
const SEED: u64 = 5;

/// The exact gradient of E_q[(x - C)^2] = (MU - C)^2 + SIGMA^2: (2 (MU - C), 2 SIGMA).
pub const EXACT: (f64, f64) = (2.0 * (MU - C), 2.0 * SIGMA);

/// Both estimators at one n.
#[derive(Debug, Clone)]
pub struct Row {
    /// Number of draws.
    pub n: usize,
    /// The pathwise estimate.
    pub reparam: GradientEstimate,
    /// The score-function estimate.
    pub score: GradientEstimate,
}

/// What the example printed.
#[derive(Debug, Clone)]
pub struct Report {
    /// One row per n = 10, 100, ...
    pub rows: Vec<Row>,
}

/// Runs both estimators for n = 10 .. 10^6 (`small`: to 10^4), same draws for both.
///
/// # Errors
/// The lecture tools' errors.
pub fn run(small: bool) -> Result<Report, Box<dyn std::error::Error>> {
    let q = Normal::new(MU, SIGMA)?;
    let max_pow = if small { 4 } else { 6 };
    let mut rows = Vec::new();
    for pow in 1..=max_pow {
        let n = 10usize.pow(pow);
        let reparam = reparam_gradient(&q, |x| 2.0 * (x - C), n, &mut rng_for(SEED, pow as u64))?;
        let score = score_gradient(&q, |x| (x - C).powi(2), n, &mut rng_for(SEED, pow as u64))?;
        rows.push(Row { n, reparam, score });
    }
    Ok(Report { rows })
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "Gradient of E_q[(x - {C})^2], q = N({MU}, {SIGMA}); exact (d/dmu, d/dsigma) = ({}, {})",
            EXACT.0, EXACT.1
        )?;
        writeln!(
            f,
            "{:>9} {:>22} {:>22} {:>22} {:>22}",
            "n", "reparam d/dmu", "score d/dmu", "reparam d/dsigma", "score d/dsigma"
        )?;
        let cell = |e: &vi::lecture::Estimate| format!("{:.4} +/- {:.4}", e.mean, e.std_error());
        for r in &self.rows {
            writeln!(
                f,
                "{:>9} {:>22} {:>22} {:>22} {:>22}",
                r.n,
                cell(&r.reparam.mu),
                cell(&r.score.mu),
                cell(&r.reparam.sigma),
                cell(&r.score.sigma)
            )?;
        }
        let last = self.rows.last().expect("at least one row");
        writeln!(
            f,
            "per-draw variance, score / reparam: d/dmu {:.1}x, d/dsigma {:.1}x",
            last.score.mu.variance / last.reparam.mu.variance,
            last.score.sigma.variance / last.reparam.sigma.variance
        )
    }
}

/// Writes the figures into `dir` and returns their paths.
#[cfg(feature = "plot")]
pub fn figures(
    report: &Report,
    dir: &std::path::Path,
) -> Result<Vec<std::path::PathBuf>, vi::plot::PlotError> {
    use vi::lecture::{Estimate, GradientEstimate};
    let n: Vec<f64> = report.rows.iter().map(|r| r.n as f64).collect();
    let series = |pick: &dyn Fn(&Row) -> Estimate| {
        let mean: Vec<f64> = report.rows.iter().map(|r| pick(r).mean).collect();
        let lo: Vec<f64> = report
            .rows
            .iter()
            .map(|r| pick(r).mean - 2.0 * pick(r).std_error())
            .collect();
        let hi: Vec<f64> = report
            .rows
            .iter()
            .map(|r| pick(r).mean + 2.0 * pick(r).std_error())
            .collect();
        (mean, lo, hi)
    };
    let mut paths = Vec::new();
    for (label, file, exact, part) in [
        (
            "d/dmu",
            "grad_mu.svg",
            EXACT.0,
            (|g: &GradientEstimate| g.mu) as fn(&GradientEstimate) -> Estimate,
        ),
        ("d/dsigma", "grad_sigma.svg", EXACT.1, |g| g.sigma),
    ] {
        let (rm, rl, rh) = series(&|r| part(&r.reparam));
        let (sm, sl, sh) = series(&|r| part(&r.score));
        let path = dir.join(file);
        vi::plot::Figure::new(format!("{label} E_q[f]: estimate +/- 2 std err"))
            .x_label("number of draws n")
            .y_label(label)
            .log_x()
            .line_and_band("score function", "score +/- 2 se", &n, &sm, &sl, &sh)
            .line_and_band("reparameterised", "reparam +/- 2 se", &n, &rm, &rl, &rh)
            .reference("exact", &n, &vec![exact; n.len()])
            .save(&path)?;
        paths.push(path);
    }
    Ok(paths)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let report = run(common::small_requested())?;
    println!("{report}");
    #[cfg(feature = "plot")]
    for path in figures(&report, &common::plot_dir("reparameterization"))? {
        println!("wrote {}", path.display());
    }
    #[cfg(not(feature = "plot"))]
    println!("(no figures: run with `--features plot` to write them)");
    Ok(())
}
