//! The mode of a log density and the curvature there: what the Laplace approximation (and
//! DADVI's Laplace start) is built on.
//!
//! [`find_mode`] climbs from several random starts in parallel, each by L-BFGS rounds
//! finished by Newton steps on the Hessian, computed by central differences of the exact
//! gradient; [`Curvature`] holds the Jacobi-scaled eigen-decomposition of the negative
//! Hessian, which tells a maximum from a saddle or a numerically singular mode and gives the
//! covariance `(-H)^-1`. The method is described in `laplace.rs`.

use nalgebra::{DMatrix, DVector};

use super::init::initial_point;
use super::lbfgs::{self, LbfgsSettings};
use super::rng_for;
use crate::error::FitError;
use crate::model::Model;
use crate::stats;

/// Step of the finite-difference stencil, relative to `max(1, |theta_i|)` (Stan uses 1e-3).
const HESSIAN_STEP: f64 = 1e-3;
/// The smallest eigenvalue of the scaled negative Hessian `S` accepted, relative to the
/// largest (a condition number of `S` of 1e10): below that the curvature in that direction
/// is within the finite-difference error and the "covariance" there would be noise.
const SINGULAR_RATIO: f64 = 1e-10;
/// The objective's relative change per iteration below which L-BFGS stops (Newton then
/// takes over).
const TOL_REL_OBJ: f64 = 1e-15;
/// The most Newton steps in a round after L-BFGS.
const MAX_NEWTON: usize = 20;
/// The fewest L-BFGS iterations in a round before Newton steps (at least `8 d`).
const LBFGS_ROUND: usize = 100;
/// Newton steps continue, even with the gradient at tolerance, while the Newton decrement
/// `sqrt(g' (-H)^-1 g)` (the distance to the mode in posterior standard deviations) is above
/// this.
const NEWTON_DECREMENT_TOL: f64 = 1e-8;
/// A Newton step longer than this (in posterior standard deviations) is followed by a new
/// Hessian; a shorter one keeps the Hessian, which it changes by less than the approximation
/// is worth.
const HESSIAN_REUSE: f64 = 1e-3;
/// Two converged starts are at the same mode when they are closer than this in the metric
/// of the better one's negative Hessian (in posterior standard deviations).
const SAME_MODE: f64 = 1e-2;

/// The settings of [`find_mode`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ModeSettings {
    /// Converged when `max_i |grad_i| <= tolerance * max(1, |log p|)` (Laplace: 1e-8).
    pub tolerance: f64,
    /// The L-BFGS iteration cap per start (Laplace: 2000).
    pub max_iterations: usize,
    /// L-BFGS correction pairs (Laplace: 5).
    pub history: usize,
    /// Whether the log-Jacobian is part of the maximised density.
    pub jacobian: bool,
    /// Starts are uniform in `(-init_radius, init_radius)` on the unconstrained scale (2).
    pub init_radius: f64,
    /// Threads to run the starts on; 0 for one per core. The result does not depend on it.
    pub threads: usize,
}

impl Default for ModeSettings {
    /// Laplace's defaults.
    fn default() -> Self {
        ModeSettings {
            tolerance: 1e-8,
            max_iterations: 2000,
            history: 5,
            jacobian: true,
            init_radius: 2.0,
            threads: 0,
        }
    }
}

/// The negative Hessian at a point, Jacobi-scaled and eigen-decomposed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Curvature {
    /// `-H`, symmetrised.
    pub neg_hessian: DMatrix<f64>,
    /// `D = diag(-H)^-1/2` (1 where a diagonal element is not positive).
    pub scale: DVector<f64>,
    /// The eigenvalues of `S = D (-H) D`, ascending.
    pub eigenvalues: DVector<f64>,
    /// The eigenvectors of `S`, as columns in the order of `eigenvalues`.
    pub eigenvectors: DMatrix<f64>,
    /// The smallest eigenvalue of `-H` (from the covariance's largest when `-H` is positive
    /// definite, which keeps its relative accuracy at any condition number).
    pub min_eigenvalue: f64,
    /// The largest eigenvalue of `-H`.
    pub max_eigenvalue: f64,
    /// `max_eigenvalue / min_eigenvalue`, at most `1 / f64::EPSILON` (4.5e15) when the
    /// smallest is zero to rounding or negative.
    pub condition_number: f64,
}

impl Curvature {
    fn new(neg_h: DMatrix<f64>) -> Self {
        let d = neg_h.nrows();
        let scale = DVector::from_fn(d, |i, _| {
            let a = neg_h[(i, i)];
            if a > 0.0 && a.is_finite() {
                1.0 / a.sqrt()
            } else {
                1.0
            }
        });
        let s = DMatrix::from_fn(d, d, |i, j| scale[i] * neg_h[(i, j)] * scale[j]);
        let eig = s.symmetric_eigen();
        let mut order: Vec<usize> = (0..d).collect();
        order.sort_by(|&a, &b| eig.eigenvalues[a].total_cmp(&eig.eigenvalues[b]));
        let eigenvalues = DVector::from_fn(d, |k, _| eig.eigenvalues[order[k]]);
        let eigenvectors = DMatrix::from_fn(d, d, |i, k| eig.eigenvectors[(i, order[k])]);
        let raw = neg_h.clone().symmetric_eigenvalues();
        let max_eigenvalue = raw.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut c = Curvature {
            neg_hessian: neg_h,
            scale,
            eigenvalues,
            eigenvectors,
            min_eigenvalue: raw.iter().copied().fold(f64::INFINITY, f64::min),
            max_eigenvalue,
            condition_number: 1.0 / f64::EPSILON,
        };
        if c.eigenvalues[0] > 0.0 {
            let cov_max = c
                .covariance()
                .symmetric_eigenvalues()
                .iter()
                .copied()
                .fold(f64::NEG_INFINITY, f64::max);
            c.min_eigenvalue = 1.0 / cov_max;
        }
        if c.min_eigenvalue > 0.0 {
            c.condition_number = (max_eigenvalue / c.min_eigenvalue).min(1.0 / f64::EPSILON);
        }
        c
    }

    /// Whether `-H` is positive definite beyond rounding: the point is a maximum and the
    /// covariance can be trusted.
    pub fn is_maximum(&self) -> bool {
        let d = self.eigenvalues.len();
        self.eigenvalues[0] > SINGULAR_RATIO * self.eigenvalues[d - 1]
    }

    /// `(-H)^-1 g`, with each eigenvalue of `S` replaced by its absolute value (floored at
    /// 1e-12 of the largest): the Newton step towards the mode, and an ascent direction
    /// away from a saddle or a minimum.
    fn newton_step(&self, g: &[f64]) -> DVector<f64> {
        let d = g.len();
        let top = self.eigenvalues.amax().max(f64::MIN_POSITIVE);
        let dg = DVector::from_fn(d, |i, _| self.scale[i] * g[i]);
        let mut coef = self.eigenvectors.tr_mul(&dg);
        for (k, c) in coef.iter_mut().enumerate() {
            *c /= self.eigenvalues[k].abs().max(1e-12 * top);
        }
        let u = &self.eigenvectors * coef;
        DVector::from_fn(d, |i, _| self.scale[i] * u[i])
    }

    /// The covariance `(-H)^-1 = D U Lambda^-1 U' D`.
    pub fn covariance(&self) -> DMatrix<f64> {
        let f = self.draw_factor();
        &f * f.transpose()
    }

    /// `F = D U Lambda^-1/2`, so that `F F' = (-H)^-1`: draws are `mode + F z`.
    pub fn draw_factor(&self) -> DMatrix<f64> {
        let d = self.scale.len();
        DMatrix::from_fn(d, d, |i, k| {
            self.scale[i] * self.eigenvectors[(i, k)] / self.eigenvalues[k].sqrt()
        })
    }

    /// `ln det(-H) = sum ln(1 / D_ii^2) + sum ln lambda_k`.
    pub fn log_det(&self) -> f64 {
        -2.0 * self.scale.iter().map(|s| s.ln()).sum::<f64>()
            + self.eigenvalues.iter().map(|l| l.ln()).sum::<f64>()
    }

    /// The flat index that dominates direction `k` of `S`, mapped back to `theta`: the
    /// largest `|D_ii u_ik|`.
    fn dominant(&self, k: usize) -> usize {
        let col = self.eigenvectors.column(k);
        (0..col.len())
            .max_by(|&a, &b| {
                (self.scale[a] * col[a])
                    .abs()
                    .total_cmp(&(self.scale[b] * col[b]).abs())
            })
            .unwrap_or(0)
    }

    /// Whether the point is a usable mode: `Ok`, or the one error that says what is wrong.
    ///
    /// # Errors
    /// [`FitError::NotNegativeDefinite`] when `S` has an eigenvalue below `-1e-10` of the
    /// largest (the Hessian has a positive eigenvalue: not a maximum);
    /// [`FitError::SingularMode`] when the smallest is within `1e-10` of zero relative to the
    /// largest.
    pub fn check(&self, names: &[String]) -> Result<(), FitError> {
        if self.is_maximum() {
            return Ok(());
        }
        let d = self.eigenvalues.len();
        let top = self.eigenvalues[d - 1].abs();
        if self.eigenvalues[0] < -SINGULAR_RATIO * top {
            // The curvature along the direction of S's most negative eigenvalue, in theta:
            // v = D u / |D u|, v' (-H) v = lambda / |D u|^2.
            let u = self.eigenvectors.column(0);
            let du2: f64 = (0..d).map(|i| (self.scale[i] * u[i]).powi(2)).sum();
            let eigenvalue = if self.min_eigenvalue < 0.0 {
                self.min_eigenvalue
            } else {
                self.eigenvalues[0] / du2
            };
            Err(FitError::NotNegativeDefinite {
                parameter: names[self.dominant(0)].clone(),
                eigenvalue,
            })
        } else {
            Err(FitError::SingularMode {
                parameter: names[self.dominant(0)].clone(),
                condition_number: self.condition_number,
            })
        }
    }
}

/// What [`find_mode`] found.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ModeResult {
    /// The highest mode found, on the unconstrained scale.
    pub mode: Vec<f64>,
    /// The log density there (with the Jacobian when the settings say so).
    pub log_density: f64,
    /// The gradient there.
    pub grad: Vec<f64>,
    /// Its Euclidean norm.
    pub grad_norm: f64,
    /// The negative Hessian there, with its eigen-decomposition
    /// ([`Curvature::check`] says whether it is a usable maximum).
    pub curvature: Curvature,
    /// Whether the gradient at `mode` is at tolerance.
    pub converged: bool,
    /// L-BFGS iterations of the start that found `mode`.
    pub iterations: usize,
    /// Newton steps after L-BFGS of that start.
    pub newton_steps: usize,
    /// Why that start stopped, in words.
    pub stop_reason: String,
    /// The start (0-based) that found `mode`.
    pub start: usize,
    /// How many starts were run.
    pub starts: usize,
    /// How many of them converged to a maximum.
    pub starts_converged: usize,
    /// The distinct maxima the converged starts reached, highest first, each with its log
    /// density: `modes[0]` is `mode` when that start converged. More than one means the
    /// posterior is multimodal and a Gaussian describes one mode only.
    pub modes: Vec<(Vec<f64>, f64)>,
}

/// One start's climb.
struct Climb {
    start: usize,
    x: Vec<f64>,
    f: f64,
    g: Vec<f64>,
    curvature: Curvature,
    iterations: usize,
    newton_steps: usize,
    converged: bool,
    message: String,
}

/// Finds the mode of `model`'s unconstrained log density from `starts` random starts run in
/// parallel, and the curvature there: the building block of [`Laplace`] and of VI's
/// initialisation.
///
/// Each start `k` (0-based) draws its initial point uniformly in
/// `(-settings.init_radius, init_radius)^dim` with the generator `rng_for(seed, k)` (streams
/// `0..starts` of `seed` are used; take a caller's own draws from stream `starts` or above),
/// climbs by L-BFGS, then by Newton steps on the finite-difference Hessian of the exact
/// gradient until `max_i |grad_i| <= tolerance * max(1, |log p|)` and the Newton decrement is
/// below 1e-8. The starts run on `settings.threads` threads (0: one per core) and the
/// result is the same on any number of threads.
///
/// The result is the highest point among the starts that converged (among all starts when
/// none did: then `converged` is false), with its negative Hessian eigen-decomposed
/// (`curvature`: call [`Curvature::check`] for the error to report when it is not a usable
/// maximum, [`Curvature::covariance`] for `(-H)^-1`), and `modes`, the distinct maxima the
/// starts reached (two converged starts are one mode when they are within 0.01 posterior
/// standard deviations in the better one's metric). When `modes.len() > 1`, say so ("2
/// distinct modes found; the approximation describes one") and give the verdict
/// [`Reliability::Unreliable`].
///
/// Pass a [`Guarded`] model so that panics in the model's code are rejected points; a panic
/// that still escapes a start's thread ends that start with [`FitError::ModelPanicked`].
///
/// # Errors
/// When no start gets as far as a curvature, the error of the first start (in start order):
/// [`FitError::NoParameters`], [`FitError::NoFiniteStart`] from the initialisation, or
/// [`FitError::Diverged`] when the density or gradient is not finite at the start or next to
/// the point found.
pub(crate) fn find_mode<M: Model + ?Sized>(
    model: &M,
    starts: usize,
    seed: u64,
    settings: &ModeSettings,
) -> Result<ModeResult, FitError> {
    let starts = starts.max(1);
    // The starts' threads share the kernels' bound (`vi::threads`).
    let total = crate::threads::budget();
    let threads = match settings.threads {
        0 => total,
        n => n,
    }
    .min(starts);
    let share = (total / threads.max(1)).max(1);
    let mut results: Vec<Option<Result<Climb, FitError>>> = (0..starts).map(|_| None).collect();
    if threads <= 1 {
        for (k, r) in results.iter_mut().enumerate() {
            *r = Some(climb(model, k, seed, settings));
        }
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    s.spawn(move || {
                        crate::threads::with_budget(share, || {
                            (t..starts)
                                .step_by(threads)
                                .map(|k| (k, climb(model, k, seed, settings)))
                                .collect::<Vec<_>>()
                        })
                    })
                })
                .collect();
            for (t, h) in handles.into_iter().enumerate() {
                match h.join() {
                    Ok(done) => {
                        for (k, r) in done {
                            results[k] = Some(r);
                        }
                    }
                    Err(payload) => {
                        let message = payload
                            .downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| payload.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "a panic with a non-text payload".into());
                        for k in (t..starts).step_by(threads) {
                            results[k] = Some(Err(FitError::ModelPanicked {
                                message: message.clone(),
                                statement: None,
                                faults: 1,
                            }));
                        }
                    }
                }
            }
        });
    }
    let mut climbs = Vec::with_capacity(starts);
    let mut first_error = None;
    for r in results.into_iter().flatten() {
        match r {
            Ok(c) => climbs.push(c),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if climbs.is_empty() {
        return Err(first_error.unwrap_or(FitError::NoParameters));
    }
    // Maxima, highest first (ties to the earlier start), then the distinct ones.
    let mut maxima: Vec<&Climb> = climbs
        .iter()
        .filter(|c| c.converged && c.curvature.is_maximum())
        .collect();
    maxima.sort_by(|a, b| b.f.total_cmp(&a.f).then(a.start.cmp(&b.start)));
    let mut distinct: Vec<&Climb> = Vec::new();
    for c in &maxima {
        let same = distinct.iter().any(|m| {
            let delta = DVector::from_fn(c.x.len(), |i, _| c.x[i] - m.x[i]);
            let d2 = delta.dot(&(&m.curvature.neg_hessian * &delta));
            d2.abs().sqrt() < SAME_MODE
        });
        if !same {
            distinct.push(c);
        }
    }
    let best = match distinct.first() {
        Some(b) => *b,
        None => climbs
            .iter()
            .max_by(|a, b| a.f.total_cmp(&b.f).then(b.start.cmp(&a.start)))
            .expect("climbs is not empty"),
    };
    Ok(ModeResult {
        mode: best.x.clone(),
        log_density: best.f,
        grad_norm: best.g.iter().map(|g| g * g).sum::<f64>().sqrt(),
        grad: best.g.clone(),
        curvature: best.curvature.clone(),
        converged: best.converged,
        iterations: best.iterations,
        newton_steps: best.newton_steps,
        stop_reason: best.message.clone(),
        start: best.start,
        starts,
        starts_converged: maxima.len(),
        modes: distinct.iter().map(|c| (c.x.clone(), c.f)).collect(),
    })
}

/// Start `start`: an initial point, L-BFGS, then Newton steps.
fn climb<M: Model + ?Sized>(
    model: &M,
    start: usize,
    seed: u64,
    settings: &ModeSettings,
) -> Result<Climb, FitError> {
    let mut rng = rng_for(seed, start as u64);
    let (theta0, _, _) = initial_point(model, &mut rng, settings.init_radius)?;
    let d = theta0.len();
    let jac = settings.jacobian;
    let eval = |t: &[f64], g: &mut [f64]| model.log_density_grad_jac(t, g, jac);
    let finite = |f: f64, g: &[f64]| f.is_finite() && g.iter().all(|v| v.is_finite());
    let mut g0 = vec![0.0; d];
    let f0 = eval(&theta0, &mut g0);
    if !finite(f0, &g0) {
        return Err(FitError::Diverged {
            message: "the log density without the Jacobian is not finite at the initial point"
                .into(),
        });
    }
    let at_tol = |f: f64, g: &[f64]| stats::inf_norm(g) <= settings.tolerance * f.abs().max(1.0);
    // Rounds of L-BFGS then Newton: L-BFGS runs at most `round` iterations before Newton
    // takes over (on an ill-conditioned posterior it would crawl to the cap), and resumes
    // from Newton's point while iterations remain and the gradient is not at tolerance.
    // Newton costs a Hessian (4 d gradients) per round, so a round is at least 8 d
    // iterations.
    let round = LBFGS_ROUND.max(8 * d).min(settings.max_iterations);
    let mut remaining = settings.max_iterations;
    let (mut x, mut f, mut g) = (theta0, f0, g0);
    let (mut iterations, mut newton_steps, mut rounds) = (0, 0, 0);
    let (curvature, lbfgs_message, stalled) = loop {
        let opt = lbfgs::maximize(
            eval,
            x,
            f,
            g,
            LbfgsSettings {
                tol_grad: settings.tolerance,
                tol_rel_obj: TOL_REL_OBJ,
                max_iterations: round.min(remaining),
                history: settings.history,
            },
        );
        rounds += 1;
        iterations += opt.iterations;
        remaining -= opt.iterations.min(remaining);
        (x, f, g) = (opt.x, opt.f, opt.grad);
        let mut curvature = Curvature::new(neg_hessian(model, &x, jac)?);
        let mut stalled = false;
        let mut steps = 0;
        while steps < MAX_NEWTON {
            let step = curvature.newton_step(&g);
            let decrement = step.dot(&DVector::from_column_slice(&g)).abs().sqrt();
            if at_tol(f, &g) && curvature.is_maximum() && decrement <= NEWTON_DECREMENT_TOL {
                break;
            }
            // Backtracking: accept a step that raises the density, or one that keeps it
            // within rounding and lowers the gradient (near the mode the density changes by
            // less than its rounding error).
            let slack = 8.0 * f64::EPSILON * f.abs().max(1.0);
            let mut t = 1.0;
            let mut accepted = None;
            for _ in 0..40 {
                let xt: Vec<f64> = x.iter().zip(&step).map(|(a, s)| a + t * s).collect();
                let mut gt = vec![0.0; d];
                let ft = eval(&xt, &mut gt);
                if finite(ft, &gt)
                    && (ft > f || (ft >= f - slack && stats::inf_norm(&gt) < stats::inf_norm(&g)))
                {
                    accepted = Some((xt, ft, gt));
                    break;
                }
                t *= 0.5;
            }
            let Some((xt, ft, gt)) = accepted else {
                stalled = true;
                break;
            };
            steps += 1;
            (x, f, g) = (xt, ft, gt);
            if t * decrement > HESSIAN_REUSE || !curvature.is_maximum() {
                curvature = Curvature::new(neg_hessian(model, &x, jac)?);
            }
        }
        newton_steps += steps;
        let capped = opt.message == lbfgs::ITERATION_CAP;
        if at_tol(f, &g) || remaining == 0 || !capped {
            break (curvature, opt.message, stalled);
        }
    };
    let converged = at_tol(f, &g);
    let message = format!(
        "L-BFGS: {lbfgs_message} after {iterations} iterations in all; {newton_steps} Newton \
         step{} in {rounds} round{}{}; gradient {}",
        if newton_steps == 1 { "" } else { "s" },
        if rounds == 1 { "" } else { "s" },
        if stalled {
            " (the last made no progress)"
        } else {
            ""
        },
        if converged {
            "at tolerance"
        } else {
            "NOT at tolerance"
        }
    );
    Ok(Climb {
        start,
        x,
        f,
        g,
        curvature,
        iterations,
        newton_steps,
        converged,
        message,
    })
}

/// The negative Hessian at `x` by Stan's four-point stencil on the exact gradient:
/// `H[:, j] = (g(x - 2h e_j) - 8 g(x - h e_j) + 8 g(x + h e_j) - g(x + 2h e_j)) / (12 h)`,
/// symmetrised.
fn neg_hessian<M: Model + ?Sized>(
    model: &M,
    x: &[f64],
    jacobian: bool,
) -> Result<DMatrix<f64>, FitError> {
    let d = x.len();
    let mut h = DMatrix::zeros(d, d);
    let mut xp = x.to_vec();
    let mut g = vec![0.0; d];
    for j in 0..d {
        let step = HESSIAN_STEP * x[j].abs().max(1.0);
        for (k, coef) in [(-2.0, 1.0), (-1.0, -8.0), (1.0, 8.0), (2.0, -1.0)] {
            xp[j] = x[j] + k * step;
            let v = model.log_density_grad_jac(&xp, &mut g, jacobian);
            if !v.is_finite() || g.iter().any(|gi| !gi.is_finite()) {
                let names = model.layout().flat_names();
                return Err(FitError::Diverged {
                    message: format!(
                        "the gradient is not finite next to the mode (parameter `{}` moved \
                         by {:e}); the mode may be on the edge of the support",
                        names.get(j).map_or("?", String::as_str),
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
