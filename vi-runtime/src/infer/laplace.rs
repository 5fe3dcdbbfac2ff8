//! The Laplace approximation: a Gaussian at the mode of the unconstrained density.
//!
//! As Stan's `laplace` method: the mode of the log density on the unconstrained space (with
//! the log-Jacobian by default, so it is the mode of the density the draws are taken on) is
//! found by L-BFGS (the private `infer::lbfgs` module); the Hessian `H` there is computed by central
//! differences of the exact gradient (Stan's four-point stencil, `grad_hess_log_prob.hpp`)
//! and symmetrised; the approximation is `Normal(mode, (-H)^-1)`, factored by Cholesky.

use std::fmt;

use nalgebra::{DMatrix, DVector};
use rand::Rng as _;
use rand_distr::StandardNormal;

use super::init::initial_point;
use super::lbfgs::{self, LbfgsSettings};
use super::posterior::{Chain, Diagnostics, Posterior};
use super::psis::{pareto_k, Reliability};
use super::rng_for;
use crate::error::FitError;
use crate::math::LN_2PI;
use crate::model::Model;

/// Step of the finite-difference stencil, relative to `max(1, |theta_i|)` (Stan uses 1e-3).
const HESSIAN_STEP: f64 = 1e-3;
/// The smallest eigenvalue of `-H` accepted, relative to the largest (condition number 1e10:
/// the stencil's rounding error is about 1e-13 of the largest).
const MIN_EIGENVALUE_RATIO: f64 = 1e-10;
/// The objective's relative change per iteration below which L-BFGS stops.
const TOL_REL_OBJ: f64 = 1e-15;

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
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Laplace {
    seed: u64,
    draws: usize,
    tolerance: f64,
    max_iterations: usize,
    history: usize,
    jacobian: bool,
}

impl Default for Laplace {
    /// 1000 draws, gradient tolerance 1e-8, at most 2000 L-BFGS iterations with 5 correction
    /// pairs (Stan's `history_size`), Jacobian included (Stan's `laplace` default); seed 0.
    fn default() -> Self {
        Laplace {
            seed: 0,
            draws: 1000,
            tolerance: 1e-8,
            max_iterations: 2000,
            history: 5,
            jacobian: true,
        }
    }
}

impl Laplace {
    /// The random seed (initial point and draws): the same seed gives the same fit.
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

    /// The maximum number of L-BFGS iterations (default 2000).
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

    fn validate(&self) -> Result<(), FitError> {
        let bad = |message: String| Err(FitError::InvalidSettings { message });
        for (name, v) in [
            ("draws", self.draws),
            ("max_iterations", self.max_iterations),
            ("history", self.history),
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

    /// Finds the mode, the curvature there, and draws from the Gaussian approximation.
    ///
    /// # Errors
    /// [`FitError::InvalidSettings`]; [`FitError::NoParameters`] / [`FitError::NoFiniteStart`]
    /// from the initialisation; [`FitError::Diverged`] when the gradient is not finite next
    /// to the mode; [`FitError::NotNegativeDefinite`] when the Hessian at the mode is not
    /// negative definite (or so nearly singular that its smallest eigenvalue is below 1e-10
    /// of the largest: an unidentified direction), naming the flat parameter with the
    /// largest weight in the eigenvector of the smallest eigenvalue of `-H`.
    pub fn fit<M: Model + ?Sized>(&self, model: &M) -> Result<Posterior, FitError> {
        self.validate()?;
        let mut rng = rng_for(self.seed, 0);
        let (theta0, _, _) = initial_point(model, &mut rng, 2.0)?;
        let d = theta0.len();
        let jac = self.jacobian;
        let mut g0 = vec![0.0; d];
        let f0 = model.log_density_grad_jac(&theta0, &mut g0, jac);
        if !f0.is_finite() || g0.iter().any(|g| !g.is_finite()) {
            return Err(FitError::Diverged {
                message: "the log density without the Jacobian is not finite at the initial \
                          point"
                    .into(),
            });
        }
        let opt = lbfgs::maximize(
            |t, g| model.log_density_grad_jac(t, g, jac),
            theta0,
            f0,
            g0,
            LbfgsSettings {
                tol_grad: self.tolerance,
                tol_rel_obj: TOL_REL_OBJ,
                max_iterations: self.max_iterations,
                history: self.history,
            },
        );
        let mode = opt.x;
        let names = model.layout().flat_names();

        // -H by central differences of the gradient, symmetrised.
        let neg_h = self.neg_hessian(model, &mode, &names)?;
        let chol = match neg_h.clone().cholesky() {
            Some(c) if well_conditioned(&neg_h) => c,
            _ => return Err(not_negative_definite(&neg_h, &names)),
        };
        let l = chol.l();
        let log_det = 2.0 * l.diagonal().iter().map(|v| v.ln()).sum::<f64>();
        let log_evidence = opt.f + 0.5 * d as f64 * LN_2PI - 0.5 * log_det;
        let covariance = chol.inverse();

        // Draws: theta = mode + L^-T z, so that Cov = (L L^T)^-1 = (-H)^-1.
        let log_q_const = -0.5 * d as f64 * LN_2PI + 0.5 * log_det;
        let mode_v = DVector::from_column_slice(&mode);
        let mut draws = Vec::with_capacity(self.draws * d);
        let mut lp = Vec::with_capacity(self.draws);
        let mut log_p = Vec::with_capacity(self.draws);
        let mut log_q = Vec::with_capacity(self.draws);
        let mut x = vec![0.0; d];
        for _ in 0..self.draws {
            let z = DVector::from_fn(d, |_, _| rng.sample::<f64, _>(StandardNormal));
            let offset = l.tr_solve_lower_triangular(&z).unwrap_or_else(|| z.clone());
            let theta = &mode_v + offset;
            let p_fit = nan_to_neg_inf(model.log_density_jac(theta.as_slice(), jac));
            let p_lp = if jac {
                p_fit
            } else {
                nan_to_neg_inf(model.log_density(theta.as_slice()))
            };
            model.constrain(theta.as_slice(), &mut x);
            draws.extend_from_slice(&x);
            lp.push(p_lp);
            log_p.push(p_fit);
            log_q.push(log_q_const - 0.5 * z.norm_squared());
        }
        let ratios: Vec<f64> = log_p.iter().zip(&log_q).map(|(p, q)| p - q).collect();
        let khat = pareto_k(&ratios);
        let mut mode_constrained = vec![0.0; d];
        model.constrain(&mode, &mut mode_constrained);
        let grad_norm = opt.grad.iter().map(|g| g * g).sum::<f64>().sqrt();
        let diagnostics = LaplaceDiagnostics {
            mode: mode_constrained,
            mode_unconstrained: mode,
            covariance,
            log_density_at_mode: opt.f,
            log_evidence,
            jacobian: jac,
            iterations: opt.iterations,
            converged: opt.converged,
            stop_reason: opt.message.to_string(),
            grad_norm,
            log_p,
            log_q,
            khat,
            reliability: Reliability::from_khat(khat),
        };
        Ok(Posterior::new(
            model.layout().clone(),
            vec![Chain { draws, lp }],
            Diagnostics::Laplace(diagnostics),
        ))
    }

    /// The negative Hessian at `x` by Stan's four-point stencil on the exact gradient:
    /// `H[:, j] = (g(x - 2h e_j) - 8 g(x - h e_j) + 8 g(x + h e_j) - g(x + 2h e_j)) / (12 h)`.
    fn neg_hessian<M: Model + ?Sized>(
        &self,
        model: &M,
        x: &[f64],
        names: &[String],
    ) -> Result<DMatrix<f64>, FitError> {
        let d = x.len();
        let mut h = DMatrix::zeros(d, d);
        let mut xp = x.to_vec();
        let mut g = vec![0.0; d];
        for j in 0..d {
            let step = HESSIAN_STEP * x[j].abs().max(1.0);
            for (k, coef) in [(-2.0, 1.0), (-1.0, -8.0), (1.0, 8.0), (2.0, -1.0)] {
                xp[j] = x[j] + k * step;
                let v = model.log_density_grad_jac(&xp, &mut g, self.jacobian);
                if !v.is_finite() || g.iter().any(|gi| !gi.is_finite()) {
                    return Err(FitError::Diverged {
                        message: format!(
                            "the gradient is not finite next to the mode (parameter `{}` moved \
                             by {:e}); the mode may be on the edge of the support",
                            names[j],
                            k * step
                        ),
                    });
                }
                for i in 0..d {
                    h[(i, j)] += coef * g[i] / (12.0 * step);
                }
            }
            xp[j] = x[j];
        }
        Ok(-(&h + h.transpose()) * 0.5)
    }
}

/// Whether the smallest eigenvalue of the (positive definite by Cholesky) `a` is above
/// [`MIN_EIGENVALUE_RATIO`] times the largest: below that, the curvature in that direction is
/// within the finite-difference error and the "covariance" there would be noise.
fn well_conditioned(a: &DMatrix<f64>) -> bool {
    let ev = a.clone().symmetric_eigenvalues();
    let max = ev.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = ev.iter().copied().fold(f64::INFINITY, f64::min);
    min > MIN_EIGENVALUE_RATIO * max
}

fn nan_to_neg_inf(v: f64) -> f64 {
    if v.is_nan() {
        f64::NEG_INFINITY
    } else {
        v
    }
}

/// The error for a negative Hessian `neg_h` that is not positive definite: the smallest
/// eigenvalue and the flat parameter with the largest component of its eigenvector.
fn not_negative_definite(neg_h: &DMatrix<f64>, names: &[String]) -> FitError {
    let eig = neg_h.clone().symmetric_eigen();
    let (k, &lambda) = eig
        .eigenvalues
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(b.1))
        .expect("dimension is at least 1");
    let v = eig.eigenvectors.column(k);
    let (i, _) = v
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
        .expect("dimension is at least 1");
    FitError::NotNegativeDefinite {
        parameter: names[i].clone(),
        eigenvalue: lambda,
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
    /// L-BFGS iterations.
    pub iterations: usize,
    /// Whether L-BFGS met its convergence criterion.
    pub converged: bool,
    /// Why L-BFGS stopped, in words.
    pub stop_reason: String,
    /// The Euclidean norm of the gradient at the mode.
    pub grad_norm: f64,
    /// The fitted log density at each draw (Stan's `log_p__`).
    pub log_p: Vec<f64>,
    /// The approximation's log density at each draw (Stan's `log_g__`).
    pub log_q: Vec<f64>,
    /// Pareto k-hat of the importance ratios `log_p - log_q`.
    pub khat: f64,
    /// The verdict k-hat gives.
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
            converged: false,
            stop_reason: String::new(),
            grad_norm: f64::NAN,
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
                "Laplace approximation at the mode found by L-BFGS in {} iterations \
                 (gradient norm {:.1e})",
                self.iterations, self.grad_norm
            )?;
        } else {
            write!(
                f,
                "Laplace approximation at a point where L-BFGS did NOT converge after {} \
                 iterations ({}; gradient norm {:.1e}): the mode and covariance may be wrong",
                self.iterations, self.stop_reason, self.grad_norm
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
        write!(f, "Pareto k-hat = {:.2}: {}", self.khat, self.reliability)?;
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
