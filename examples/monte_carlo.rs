//! Monte Carlo estimation: E_q[f(x)] as the mean of f over draws of q, with a standard
//! error that shrinks as 1/sqrt(n).
//!
//! ```text
//! cargo run --release --features plot --example monte_carlo          # full size
//! cargo run --release --features plot --example monte_carlo -- small # quick
//! ```
//! Figures go to `target/plots/monte_carlo/`.

mod common;

use vi::dist::Normal;
use vi::infer::rng_for;
use vi::lecture::{monte_carlo, Estimate};

/// q = N(MU, SIGMA).
pub const MU: f64 = 1.0;
/// q = N(MU, SIGMA).
pub const SIGMA: f64 = 2.0;
const SEED: u64 = 3;

/// One expectation, estimated for growing n.
#[derive(Debug, Clone)]
pub struct Target {
    /// What is estimated.
    pub name: &'static str,
    /// Its exact value.
    pub exact: f64,
    /// The exact sd of f(x), so the exact standard error is `exact_sd / sqrt(n)`.
    pub exact_sd: f64,
    /// (n, estimate) for n = 10, 100, ...
    pub estimates: Vec<(usize, Estimate)>,
}

/// What the example printed.
#[derive(Debug, Clone)]
pub struct Report {
    /// E[x^2] and P(x > 3) under q.
    pub targets: Vec<Target>,
    /// Least-squares slope of ln(std error) against ln(n) for n >= 100, per target (-1/2
    /// in theory).
    pub slopes: Vec<f64>,
}

/// A function whose expectation is estimated.
type Integrand = fn(f64) -> f64;

/// Least-squares slope of `y` against `x`.
fn slope(x: &[f64], y: &[f64]) -> f64 {
    let (mx, my) = (vi::stats::mean(x), vi::stats::mean(y));
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = x.iter().map(|a| (a - mx) * (a - mx)).sum();
    sxy / sxx
}

/// Estimates E[x^2] (exact: MU^2 + SIGMA^2) and P(x > 3) (exact: 1 - Phi(1)) under
/// q = N(MU, SIGMA) for n = 10 .. 10^6 (`small`: to 10^4).
///
/// # Errors
/// The lecture tools' errors.
pub fn run(small: bool) -> Result<Report, Box<dyn std::error::Error>> {
    let q = Normal::new(MU, SIGMA)?;
    let max_pow = if small { 4 } else { 6 };
    // scipy.stats.norm(1, 2).sf(3)
    let tail = 0.158_655_253_931_457_07;
    // Var(x^2) = 4 mu^2 sigma^2 + 2 sigma^4 for x ~ N(mu, sigma); Var(1{x > 3}) = p (1 - p).
    let var_sq = 4.0 * MU * MU * SIGMA * SIGMA + 2.0 * SIGMA.powi(4);
    let functions: [(&str, f64, f64, Integrand); 2] = [
        ("E[x^2]", MU * MU + SIGMA * SIGMA, var_sq.sqrt(), |x| x * x),
        ("P(x > 3)", tail, (tail * (1.0 - tail)).sqrt(), |x| {
            if x > 3.0 {
                1.0
            } else {
                0.0
            }
        }),
    ];
    let mut targets = Vec::new();
    let mut slopes = Vec::new();
    for (t, (name, exact, exact_sd, f)) in functions.into_iter().enumerate() {
        let mut estimates = Vec::new();
        for pow in 1..=max_pow {
            let n = 10usize.pow(pow);
            let stream = (t as u64) * 100 + pow as u64;
            let e = monte_carlo(&q, |x: &f64| f(*x), n, &mut rng_for(SEED, stream))?;
            estimates.push((n, e));
        }
        // The slope from n >= 100: the standard error of 10 draws is itself too noisy.
        let fitted = &estimates[1..];
        let ln_n: Vec<f64> = fitted.iter().map(|(n, _)| (*n as f64).ln()).collect();
        let ln_se: Vec<f64> = fitted.iter().map(|(_, e)| e.std_error().ln()).collect();
        slopes.push(slope(&ln_n, &ln_se));
        targets.push(Target {
            name,
            exact,
            exact_sd,
            estimates,
        });
    }
    Ok(Report { targets, slopes })
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "Monte Carlo estimates under q = N({MU}, {SIGMA})")?;
        for (t, slope) in self.targets.iter().zip(&self.slopes) {
            writeln!(f)?;
            writeln!(
                f,
                "{} (exact {:.6}; sd of f(x) {:.4}, so se * sqrt(n) -> {:.4})",
                t.name, t.exact, t.exact_sd, t.exact_sd
            )?;
            writeln!(
                f,
                "{:>9} {:>10} {:>10} {:>10} {:>12}",
                "n", "estimate", "std err", "|error|", "se * sqrt(n)"
            )?;
            for (n, e) in &t.estimates {
                writeln!(
                    f,
                    "{:>9} {:>10.5} {:>10.5} {:>10.5} {:>12.4}",
                    n,
                    e.mean,
                    e.std_error(),
                    (e.mean - t.exact).abs(),
                    e.std_error() * (*n as f64).sqrt()
                )?;
            }
            writeln!(
                f,
                "slope of ln(std err) against ln(n), n >= 100: {slope:.3} (theory -0.5)"
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
    let mut fig = vi::plot::Figure::new("Monte Carlo error shrinks as 1/sqrt(n)")
        .x_label("number of draws n")
        .y_label("absolute error")
        .log_log();
    for (k, t) in report.targets.iter().enumerate() {
        let n: Vec<f64> = t.estimates.iter().map(|(n, _)| *n as f64).collect();
        let err: Vec<f64> = t
            .estimates
            .iter()
            .map(|(_, e)| (e.mean - t.exact).abs())
            .collect();
        let se: Vec<f64> = n.iter().map(|n| t.exact_sd / n.sqrt()).collect();
        fig = fig
            .points(&format!("{} |estimate - exact|", t.name), &n, &err)
            .colour(k)
            .line(&format!("{} exact std err sd/sqrt(n)", t.name), &n, &se)
            .colour(k);
    }
    let path = dir.join("error_vs_n.svg");
    fig.save(&path)?;
    Ok(vec![path])
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let report = run(common::small_requested())?;
    println!("{report}");
    #[cfg(feature = "plot")]
    for path in figures(&report, &common::plot_dir("monte_carlo"))? {
        println!("wrote {}", path.display());
    }
    #[cfg(not(feature = "plot"))]
    println!("(no figures: run with `--features plot` to write them)");
    Ok(())
}
