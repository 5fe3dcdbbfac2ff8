// Longer than 800 lines: the public face of VI in one place, the `Vi` builder (the settings of
// all three methods and `fit`, which dispatches to dadvi/, advi.rs or the Laplace
// approximation) and `ViDiagnostics` (what every method reports, its summary and its CSV
// comments); the methods themselves live in their own files.
//! Mean-field Gaussian variational inference.
//!
//! The guide is `q(theta) = prod_i Normal(theta_i | mu_i, exp(omega_i))` on the unconstrained
//! space, and its ELBO `E_q[log p(theta)] + H[q]` is maximised with the closed-form entropy.
//! Two methods:
//!
//! - **deterministic** (the default, [`Vi::default`]): the ELBO averaged over one fixed set of
//!   standard-normal draws (DADVI), maximised by L-BFGS on the exact gradient from the Laplace
//!   mode, stopping on the gradient norm; then the Monte Carlo error of each mean, the
//!   linear-response covariance and the ELBO on fresh draws. See the private `infer::dadvi`
//!   module's documentation for the method and its choices.
//! - **stochastic** ([`Vi::stochastic`]): Stan's ADVI, stochastic gradient ascent with its
//!   adaptive step sizes and its stop rule on the relative ELBO change, and an ELBO trace.
//!
//! After either, draws from the fitted approximation give the importance ratios
//! `log p - log q` whose Pareto k-hat ([`crate::infer::psis`]) says whether it can be trusted.

use std::fmt;
use std::path::{Path, PathBuf};

use nalgebra::{DMatrix, DVector};
use rand::Rng as _;
use rand_distr::StandardNormal;

use super::csv::{f64_str, CsvMethod, CsvWriter};
pub use super::dadvi::ViStart;
use super::guard::Guarded;
use super::posterior::{Chain, Diagnostics, Posterior};
use super::psis::{pareto_k, Reliability};
use super::{advi, dadvi, minibatch, rng_for, Rng};
use crate::error::FitError;
use crate::math::LN_2PI;
use crate::model::Model;

/// Which objective and optimiser a [`Vi`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViMethod {
    /// The ELBO over fixed draws, maximised by L-BFGS to a gradient tolerance (DADVI).
    Deterministic,
    /// Stan's ADVI: stochastic gradient ascent on fresh draws every step.
    Stochastic,
}

/// Mean-field Gaussian variational inference, built with its settings.
///
/// ```
/// use vi_runtime::{Model, ParamLayout, Transform, Vi};
///
/// struct StdNormal(ParamLayout);
/// impl Model for StdNormal {
///     fn layout(&self) -> &ParamLayout { &self.0 }
///     fn log_density_grad_jac(&self, t: &[f64], g: &mut [f64], _: bool) -> f64 {
///         g[0] = -t[0];
///         -0.5 * t[0] * t[0]
///     }
/// }
/// let mut layout = ParamLayout::new();
/// layout.push("x", vec![], Transform::Identity);
/// let fit = Vi::default().seed(7).draws(200).fit(&StdNormal(layout)).unwrap();
/// let vi_runtime::Diagnostics::Vi(d) = fit.diagnostics() else { unreachable!() };
/// // A Gaussian target: the deterministic ELBO's optimum is exact.
/// assert!(d.mean[0].abs() < 1e-6 && (d.sd[0] - 1.0).abs() < 1e-6);
/// // Stan's stochastic ADVI is one call away.
/// let fit = Vi::stochastic().seed(7).draws(200).fit(&StdNormal(layout_of(&fit))).unwrap();
/// assert!((fit.mean("x").unwrap()[0]).abs() < 0.3);
/// # fn layout_of(p: &vi_runtime::Posterior) -> ParamLayout { p.layout().clone() }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Vi {
    method: ViMethod,
    seed: u64,
    draws: usize,
    progress: bool,
    det: dadvi::Settings,
    sto: advi::Settings,
    /// Settings given that belong to the other method, for the error `fit` gives.
    misplaced: Vec<&'static str>,
    output: Option<PathBuf>,
    /// Stochastic method on row batches ([`Vi::minibatch`]).
    mb: Option<minibatch::Settings>,
}

impl Default for Vi {
    /// The deterministic method: `2d` fixed draws clamped to `[32, 128]`, moments matched,
    /// gradient tolerance `1e-6`, at most 1000 L-BFGS iterations, started at the Laplace
    /// mode, linear response on up to 100 parameters; 1000 output draws; seed 0.
    fn default() -> Self {
        Vi {
            method: ViMethod::Deterministic,
            seed: 0,
            draws: 1000,
            progress: true,
            det: dadvi::Settings::default(),
            sto: advi::Settings::default(),
            misplaced: Vec::new(),
            output: None,
            mb: None,
        }
    }
}

impl Vi {
    /// Stan's stochastic ADVI with Stan's defaults: 10,000 iterations at most, 1 gradient
    /// sample, 100 ELBO samples, relative tolerance 0.01, ELBO evaluated every 100
    /// iterations, 50 adaptation iterations per candidate step size, 1000 draws; seed 0.
    ///
    /// It starts at a random point, takes noisy steps of size `eta / sqrt(k)` and stops when
    /// the relative ELBO change is small, so on posteriors with unstandardised predictors it
    /// can stop well short of the optimum; its ELBO trace is what the lecture's figure of
    /// "optimising the ELBO by stochastic gradients" shows.
    pub fn stochastic() -> Self {
        Vi {
            method: ViMethod::Stochastic,
            ..Vi::default()
        }
    }

    fn only(mut self, method: ViMethod, name: &'static str) -> Self {
        if self.method != method {
            self.misplaced.push(name);
        }
        self
    }

    /// Whether to draw a progress bar for the stochastic method (default on; drawn only
    /// with the `progress` feature and when standard error is a terminal).
    pub fn progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }

    /// The random seed: the same seed gives the same fit.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The number of draws from the fitted approximation (default 1000).
    pub fn draws(mut self, n: usize) -> Self {
        self.draws = n;
        self
    }

    /// Writes the draws from the fitted approximation, as they are made, to the CmdStan CSV
    /// file `dir/vi-1.csv` (the directory is created if needed), with each draw's `log p`
    /// and `log q` (`log_p__`, `log_g__`) and the fit's figures as comments (both methods);
    /// read it back with [`crate::read_csv`]. The in-memory posterior is returned as without
    /// it.
    pub fn output(mut self, dir: impl AsRef<Path>) -> Self {
        self.output = Some(dir.as_ref().to_path_buf());
        self
    }

    /// The maximum number of iterations: L-BFGS iterations for the deterministic method
    /// (default 1000), stochastic gradient steps after the step-size search for the
    /// stochastic one (default 10,000).
    pub fn max_iterations(mut self, n: usize) -> Self {
        match self.method {
            ViMethod::Deterministic => self.det.max_iterations = n,
            ViMethod::Stochastic => self.sto.max_iterations = n,
        }
        self
    }

    /// Deterministic method: the number of fixed draws `M` (rounded up to even; default
    /// `2d` clamped to `[32, 128]`). More draws bring the objective's optimum closer to the
    /// ELBO's; the diagnostics say when the Monte Carlo error of the means calls for more.
    pub fn fixed_draws(mut self, n: usize) -> Self {
        self.det.draws = Some(n);
        self.only(ViMethod::Deterministic, "fixed_draws")
    }

    /// Deterministic method: whether the fixed draws' mean and second moments are made
    /// exact (default `true`; see the module documentation).
    pub fn moment_matching(mut self, on: bool) -> Self {
        self.det.moment_matching = on;
        self.only(ViMethod::Deterministic, "moment_matching")
    }

    /// Deterministic method: stop when the largest component of the objective's gradient,
    /// in coordinates whitened by the Laplace covariance, is below `tol` (default `1e-6`).
    pub fn grad_tolerance(mut self, tol: f64) -> Self {
        self.det.grad_tolerance = tol;
        self.only(ViMethod::Deterministic, "grad_tolerance")
    }

    /// Deterministic method: whether the marginal covariance is corrected by linear response
    /// (default: on for at most 100 parameters). With it, [`Posterior::sd`] and the draws
    /// use the corrected covariance, and the diagnostics say so.
    pub fn linear_response(mut self, on: bool) -> Self {
        self.det.linear_response = Some(on);
        self.only(ViMethod::Deterministic, "linear_response")
    }

    /// Deterministic method: the most threads one evaluation of the objective spreads its
    /// fixed draws over (default: the machine's cores, bounded by
    /// [`threads::threads`](crate::threads::threads)). They are used only when an
    /// evaluation takes over a millisecond, and the result is bit-identical whatever their
    /// number (each draw's terms are summed in draw order).
    pub fn threads(mut self, n: usize) -> Self {
        self.det.threads = n;
        self.only(ViMethod::Deterministic, "threads")
    }

    /// Deterministic method: whether to start at the Laplace mode (default `true`); without
    /// it the start is a random point with unit sds.
    pub fn laplace_start(mut self, on: bool) -> Self {
        self.det.laplace_start = on;
        self.only(ViMethod::Deterministic, "laplace_start")
    }

    /// Stochastic method: Monte Carlo draws per gradient estimate (Stan's `grad_samples`,
    /// default 1).
    pub fn grad_samples(mut self, n: usize) -> Self {
        self.sto.grad_samples = n;
        self.only(ViMethod::Stochastic, "grad_samples")
    }

    /// Stochastic method: Monte Carlo draws per ELBO estimate (Stan's `elbo_samples`,
    /// default 100).
    pub fn elbo_samples(mut self, n: usize) -> Self {
        self.sto.elbo_samples = n;
        self.only(ViMethod::Stochastic, "elbo_samples")
    }

    /// Stochastic method: the tolerance on the relative change of the ELBO (Stan's
    /// `tol_rel_obj`, default 0.01).
    pub fn tolerance(mut self, tol: f64) -> Self {
        self.sto.tolerance = tol;
        self.only(ViMethod::Stochastic, "tolerance")
    }

    /// Stochastic method: iterations between ELBO evaluations (Stan's `eval_elbo`,
    /// default 100).
    pub fn eval_interval(mut self, n: usize) -> Self {
        self.sto.eval_interval = n;
        self.only(ViMethod::Stochastic, "eval_interval")
    }

    /// Stochastic method: iterations of each trial run of the step-size search (Stan's
    /// `adapt_iter`, default 50).
    pub fn adapt_iterations(mut self, n: usize) -> Self {
        self.sto.adapt_iterations = n;
        self.only(ViMethod::Stochastic, "adapt_iterations")
    }

    /// Stochastic method: a fixed step-size scale `eta`, skipping the search (Stan's `eta`
    /// with `adapt engaged=0`).
    pub fn step_size(mut self, eta: f64) -> Self {
        self.sto.step_size = Some(eta);
        self.only(ViMethod::Stochastic, "step_size")
    }

    /// Stochastic method: how many consecutive steps with a non-finite gradient or ELBO may
    /// be skipped before the fit is declared diverged (default 50). Isolated skips (a guide
    /// draw that lands where the model is not finite) are only counted.
    pub fn max_skipped(mut self, n: usize) -> Self {
        self.sto.max_skipped = n;
        self.only(ViMethod::Stochastic, "max_skipped")
    }

    /// Stochastic method: whether the fitted guide is the average of the iterates over the
    /// last third of the run (default `true`) or, as in Stan, the last iterate (`false`).
    pub fn iterate_averaging(mut self, on: bool) -> Self {
        self.sto.averaging = on;
        self.only(ViMethod::Stochastic, "iterate_averaging")
    }

    /// Stochastic method on random batches of `b` rows of the data (NumPyro's
    /// `subsample_size`, PyMC's `Minibatch`): each iteration builds the model on `b` rows
    /// drawn without replacement ([`Model::subsample`]), scales their likelihood by `N / b`
    /// and keeps the prior whole, so an iteration costs a batch, not the data. Models written
    /// with `model!` qualify when their observations are one whole-vector statement
    /// (`y ~ Normal(x * w + b, sigma)`) or a loop over rows
    /// (`for i in 0..y.len() { y[i] ~ BernoulliLogit(..) }`); any other model gets an error
    /// saying why. By default a full-data gradient every 250 iterations serves as a control
    /// variate ([`Vi::anchor_every`]), which brings the means to the posterior's within a
    /// small fraction of its sds; the fit stops when the averaged guide stops moving and
    /// says in its diagnostics if it did not. See the private `infer::minibatch` module's
    /// documentation for the method.
    ///
    /// ```
    /// # use vi_runtime::Vi;
    /// let vi = Vi::stochastic().minibatch(1000).seed(3);
    /// ```
    pub fn minibatch(mut self, b: usize) -> Self {
        self.mb = Some(minibatch::Settings::new(b));
        self.only(ViMethod::Stochastic, "minibatch")
    }

    /// Minibatch method: iterations between the full-data gradients of the control variate
    /// (default 250); 0 for none, the plain `N / b` scaling of each batch (NumPyro's and
    /// PyMC's), whose means are then off by about `sqrt(N / (b T))` posterior sds after `T`
    /// iterations. Call it after [`Vi::minibatch`].
    pub fn anchor_every(mut self, n: usize) -> Self {
        match &mut self.mb {
            Some(mb) => mb.anchor_every = n,
            None => self.misplaced.push("anchor_every"),
        }
        self
    }

    fn validate(&self) -> Result<(), FitError> {
        let bad = |message: String| Err(FitError::InvalidSettings { message });
        if let Some(name) = self.misplaced.first().filter(|n| **n == "anchor_every") {
            return bad(format!(
                "Vi: `{name}` is a setting of the minibatch method; call it after \
                 `Vi::stochastic().minibatch(b)`"
            ));
        }
        if let Some(mb) = &self.mb {
            if mb.batch == 0 {
                return bad("Vi: `minibatch` needs at least 1 row per batch, got 0".into());
            }
            if self.output.is_some() {
                return bad("Vi: `output` is not available with `minibatch`".into());
            }
        }
        if let Some(name) = self.misplaced.first() {
            return bad(match self.method {
                ViMethod::Deterministic => format!(
                    "Vi: `{name}` is a setting of the stochastic method; build it with \
                     `Vi::stochastic()`"
                ),
                ViMethod::Stochastic => format!(
                    "Vi: `{name}` is a setting of the deterministic method (`Vi::default()`), \
                     not of `Vi::stochastic()`"
                ),
            });
        }
        let mut positive = vec![("draws", self.draws)];
        match self.method {
            ViMethod::Deterministic => {
                positive.push(("max_iterations", self.det.max_iterations));
                positive.push(("threads", self.det.threads));
                if let Some(m) = self.det.draws {
                    if m < 4 {
                        return bad(format!(
                            "Vi: `fixed_draws` must be at least 4 (two antithetic pairs, so \
                             that their Monte Carlo error can be estimated), got {m}"
                        ));
                    }
                }
                let tol = self.det.grad_tolerance;
                if !(tol.is_finite() && tol > 0.0) {
                    return bad(format!(
                        "Vi: `grad_tolerance` must be positive and finite, got {tol}"
                    ));
                }
            }
            ViMethod::Stochastic => {
                let s = &self.sto;
                positive.extend([
                    ("max_iterations", s.max_iterations),
                    ("grad_samples", s.grad_samples),
                    ("elbo_samples", s.elbo_samples),
                    ("eval_interval", s.eval_interval),
                    ("adapt_iterations", s.adapt_iterations),
                ]);
                if !(s.tolerance.is_finite() && s.tolerance > 0.0) {
                    return bad(format!(
                        "Vi: `tolerance` must be positive and finite, got {}",
                        s.tolerance
                    ));
                }
                if let Some(eta) = s.step_size {
                    if !(eta.is_finite() && eta > 0.0) {
                        return bad(format!(
                            "Vi: `step_size` must be positive and finite, got {eta}"
                        ));
                    }
                }
            }
        }
        for (name, v) in positive {
            if v == 0 {
                return bad(format!("Vi: `{name}` must be at least 1, got 0"));
            }
        }
        Ok(())
    }

    /// Fits the mean-field guide to `model` and draws from it.
    ///
    /// # Errors
    /// [`FitError::InvalidSettings`] for zero counts, a non-positive tolerance or step size,
    /// or a setting of the other method; [`FitError::NoParameters`] /
    /// [`FitError::NoFiniteStart`] from the initialisation; [`FitError::Diverged`] when the
    /// objective cannot be computed at the initial guide, and for the stochastic method when
    /// every candidate step size diverges or more than `max_skipped` consecutive steps had a
    /// non-finite gradient or ELBO.
    pub fn fit<M: Model + ?Sized>(&self, model: &M) -> Result<Posterior, FitError> {
        self.validate()?;
        if let Some(mb) = &self.mb {
            let settings = minibatch::Settings {
                max_iterations: self.sto.max_iterations,
                ..mb.clone()
            };
            return minibatch::fit(&settings, model, self.seed, self.draws);
        }
        // A panic in the model's code is a rejected point, never an unwinding out of `fit`.
        let guarded = Guarded::new(model);
        let mut csv = match &self.output {
            Some(dir) => Some(
                CsvWriter::create_in(
                    dir,
                    CsvMethod::Vi,
                    0,
                    &super::derived::csv_layout(model),
                    &[
                        format!("seed = {}", self.seed),
                        format!(
                            "vi_method = {}",
                            match self.method {
                                ViMethod::Deterministic => "deterministic",
                                ViMethod::Stochastic => "stochastic",
                            }
                        ),
                        format!("output_samples = {}", self.draws),
                    ],
                )
                .map_err(|e| FitError::Output { message: e })?,
            ),
            None => None,
        };
        let fit = match self.method {
            ViMethod::Deterministic => self.fit_deterministic(&guarded, csv.as_mut()),
            ViMethod::Stochastic => self.fit_stochastic(&guarded, csv.as_mut()),
        };
        let fit = match (fit, csv) {
            (Ok(post), Some(mut w)) => {
                if let Diagnostics::Vi(d) = post.diagnostics() {
                    write_vi_comments(&mut w, d, guarded.faults(), guarded.summary())
                        .map_err(|e| FitError::Output { message: e })?;
                }
                w.finish().map_err(|e| FitError::Output { message: e })?;
                Ok(post)
            }
            (fit, _) => fit,
        };
        match fit {
            Err(FitError::NoFiniteStart { .. } | FitError::Diverged { .. })
                if guarded.faults() > 0 =>
            {
                Err(guarded.error().expect("faults were seen"))
            }
            Err(e) => Err(e),
            Ok(post) => Ok(match (post.diagnostics(), guarded.summary()) {
                (Diagnostics::Vi(d), Some(faults)) => {
                    let mut d = d.clone();
                    d.warnings.push(faults);
                    d.model_faults = guarded.faults();
                    Posterior::new(
                        post.layout().clone(),
                        post.chains().to_vec(),
                        Diagnostics::Vi(d),
                    )
                }
                _ => post,
            }),
        }
    }

    fn fit_stochastic<M: Model + ?Sized>(
        &self,
        model: &M,
        csv: Option<&mut CsvWriter>,
    ) -> Result<Posterior, FitError> {
        let mut rng = rng_for(self.seed, 0);
        let run = self.sto.run(model, &mut rng, self.progress)?;
        let sd: Vec<f64> = run.omega.iter().map(|w| w.exp()).collect();
        let (chain, ratios) = draw(
            model,
            &run.mu,
            &Spread::Diagonal(&sd),
            self.draws,
            &mut rng,
            csv,
        )?;
        let (elbo, elbo_mcse) = crate::stats::mean_and_se(&ratios);
        let khat = pareto_k(&ratios);
        let diagnostics = ViDiagnostics {
            method: ViMethod::Stochastic,
            elbo,
            elbo_mcse,
            elbo_trace: run.elbo_trace,
            trace_gradients: run.trace_gradients,
            gradient_evaluations: run.gradients,
            eval_interval: self.sto.eval_interval,
            iterations: run.iterations,
            converged: run.converged,
            eta: Some(run.eta),
            skipped_steps: run.skipped,
            khat,
            reliability: Reliability::from_khat(khat),
            mean: run.mu,
            sd,
            ..ViDiagnostics::default()
        };
        let (layout, chains) =
            super::derived::with_derived(model, model.layout().clone(), vec![chain]);
        Ok(Posterior::new(layout, chains, Diagnostics::Vi(diagnostics)))
    }

    fn fit_deterministic<M: Model + ?Sized>(
        &self,
        model: &M,
        csv: Option<&mut CsvWriter>,
    ) -> Result<Posterior, FitError> {
        let run = self.det.run(model, self.seed, &mut rng_for(self.seed, 0))?;
        let d = run.mu.len();
        let sd: Vec<f64> = run.omega.iter().map(|w| w.exp()).collect();
        let mut rng = rng_for(self.seed, 1);
        let lr_factor = run
            .lr_covariance
            .as_ref()
            .and_then(|c| c.clone().cholesky());
        let (chain, ratios, elbo_ratios) = match &lr_factor {
            Some(c) => {
                let l = c.l();
                let (chain, ratios) =
                    draw(model, &run.mu, &Spread::Full(&l), self.draws, &mut rng, csv)?;
                let mut rng_elbo = rng_for(self.seed, 2);
                let (_, elbo_ratios) = draw(
                    model,
                    &run.mu,
                    &Spread::Diagonal(&sd),
                    self.draws,
                    &mut rng_elbo,
                    None,
                )?;
                (chain, ratios, elbo_ratios)
            }
            None => {
                let (chain, ratios) = draw(
                    model,
                    &run.mu,
                    &Spread::Diagonal(&sd),
                    self.draws,
                    &mut rng,
                    csv,
                )?;
                let elbo_ratios = ratios.clone();
                (chain, ratios, elbo_ratios)
            }
        };
        let (elbo, elbo_mcse) = crate::stats::mean_and_se(&elbo_ratios);
        let khat = pareto_k(&ratios);
        let lr_sd: Vec<f64> = match (&lr_factor, &run.lr_covariance) {
            (Some(_), Some(c)) => (0..d).map(|i| c[(i, i)].sqrt()).collect(),
            _ => Vec::new(),
        };
        let laplace_gap = match run.start {
            ViStart::Laplace {
                log_evidence,
                converged: true,
                ..
            } => Some(log_evidence - elbo),
            _ => None,
        };
        let distinct_modes = match run.start {
            ViStart::Laplace { distinct_modes, .. } => distinct_modes,
            ViStart::Random { .. } => 0,
        };
        let names = model.layout().flat_names();
        let mut warnings = Vec::new();
        if !run.converged {
            warnings.push(format!(
                "the optimiser stopped with the gradient norm {:.1e} above the tolerance {:.0e} \
                 ({}): the fit is not at the optimum",
                run.grad_norm, self.det.grad_tolerance, run.stop_reason
            ));
        }
        let reported_sd = if lr_sd.is_empty() { &sd } else { &lr_sd };
        if let Some((i, ratio)) = run
            .mean_mcse
            .iter()
            .zip(reported_sd)
            .map(|(e, s)| e / s)
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(&b.1))
        {
            if ratio > MAX_MCSE_SDS {
                warnings.push(format!(
                    "too few fixed draws: the Monte Carlo error of the fitted mean of `{}` is \
                     {ratio:.2} of its posterior sd (above {MAX_MCSE_SDS}); use more, for \
                     example `Vi::default().fixed_draws({})`",
                    names[i],
                    2 * run.draws
                ));
            }
        }
        if let Some((i, e)) = run
            .log_sd_mcse
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
        {
            if *e > MAX_MCSE_SDS {
                warnings.push(format!(
                    "too few fixed draws: the Monte Carlo error of the fitted sd of `{}` is \
                     {:.0}% of it (above {:.0}%); use more, for example \
                     `Vi::default().fixed_draws({})`",
                    names[i],
                    100.0 * e,
                    100.0 * MAX_MCSE_SDS,
                    2 * run.draws
                ));
            }
        }
        let optimism = run.objective - elbo;
        if elbo.is_finite() && optimism > (3.0 * elbo_mcse).max(MAX_OPTIMISM) {
            warnings.push(format!(
                "too few fixed draws: the objective on the fixed draws ({:.3}) is {optimism:.2} \
                 nats above the ELBO on fresh draws ({elbo:.3} +- {elbo_mcse:.3}); use more, \
                 for example `Vi::default().fixed_draws({})`",
                run.objective,
                2 * run.draws
            ));
        }
        if !elbo.is_finite() {
            warnings.push(
                "the log density is not finite at some draws from the guide, so the ELBO on \
                 fresh draws is -inf"
                    .into(),
            );
        }
        if distinct_modes > 1 {
            warnings.push(format!(
                "{distinct_modes} distinct modes found by the mode search's starts; the \
                 approximation describes one"
            ));
        }
        if let Some(why) = &run.lr_failure {
            warnings.push(format!(
                "no linear-response correction ({why}); the sds are the mean-field ones, which \
                 understate correlated posteriors' sds"
            ));
        }
        let trace_len = run.trace.len();
        let diagnostics = ViDiagnostics {
            method: ViMethod::Deterministic,
            elbo,
            elbo_mcse,
            objective: Some(run.objective),
            elbo_trace: run.trace,
            trace_gradients: run.trace_gradients,
            gradient_evaluations: run.gradients,
            eval_interval: 1,
            iterations: run.iterations,
            newton_steps: run.newton_steps,
            converged: run.converged,
            grad_norm: Some(run.grad_norm),
            stop_reason: run.stop_reason,
            fixed_draws: run.draws,
            moments_matched: run.moments_matched,
            start: Some(run.start),
            laplace_gap,
            mean_mcse: run.mean_mcse,
            log_sd_mcse: run.log_sd_mcse,
            mean_mcse_from_hessian: run.mcse_from_hessian,
            linear_response: !lr_sd.is_empty(),
            lr_sd,
            covariance: run.lr_covariance.filter(|_| lr_factor.is_some()),
            khat,
            reliability: if distinct_modes > 1 {
                Reliability::Unreliable
            } else {
                Reliability::from_khat(khat)
            },
            mean: run.mu,
            sd,
            warnings,
            distinct_modes,
            ..ViDiagnostics::default()
        };
        debug_assert_eq!(diagnostics.elbo_trace.len(), trace_len);
        let (layout, chains) = super::derived::with_derived(
            model,
            model.layout().clone(),
            vec![Chain {
                draws: chain.draws,
                lp: chain.lp,
            }],
        );
        Ok(Posterior::new(layout, chains, Diagnostics::Vi(diagnostics)))
    }
}

/// The largest Monte Carlo error of a fitted mean, in posterior sds (and of a fitted sd,
/// relative to it), before the diagnostics call the fixed draws too few.
const MAX_MCSE_SDS: f64 = 0.1;
/// Nats by which the objective on the fixed draws may exceed the ELBO on fresh draws (beyond
/// three Monte Carlo errors of the latter) before the draws are called too few.
const MAX_OPTIMISM: f64 = 0.5;

/// The spread of the Gaussian approximation around its mean.
pub(super) enum Spread<'a> {
    /// Independent sds (the mean-field guide).
    Diagonal(&'a [f64]),
    /// A lower-triangular factor `L` of the covariance `L L'`.
    Full(&'a DMatrix<f64>),
}

/// `n` draws from `Normal(mu, spread)`: the chain (constrained draws, `lp__`) and the log
/// importance ratios `log p - log q`.
pub(super) fn draw<M: Model + ?Sized>(
    model: &M,
    mu: &[f64],
    spread: &Spread<'_>,
    n: usize,
    rng: &mut Rng,
    mut csv: Option<&mut CsvWriter>,
) -> Result<(Chain, Vec<f64>), FitError> {
    let d = mu.len();
    let log_det = match spread {
        Spread::Diagonal(sd) => sd.iter().map(|s| s.ln()).sum::<f64>(),
        Spread::Full(l) => l.diagonal().iter().map(|v| v.ln()).sum::<f64>(),
    };
    let log_q_const = -0.5 * d as f64 * LN_2PI - log_det;
    let mut draws = Vec::with_capacity(n * d);
    let mut lp = Vec::with_capacity(n);
    let mut log_ratios = Vec::with_capacity(n);
    let mut theta = vec![0.0; d];
    let mut x = vec![0.0; d];
    let mut row = Vec::new();
    for _ in 0..n {
        let z = DVector::from_fn(d, |_, _| rng.sample::<f64, _>(StandardNormal));
        match spread {
            Spread::Diagonal(sd) => {
                for i in 0..d {
                    theta[i] = mu[i] + sd[i] * z[i];
                }
            }
            Spread::Full(l) => {
                let offset = *l * &z;
                for i in 0..d {
                    theta[i] = mu[i] + offset[i];
                }
            }
        }
        let log_p = model.log_density(&theta);
        let log_p = if log_p.is_nan() {
            f64::NEG_INFINITY
        } else {
            log_p
        };
        model.constrain(&theta, &mut x);
        let log_q = log_q_const - 0.5 * z.norm_squared();
        if let Some(w) = csv.as_deref_mut() {
            let row = super::derived::csv_row(model, &x, &mut row);
            w.write_approx_draw(log_p, log_p, log_q, row)
                .map_err(|e| FitError::Output { message: e })?;
        }
        draws.extend_from_slice(&x);
        lp.push(log_p);
        log_ratios.push(log_p - log_q);
    }
    Ok((Chain { draws, lp }, log_ratios))
}

/// What a VI fit reports about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct ViDiagnostics {
    /// The method that fitted the guide.
    pub method: ViMethod,
    /// The ELBO of the fitted mean-field guide, estimated on fresh draws independent of the
    /// fit as the mean of `log p - log q` (`-inf` if a draw fell where the model is not
    /// finite).
    pub elbo: f64,
    /// The Monte Carlo standard error of `elbo`.
    pub elbo_mcse: f64,
    /// Deterministic method: the objective (the ELBO over the fixed draws) at the optimum.
    pub objective: Option<f64>,
    /// The ELBO over the course of the fit: for the stochastic method its estimate every
    /// `eval_interval` iterations (NaN where it could not be computed); for the deterministic
    /// one the best objective reached after each evaluation.
    pub elbo_trace: Vec<f64>,
    /// Model gradient evaluations made by the time of each `elbo_trace` entry: the common
    /// axis on which both methods' traces can be compared.
    pub trace_gradients: Vec<usize>,
    /// Model gradient evaluations in the whole fit (the Laplace start's not included).
    pub gradient_evaluations: usize,
    /// Iterations between the entries of `elbo_trace` (stochastic method; 1 otherwise).
    pub eval_interval: usize,
    /// L-BFGS iterations (deterministic) or stochastic gradient iterations after the
    /// step-size search (stochastic).
    pub iterations: usize,
    /// Deterministic method: Newton steps taken after L-BFGS.
    pub newton_steps: usize,
    /// Deterministic method: whether the gradient norm reached the tolerance; stochastic:
    /// whether the relative ELBO change fell below the tolerance before the iteration cap.
    pub converged: bool,
    /// Deterministic method: the largest component of the objective's gradient at the end,
    /// in whitened coordinates.
    pub grad_norm: Option<f64>,
    /// Deterministic method: why the optimiser stopped, in words.
    pub stop_reason: String,
    /// Deterministic method: the number of fixed draws (0 for the stochastic method).
    pub fixed_draws: usize,
    /// Deterministic method: whether the fixed draws' first two moments were matched exactly.
    pub moments_matched: bool,
    /// Deterministic method: how the optimisation was started.
    pub start: Option<ViStart>,
    /// Deterministic method started at the Laplace mode: the Laplace log evidence minus the
    /// ELBO, in nats (the ELBO is a lower bound on the log evidence).
    pub laplace_gap: Option<f64>,
    /// Deterministic method: the Monte Carlo error (sd) of each fitted mean on the
    /// unconstrained scale, from DADVI's sandwich estimate; empty for the stochastic method.
    pub mean_mcse: Vec<f64>,
    /// Deterministic method: the Monte Carlo error (sd) of each fitted log sd, that is the
    /// relative error of each mean-field sd; empty for the stochastic method.
    pub log_sd_mcse: Vec<f64>,
    /// Whether `mean_mcse` used the computed Hessian of the objective (otherwise the value a
    /// Gaussian posterior gives it, in whitened coordinates).
    pub mean_mcse_from_hessian: bool,
    /// Whether the draws and sds use the linear-response covariance.
    pub linear_response: bool,
    /// The linear-response sds on the unconstrained scale (empty without it).
    pub lr_sd: Vec<f64>,
    /// The linear-response covariance on the unconstrained scale, if used.
    pub covariance: Option<DMatrix<f64>>,
    /// Stochastic method: the step-size scale used (chosen by the search unless given).
    pub eta: Option<f64>,
    /// Stochastic method: steps skipped because the gradient or the ELBO was not finite.
    pub skipped_steps: usize,
    /// Pareto k-hat of the importance ratios `log p - log q` over the output draws.
    pub khat: f64,
    /// The verdict k-hat gives.
    pub reliability: Reliability,
    /// The guide's means on the unconstrained scale, in flat order.
    pub mean: Vec<f64>,
    /// The guide's (mean-field) standard deviations on the unconstrained scale.
    pub sd: Vec<f64>,
    /// What the fit found wrong with itself, in words (empty when nothing).
    pub warnings: Vec<String>,
    /// Points where the model's code panicked, rejected during the fit.
    pub model_faults: usize,
    /// Deterministic method: how many distinct modes the Laplace start's several starts
    /// reached (0 when it did not run). Above 1 the verdict is "unreliable" whatever k-hat.
    pub distinct_modes: usize,
    /// Minibatch method ([`Vi::minibatch`]): the batches, the full passes and the stop
    /// rule's figures; `None` for the other methods.
    pub minibatch: Option<minibatch::MinibatchReport>,
}

impl Default for ViDiagnostics {
    fn default() -> Self {
        ViDiagnostics {
            method: ViMethod::Deterministic,
            elbo: f64::NAN,
            elbo_mcse: f64::NAN,
            objective: None,
            elbo_trace: Vec::new(),
            trace_gradients: Vec::new(),
            gradient_evaluations: 0,
            eval_interval: 0,
            iterations: 0,
            newton_steps: 0,
            converged: false,
            grad_norm: None,
            stop_reason: String::new(),
            fixed_draws: 0,
            moments_matched: false,
            start: None,
            laplace_gap: None,
            mean_mcse: Vec::new(),
            log_sd_mcse: Vec::new(),
            mean_mcse_from_hessian: false,
            linear_response: false,
            lr_sd: Vec::new(),
            covariance: None,
            eta: None,
            skipped_steps: 0,
            khat: f64::NAN,
            reliability: Reliability::Unreliable,
            mean: Vec::new(),
            sd: Vec::new(),
            warnings: Vec::new(),
            model_faults: 0,
            distinct_modes: 0,
            minibatch: None,
        }
    }
}

impl ViDiagnostics {
    fn fmt_deterministic(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let matched = if self.moments_matched {
            ", moments matched"
        } else {
            ""
        };
        write!(
            f,
            "Mean-field VI (deterministic ELBO over {} fixed draws{matched})",
            self.fixed_draws
        )?;
        if self.converged {
            write!(f, " converged")?;
        } else {
            write!(f, " did NOT converge")?;
        }
        write!(
            f,
            ": gradient norm {:.1e} after {} L-BFGS iterations",
            self.grad_norm.unwrap_or(f64::NAN),
            self.iterations
        )?;
        if self.newton_steps > 0 {
            write!(f, " and {} Newton steps", self.newton_steps)?;
        }
        write!(f, ", {} model gradients", self.gradient_evaluations)?;
        match &self.start {
            Some(ViStart::Laplace {
                converged: true, ..
            }) => writeln!(f, "; started at the Laplace mode.")?,
            Some(ViStart::Laplace { .. }) => writeln!(
                f,
                "; started where the Laplace mode search stopped short of its tolerance."
            )?,
            Some(ViStart::Random { reason }) => {
                writeln!(f, "; started at a random point ({reason}).")?
            }
            None => writeln!(f, ".")?,
        }
        write!(
            f,
            "ELBO {:.4} +- {:.4} on fresh draws (objective {:.4} on the fixed draws)",
            self.elbo,
            self.elbo_mcse,
            self.objective.unwrap_or(f64::NAN)
        )?;
        if let Some(gap) = self.laplace_gap {
            write!(
                f,
                "; Laplace log evidence {:.4} (gap {gap:.3} nats)",
                self.elbo + gap
            )?;
        }
        writeln!(f, ".")?;
        if let Some(worst) = self
            .mean_mcse
            .iter()
            .zip(if self.lr_sd.is_empty() {
                &self.sd
            } else {
                &self.lr_sd
            })
            .map(|(e, s)| e / s)
            .max_by(f64::total_cmp)
        {
            let worst_sd = self.log_sd_mcse.iter().copied().fold(0.0, f64::max);
            writeln!(
                f,
                "Monte Carlo error of the fit: means within {worst:.3} posterior sds, sds within \
                 {:.1}%{}.",
                100.0 * worst_sd,
                if self.mean_mcse_from_hessian {
                    ""
                } else {
                    " (approximate: Hessian not computed)"
                }
            )?;
        }
        if self.linear_response {
            let shrink = self
                .sd
                .iter()
                .zip(&self.lr_sd)
                .map(|(s, l)| 1.0 - s / l)
                .fold(0.0, f64::max);
            writeln!(
                f,
                "Linear-response covariance: the sds and draws use it (the mean-field sds are up \
                 to {:.0}% smaller).",
                100.0 * shrink
            )?;
        }
        Ok(())
    }

    fn fmt_stochastic(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(mb) = &self.minibatch {
            return minibatch::fmt_verdict(self, mb, f);
        }
        if self.converged {
            write!(
                f,
                "Mean-field VI (stochastic ADVI) converged after {} iterations",
                self.iterations
            )?;
        } else {
            write!(
                f,
                "Mean-field VI (stochastic ADVI) did NOT converge within {} iterations (relative \
                 ELBO change still above the tolerance)",
                self.iterations
            )?;
        }
        if let Some(eta) = self.eta {
            write!(f, "; step size eta = {eta}")?;
        }
        write!(f, ", ELBO {:.4} +- {:.4}", self.elbo, self.elbo_mcse)?;
        if self.skipped_steps > 0 {
            write!(
                f,
                "; {} steps skipped (non-finite gradient or ELBO)",
                self.skipped_steps
            )?;
        }
        writeln!(f, ".")
    }
}

impl fmt::Display for ViDiagnostics {
    /// The verdict paragraph printed under the summary table.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.method {
            ViMethod::Deterministic => self.fmt_deterministic(f)?,
            ViMethod::Stochastic => self.fmt_stochastic(f)?,
        }
        for w in &self.warnings {
            writeln!(f, "Warning: {w}.")?;
        }
        if self.distinct_modes > 1 {
            return write!(
                f,
                "Unreliable: the posterior has at least {} modes and the approximation describes \
                 one (Pareto k-hat = {:.2} judges only that one); fit with NUTS, from several \
                 chains, instead.",
                self.distinct_modes, self.khat
            );
        }
        write!(f, "Pareto k-hat = {:.2}: {}", self.khat, self.reliability)?;
        match self.reliability {
            Reliability::Reliable => write!(
                f,
                " (k < 0.5): the approximation is close to the posterior; its draws can be \
                 used like posterior draws."
            ),
            Reliability::UseWithCare => write!(
                f,
                " (0.5 <= k < 0.7): means are usable, but sds and tail quantiles may be off; \
                 check against NUTS before relying on them."
            ),
            Reliability::Unreliable => write!(
                f,
                " (k >= 0.7): the approximation is far from the posterior (correlations, heavy \
                 tails or several modes it cannot represent); do not trust its sds or \
                 quantiles, and fit with NUTS instead."
            ),
        }
    }
}

/// The fit's figures as `# key = value` comments at the end of a VI CSV file, after its
/// draws; [`crate::read_csv`] reads them back into [`ViDiagnostics`].
fn write_vi_comments(
    w: &mut CsvWriter,
    d: &ViDiagnostics,
    faults: usize,
    fault: Option<String>,
) -> Result<(), String> {
    w.comment_value("elbo", f64_str(d.elbo))?;
    w.comment_value("elbo_mcse", f64_str(d.elbo_mcse))?;
    if let Some(o) = d.objective {
        w.comment_value("objective", f64_str(o))?;
    }
    w.comment_value("iterations", d.iterations)?;
    w.comment_value("newton_steps", d.newton_steps)?;
    w.comment_value("gradient_evaluations", d.gradient_evaluations)?;
    w.comment_value("converged", d.converged)?;
    if let Some(g) = d.grad_norm {
        w.comment_value("grad_norm", f64_str(g))?;
    }
    if !d.stop_reason.is_empty() {
        w.comment_value("stop_reason", d.stop_reason.replace('\n', " "))?;
    }
    w.comment_value("fixed_draws", d.fixed_draws)?;
    w.comment_value("skipped_steps", d.skipped_steps)?;
    w.comment_value("distinct_modes", d.distinct_modes)?;
    w.comment_value("model_faults", faults)?;
    w.comment_list("mean_unconstrained", &d.mean)?;
    w.comment_list("sd_unconstrained", &d.sd)?;
    for warning in d.warnings.iter().chain(fault.as_ref()) {
        w.comment_value("warning", warning.replace('\n', " "))?;
    }
    Ok(())
}
