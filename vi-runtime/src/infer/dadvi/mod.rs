//! The deterministic ELBO: the default method of [`Vi`](super::vi::Vi).
//!
//! DADVI (Giordano, Ingram and Broderick, "Black box variational inference with a
//! deterministic objective: faster, more accurate, and even more accurate than expected",
//! JMLR 2024; pymc-extras ships it as `fit_dadvi`): the mean-field guide
//! `q(theta) = prod_i Normal(mu_i, exp(omega_i))` on the unconstrained space is fitted by
//! maximising the ELBO averaged over one *fixed* set of `M` standard-normal draws `z_m`,
//!
//! ```text
//! F(mu, omega) = 1/M sum_m log p(mu + exp(omega) * z_m) + sum_i omega_i + d/2 (1 + ln 2 pi),
//! ```
//!
//! with the closed-form Gaussian entropy. `F` is an ordinary smooth function with an exact
//! gradient (`M` model gradients), so it is maximised to a tolerance on its gradient by
//! L-BFGS rather than by noisy steps, and the same seed always gives the same optimum.
//!
//! Choices made here, beyond the paper:
//!
//! - **Antithetic, moment-matched draws.** The draws come in pairs `(z, -z)`, so their mean is
//!   exactly 0. When there are at least as many pairs as parameters, the pairs' directions are
//!   orthonormalised (QR of a Gaussian matrix) and scaled so that `1/M sum_m z_m z_m' = I`
//!   exactly; otherwise each coordinate is scaled to unit mean square. With the first two
//!   moments exact, `F` equals the true ELBO for every Gaussian target, so the optimum is the
//!   exact mean-field optimum there whatever `M`; elsewhere the error comes only from the
//!   posterior's departure from a quadratic log density. The default `M` is `2d` clamped to
//!   `[32, 128]`, so the moments are matched up to 64 parameters.
//! - **Started at the Laplace mode**, with `u = 0` and the sds `1/sqrt(diag(-H))`: the exact
//!   mean-field optimum when the posterior is Gaussian. The optimisation runs in whitened
//!   coordinates `mu = mode + L u`, `L L' = (-H)^-1`, in which a Gaussian posterior's `F` has
//!   Hessian `-I` in `u` and `-2I` in `omega`, so unstandardised, correlated posteriors are as
//!   easy as standardised ones. When no mode is found the start is a random point with unit
//!   sds, without whitening.
//! - **Stop on the gradient**: the largest component of the gradient in the whitened
//!   coordinates below `grad_tolerance` (default `1e-6`: the means are then within about
//!   `1e-6` posterior sds of the optimum of `F`), never on the change of the objective. What
//!   L-BFGS leaves above the tolerance is finished by Newton steps on the Hessian of `F`.
//! - **How close it is.** The Hessian `H_F` of `F` (central differences of its exact
//!   gradient) gives DADVI's sandwich estimate of the Monte Carlo error of the fitted means,
//!   `Cov(eta^) = H_F^-1 V H_F^-1 / K`, with `V` the covariance of the `K` pairs' gradients
//!   (pairs are the independent units), and the linear-response covariance.
//! - **Linear response** (Giordano, Broderick and Jordan, "Covariances, robustness and
//!   variational Bayes", JMLR 2018): perturbing the log density by `t' theta` moves the
//!   optimum by `d eta* / dt = -H_F^-1 [I 0]'`, so the covariance the guide implies for
//!   `theta` is the `mu` block of `(-H_F)^-1`. For a Gaussian posterior that is the exact
//!   covariance, where the mean-field sds `1/sqrt(diag(P))` are too small.
//!
//! Files, in the order a fit runs: this one holds the settings, what a run reports and the
//! run itself; `draws.rs` the fixed draws; `start.rs` the Laplace (or random) start and its
//! whitening; `objective.rs` `F`, its gradient over the draws, its Hessian and the pairs'
//! gradients; `optimise.rs` L-BFGS and the Newton finish; `uncertainty.rs` the sandwich
//! Monte Carlo errors and the linear-response covariance.

mod draws;
mod objective;
mod optimise;
mod start;
mod uncertainty;

use nalgebra::DMatrix;

use super::Rng;
use crate::error::FitError;
use crate::model::Model;
use draws::fixed_draws;
use objective::Objective;

/// The smallest and largest default number of fixed draws.
pub(crate) const DEFAULT_DRAWS_RANGE: (usize, usize) = (32, 128);
/// An evaluation of `F` slower than this runs its draws on several threads.
const PARALLEL_ABOVE: std::time::Duration = std::time::Duration::from_millis(1);

/// The settings of the deterministic method.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Settings {
    /// The number of fixed draws `M` (even); `None` for `2d` clamped to [`DEFAULT_DRAWS_RANGE`].
    pub draws: Option<usize>,
    /// Whether the draws' first two moments are matched exactly.
    pub moment_matching: bool,
    /// Stop when the largest whitened gradient component is below this.
    pub grad_tolerance: f64,
    /// L-BFGS iterations at most.
    pub max_iterations: usize,
    /// Whether to start from the Laplace mode.
    pub laplace_start: bool,
    /// Whether the Hessian of the objective is computed (for the linear-response
    /// covariance and the sandwich errors); `None` for "when `d` is at most [`LR_MAX_DIM`]".
    pub linear_response: Option<bool>,
    /// Threads at most for one evaluation's draws.
    pub threads: usize,
}

/// Dimension up to which linear response is on by default: the Hessian of `F` costs `4d`
/// evaluations of `F`, each `M` model gradients, so `8 d^2` model gradients with the default
/// `M = 2d` (80,000 at `d = 100`: well under a second for a regression).
pub(crate) const LR_MAX_DIM: usize = 100;

impl Default for Settings {
    fn default() -> Self {
        Settings {
            draws: None,
            moment_matching: true,
            grad_tolerance: 1e-6,
            max_iterations: 1000,
            laplace_start: true,
            linear_response: None,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// How the optimisation was started.
#[derive(Debug, Clone, PartialEq)]
pub enum ViStart {
    /// At the Laplace mode, with the sds `1/sqrt(diag(-H))` and whitened coordinates.
    Laplace {
        /// The Laplace estimate of the log evidence at that mode.
        log_evidence: f64,
        /// Whether the mode search met its tolerance (if not, the point it reached still
        /// had a negative definite Hessian, and served as the start and the whitening; its
        /// log evidence is then only approximate).
        converged: bool,
        /// How many distinct modes the mode search's several starts reached; above 1 the
        /// fit describes one of them, and its verdict is "unreliable".
        distinct_modes: usize,
    },
    /// At a random point with unit sds (no mode was found, or the Laplace start was turned
    /// off); the reason in words.
    Random {
        /// Why the Laplace start was not used.
        reason: String,
    },
}

/// What the deterministic method found.
pub(crate) struct Run {
    pub mu: Vec<f64>,
    pub omega: Vec<f64>,
    /// `F` at the optimum.
    pub objective: f64,
    /// The largest whitened gradient component there.
    pub grad_norm: f64,
    pub iterations: usize,
    pub newton_steps: usize,
    pub converged: bool,
    pub stop_reason: String,
    /// The best `F` so far after each evaluation of `F`.
    pub trace: Vec<f64>,
    /// Model gradient evaluations made by the time of each trace entry.
    pub trace_gradients: Vec<usize>,
    /// Model gradient evaluations in all (the Laplace start's not included).
    pub gradients: usize,
    pub draws: usize,
    pub moments_matched: bool,
    pub start: ViStart,
    /// The Monte Carlo error (sd) of each fitted mean, unconstrained scale.
    pub mean_mcse: Vec<f64>,
    /// The Monte Carlo error (sd) of each fitted log sd: the relative error of the sd.
    pub log_sd_mcse: Vec<f64>,
    /// Whether `mean_mcse` used the computed Hessian of `F` (else its Gaussian value).
    pub mcse_from_hessian: bool,
    /// The linear-response covariance of theta, if computed.
    pub lr_covariance: Option<DMatrix<f64>>,
    /// Why linear response was wanted but not given.
    pub lr_failure: Option<String>,
}

impl Settings {
    /// The number of fixed draws for dimension `d`.
    pub(crate) fn draws_for(&self, d: usize) -> usize {
        let m = self
            .draws
            .unwrap_or_else(|| (2 * d).clamp(DEFAULT_DRAWS_RANGE.0, DEFAULT_DRAWS_RANGE.1));
        m + m % 2
    }

    /// Fits the mean-field guide by maximising `F`.
    pub(crate) fn run<M: Model + ?Sized>(
        &self,
        model: &M,
        seed: u64,
        rng: &mut Rng,
    ) -> Result<Run, FitError> {
        let d = model.dim();
        if d == 0 {
            return Err(FitError::NoParameters);
        }
        let m = self.draws_for(d);
        let draws = fixed_draws(d, m, self.moment_matching, rng);
        let moments_matched = draws.matched;

        let (white, omega0, start) = start::start(self, model, seed, rng, d)?;

        let mut obj = Objective {
            model,
            d,
            draws,
            white,
            gradients: 0,
            trace: Vec::new(),
            trace_gradients: Vec::new(),
            best: f64::NEG_INFINITY,
            threads: 1,
            buf: Vec::new(),
        };
        let mut xi0 = vec![0.0; 2 * d];
        xi0[d..].copy_from_slice(&omega0);
        let mut g0 = vec![0.0; 2 * d];
        let t0 = std::time::Instant::now();
        let mut f0 = obj.eval(&xi0, &mut g0, None);
        // Threads pay once an evaluation costs well above a thread's start-up (tens of µs).
        if t0.elapsed() > PARALLEL_ABOVE {
            obj.threads = self.threads.min(crate::threads::budget()).min(m / 2).max(1);
        }
        if !f0.is_finite() && matches!(start, ViStart::Laplace { .. }) {
            // The Laplace sds can reach where the model is not finite: start narrower.
            for v in xi0[d..].iter_mut() {
                *v -= 2.0;
            }
            f0 = obj.eval(&xi0, &mut g0, None);
        }
        if !f0.is_finite() {
            return Err(FitError::Diverged {
                message: format!(
                    "the deterministic ELBO is not finite at the initial guide: the log density \
                     is not finite at one of its {m} fixed draws"
                ),
            });
        }

        let want_hessian = self.linear_response.unwrap_or(d <= LR_MAX_DIM);
        let opt = optimise::optimise(self, &mut obj, xi0, f0, g0, want_hessian);
        let unc =
            uncertainty::uncertainty(self, &mut obj, &opt.xi, opt.hessian.as_ref(), want_hessian);

        let mut mu = vec![0.0; d];
        obj.white.mu(&opt.xi[..d], &mut mu);
        Ok(Run {
            mu,
            omega: opt.xi[d..].to_vec(),
            objective: opt.f,
            grad_norm: opt.grad_norm,
            iterations: opt.iterations,
            newton_steps: opt.newton_steps,
            converged: opt.converged,
            stop_reason: opt.stop_reason,
            trace: std::mem::take(&mut obj.trace),
            trace_gradients: std::mem::take(&mut obj.trace_gradients),
            gradients: obj.gradients,
            draws: m,
            moments_matched,
            start,
            mean_mcse: unc.mean_mcse,
            log_sd_mcse: unc.log_sd_mcse,
            mcse_from_hessian: unc.mcse_from_hessian,
            lr_covariance: unc.lr_covariance,
            lr_failure: unc.lr_failure,
        })
    }
}
