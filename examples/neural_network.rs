//! A Bayesian neural network: one hidden layer of tanh units, fitted by mean-field VI and
//! by NUTS to a 1-D regression toy with a gap in the data. NUTS's predictive band is narrow
//! where there is data and widens in the gap and beyond it. Mean-field VI fits the data
//! too, but its band widens far less and it explains more by noise: a factorised Gaussian
//! over the weights cannot hold the correlations that make the in-between and outside
//! uncertainty (Foong et al. 2019, "'In-between' uncertainty in Bayesian neural networks"),
//! and its Pareto k-hat says so.
//!
//! ```text
//! cargo run --release --features plot --example neural_network          # full size
//! cargo run --release --features plot --example neural_network -- small # quick
//! ```
//! Figures go to `target/plots/neural_network/`.

mod common;

use rand::Rng as _;
use vi::prelude::*;
use vi::{Nuts, Vi};

/// Noise sd of the simulated data.
pub const NOISE: f64 = 0.1;
const SEED: u64 = 8;

model! {
    /// One hidden layer of `hidden` tanh units: `y ~ Normal(tanh(x w1 + b1) w2 + b2, sigma)`.
    pub fn bnn(x: &DMatrix<f64>, y: &DVector<f64>, hidden: usize) {
        let w1 ~ Normal(0.0, 1.0).iid((x.ncols(), hidden));
        let b1 ~ Normal(0.0, 1.0).iid(hidden);
        let w2 ~ Normal(0.0, 1.0).iid(hidden);
        let b2 ~ Normal(0.0, 1.0);
        let sigma ~ HalfNormal(0.5);
        let h = (x * w1 + b1.transpose()).tanh();
        y ~ Normal(h * w2 + b2, sigma);
    }
}

/// The truth: `sin(x)`.
pub fn truth(x: f64) -> f64 {
    x.sin()
}

/// `n` inputs, half in [-3, -1] and half in [1, 3] (a gap around 0), with noisy `sin`.
pub fn data(n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut rng = vi::infer::rng_for(SEED, 99);
    let noise = Normal::new(0.0, NOISE).expect("valid scale");
    let x: Vec<f64> = (0..n)
        .map(|i| {
            let u: f64 = rng.random_range(1.0..3.0);
            if i % 2 == 0 {
                -u
            } else {
                u
            }
        })
        .collect();
    let y = x.iter().map(|&x| truth(x) + rng.sample(noise)).collect();
    (x, y)
}

/// A method's predictive band over the grid and its widths by region.
#[derive(Debug, Clone)]
pub struct Band {
    /// `VI` or `NUTS`.
    pub method: &'static str,
    /// Predictive mean at each grid point.
    pub mean: Vec<f64>,
    /// 2.5% quantile.
    pub lower: Vec<f64>,
    /// 97.5% quantile.
    pub upper: Vec<f64>,
    /// Mean band width where there is data (1 <= |x| <= 3).
    pub width_data: f64,
    /// Mean band width in the gap (|x| < 0.5).
    pub width_gap: f64,
    /// Mean band width beyond the data (|x| > 4).
    pub width_outside: f64,
    /// Root mean square error of the predictive mean against `sin` where there is data.
    pub rmse_data: f64,
}

/// What the example printed, and what its figures show.
pub struct Report {
    /// Number of observations.
    pub n: usize,
    /// Hidden units.
    pub hidden: usize,
    /// The grid of inputs.
    pub grid: Vec<f64>,
    /// VI's band, then NUTS's.
    pub bands: Vec<Band>,
    /// The data (x, y).
    pub data: (Vec<f64>, Vec<f64>),
    /// Posterior means of the noise sd `sigma`: VI, NUTS.
    pub sigma: Vec<(&'static str, f64)>,
    /// The fits: VI, NUTS.
    pub fits: Vec<Posterior>,
}

/// Posterior predictive draws at each grid point, one row per posterior draw, from the
/// model built on the grid (with placeholder outputs).
fn predictive(
    fit: &Posterior,
    grid: &[f64],
    hidden: usize,
    seed: u64,
) -> Result<Vec<Vec<f64>>, Box<dyn std::error::Error>> {
    let x = DMatrix::from_column_slice(grid.len(), 1, grid);
    let at_grid = bnn(&x, &DVector::zeros(grid.len()), hidden)?;
    Ok(fit.predictive(&at_grid, seed)?.draws("y")?.to_vec())
}

/// The pointwise mean and central 95% band (the runtime's `stats::quantile_band`) and its
/// widths by region.
fn band(
    method: &'static str,
    grid: &[f64],
    draws: &[Vec<f64>],
) -> Result<Band, vi::stats::BandError> {
    let g = grid.len();
    let vi::stats::Band { mean, lower, upper } = vi::stats::quantile_band(draws, 0.95)?;
    let avg = |keep: &dyn Fn(f64) -> bool, v: &dyn Fn(usize) -> f64| {
        let idx: Vec<usize> = (0..g).filter(|&j| keep(grid[j])).collect();
        idx.iter().map(|&j| v(j)).sum::<f64>() / idx.len() as f64
    };
    let width = |j: usize| upper[j] - lower[j];
    let in_data = |x: f64| (1.0..=3.0).contains(&x.abs());
    Ok(Band {
        method,
        width_data: avg(&in_data, &width),
        width_gap: avg(&|x: f64| x.abs() < 0.5, &width),
        width_outside: avg(&|x: f64| x.abs() > 4.0, &width),
        rmse_data: avg(&in_data, &|j| (mean[j] - truth(grid[j])).powi(2)).sqrt(),
        mean,
        lower,
        upper,
    })
}

/// Fits the network by VI and NUTS (`small`: 30 observations, 5 hidden units, 2 NUTS
/// chains of 300 + 300; otherwise 60 observations, 8 hidden units, 4 chains of 500 + 500).
///
/// # Errors
/// A fit's or the model's error.
pub fn run(small: bool) -> Result<Report, Box<dyn std::error::Error>> {
    let (n, hidden) = if small { (30, 5) } else { (60, 8) };
    let (xs, ys) = data(n);
    let x = DMatrix::from_column_slice(n, 1, &xs);
    let y = DVector::from_column_slice(&ys);
    let model = bnn(&x, &y, hidden)?;
    let vi = Vi::default().seed(SEED).fit(&model)?;
    // The posterior of a network is hard for NUTS (step sizes near 0.004): trees are capped
    // at depth 8 (255 leapfrog steps) to keep the run under a minute; the cap shows up in
    // the diagnostics as a cost in efficiency, not as bias.
    let nuts = if small {
        Nuts::default().seed(SEED).chains(2).warmup(300).draws(300)
    } else {
        Nuts::default().seed(SEED).warmup(500).draws(500)
    }
    .max_depth(8)
    .fit(&model)?;
    let grid: Vec<f64> = (0..=120).map(|i| -6.0 + 0.1 * i as f64).collect();
    let mut bands = Vec::new();
    let mut sigma = Vec::new();
    for (k, fit) in [&vi, &nuts].into_iter().enumerate() {
        let draws = predictive(fit, &grid, hidden, SEED + k as u64)?;
        bands.push(band(fit.method(), &grid, &draws)?);
        sigma.push((fit.method(), fit.mean("sigma")?[0]));
    }
    Ok(Report {
        n,
        hidden,
        grid,
        bands,
        data: (xs, ys),
        sigma,
        fits: vec![vi, nuts],
    })
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "Bayesian neural network, {} tanh units; {} observations of sin(x) + N(0, {NOISE}) \
             with x in [-3, -1] and [1, 3]",
            self.hidden, self.n
        )?;
        writeln!(
            f,
            "{:<6} {:>12} {:>12} {:>12} {:>12} {:>12}",
            "method", "sigma mean", "95% width:", "in the gap", "beyond", "RMSE vs sin"
        )?;
        writeln!(
            f,
            "{:<6} {:>12} {:>12} {:>12} {:>12} {:>12}",
            "", "", "at the data", "|x| < 0.5", "|x| > 4", "at the data"
        )?;
        for (b, (_, s)) in self.bands.iter().zip(&self.sigma) {
            writeln!(
                f,
                "{:<6} {:>12.4} {:>12.3} {:>12.3} {:>12.3} {:>12.4}",
                b.method, s, b.width_data, b.width_gap, b.width_outside, b.rmse_data
            )?;
        }
        for fit in &self.fits {
            writeln!(f)?;
            writeln!(f, "{}", fit.diagnostics())?;
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
    use vi::plot::{Corner, Figure};
    let truth: Vec<f64> = report.grid.iter().map(|&x| truth(x)).collect();
    let panels: Vec<Figure> = report
        .bands
        .iter()
        .enumerate()
        .map(|(k, b)| {
            Figure::new(format!(
                "{} posterior predictive, {} tanh units",
                b.method, report.hidden
            ))
            .x_label("x")
            .y_label("y")
            .legend(Corner::LowerLeft)
            .y_range(-3.5, 3.5)
            .line_and_band(
                &format!("{} mean", b.method),
                &format!("{} 95% band", b.method),
                &report.grid,
                &b.mean,
                &b.lower,
                &b.upper,
            )
            .colour(k)
            .reference("sin(x)", &report.grid, &truth)
            .points("data", &report.data.0, &report.data.1)
            .colour(3)
        })
        .collect();
    let predictive = dir.join("predictive.svg");
    vi::plot::save_stacked(&panels, &predictive)?;
    let elbo = dir.join("elbo_trace.svg");
    vi::plot::elbo_trace(&report.fits[0], &elbo)?;
    let trace = dir.join("nuts_trace_sigma.svg");
    vi::plot::trace_plots(&report.fits[1], "sigma", &trace)?;
    Ok(vec![predictive, elbo, trace])
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let report = run(common::small_requested())?;
    println!("{report}");
    #[cfg(feature = "plot")]
    for path in figures(&report, &common::plot_dir("neural_network"))? {
        println!("wrote {}", path.display());
    }
    #[cfg(not(feature = "plot"))]
    println!("(no figures: run with `--features plot` to write them)");
    Ok(())
}
