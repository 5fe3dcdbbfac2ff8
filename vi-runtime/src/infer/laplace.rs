//! The Laplace approximation: a Gaussian at the mode of the unconstrained density.
//!
//! As Stan's `laplace` method: the mode of the log density on the unconstrained space (with
//! the log-Jacobian by default, so it is the mode of the density the draws are taken on) is
//! found by L-BFGS (the private `infer::lbfgs` and `infer::mode` modules), from several random starts in
//! parallel; the Hessian `H` there is computed by central differences of the exact gradient
//! (Stan's four-point stencil, `grad_hess_log_prob.hpp`) and symmetrised, and Newton steps on
//! it finish the climb until the gradient is at tolerance (L-BFGS alone stalls on
//! ill-conditioned posteriors). The approximation is `Normal(mode, (-H)^-1)`.
//!
//! The covariance is computed stably: `-H` is first scaled to unit diagonal, `S = D (-H) D`
//! with `D = diag(-H)^-1/2` (Jacobi scaling; a correlation between two parameters of
//! -0.99999 on predictors near 4000 gives `-H` a condition number near 1e12 but `S` one near
//! 2e5), and `S` is eigen-decomposed: `(-H)^-1 = D U Lambda^-1 U' D`. The same decomposition
//! tells a point that is not a maximum (a negative eigenvalue of `S`) from a numerically
//! singular mode (an eigenvalue within rounding of zero).

use std::fmt;
use std::path::{Path, PathBuf};

use nalgebra::{DMatrix, DVector};
use rand::Rng as _;
use rand_distr::StandardNormal;

use super::csv::{f64_str, CsvMethod, CsvWriter};
use super::guard::Guarded;
use super::mode::{find_mode, Curvature, ModeResult, ModeSettings};
use super::posterior::{Chain, Diagnostics, Posterior};
use super::psis::{pareto_k, Reliability};
use super::rng_for;
use crate::error::FitError;
use crate::math::LN_2PI;
use crate::model::Model;

/// The default number of starts of the optimiser.
pub const DEFAULT_STARTS: usize = 4;

/// The Laplace approximation, built with its settings.
///
/// ```
/// use vi_runtime::{Laplace, Model, ParamLayout, Transform};
///
/// /// Normal(1, 2) in one dimension.
/// struct N12(ParamLayout);
/// impl Model for N12 {
///     fn layout(&self) -> &ParamLayout { &self.0 }
///     fn log_density_grad_jac(&self, t: &[f64], g: &mut [f64], _: bool) -> f64 {
///         g[0] = -(t[0] - 1.0) / 4.0;
///         -(t[0] - 1.0).powi(2) / 8.0
///     }
/// }
/// let mut layout = ParamLayout::new();
/// layout.push("x", vec![], Transform::Identity);
/// let fit = Laplace::default().seed(7).fit(&N12(layout)).unwrap();
/// let vi_runtime::Diagnostics::Laplace(d) = fit.diagnostics() else { unreachable!() };
/// assert!((d.mode[0] - 1.0).abs() < 1e-6);
/// assert!((d.covariance[(0, 0)] - 4.0).abs() < 1e-6);
/// assert_eq!(d.distinct_modes, 1);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Laplace {
    seed: u64,
    draws: usize,
    tolerance: f64,
    max_iterations: usize,
    history: usize,
    jacobian: bool,
    starts: usize,
    threads: usize,
    output: Option<PathBuf>,
}

impl Default for Laplace {
    /// 1000 draws, gradient tolerance 1e-8, at most 2000 L-BFGS iterations with 5 correction
    /// pairs (Stan's `history_size`), Jacobian included (Stan's `laplace` default), 4 starts
    /// on as many threads as there are cores; seed 0; no CSV output.
    fn default() -> Self {
        Laplace {
            seed: 0,
            draws: 1000,
            tolerance: 1e-8,
            max_iterations: 2000,
            history: 5,
            jacobian: true,
            starts: DEFAULT_STARTS,
            threads: 0,
            output: None,
        }
    }
}

impl Laplace {
    /// The random seed (initial points and draws): the same seed gives the same fit, on any
    /// number of threads.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The number of draws from the approximation (default 1000).
    pub fn draws(mut self, n: usize) -> Self {
        self.draws = n;
        self
    }

    /// The optimiser stops when `max_i |grad_i| <= tolerance * max(1, |log p|)`
    /// (default 1e-8).
    pub fn tolerance(mut self, tol: f64) -> Self {
        self.tolerance = tol;
        self
    }

    /// The maximum number of L-BFGS iterations per start (default 2000).
    pub fn max_iterations(mut self, n: usize) -> Self {
        self.max_iterations = n;
        self
    }

    /// The number of L-BFGS correction pairs kept (default 5).
    pub fn history(mut self, n: usize) -> Self {
        self.history = n;
        self
    }

    /// Whether the log-Jacobian of the constraining transforms is part of the density that
    /// is maximised and approximated (default `true`: the approximation is of the density on
    /// the unconstrained space, which is what the draws are taken on). With `false` the mode
    /// is the constrained-space MAP, as Stan's `optimize` gives by default.
    pub fn jacobian(mut self, on: bool) -> Self {
        self.jacobian = on;
        self
    }

    /// The number of random starts of the optimiser (default 4). The approximation is built
    /// at the highest mode found; when the starts reach different modes, the diagnostics say
    /// so and the verdict is "unreliable" whatever k-hat says.
    pub fn starts(mut self, n: usize) -> Self {
        self.starts = n;
        self
    }

    /// The number of threads the starts run on (default 0: one per core, at most one per
    /// start). The result does not depend on it.
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = n;
        self
    }

    /// Writes the draws, as they are made, to the CmdStan CSV file `dir/laplace-1.csv` (the
    /// directory is created if needed); read it back with [`crate::read_csv`]. The
    /// in-memory posterior is returned as without it.
    pub fn output(mut self, dir: impl AsRef<Path>) -> Self {
        self.output = Some(dir.as_ref().to_path_buf());
        self
    }

    fn validate(&self) -> Result<(), FitError> {
        let bad = |message: String| Err(FitError::InvalidSettings { message });
        for (name, v) in [
            ("draws", self.draws),
            ("max_iterations", self.max_iterations),
            ("history", self.history),
            ("starts", self.starts),
        ] {
            if v == 0 {
                return bad(format!("Laplace: `{name}` must be at least 1, got 0"));
            }
        }
        if !(self.tolerance.is_finite() && self.tolerance > 0.0) {
            return bad(format!(
                "Laplace: `tolerance` must be positive and finite, got {}",
                self.tolerance
            ));
        }
        Ok(())
    }

    fn mode_settings(&self) -> ModeSettings {
        ModeSettings {
            tolerance: self.tolerance,
            max_iterations: self.max_iterations,
            history: self.history,
            jacobian: self.jacobian,
            init_radius: 2.0,
            threads: self.threads,
        }
    }

    /// Finds the mode, the curvature there, and draws from the Gaussian approximation.
    ///
    /// A panic inside the model's code at a point the optimiser tries rejects that point
    /// (the line search steps back), and the diagnostics say how often it happened.
    ///
    /// # Errors
    /// [`FitError::InvalidSettings`]; [`FitError::NoParameters`] / [`FitError::NoFiniteStart`]
    /// from the initialisation; [`FitError::ModelPanicked`] when the model's code panicked
    /// at every point tried; [`FitError::Diverged`] when the gradient is not finite next
    /// to the mode; [`FitError::NotNegativeDefinite`] when the optimiser stopped at a point
    /// that is not a maximum (the Hessian has a positive eigenvalue);
    /// [`FitError::SingularMode`] when the mode is numerically singular (the scaled
    /// negative Hessian has a condition number above 1e10: an unidentified direction). Both
    /// name the flat parameter that dominates the direction at fault.
    pub fn fit<M: Model + ?Sized>(&self, model: &M) -> Result<Posterior, FitError> {
        self.validate()?;
        let guarded = Guarded::new(model);
        let names = model.layout().flat_names();
        let found = match find_mode(&guarded, self.starts, self.seed, &self.mode_settings()) {
            Ok(found) => found,
            Err(e @ (FitError::NoFiniteStart { .. } | FitError::Diverged { .. })) => {
                return Err(guarded.error().unwrap_or(e))
            }
            Err(e) => return Err(e),
        };
        found.curvature.check(&names)?;
        let d = found.mode.len();
        let jac = self.jacobian;
        let curvature = &found.curvature;
        let log_det = curvature.log_det();
        let log_evidence = found.log_density + 0.5 * d as f64 * LN_2PI - 0.5 * log_det;
        let covariance = curvature.covariance();
        let factor = curvature.draw_factor();

        let mut csv = match &self.output {
            Some(dir) => Some(
                CsvWriter::create_in(
                    dir,
                    CsvMethod::Laplace,
                    0,
                    &super::derived::csv_layout(model),
                    &[format!("seed = {}", self.seed)],
                )
                .map_err(|e| FitError::Output { message: e })?,
            ),
            None => None,
        };
        if let Some(w) = csv.as_mut() {
            let mut mode_constrained = vec![0.0; d];
            guarded.constrain(&found.mode, &mut mode_constrained);
            write_laplace_comments(
                w,
                &found,
                curvature,
                jac,
                log_evidence,
                &mode_constrained,
                guarded.faults(),
            )
            .map_err(|e| FitError::Output { message: e })?;
        }

        // Draws: theta = mode + F z with F F' = (-H)^-1; ln q = const - |z|^2 / 2.
        let mut rng = rng_for(self.seed, self.starts as u64);
        let log_q_const = -0.5 * d as f64 * LN_2PI + 0.5 * log_det;
        let mode_v = DVector::from_column_slice(&found.mode);
        let mut draws = Vec::with_capacity(self.draws * d);
        let mut lp = Vec::with_capacity(self.draws);
        let mut log_p = Vec::with_capacity(self.draws);
        let mut log_q = Vec::with_capacity(self.draws);
        let mut x = vec![0.0; d];
        let mut row = Vec::new();
        for _ in 0..self.draws {
            let z = DVector::from_fn(d, |_, _| rng.sample::<f64, _>(StandardNormal));
            let theta = &mode_v + &factor * &z;
            let p_fit = nan_to_neg_inf(guarded.log_density_jac(theta.as_slice(), jac));
            let p_lp = if jac {
                p_fit
            } else {
                nan_to_neg_inf(guarded.log_density(theta.as_slice()))
            };
            guarded.constrain(theta.as_slice(), &mut x);
            let q = log_q_const - 0.5 * z.norm_squared();
            if let Some(w) = csv.as_mut() {
                let row = super::derived::csv_row(model, &x, &mut row);
                w.write_approx_draw(p_lp, p_fit, q, row)
                    .map_err(|e| FitError::Output { message: e })?;
            }
            draws.extend_from_slice(&x);
            lp.push(p_lp);
            log_p.push(p_fit);
            log_q.push(q);
        }
        if let Some(w) = csv {
            w.finish().map_err(|e| FitError::Output { message: e })?;
        }
        let ratios: Vec<f64> = log_p.iter().zip(&log_q).map(|(p, q)| p - q).collect();
        let khat = pareto_k(&ratios);
        let mut mode_constrained = vec![0.0; d];
        guarded.constrain(&found.mode, &mut mode_constrained);
        let distinct_modes = found.modes.len().max(1);
        let reliability = if distinct_modes > 1 {
            Reliability::Unreliable
        } else {
            Reliability::from_khat(khat)
        };
        let other_modes = found
            .modes
            .iter()
            .skip(1)
            .map(|(m, f)| {
                let mut c = vec![0.0; d];
                guarded.constrain(m, &mut c);
                (c, *f)
            })
            .collect();
        let diagnostics = LaplaceDiagnostics {
            mode: mode_constrained,
            mode_unconstrained: found.mode.clone(),
            covariance,
            log_density_at_mode: found.log_density,
            log_evidence,
            jacobian: jac,
            iterations: found.iterations,
            newton_steps: found.newton_steps,
            converged: found.converged,
            stop_reason: found.stop_reason.clone(),
            grad_norm: found.grad_norm,
            min_eigenvalue: curvature.min_eigenvalue,
            condition_number: curvature.condition_number,
            starts: found.starts,
            starts_converged: found.starts_converged,
            distinct_modes,
            other_modes,
            faults: guarded.faults(),
            fault: guarded.summary(),
            log_p,
            log_q,
            khat,
            reliability,
        };
        let (layout, chains) = super::derived::with_derived(
            &guarded,
            model.layout().clone(),
            vec![Chain { draws, lp }],
        );
        Ok(Posterior::new(
            layout,
            chains,
            Diagnostics::Laplace(diagnostics),
        ))
    }
}

fn nan_to_neg_inf(v: f64) -> f64 {
    if v.is_nan() {
        f64::NEG_INFINITY
    } else {
        v
    }
}

/// What a Laplace fit reports about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct LaplaceDiagnostics {
    /// The mode on the constrained scale, in flat order.
    pub mode: Vec<f64>,
    /// The mode on the unconstrained scale.
    pub mode_unconstrained: Vec<f64>,
    /// The covariance `(-H)^-1` of the approximation on the unconstrained scale.
    pub covariance: DMatrix<f64>,
    /// The log density at the mode (with the Jacobian when `jacobian` is set).
    pub log_density_at_mode: f64,
    /// The Laplace estimate of the log evidence,
    /// `ln p(y, mode) + d/2 ln 2 pi - 1/2 ln det(-H)`: the log integral of the model's
    /// density over the unconstrained space. With the Jacobian (the default) this is the log
    /// marginal likelihood when the model's density is normalised; without it, it integrates
    /// a density that is not the posterior's on that space and is not an evidence estimate.
    pub log_evidence: f64,
    /// Whether the log-Jacobian was part of the fitted density.
    pub jacobian: bool,
    /// L-BFGS iterations of the start that found the mode.
    pub iterations: usize,
    /// Newton steps after L-BFGS of that start.
    pub newton_steps: usize,
    /// Whether the gradient at the mode is at tolerance.
    pub converged: bool,
    /// Why the optimiser stopped, in words.
    pub stop_reason: String,
    /// The Euclidean norm of the gradient at the mode.
    pub grad_norm: f64,
    /// The smallest eigenvalue of the negative Hessian at the mode (the curvature of the
    /// flattest direction; its inverse is the largest posterior variance).
    pub min_eigenvalue: f64,
    /// The condition number of the negative Hessian at the mode.
    pub condition_number: f64,
    /// How many starts the optimiser ran.
    pub starts: usize,
    /// How many of them converged to a maximum.
    pub starts_converged: usize,
    /// How many distinct maxima the starts reached (1 when they all agree).
    pub distinct_modes: usize,
    /// The other maxima found (constrained scale, flat order), each with its log density,
    /// highest first; empty when all starts agree.
    pub other_modes: Vec<(Vec<f64>, f64)>,
    /// How many evaluations of the model's code panicked (each rejected as a point outside
    /// the model).
    pub faults: usize,
    /// The first such panic, in words, with the statement when the model names it.
    pub fault: Option<String>,
    /// The fitted log density at each draw (Stan's `log_p__`).
    pub log_p: Vec<f64>,
    /// The approximation's log density at each draw (Stan's `log_g__`).
    pub log_q: Vec<f64>,
    /// Pareto k-hat of the importance ratios `log_p - log_q`.
    pub khat: f64,
    /// The verdict: k-hat's, or unreliable when several modes were found.
    pub reliability: Reliability,
}

impl Default for LaplaceDiagnostics {
    fn default() -> Self {
        LaplaceDiagnostics {
            mode: Vec::new(),
            mode_unconstrained: Vec::new(),
            covariance: DMatrix::zeros(0, 0),
            log_density_at_mode: f64::NAN,
            log_evidence: f64::NAN,
            jacobian: true,
            iterations: 0,
            newton_steps: 0,
            converged: false,
            stop_reason: String::new(),
            grad_norm: f64::NAN,
            min_eigenvalue: f64::NAN,
            condition_number: f64::NAN,
            starts: 0,
            starts_converged: 0,
            distinct_modes: 0,
            other_modes: Vec::new(),
            faults: 0,
            fault: None,
            log_p: Vec::new(),
            log_q: Vec::new(),
            khat: f64::NAN,
            reliability: Reliability::Unreliable,
        }
    }
}

impl fmt::Display for LaplaceDiagnostics {
    /// The verdict paragraph printed under the summary table.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.converged {
            write!(
                f,
                "Laplace approximation at the mode found by L-BFGS in {} iterations and {} \
                 Newton steps (gradient norm {:.1e}; condition number {:.1e})",
                self.iterations, self.newton_steps, self.grad_norm, self.condition_number
            )?;
        } else {
            write!(
                f,
                "Laplace approximation at a point where the optimiser did NOT converge ({}; \
                 gradient norm {:.1e}): the mode and covariance may be wrong",
                self.stop_reason, self.grad_norm
            )?;
        }
        if self.jacobian {
            writeln!(
                f,
                "; log evidence (Laplace estimate) {:.4}.",
                self.log_evidence
            )?;
        } else {
            writeln!(
                f,
                "; fitted without the Jacobian (constrained-space MAP), so no evidence estimate."
            )?;
        }
        if self.distinct_modes > 1 {
            writeln!(
                f,
                "{} distinct modes found from {} starts; the approximation describes one (the \
                 highest, log density {:.4}; the next at {:.4}): the posterior is multimodal, \
                 fit with NUTS instead.",
                self.distinct_modes,
                self.starts,
                self.log_density_at_mode,
                self.other_modes.first().map_or(f64::NAN, |m| m.1)
            )?;
        }
        if let Some(fault) = &self.fault {
            writeln!(f, "Warning: {fault}.")?;
        }
        write!(f, "Pareto k-hat = {:.2}: {}", self.khat, self.reliability)?;
        if self.distinct_modes > 1 {
            return write!(f, " (several modes, whatever k-hat says).");
        }
        match self.reliability {
            Reliability::Reliable => write!(
                f,
                " (k < 0.5): the posterior is close to Gaussian on the unconstrained scale."
            ),
            Reliability::UseWithCare => write!(
                f,
                " (0.5 <= k < 0.7): the posterior departs from a Gaussian; check sds and tail \
                 quantiles against NUTS."
            ),
            Reliability::Unreliable => write!(
                f,
                " (k >= 0.7): the posterior is far from Gaussian (skewed, heavy-tailed or \
                 multimodal); do not trust these sds or quantiles, and fit with NUTS instead."
            ),
        }
    }
}

/// The optimiser's figures as `# key = value` comments of a Laplace CSV file, written
/// before its draws; [`crate::read_csv`] reads them back into [`LaplaceDiagnostics`].
fn write_laplace_comments(
    w: &mut CsvWriter,
    found: &ModeResult,
    curvature: &Curvature,
    jacobian: bool,
    log_evidence: f64,
    mode: &[f64],
    faults: usize,
) -> Result<(), String> {
    w.comment_value("iterations", found.iterations)?;
    w.comment_value("newton_steps", found.newton_steps)?;
    w.comment_value("converged", found.converged)?;
    w.comment_value("stop_reason", found.stop_reason.replace('\n', " "))?;
    w.comment_value("grad_norm", f64_str(found.grad_norm))?;
    w.comment_value("min_eigenvalue", f64_str(curvature.min_eigenvalue))?;
    w.comment_value("condition_number", f64_str(curvature.condition_number))?;
    w.comment_value("log_density_at_mode", f64_str(found.log_density))?;
    w.comment_value("log_evidence", f64_str(log_evidence))?;
    w.comment_value("jacobian", jacobian)?;
    w.comment_value("starts", found.starts)?;
    w.comment_value("starts_converged", found.starts_converged)?;
    w.comment_value("distinct_modes", found.modes.len().max(1))?;
    w.comment_value("model_faults", faults)?;
    w.comment_list("mode", mode)?;
    w.comment_list("mode_unconstrained", &found.mode)
}
