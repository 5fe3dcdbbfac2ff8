//! The No-U-Turn sampler: multinomial NUTS with nutpie's or Stan's adaptation and a
//! diagonal, dense or low-rank metric.
//!
//! Files: this one holds the settings ([`Nuts`], [`Metric`], [`Adaptation`]) and runs the
//! chains; `tree.rs` is the transition (Stan's multinomial NUTS with the generalised
//! U-turn criterion, trees as values naming states in one pool); `metric.rs` the metrics
//! and their estimators; `adapt.rs` the warmup schedules and [`AdaptOptions`];
//! `report.rs` what a run reports ([`NutsDiagnostics`]).
//!
//! The default warmup is nutpie's (Seyboldt et al. 2024; nuts-rs): the metric is estimated
//! from the draws *and their gradients* in windows that grow, and the step size alone is
//! tuned in the last 15% of warmup. It usually needs far fewer gradient evaluations than
//! Stan's windowed adaptation, which stays available as [`Adaptation::Stan`].
//!
//! The default metric is [`Metric::Auto`]: dense for models of at most
//! [`AUTO_DENSE_MAX_DIM`] (50) parameters whose warmup estimate shows strong correlations
//! (a correlation matrix with condition number above [`AUTO_DENSE_CONDITION`] (10), for
//! two parameters |corr| > 0.82), and diagonal otherwise. A dense leapfrog step costs
//! O(d^2) on top of the gradient; diagonal and low-rank ones O(d) and O(d k).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

mod adapt;
mod metric;
mod report;
mod tree;

pub use adapt::{AdaptOptions, AUTO_DENSE_CONDITION, AUTO_DENSE_MAX_DIM};
pub use report::{
    e_bfmi, ChainDiagnostics, NutsDiagnostics, ParamDiagnostics, SamplerStats, ESS_THRESHOLD,
    E_BFMI_THRESHOLD, RHAT_THRESHOLD,
};

use super::csv::{f64_str, CsvMethod, CsvWriter, METRIC_COMMENT};
use super::guard::Guarded;
use super::init::initial_point;
use super::posterior::{Chain, Diagnostics, Posterior};
use super::rng_for;
use crate::error::FitError;
use crate::model::Model;
use crate::progress::Bars;
use metric::MetricState;
use tree::Sampler;

/// The default number of initial points drawn per chain with nutpie's adaptation, of which
/// the one with the highest log density is kept ([`Nuts::init_candidates`]).
pub const INIT_CANDIDATES: usize = 10;

/// The metric (the kinetic energy's covariance `M^-1`) that warmup adapts.
///
/// ```
/// use vi_runtime::infer::nuts::{Metric, Nuts};
/// let dense = Nuts::default().metric(Metric::Dense);
/// let low_rank = Nuts::default().metric(Metric::LowRank(10));
/// # let _ = (dense, low_rank);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Metric {
    /// The default: dense for at most [`AUTO_DENSE_MAX_DIM`] parameters when warmup finds
    /// strong correlations (condition number of the estimated correlation matrix above
    /// [`AUTO_DENSE_CONDITION`]), else diagonal. The choice is made afresh at every
    /// re-estimation of the metric during warmup, so a chain may end with either; the
    /// diagnostics name the metric each chain used. (Deciding once, at the first window of
    /// 50 draws in equilibrium, was tried: it left AR(5) diagonal in two of four chains,
    /// as such early windows understate correlations that later ones show.) With nutpie's adaptation a matrix is
    /// estimated only from a window of draws that passes a test of equilibrium (Stein's
    /// identity `E[(x - E x) . grad log p] = -d`, within a factor 2): draws from a chain
    /// still climbing out of its initial point drift together, look strongly correlated
    /// and gave absurd dense metrics (ARMA(1,1) from an initial MA coefficient beyond 1:
    /// step sizes near 1e-150 and R-hat 3.4 before this test). Such windows get the
    /// diagonal estimate, and every new metric gets a step size of its own (Stan's search,
    /// then dual averaging restarted).
    #[default]
    Auto,
    /// A diagonal metric: O(d) per leapfrog step.
    Diag,
    /// A dense metric: O(d^2) per leapfrog step; removes linear correlations.
    Dense,
    /// A diagonal metric corrected in at most `k` directions (nutpie's low-rank metric,
    /// the eigenvectors of the draws' and gradients' covariances furthest from the
    /// diagonal): O(d k) per leapfrog step.
    LowRank(usize),
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Metric::Auto => write!(f, "auto"),
            Metric::Diag => write!(f, "diag"),
            Metric::Dense => write!(f, "dense"),
            Metric::LowRank(k) => write!(f, "low-rank({k})"),
        }
    }
}

/// The warmup schedule (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Adaptation {
    /// nutpie's: metric from draws and gradients in growing windows, a final step-size
    /// window. The default.
    #[default]
    Nutpie,
    /// Stan's windowed adaptation (75 / 25 / 50), metric from the draws only.
    Stan,
}

impl fmt::Display for Adaptation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Adaptation::Nutpie => write!(f, "nutpie"),
            Adaptation::Stan => write!(f, "Stan"),
        }
    }
}

/// The NUTS engine and its settings; [`Nuts::fit`] runs it.
///
/// Defaults are CmdStan's where they apply: 4 chains of 1000 warmup and 1000 sampling
/// iterations, target acceptance statistic 0.8, maximum tree depth 10, dual averaging with
/// gamma 0.05, t0 10, kappa 0.75, initial values uniform in (-2, 2), no step-size jitter;
/// warmup is nutpie's and the metric [`Metric::Auto`] (dense for up to 50 strongly
/// correlated parameters, else diagonal), and each chain starts from the best (highest log
/// density) of [`INIT_CANDIDATES`] uniform points. `.adaptation(Adaptation::Stan)
/// .metric(Metric::Diag)` is CmdStan's sampler, initial point included.
///
/// ```
/// use vi_runtime::infer::nuts::Nuts;
/// use vi_runtime::{Model, ParamLayout, Transform};
///
/// /// A standard normal.
/// struct StdNormal(ParamLayout);
/// impl Model for StdNormal {
///     fn layout(&self) -> &ParamLayout { &self.0 }
///     fn log_density_grad_jac(&self, theta: &[f64], grad: &mut [f64], _: bool) -> f64 {
///         grad[0] = -theta[0];
///         -0.5 * theta[0] * theta[0]
///     }
/// }
/// let mut layout = ParamLayout::new();
/// layout.push("z", vec![], Transform::Identity);
///
/// let fit = Nuts::default().seed(7).chains(2).warmup(200).draws(200).fit(&StdNormal(layout))?;
/// assert_eq!(fit.num_draws(), 400);
/// assert!(fit.mean("z")?[0].abs() < 0.3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Nuts {
    seed: u64,
    chains: usize,
    warmup: usize,
    draws: usize,
    thin: usize,
    max_depth: usize,
    target_accept: f64,
    step_size: f64,
    step_size_jitter: f64,
    init_radius: f64,
    init_candidates: Option<usize>,
    adapt: AdaptOptions,
    adaptation: Adaptation,
    metric: Metric,
    max_energy_error: f64,
    threads: Option<usize>,
    progress: bool,
    output: Option<PathBuf>,
}

impl Default for Nuts {
    fn default() -> Self {
        Nuts {
            seed: 0,
            chains: 4,
            warmup: 1000,
            draws: 1000,
            thin: 1,
            max_depth: 10,
            target_accept: 0.8,
            step_size: 1.0,
            step_size_jitter: 0.0,
            init_radius: 2.0,
            init_candidates: None,
            adapt: AdaptOptions::default(),
            adaptation: Adaptation::Nutpie,
            metric: Metric::Auto,
            max_energy_error: 1000.0,
            threads: None,
            progress: true,
            output: None,
        }
    }
}

impl Nuts {
    /// The seed: the same seed gives the same draws, whatever the number of threads.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// The number of chains (default 4).
    pub fn chains(mut self, chains: usize) -> Self {
        self.chains = chains;
        self
    }
    /// Warmup (adaptation) iterations per chain, not kept (default 1000).
    pub fn warmup(mut self, warmup: usize) -> Self {
        self.warmup = warmup;
        self
    }
    /// Draws kept per chain after warmup (default 1000).
    pub fn draws(mut self, draws: usize) -> Self {
        self.draws = draws;
        self
    }
    /// Keep every `thin`-th draw (default 1): `draws` iterations are run and
    /// `ceil(draws / thin)` kept, as CmdStan's `thin`.
    pub fn thin(mut self, thin: usize) -> Self {
        self.thin = thin;
        self
    }
    /// The maximum tree depth (default 10: at most 2^10 - 1 leapfrog steps per draw).
    pub fn max_depth(mut self, max_depth: usize) -> Self {
        self.max_depth = max_depth;
        self
    }
    /// The target mean acceptance statistic of step-size adaptation, in (0, 1) (default 0.8,
    /// CmdStan's `adapt delta`). Raise it (0.9, 0.99) to remove divergences.
    pub fn target_accept(mut self, target_accept: f64) -> Self {
        self.target_accept = target_accept;
        self
    }
    /// The initial step size before adaptation (default 1), CmdStan's `stepsize`. Without
    /// warmup it is refined once by Stan's heuristic and then kept.
    pub fn step_size(mut self, step_size: f64) -> Self {
        self.step_size = step_size;
        self
    }
    /// Initial values are drawn uniformly in `(-radius, radius)` on the unconstrained scale
    /// (default 2), CmdStan's `init`.
    pub fn init_radius(mut self, radius: f64) -> Self {
        self.init_radius = radius;
        self
    }
    /// How many initial points each chain draws (uniform in `(-radius, radius)`, from the
    /// chain's own generator) before keeping the one with the highest log density. Default
    /// [`INIT_CANDIDATES`] (10) with nutpie's adaptation and 1 with Stan's, which is
    /// CmdStan's initialisation draw for draw. One random point can land where the
    /// posterior is finite but hopeless (ARMA(1,1) with an MA coefficient beyond 1, log
    /// density near -1e80), and a chain that adapts there may never leave; see
    /// [`best_initial_point`](super::init::best_initial_point) for the choice.
    pub fn init_candidates(mut self, n: usize) -> Self {
        self.init_candidates = Some(n);
        self
    }
    /// Stan's adaptation: width of the initial fast interval (default 75).
    pub fn init_buffer(mut self, n: usize) -> Self {
        self.adapt.init_buffer = n;
        self
    }
    /// Stan's adaptation: width of the final fast interval (default 50).
    pub fn term_buffer(mut self, n: usize) -> Self {
        self.adapt.term_buffer = n;
        self
    }
    /// Stan's adaptation: width of the first slow window; later windows double (default
    /// 25).
    pub fn window(mut self, n: usize) -> Self {
        self.adapt.window = n;
        self
    }
    /// Dual averaging: adaptation regularisation scale (default 0.05).
    pub fn gamma(mut self, gamma: f64) -> Self {
        self.adapt.gamma = gamma;
        self
    }
    /// Dual averaging: relaxation exponent (default 0.75).
    pub fn kappa(mut self, kappa: f64) -> Self {
        self.adapt.kappa = kappa;
        self
    }
    /// Dual averaging: adaptation iteration offset (default 10).
    pub fn t0(mut self, t0: f64) -> Self {
        self.adapt.t0 = t0;
        self
    }
    /// The warmup schedule (default [`Adaptation::Nutpie`]).
    pub fn adaptation(mut self, adaptation: Adaptation) -> Self {
        self.adaptation = adaptation;
        self
    }
    /// The metric to adapt (default [`Metric::Auto`]).
    pub fn metric(mut self, metric: Metric) -> Self {
        self.metric = metric;
        self
    }
    /// All the knobs of warmup at once.
    pub fn adapt_options(mut self, options: AdaptOptions) -> Self {
        self.adapt = options;
        self
    }
    /// The knobs of warmup in effect.
    pub fn adapt_settings(&self) -> &AdaptOptions {
        &self.adapt
    }
    /// Step-size jitter in [0, 1) (default 0), CmdStan's `stepsize_jitter`: each
    /// transition uses the adapted step size times a factor uniform in
    /// `(1 - jitter, 1 + jitter)`, which breaks resonances of trajectory lengths.
    pub fn step_size_jitter(mut self, jitter: f64) -> Self {
        self.step_size_jitter = jitter;
        self
    }
    /// The energy error above which a transition is divergent (default 1000).
    pub fn max_energy_error(mut self, max: f64) -> Self {
        self.max_energy_error = max;
        self
    }
    /// The number of worker threads (default: [`threads::threads`](crate::threads::threads),
    /// the machine's parallelism unless set, at most one per chain). The chains' threads
    /// share that bound: with 4 threads and 2 chains, each chain's big-data kernels use 2.
    /// The draws do not depend on it.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads);
        self
    }

    /// Whether to draw a progress bar per chain (default on; drawn only with the `progress`
    /// feature and when standard error is a terminal).
    pub fn progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }

    /// Writes each chain's draws, as they are made, to the CmdStan CSV file
    /// `dir/nuts-<chain>.csv` (chains numbered from 1; the directory is created if needed),
    /// flushed after every draw, with the settings as comments before the header and the
    /// adapted step size and inverse metric as comments after warmup, as CmdStan writes
    /// them. A run that is interrupted leaves valid files of what it drew; read them back
    /// with [`crate::read_csv`]. The in-memory posterior is returned as without it.
    ///
    /// ```
    /// use vi_runtime::infer::nuts::Nuts;
    /// use vi_runtime::{read_csv, Model, ParamLayout, Transform};
    ///
    /// struct StdNormal(ParamLayout);
    /// impl Model for StdNormal {
    ///     fn layout(&self) -> &ParamLayout { &self.0 }
    ///     fn log_density_grad_jac(&self, theta: &[f64], grad: &mut [f64], _: bool) -> f64 {
    ///         grad[0] = -theta[0];
    ///         -0.5 * theta[0] * theta[0]
    ///     }
    /// }
    /// let mut layout = ParamLayout::new();
    /// layout.push("z", vec![], Transform::Identity);
    /// let dir = std::env::temp_dir().join(format!("vi-nuts-doc-{}", std::process::id()));
    /// let fit = Nuts::default().seed(7).chains(2).warmup(100).draws(50).progress(false)
    ///     .output(&dir).fit(&StdNormal(layout))?;
    /// let back = read_csv([dir.join("nuts-1.csv"), dir.join("nuts-2.csv")])?;
    /// assert_eq!(back.draws("z")?, fit.draws("z")?);
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn output(mut self, dir: impl AsRef<Path>) -> Self {
        self.output = Some(dir.as_ref().to_path_buf());
        self
    }

    /// The configuration comments of a chain's CSV file, with CmdStan's names.
    fn csv_config(&self, chain: usize) -> Vec<String> {
        vec![
            format!("seed = {}", self.seed),
            format!("chain = {}", chain + 1),
            format!("num_warmup = {}", self.warmup),
            format!("num_samples = {}", self.draws),
            format!("thin = {}", self.thin),
            format!("max_depth = {}", self.max_depth),
            format!("delta = {}", f64_str(self.target_accept)),
            format!("stepsize = {}", f64_str(self.step_size)),
            format!("stepsize_jitter = {}", f64_str(self.step_size_jitter)),
            format!("metric = {}", self.metric),
            format!("adaptation = {}", self.adaptation),
        ]
    }

    fn validate(&self) -> Result<(), FitError> {
        let bad = |message: String| Err(FitError::InvalidSettings { message });
        if self.chains == 0 {
            return bad("NUTS needs at least one chain".into());
        }
        if self.draws == 0 {
            return bad("NUTS needs at least one draw per chain".into());
        }
        if self.thin == 0 {
            return bad("thin must be at least 1".into());
        }
        if self.max_depth == 0 || self.max_depth > 30 {
            return bad(format!(
                "max_depth must be in 1..=30, got {}",
                self.max_depth
            ));
        }
        if !(self.target_accept > 0.0 && self.target_accept < 1.0) {
            return bad(format!(
                "target_accept must be in (0, 1), got {}",
                self.target_accept
            ));
        }
        if !(self.step_size > 0.0 && self.step_size.is_finite()) {
            return bad(format!(
                "step_size must be positive and finite, got {}",
                self.step_size
            ));
        }
        if !(self.init_radius >= 0.0 && self.init_radius.is_finite()) {
            return bad(format!(
                "init_radius must be non-negative and finite, got {}",
                self.init_radius
            ));
        }
        if self.init_candidates == Some(0) {
            return bad("init_candidates must be at least 1".into());
        }
        if !(self.step_size_jitter >= 0.0 && self.step_size_jitter < 1.0) {
            return bad(format!(
                "step_size_jitter must be in [0, 1), got {}",
                self.step_size_jitter
            ));
        }
        if let Metric::LowRank(0) = self.metric {
            return bad("Metric::LowRank(k) needs k >= 1".into());
        }
        let a = &self.adapt;
        for (name, v) in [
            ("early_window", a.early_window),
            ("step_size_window", a.step_size_window),
        ] {
            if !(0.0..1.0).contains(&v) {
                return bad(format!("{name} must be in [0, 1), got {v}"));
            }
        }
        if a.early_window + a.step_size_window >= 1.0 {
            return bad(format!(
                "early_window + step_size_window must be below 1, got {} + {}",
                a.early_window, a.step_size_window
            ));
        }
        if !(a.window_growth >= 1.0 && a.window_growth.is_finite()) {
            return bad(format!(
                "window_growth must be at least 1, got {}",
                a.window_growth
            ));
        }
        for (name, v) in [("gamma", a.gamma), ("t0", a.t0)] {
            if !(v > 0.0 && v.is_finite()) {
                return bad(format!("{name} must be positive and finite, got {v}"));
            }
        }
        if !(a.kappa > 0.0 && a.kappa <= 1.0) {
            return bad(format!("kappa must be in (0, 1], got {}", a.kappa));
        }
        if self.max_energy_error.is_nan() || self.max_energy_error <= 0.0 {
            return bad(format!(
                "max_energy_error must be positive, got {}",
                self.max_energy_error
            ));
        }
        if self.threads == Some(0) {
            return bad("threads must be at least 1".into());
        }
        Ok(())
    }

    /// Runs the chains in parallel threads and returns their draws on the constrained scale,
    /// with [`NutsDiagnostics`].
    ///
    /// # Errors
    /// [`FitError::InvalidSettings`] for invalid settings, [`FitError::NoParameters`] for a
    /// model of dimension 0, [`FitError::NoFiniteStart`] when no initial point has a finite
    /// log density and gradient, [`FitError::Diverged`] when the step-size heuristic finds no
    /// usable step size (an improper or discontinuous posterior);
    /// [`FitError::ModelPanicked`] when these happen because the model's code panicked at
    /// every point tried; [`FitError::Output`] when the CSV files of
    /// [`Nuts::output`] cannot be written.
    ///
    /// A panic inside the model's code at a point a trajectory reaches rejects that point:
    /// the transition is divergent, as Stan rejects a proposal whose log density throws.
    /// Nothing is printed; the diagnostics count these points and name the first.
    pub fn fit<M: Model + ?Sized>(&self, model: &M) -> Result<Posterior, FitError> {
        self.validate()?;
        if model.dim() == 0 {
            return Err(FitError::NoParameters);
        }
        let guarded = Guarded::new(model);
        match self.fit_guarded(&guarded) {
            Err(e @ (FitError::NoFiniteStart { .. } | FitError::Diverged { .. })) => {
                Err(guarded.error().unwrap_or(e))
            }
            Err(e) => Err(e),
            Ok((layout, chains, mut diag)) => {
                diag.model_faults = guarded.faults();
                diag.model_fault = guarded.summary();
                Ok(Posterior::new(layout, chains, Diagnostics::Nuts(diag)))
            }
        }
    }

    #[allow(clippy::type_complexity)]
    fn fit_guarded<M: Model + ?Sized>(
        &self,
        model: &M,
    ) -> Result<(crate::model::ParamLayout, Vec<Chain>, NutsDiagnostics), FitError> {
        let start = Instant::now();
        let bars = if self.progress {
            Bars::new("NUTS")
        } else {
            Bars::hidden("NUTS")
        };
        let bars = &bars;
        // The chains' threads share the kernels' bound (`vi::threads`): each chain's kernels
        // use at most its share, so the total stays within it.
        let total = crate::threads::budget();
        let threads = self.threads.unwrap_or(total).clamp(1, self.chains);
        let share = (total / threads).max(1);
        let mut results: Vec<Option<Result<ChainRun, FitError>>> =
            (0..self.chains).map(|_| None).collect();
        if threads == 1 {
            for (c, slot) in results.iter_mut().enumerate() {
                *slot = Some(self.run_chain(model, c, bars));
            }
        } else {
            // Thread t runs chains t, t + threads, ...: each chain has its own generator, so
            // the assignment does not change the draws.
            std::thread::scope(|s| {
                let handles: Vec<_> = (0..threads)
                    .map(|t| {
                        s.spawn(move || {
                            crate::threads::with_budget(share, || {
                                (t..self.chains)
                                    .step_by(threads)
                                    .map(|c| (c, self.run_chain(model, c, bars)))
                                    .collect::<Vec<_>>()
                            })
                        })
                    })
                    .collect();
                for h in handles {
                    match h.join() {
                        Ok(runs) => {
                            for (c, r) in runs {
                                results[c] = Some(r);
                            }
                        }
                        Err(payload) => std::panic::resume_unwind(payload),
                    }
                }
            });
        }
        let runs = results
            .into_iter()
            .map(|r| r.expect("every chain was run"))
            .collect::<Result<Vec<_>, _>>()?;

        let layout = model.layout().clone();
        let chains: Vec<Chain> = runs
            .iter()
            .map(|r| Chain {
                draws: r.draws.clone(),
                lp: r.lp.clone(),
            })
            .collect();
        // The model's derived quantities join the draws, so they get R-hat and ESS too.
        let (layout, chains) = super::derived::with_derived(model, layout, chains);
        let d = layout.dim();
        let params = layout
            .flat_names()
            .into_iter()
            .enumerate()
            .map(|(i, name)| {
                let x: Vec<Vec<f64>> = chains
                    .iter()
                    .map(|c| c.draws.iter().skip(i).step_by(d).copied().collect())
                    .collect();
                ParamDiagnostics::of(name, &x)
            })
            .collect();
        let diag = NutsDiagnostics {
            divergences: runs
                .iter()
                .map(|r| r.stats.iter().filter(|s| s.divergent).count())
                .collect(),
            chains: runs
                .into_iter()
                .map(|r| ChainDiagnostics {
                    e_bfmi: e_bfmi(&r.stats.iter().map(|s| s.energy).collect::<Vec<_>>()),
                    metric: r.metric,
                    inv_metric_matrix: r.inv_metric_matrix,
                    warmup_divergences: r.warmup_divergences,
                    max_depth_hits: r
                        .stats
                        .iter()
                        .filter(|s| s.tree_depth >= self.max_depth)
                        .count(),
                    step_size: r.step_size,
                    inv_metric: r.inv_metric,
                    sampler: r.stats,
                    warmup_time: r.warmup_time,
                    sampling_time: r.sampling_time,
                })
                .collect(),
            params,
            max_depth: self.max_depth,
            seed: self.seed,
            warmup: self.warmup,
            draws: self.draws,
            thin: self.thin,
            target_accept: self.target_accept,
            metric: self.metric,
            adaptation: self.adaptation,
            elapsed: start.elapsed(),
            ..NutsDiagnostics::default()
        };
        Ok((layout, chains, diag))
    }

    /// Warmup and sampling of chain `chain`, with its own generator.
    fn run_chain<M: Model + ?Sized>(
        &self,
        model: &M,
        chain: usize,
        bars: &Bars,
    ) -> Result<ChainRun, FitError> {
        let warmup_start = Instant::now();
        let output = |e: String| FitError::Output { message: e };
        let mut csv = match &self.output {
            Some(dir) => Some(
                CsvWriter::create_in(
                    dir,
                    CsvMethod::Nuts,
                    chain,
                    &crate::infer::derived::csv_layout(model),
                    &self.csv_config(chain),
                )
                .map_err(output)?,
            ),
            None => None,
        };
        let mut rng = rng_for(self.seed, chain as u64);
        let candidates = self.init_candidates.unwrap_or(match self.adaptation {
            Adaptation::Nutpie => INIT_CANDIDATES,
            Adaptation::Stan => 1,
        });
        let (q, lp, grad) = if candidates == 1 {
            initial_point(model, &mut rng, self.init_radius)?
        } else {
            super::init::best_initial_point(model, &mut rng, self.init_radius, candidates)?
        };
        let mut s = Sampler::new(
            model,
            q,
            lp,
            grad,
            self.step_size,
            self.step_size_jitter,
            self.max_depth,
            self.max_energy_error,
            rng,
        );
        bars.start(chain, "warmup", self.warmup as u64);
        let adapted = adapt::warmup(self, &mut s, || bars.advance(chain, 1))?;
        let warmup_divergences = adapted.warmup_divergences;
        let d = s.q().len();

        if let Some(w) = csv.as_mut() {
            w.comment("Adaptation terminated").map_err(output)?;
            w.comment_value("Step size", f64_str(s.eps))
                .map_err(output)?;
            w.comment(METRIC_COMMENT).map_err(output)?;
            let diag: Vec<String> = s.int.metric.diag().iter().map(|v| f64_str(*v)).collect();
            w.comment(&diag.join(", ")).map_err(output)?;
        }
        let warmup_time = warmup_start.elapsed();
        let sampling_start = Instant::now();
        let kept = self.draws.div_ceil(self.thin);
        let mut draws = Vec::with_capacity(kept * d);
        let mut lps = Vec::with_capacity(kept);
        let mut stats = Vec::with_capacity(kept);
        let mut x = vec![0.0; d];
        let mut row = Vec::new();
        bars.start(chain, "sampling", self.draws as u64);
        for it in 0..self.draws {
            bars.advance(chain, 1);
            let t = s.transition();
            if it % self.thin == 0 {
                model.constrain(s.q(), &mut x);
                if let Some(w) = csv.as_mut() {
                    let row = crate::infer::derived::csv_row(model, &x, &mut row);
                    w.write_draw(s.lp(), Some(&t), row).map_err(output)?;
                }
                draws.extend_from_slice(&x);
                lps.push(s.lp());
                stats.push(t);
            }
        }
        bars.finish(chain);
        if let Some(w) = csv {
            w.finish().map_err(output)?;
        }
        Ok(ChainRun {
            draws,
            lp: lps,
            stats,
            step_size: s.eps,
            inv_metric: s.int.metric.diag(),
            metric: match &s.int.metric {
                MetricState::Diag { .. } => Metric::Diag,
                MetricState::Dense { .. } => Metric::Dense,
                m @ MetricState::LowRank { .. } => Metric::LowRank(m.rank()),
            },
            inv_metric_matrix: s.int.metric.matrix(),
            warmup_divergences,
            warmup_time,
            sampling_time: sampling_start.elapsed(),
        })
    }
}

/// What one chain produced.
struct ChainRun {
    draws: Vec<f64>,
    lp: Vec<f64>,
    stats: Vec<SamplerStats>,
    step_size: f64,
    inv_metric: Vec<f64>,
    metric: Metric,
    inv_metric_matrix: Option<nalgebra::DMatrix<f64>>,
    warmup_divergences: usize,
    warmup_time: Duration,
    sampling_time: Duration,
}
