//! The evidence lower bound. For a conjugate model the log evidence, the ELBO of any q and
//! KL(q || posterior) are all known in closed form, so the identity
//! `ln p(y) = ELBO(q) + KL(q || p(theta | y))` can be checked numerically for several q;
//! then `Vi` maximises the ELBO and its trace climbs to the log evidence.
//!
//! ```text
//! cargo run --release --features plot --example elbo          # full size
//! cargo run --release --features plot --example elbo -- small # quick
//! ```
//! Figures go to `target/plots/elbo/`.
//!
//! The model: `theta ~ Normal(0, TAU)`, `y[i] ~ Normal(theta, SIGMA)`.

mod common;

use vi::dist::{LogDensity, Normal};
use vi::infer::rng_for;
use vi::lecture::{kl_normal, monte_carlo, Estimate};
use vi::{Diagnostics, Model, ParamLayout, Posterior, Transform, Vi};

/// The observations.
pub const Y: [f64; 10] = [1.2, 0.4, 2.1, 1.7, 0.9, 1.5, 2.6, 0.2, 1.1, 1.8];
/// Known noise sd.
pub const SIGMA: f64 = 1.0;
/// Prior sd of theta.
pub const TAU: f64 = 2.0;
const SEED: u64 = 4;
const LN_SQRT_2PI: f64 = vi::math::LN_SQRT_2PI;

/// `theta ~ Normal(0, TAU)`, `y ~ Normal(theta, SIGMA)`, with every normalising constant,
/// so its log density is the log joint ln p(y, theta). Written by hand against `Model`.
pub struct NormalMean {
    layout: ParamLayout,
}

impl NormalMean {
    /// The model of the observations `Y`.
    pub fn new() -> Self {
        let mut layout = ParamLayout::new();
        layout.push("theta", vec![], Transform::Identity);
        NormalMean { layout }
    }
}

impl Default for NormalMean {
    fn default() -> Self {
        Self::new()
    }
}

/// ln p(y, theta).
pub fn log_joint(theta: f64) -> f64 {
    let lik: f64 = Y
        .iter()
        .map(|y| -0.5 * ((y - theta) / SIGMA).powi(2) - SIGMA.ln() - LN_SQRT_2PI)
        .sum();
    lik - 0.5 * (theta / TAU).powi(2) - TAU.ln() - LN_SQRT_2PI
}

impl Model for NormalMean {
    fn layout(&self) -> &ParamLayout {
        &self.layout
    }

    fn log_density_grad_jac(&self, theta: &[f64], grad: &mut [f64], _jacobian: bool) -> f64 {
        let t = theta[0];
        grad[0] = Y.iter().map(|y| (y - t) / (SIGMA * SIGMA)).sum::<f64>() - t / (TAU * TAU);
        log_joint(t)
    }
}

/// The exact posterior N(m, s).
pub fn posterior() -> Normal {
    let prec = 1.0 / (TAU * TAU) + Y.len() as f64 / (SIGMA * SIGMA);
    let mean = Y.iter().sum::<f64>() / (SIGMA * SIGMA) / prec;
    Normal::new(mean, prec.sqrt().recip()).expect("positive sd")
}

/// The log evidence ln p(y) = ln p(y, theta) - ln p(theta | y), at any theta.
pub fn log_evidence() -> f64 {
    let post = posterior();
    log_joint(post.mu()) - post.ln_density(post.mu())
}

/// The ELBO of q = N(m, s) in closed form: E_q[ln p(y, theta)] + H(q).
pub fn elbo_closed_form(q: &Normal) -> f64 {
    let (m, s) = (q.mu(), q.sigma());
    let lik: f64 = Y
        .iter()
        .map(|y| -((y - m).powi(2) + s * s) / (2.0 * SIGMA * SIGMA) - SIGMA.ln() - LN_SQRT_2PI)
        .sum();
    let prior = -(m * m + s * s) / (2.0 * TAU * TAU) - TAU.ln() - LN_SQRT_2PI;
    let entropy = s.ln() + LN_SQRT_2PI + 0.5;
    lik + prior + entropy
}

/// One candidate q.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// How q was chosen.
    pub label: String,
    /// q's mean.
    pub mu: f64,
    /// q's sd.
    pub sigma: f64,
    /// ELBO(q), closed form.
    pub elbo: f64,
    /// ELBO(q), Monte Carlo.
    pub elbo_mc: Estimate,
    /// KL(q || posterior), closed form.
    pub kl: f64,
}

/// What the example printed.
pub struct Report {
    /// ln p(y).
    pub log_evidence: f64,
    /// The exact posterior (mean, sd).
    pub posterior: (f64, f64),
    /// The candidates.
    pub candidates: Vec<Candidate>,
    /// VI's posterior (mean, sd), by the default deterministic method.
    pub vi: (f64, f64),
    /// Its ELBO on fresh draws, with the Monte Carlo standard error.
    pub vi_elbo: (f64, f64),
    /// The stochastic method's (Stan's ADVI) posterior (mean, sd).
    pub advi: (f64, f64),
    /// The mean of the last tenth of the stochastic method's ELBO trace.
    pub vi_final_elbo: f64,
    /// The VI fit (deterministic).
    pub fit: Posterior,
    /// The stochastic VI fit.
    pub advi_fit: Posterior,
    /// The deterministic method started from a random point rather than the Laplace mode
    /// (which is the optimum itself here), for the figure of its optimisation.
    pub cold_fit: Posterior,
}

/// Checks the identity for five q and fits the model by VI (`small`: fewer Monte Carlo
/// draws for the ELBO estimates).
///
/// # Errors
/// A fit's or the lecture tools' errors.
pub fn run(small: bool) -> Result<Report, Box<dyn std::error::Error>> {
    let post = posterior();
    let (m, s) = (post.mu(), post.sigma());
    let n_mc = if small { 2_000 } else { 100_000 };
    let qs = [
        ("the posterior", m, s),
        ("prior-like N(0, 1)", 0.0, 1.0),
        ("mean + 0.5", m + 0.5, s),
        ("twice as wide", m, 2.0 * s),
        ("half as wide", m, 0.5 * s),
    ];
    let mut candidates = Vec::new();
    for (k, (label, mu, sigma)) in qs.into_iter().enumerate() {
        let q = Normal::new(mu, sigma)?;
        let elbo_mc = monte_carlo(
            &q,
            |t: &f64| log_joint(*t) - q.ln_density(*t),
            n_mc,
            &mut rng_for(SEED, k as u64),
        )?;
        candidates.push(Candidate {
            label: label.to_string(),
            mu,
            sigma,
            elbo: elbo_closed_form(&q),
            elbo_mc,
            kl: kl_normal(&q, &post),
        });
    }
    // The default: the ELBO over fixed draws, maximised to a gradient tolerance.
    let fit = Vi::default().seed(SEED).fit(&NormalMean::new())?;
    let vi_elbo = match fit.diagnostics() {
        Diagnostics::Vi(d) => (d.elbo, d.elbo_mcse),
        _ => (f64::NAN, f64::NAN),
    };
    // Stan's ADVI: noisy gradient steps on fresh draws every step.
    let advi_fit = Vi::stochastic().seed(SEED).fit(&NormalMean::new())?;
    let cold_fit = Vi::default()
        .seed(SEED)
        .laplace_start(false)
        .fit(&NormalMean::new())?;
    let trace = match advi_fit.diagnostics() {
        Diagnostics::Vi(d) => d.elbo_trace.clone(),
        _ => Vec::new(),
    };
    let tail: Vec<f64> = trace[trace.len() - trace.len().div_ceil(10)..]
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    let vi_final_elbo = tail.iter().sum::<f64>() / tail.len() as f64;
    Ok(Report {
        log_evidence: log_evidence(),
        posterior: (m, s),
        candidates,
        vi: (fit.mean("theta")?[0], fit.sd("theta")?[0]),
        vi_elbo,
        advi: (advi_fit.mean("theta")?[0], advi_fit.sd("theta")?[0]),
        vi_final_elbo,
        fit,
        advi_fit,
        cold_fit,
    })
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "theta ~ N(0, {TAU}), {} observations y ~ N(theta, {SIGMA})",
            Y.len()
        )?;
        writeln!(
            f,
            "exact posterior N({:.4}, {:.4}); log evidence ln p(y) = {:.6}",
            self.posterior.0, self.posterior.1, self.log_evidence
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "{:<20} {:>7} {:>7} {:>11} {:>20} {:>9} {:>11}",
            "q", "mean", "sd", "ELBO", "ELBO (Monte Carlo)", "KL", "ELBO + KL"
        )?;
        for c in &self.candidates {
            writeln!(
                f,
                "{:<20} {:>7.4} {:>7.4} {:>11.5} {:>11.4} +/- {:<5.3} {:>9.5} {:>11.6}",
                c.label,
                c.mu,
                c.sigma,
                c.elbo,
                c.elbo_mc.mean,
                c.elbo_mc.std_error(),
                c.kl,
                c.elbo + c.kl
            )?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "VI (default, deterministic ELBO): posterior N({:.4}, {:.4}); ELBO {:.5} +/- {:.5} \
             on fresh draws vs log evidence {:.5}",
            self.vi.0, self.vi.1, self.vi_elbo.0, self.vi_elbo.1, self.log_evidence
        )?;
        writeln!(
            f,
            "VI (stochastic, Stan's ADVI):     posterior N({:.4}, {:.4}); final ELBO {:.5}",
            self.advi.0, self.advi.1, self.vi_final_elbo
        )
    }
}

/// Writes the figures into `dir` and returns their paths.
#[cfg(feature = "plot")]
pub fn figures(
    report: &Report,
    dir: &std::path::Path,
) -> Result<Vec<std::path::PathBuf>, vi::plot::PlotError> {
    let trace = dir.join("elbo_trace.svg");
    vi::plot::elbo_trace(&report.advi_fit, &trace)?;

    // Both methods' ELBO against the model gradients they cost, with the exact mean-field
    // optimum (here the log evidence: the posterior is Gaussian, so mean-field is exact).
    let traces = dir.join("elbo_methods.svg");
    let series = |fit: &Posterior| match fit.diagnostics() {
        Diagnostics::Vi(d) => d
            .trace_gradients
            .iter()
            .zip(&d.elbo_trace)
            .filter(|(_, e)| e.is_finite())
            .map(|(&g, &e)| ((g as f64).log10(), e))
            .unzip(),
        _ => (Vec::new(), Vec::new()),
    };
    let (gx, gy): (Vec<f64>, Vec<f64>) = series(&report.cold_fit);
    let (sx, sy): (Vec<f64>, Vec<f64>) = series(&report.advi_fit);
    let x_hi = gx.iter().chain(&sx).copied().fold(1.0, f64::max);
    let y_lo = gy
        .iter()
        .chain(&sy)
        .copied()
        .fold(f64::INFINITY, f64::min)
        .max(report.log_evidence - 40.0);
    let span = report.log_evidence - y_lo;
    vi::plot::Figure::new("Maximising the ELBO: fixed draws + L-BFGS vs stochastic gradients")
        .x_label("log10 model gradient evaluations")
        .y_label("ELBO (nats)")
        .x_range(0.0, x_hi)
        .y_range(y_lo - 0.05 * span, report.log_evidence + 0.3 * span)
        .line("deterministic (default) from a random start", &gx, &gy)
        .points("its evaluations of the objective", &gx, &gy)
        .line(
            "stochastic (Stan's ADVI), after its step-size search",
            &sx,
            &sy,
        )
        .reference(
            "mean-field optimum (= log evidence here)",
            &[0.0, x_hi],
            &[report.log_evidence; 2],
        )
        .save(&traces)?;

    // ELBO and KL as q's mean moves, its sd fixed at the posterior's: they always add up to
    // the log evidence.
    let (m, s) = report.posterior;
    let grid = vi::plot::linspace(m - 4.0 * s, m + 4.0 * s, 200);
    let post = posterior();
    let mut elbo = Vec::new();
    let mut kl = Vec::new();
    for &mu in &grid {
        let q = Normal::new(mu, s).expect("positive sd");
        elbo.push(elbo_closed_form(&q));
        kl.push(kl_normal(&q, &post));
    }
    let sum: Vec<f64> = elbo.iter().zip(&kl).map(|(a, b)| a + b).collect();
    let identity = dir.join("elbo_plus_kl.svg");
    vi::plot::Figure::new("ln p(y) = ELBO(q) + KL(q || posterior), q = N(mean, posterior sd)")
        .x_label("mean of q")
        .y_label("nats")
        // Room above the log evidence for the legend.
        .y_range(
            elbo.iter().copied().fold(f64::INFINITY, f64::min) - 0.5,
            report.log_evidence + 5.0,
        )
        .line("ELBO(q)", &grid, &elbo)
        .line("ELBO(q) + KL(q || posterior)", &grid, &sum)
        .reference(
            "log evidence",
            &grid,
            &vec![report.log_evidence; grid.len()],
        )
        .save(&identity)?;
    Ok(vec![trace, traces, identity])
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let report = run(common::small_requested())?;
    println!("{report}");
    #[cfg(feature = "plot")]
    for path in figures(&report, &common::plot_dir("elbo"))? {
        println!("wrote {}", path.display());
    }
    #[cfg(not(feature = "plot"))]
    println!("(no figures: run with `--features plot` to write them)");
    Ok(())
}
