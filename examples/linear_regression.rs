//! Bayesian linear regression with a known noise scale: the exact (Gaussian) posterior
//! against VI, Laplace and NUTS, and the posterior predictive mean and 95% band over a grid
//! of inputs that reaches past the data.
//!
//! ```text
//! cargo run --release --features plot --example linear_regression          # full size
//! cargo run --release --features plot --example linear_regression -- small # quick
//! ```
//! Figures go to `target/plots/linear_regression/`.
//!
//! The model: `w ~ Normal(0, 1)` (one weight per column of `x`), `b ~ Normal(0, 10)`,
//! `y ~ Normal(x w + b, SIGMA)` with `SIGMA` known, so the posterior of `(w, b)` is
//! Gaussian with precision `diag(1, 1/100) + [x 1]^T [x 1] / SIGMA^2`.

mod common;

use rand::Rng as _;
use vi::prelude::*;
use vi::{Laplace, Nuts, Vi};

/// The known noise scale.
pub const SIGMA: f64 = 0.5;
/// Prior scale of the weights (as written in the model).
pub const W_SCALE: f64 = 1.0;
/// Prior scale of the intercept (as written in the model).
pub const B_SCALE: f64 = 10.0;
const TRUE_W: f64 = 0.8;
const TRUE_B: f64 = -0.3;
const SEED: u64 = 11;

model! {
    /// Bayesian linear regression with a known noise scale `sigma`.
    pub fn linear_regression(x: &DMatrix<f64>, y: &DVector<f64>, sigma: f64) {
        let w ~ Normal(0.0, 1.0).iid(x.ncols());
        let b ~ Normal(0.0, 10.0);
        y ~ Normal(x * w + b, sigma);
    }
}

/// The data: `n` inputs spread over [-2, 2], outputs from the true line plus noise.
pub fn data(n: usize) -> (DMatrix<f64>, DVector<f64>) {
    let mut rng = vi::infer::rng_for(SEED, 99);
    let noise = Normal::new(0.0, SIGMA).expect("valid scale");
    let x = DVector::from_fn(n, |_, _| rng.random_range(-2.0..2.0));
    let y = DVector::from_fn(n, |i, _| TRUE_B + TRUE_W * x[i] + rng.sample(noise));
    (DMatrix::from_column_slice(n, 1, x.as_slice()), y)
}

/// The exact posterior of `(w.., b)`: mean and covariance.
pub fn exact_posterior(x: &DMatrix<f64>, y: &DVector<f64>) -> (DVector<f64>, DMatrix<f64>) {
    let (n, d) = (x.nrows(), x.ncols());
    let phi = DMatrix::from_fn(n, d + 1, |i, j| if j < d { x[(i, j)] } else { 1.0 });
    let mut prec = phi.tr_mul(&phi) / (SIGMA * SIGMA);
    for j in 0..d {
        prec[(j, j)] += 1.0 / (W_SCALE * W_SCALE);
    }
    prec[(d, d)] += 1.0 / (B_SCALE * B_SCALE);
    let cov = prec
        .clone()
        .cholesky()
        .expect("the precision is positive definite")
        .inverse();
    let mean = &cov * phi.tr_mul(y) / (SIGMA * SIGMA);
    (mean, cov)
}

/// One parameter element under every method.
#[derive(Debug, Clone)]
pub struct ParamRow {
    /// Flat name: `w.1`, `b`.
    pub name: String,
    /// Exact posterior mean.
    pub exact_mean: f64,
    /// Exact posterior sd.
    pub exact_sd: f64,
    /// The sd mean-field VI should find: `1 / sqrt(precision_jj)`.
    pub mean_field_sd: f64,
    /// (method, mean, sd, mcse of the mean if MCMC).
    pub fits: Vec<(&'static str, f64, f64, Option<f64>)>,
}

/// Pointwise predictive mean and central 95% band over the grid.
#[derive(Debug, Clone)]
pub struct Band {
    /// `exact`, `VI`, `Laplace` or `NUTS`.
    pub method: &'static str,
    /// Mean at each grid point.
    pub mean: Vec<f64>,
    /// 2.5% quantile.
    pub lower: Vec<f64>,
    /// 97.5% quantile.
    pub upper: Vec<f64>,
}

/// What the example printed, and what its figures show.
pub struct Report {
    /// Number of observations.
    pub n: usize,
    /// Per parameter element.
    pub params: Vec<ParamRow>,
    /// The grid of inputs.
    pub grid: Vec<f64>,
    /// Exact band first, then VI, Laplace, NUTS.
    pub bands: Vec<Band>,
    /// Predictive draws at the grid, per method (VI, Laplace, NUTS).
    pub predictive: Vec<(&'static str, Vec<Vec<f64>>)>,
    /// The data (x, y).
    pub data: (Vec<f64>, Vec<f64>),
    /// The fits (VI, Laplace, NUTS).
    pub fits: Vec<Posterior>,
}

/// 97.5% quantile of the standard normal: `scipy.stats.norm.ppf(0.975)`.
const Z975: f64 = 1.959_963_984_540_054;

/// Posterior predictive draws at each grid point, one row per posterior draw: the model
/// built on the grid (with placeholder outputs) simulates `y` at each posterior draw
/// (`Posterior::predictive`).
fn predictive(
    fit: &Posterior,
    grid: &[f64],
    seed: u64,
) -> Result<Vec<Vec<f64>>, Box<dyn std::error::Error>> {
    let x = DMatrix::from_column_slice(grid.len(), 1, grid);
    let at_grid = linear_regression(&x, &DVector::zeros(grid.len()), SIGMA)?;
    Ok(fit.predictive(&at_grid, seed)?.draws("y")?.to_vec())
}

/// Pointwise mean and central 95% interval (NumPy's linear quantile), by the runtime's
/// `stats::quantile_band`.
fn summarise(method: &'static str, draws: &[Vec<f64>]) -> Result<Band, vi::stats::BandError> {
    let band = vi::stats::quantile_band(draws, 0.95)?;
    Ok(Band {
        method,
        mean: band.mean,
        lower: band.lower,
        upper: band.upper,
    })
}

/// Fits the regression by VI, Laplace and NUTS (`small`: 20 observations and fewer NUTS
/// draws; otherwise 50).
///
/// # Errors
/// A fit's error.
pub fn run(small: bool) -> Result<Report, Box<dyn std::error::Error>> {
    let n = if small { 20 } else { 50 };
    let (x, y) = data(n);
    let (mean, cov) = exact_posterior(&x, &y);
    let model = linear_regression(&x, &y, SIGMA)?;
    let vi = Vi::default().seed(SEED).fit(&model)?;
    let laplace = Laplace::default().seed(SEED).fit(&model)?;
    let nuts = if small {
        Nuts::default().seed(SEED).chains(2).warmup(300).draws(500)
    } else {
        Nuts::default().seed(SEED)
    }
    .fit(&model)?;
    let fits = vec![vi, laplace, nuts];

    let prec_diag = cov
        .clone()
        .try_inverse()
        .expect("covariance is invertible")
        .diagonal();
    let names = model.layout().flat_names();
    let summaries: Vec<_> = fits.iter().map(|f| (f.method(), f.summary())).collect();
    let params = names
        .iter()
        .enumerate()
        .map(|(j, name)| ParamRow {
            name: name.clone(),
            exact_mean: mean[j],
            exact_sd: cov[(j, j)].sqrt(),
            mean_field_sd: 1.0 / prec_diag[j].sqrt(),
            fits: summaries
                .iter()
                .map(|(m, s)| {
                    let r = &s.rows[j];
                    (*m, r.mean, r.sd, r.mcse_mean)
                })
                .collect(),
        })
        .collect();

    let grid: Vec<f64> = (0..=80).map(|i| -4.0 + 0.1 * i as f64).collect();
    let mut exact = Band {
        method: "exact",
        mean: Vec::new(),
        lower: Vec::new(),
        upper: Vec::new(),
    };
    for &g in &grid {
        let phi = DVector::from_column_slice(&[g, 1.0]);
        let m = phi.dot(&mean);
        let s = ((phi.transpose() * &cov * &phi)[(0, 0)] + SIGMA * SIGMA).sqrt();
        exact.mean.push(m);
        exact.lower.push(m - Z975 * s);
        exact.upper.push(m + Z975 * s);
    }
    let mut bands = vec![exact];
    let mut pred = Vec::new();
    for (k, fit) in fits.iter().enumerate() {
        let draws = predictive(fit, &grid, SEED + k as u64)?;
        bands.push(summarise(fit.method(), &draws)?);
        pred.push((fit.method(), draws));
    }
    Ok(Report {
        n,
        params,
        grid,
        bands,
        predictive: pred,
        data: (x.as_slice().to_vec(), y.as_slice().to_vec()),
        fits,
    })
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "Linear regression, {} observations, noise sd {SIGMA} known",
            self.n
        )?;
        writeln!(
            f,
            "{:<6} {:<8} {:>9} {:>9} {:>9}",
            "param", "method", "mean", "sd", "mcse"
        )?;
        for p in &self.params {
            writeln!(
                f,
                "{:<6} {:<8} {:>9.4} {:>9.4} {:>9}",
                p.name, "exact", p.exact_mean, p.exact_sd, "-"
            )?;
            writeln!(
                f,
                "{:<6} {:<8} {:>9} {:>9.4} {:>9}",
                "", "(mf opt)", "", p.mean_field_sd, ""
            )?;
            for (m, mean, sd, mcse) in &p.fits {
                let mcse = mcse.map_or("-".to_string(), |v| format!("{v:.4}"));
                writeln!(
                    f,
                    "{:<6} {:<8} {:>9.4} {:>9.4} {:>9}",
                    "", m, mean, sd, mcse
                )?;
            }
        }
        writeln!(f)?;
        writeln!(
            f,
            "Posterior predictive at x = -4, 0, 4: mean [2.5%, 97.5%]"
        )?;
        for b in &self.bands {
            write!(f, "{:<8}", b.method)?;
            for j in [0, self.grid.len() / 2, self.grid.len() - 1] {
                write!(
                    f,
                    "  {:>7.3} [{:>7.3}, {:>7.3}]",
                    b.mean[j], b.lower[j], b.upper[j]
                )?;
            }
            writeln!(f)?;
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
    let mut paths = Vec::new();
    // One panel per method: its predictive mean and 95% band against the exact band.
    let exact = &report.bands[0];
    let panels: Vec<Figure> = report.bands[1..]
        .iter()
        .enumerate()
        .map(|(k, b)| {
            Figure::new(format!("{} posterior predictive", b.method))
                .x_label("x")
                .y_label("y")
                .legend(Corner::UpperLeft)
                .line_and_band(
                    &format!("{} mean", b.method),
                    &format!("{} 95% band", b.method),
                    &report.grid,
                    &b.mean,
                    &b.lower,
                    &b.upper,
                )
                .colour(k)
                .reference("exact mean and 95% band", &report.grid, &exact.mean)
                .reference("", &report.grid, &exact.lower)
                .reference("", &report.grid, &exact.upper)
                .points("data", &report.data.0, &report.data.1)
                .colour(3)
        })
        .collect();
    let path = dir.join("predictive.svg");
    vi::plot::save_stacked(&panels, &path)?;
    paths.push(path);

    let fits: Vec<(&str, &Posterior)> = report.fits.iter().map(|f| (f.method(), f)).collect();
    for (j, p) in report.params.iter().enumerate() {
        let (m, s) = (p.exact_mean, p.exact_sd);
        let density = move |v: f64| {
            (-0.5 * ((v - m) / s).powi(2)).exp() / (s * (2.0 * std::f64::consts::PI).sqrt())
        };
        let (name, element) = if j + 1 < report.params.len() {
            ("w", j)
        } else {
            ("b", 0)
        };
        let path = dir.join(format!("density_{}.svg", p.name));
        vi::plot::posterior_densities(&fits, name, element, Some(&density), &path)?;
        paths.push(path);
    }
    let path = dir.join("nuts_trace_w.svg");
    vi::plot::trace_plots(&report.fits[2], "w", &path)?;
    paths.push(path);
    Ok(paths)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let report = run(common::small_requested())?;
    println!("{report}");
    #[cfg(feature = "plot")]
    for path in figures(&report, &common::plot_dir("linear_regression"))? {
        println!("wrote {}", path.display());
    }
    #[cfg(not(feature = "plot"))]
    println!("(no figures: run with `--features plot` to write them)");
    Ok(())
}
