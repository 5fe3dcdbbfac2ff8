//! Optimising a KL divergence: fit q = N(mu, sigma) to a target p by stochastic gradient
//! descent on KL(q || p) = E_q[-ln p(x)] - H(q), the expectation's gradient estimated by
//! the reparameterization trick and the entropy's in closed form.
//!
//! ```text
//! cargo run --release --features plot --example optimizing_kl          # full size
//! cargo run --release --features plot --example optimizing_kl -- small # quick
//! ```
//! Figures go to `target/plots/optimizing_kl/`.

mod common;

use vi::dist::Normal;
use vi::infer::rng_for;
use vi::lecture::{kl_normal, reparam_gradient};

/// The target p = N(P_MU, P_SIGMA).
pub const P: (f64, f64) = (3.0, 0.5);
/// The starting q.
pub const START: (f64, f64) = (-2.0, 2.0);
const LEARNING_RATE: f64 = 0.05;
const DRAWS_PER_STEP: usize = 10;
const SEED: u64 = 9;

/// One step of the descent.
#[derive(Debug, Clone, Copy)]
pub struct Step {
    /// Step number (0: the start).
    pub step: usize,
    /// q's mean.
    pub mu: f64,
    /// q's sd.
    pub sigma: f64,
    /// KL(q || p) in closed form.
    pub kl: f64,
}

/// What the example printed.
#[derive(Debug, Clone)]
pub struct Report {
    /// Every step, the start first.
    pub steps: Vec<Step>,
}

/// Runs the descent (`small`: 200 steps; otherwise 400) on (mu, ln sigma).
///
/// # Errors
/// The lecture tools' errors.
pub fn run(small: bool) -> Result<Report, Box<dyn std::error::Error>> {
    let p = Normal::new(P.0, P.1)?;
    let n_steps = if small { 200 } else { 400 };
    let (mut mu, mut ln_sigma) = (START.0, START.1.ln());
    let mut rng = rng_for(SEED, 0);
    let mut steps = Vec::with_capacity(n_steps + 1);
    for step in 0..=n_steps {
        let sigma = ln_sigma.exp();
        let q = Normal::new(mu, sigma)?;
        steps.push(Step {
            step,
            mu,
            sigma,
            kl: kl_normal(&q, &p),
        });
        if step == n_steps {
            break;
        }
        // d/dx of -ln p(x) is (x - P_MU) / P_SIGMA^2; the entropy ln sigma + const adds
        // -1/sigma to d/dsigma.
        let g = reparam_gradient(&q, |x| (x - P.0) / (P.1 * P.1), DRAWS_PER_STEP, &mut rng)?;
        let (g_mu, g_sigma) = (g.mu.mean, g.sigma.mean - 1.0 / sigma);
        // A decaying step (Robbins-Monro) lets the noisy gradient settle.
        let rate = LEARNING_RATE / (1.0 + step as f64 / 50.0);
        mu -= rate * g_mu;
        // Chain rule to ln sigma, the step clipped while the gradient is large.
        ln_sigma -= rate * (sigma * g_sigma).clamp(-10.0, 10.0);
    }
    Ok(Report { steps })
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "Fit q = N(mu, sigma) to p = N({}, {}) by gradient descent on KL(q || p)",
            P.0, P.1
        )?;
        writeln!(
            f,
            "({DRAWS_PER_STEP} reparameterised draws per step, learning rate {LEARNING_RATE} / (1 + step / 50))"
        )?;
        writeln!(
            f,
            "{:>6} {:>9} {:>9} {:>12}",
            "step", "mu", "sigma", "KL(q || p)"
        )?;
        let last = self.steps.len() - 1;
        for s in self
            .steps
            .iter()
            .filter(|s| s.step % 50 == 0 || s.step < 5 || s.step == last)
        {
            writeln!(
                f,
                "{:>6} {:>9.4} {:>9.4} {:>12.6}",
                s.step, s.mu, s.sigma, s.kl
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
    let x = vi::plot::linspace(-7.0, 6.0, 500);
    let density = |mu: f64, sigma: f64| -> Vec<f64> {
        let d = Normal::new(mu, sigma).expect("positive sd");
        x.iter().map(|&v| d.ln_density(v).exp()).collect()
    };
    let mut fig = vi::plot::Figure::new("q approaching p")
        .x_label("x")
        .y_label("density");
    let last = report.steps.len() - 1;
    for k in [0, 3, 8, 20, last] {
        let s = report.steps[k.min(last)];
        fig = fig.line(
            &format!("q after {} steps", s.step),
            &x,
            &density(s.mu, s.sigma),
        );
    }
    let approach = dir.join("q_approaching_p.svg");
    fig.reference("target p", &x, &density(P.0, P.1))
        .save(&approach)?;

    let step: Vec<f64> = report.steps.iter().map(|s| s.step as f64 + 1.0).collect();
    let kl: Vec<f64> = report.steps.iter().map(|s| s.kl).collect();
    let loss = dir.join("loss.svg");
    vi::plot::Figure::new("KL(q || p) during the descent")
        .x_label("step + 1")
        .y_label("KL(q || p)")
        .log_log()
        .line("KL(q || p)", &step, &kl)
        .save(&loss)?;
    Ok(vec![approach, loss])
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let report = run(common::small_requested())?;
    println!("{report}");
    #[cfg(feature = "plot")]
    for path in figures(&report, &common::plot_dir("optimizing_kl"))? {
        println!("wrote {}", path.display());
    }
    #[cfg(not(feature = "plot"))]
    println!("(no figures: run with `--features plot` to write them)");
    Ok(())
}
