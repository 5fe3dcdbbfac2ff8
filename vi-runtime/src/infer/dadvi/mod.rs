// Longer than 800 lines: one method read top to bottom (settings, the fixed draws, the
// whitening, the objective with its Hessian and pair gradients, the Laplace start, the run,
// the Newton finish, the tests of the draws' moments); its pieces are private to the run, and
// a split would make them crate-visible for no reader's gain.
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

use nalgebra::{DMatrix, DVector};
use rand::Rng as _;
use rand_distr::StandardNormal;

use super::init::initial_point;
use super::laplace::Laplace;
use super::lbfgs::{self, LbfgsSettings};
use super::posterior::Diagnostics;
use super::Rng;
use crate::error::FitError;
use crate::math::LN_2PI;
use crate::model::Model;
use crate::stats;

/// The smallest and largest default number of fixed draws.
pub(crate) const DEFAULT_DRAWS_RANGE: (usize, usize) = (32, 128);
/// Step of the central differences of `F`'s gradient, in the whitened coordinates (where a
/// unit is about one posterior sd, or a factor `e` in a sd).
const HESSIAN_STEP: f64 = 1e-4;
/// Newton steps allowed after L-BFGS.
const NEWTON_STEPS: usize = 8;
/// Above this dimension the Laplace start (a dense Hessian by `4d` gradients and an
/// `O(d^3)` factorisation) is skipped.
const LAPLACE_MAX_DIM: usize = 1000;
/// Above this dimension no Hessian of `F` is computed to finish with Newton steps.
const NEWTON_MAX_DIM: usize = 400;
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

/// The fixed draws, `M x d` row-major, antithetic pairs in consecutive rows.
struct FixedDraws {
    m: usize,
    z: Vec<f64>,
    matched: bool,
}

fn fixed_draws(d: usize, m: usize, moment_matching: bool, rng: &mut Rng) -> FixedDraws {
    let k = m / 2;
    let mut half = DMatrix::from_fn(k, d, |_, _| rng.sample::<f64, _>(StandardNormal));
    let matched = moment_matching && k >= d;
    if matched {
        // Orthonormal columns, scaled: sum over the K rows of z z' = K I, so the mean over
        // all M = 2K rows (each row and its negative) of z z' is I.
        let q = half.clone().qr().q();
        half = q * (k as f64).sqrt();
    } else if moment_matching {
        for mut col in half.column_iter_mut() {
            let ms = col.norm_squared() / k as f64;
            if ms > 0.0 {
                col /= ms.sqrt();
            }
        }
    }
    let mut z = Vec::with_capacity(m * d);
    for r in 0..k {
        for sign in [1.0, -1.0] {
            z.extend(half.row(r).iter().map(|v| sign * v));
        }
    }
    FixedDraws { m, z, matched }
}

/// The whitening `mu = shift + L u`.
enum Whitening {
    Dense { shift: Vec<f64>, l: DMatrix<f64> },
    None { shift: Vec<f64> },
}

impl Whitening {
    fn mu(&self, u: &[f64], out: &mut [f64]) {
        match self {
            Whitening::Dense { shift, l } => {
                let v = l * DVector::from_column_slice(u);
                for i in 0..out.len() {
                    out[i] = shift[i] + v[i];
                }
            }
            Whitening::None { shift } => {
                for i in 0..out.len() {
                    out[i] = shift[i] + u[i];
                }
            }
        }
    }

    /// `L' g` in place.
    fn pull_back(&self, g: &mut [f64]) {
        if let Whitening::Dense { l, .. } = self {
            let v = l.tr_mul(&DVector::from_column_slice(g));
            g.copy_from_slice(v.as_slice());
        }
    }

    /// `L C L'`, the covariance of `mu` from that of `u`.
    fn push_cov(&self, c: &DMatrix<f64>) -> DMatrix<f64> {
        match self {
            Whitening::Dense { l, .. } => l * c * l.transpose(),
            Whitening::None { .. } => c.clone(),
        }
    }
}

/// `F` in the whitened coordinates `xi = (u, omega)`.
struct Objective<'a, M: ?Sized> {
    model: &'a M,
    d: usize,
    draws: FixedDraws,
    white: Whitening,
    gradients: usize,
    trace: Vec<f64>,
    trace_gradients: Vec<usize>,
    best: f64,
    /// Threads for the draws of one evaluation (1: none spawned).
    threads: usize,
    /// The draws' log densities and gradients, `M x (d + 1)`.
    buf: Vec<f64>,
}

impl<M: Model + ?Sized> Objective<'_, M> {
    /// `F(xi)` with its gradient into `grad`; with `pairs`, also each antithetic pair's
    /// gradient (`K x 2d` row-major). `-inf` if the log density is not finite at a draw.
    fn eval(&mut self, xi: &[f64], grad: &mut [f64], mut pairs: Option<&mut Vec<f64>>) -> f64 {
        let d = self.d;
        let (u, omega) = xi.split_at(d);
        let mut mu = vec![0.0; d];
        self.white.mu(u, &mut mu);
        let sigma: Vec<f64> = omega.iter().map(|w| w.exp()).collect();
        let m = self.draws.m;
        // Each draw's log density and gradient into its own row of the buffer (in parallel
        // when that pays), then summed in draw order: the same result on any thread count.
        let per = d + 1;
        let mut buf = std::mem::take(&mut self.buf);
        buf.resize(m * per, 0.0);
        let (model, z) = (self.model, &self.draws.z);
        let rows = |first: usize, out: &mut [f64]| {
            let mut theta = vec![0.0; d];
            for (k, row) in out.chunks_exact_mut(per).enumerate() {
                let zr = &z[(first + k) * d..(first + k + 1) * d];
                for i in 0..d {
                    theta[i] = mu[i] + sigma[i] * zr[i];
                }
                let (lp, g) = row.split_at_mut(1);
                lp[0] = model.log_density_grad(&theta, g);
            }
        };
        if self.threads > 1 {
            let chunk = m.div_ceil(self.threads);
            // The draws' threads share the kernels' bound (`vi::threads`).
            let share = (crate::threads::budget() / self.threads).max(1);
            std::thread::scope(|s| {
                for (c, out) in buf.chunks_mut(chunk * per).enumerate() {
                    let rows = &rows;
                    s.spawn(move || crate::threads::with_budget(share, || rows(c * chunk, out)));
                }
            });
        } else {
            rows(0, &mut buf);
        }
        self.gradients += m;

        let mut sum_lp = 0.0;
        let (g_mu, g_omega) = grad.split_at_mut(d);
        g_mu.fill(0.0);
        g_omega.fill(0.0);
        if let Some(p) = pairs.as_deref_mut() {
            p.clear();
        }
        let mut finite = true;
        for r in 0..m {
            let row = &buf[r * per..(r + 1) * per];
            let (lp, g) = (row[0], &row[1..]);
            if !lp.is_finite() || g.iter().any(|v| !v.is_finite()) {
                finite = false;
                break;
            }
            let z = &self.draws.z[r * d..(r + 1) * d];
            sum_lp += lp;
            for i in 0..d {
                g_mu[i] += g[i];
                g_omega[i] += g[i] * z[i];
            }
            if let Some(p) = pairs.as_deref_mut() {
                if r % 2 == 1 {
                    // The pair's own objective gradient: the mean of its two draws' terms.
                    let g_first = &buf[(r - 1) * per + 1..r * per];
                    let mut gm: Vec<f64> = (0..d).map(|i| 0.5 * (g_first[i] + g[i])).collect();
                    self.white.pull_back(&mut gm);
                    p.extend_from_slice(&gm);
                    let zp = &self.draws.z[(r - 1) * d..r * d];
                    p.extend((0..d).map(|i| 0.5 * (g_first[i] - g[i]) * zp[i] * sigma[i] + 1.0));
                }
            }
        }
        self.buf = buf;
        if !finite {
            grad.fill(0.0);
            return f64::NEG_INFINITY;
        }
        let mf = m as f64;
        for v in g_mu.iter_mut() {
            *v /= mf;
        }
        self.white.pull_back(g_mu);
        for i in 0..d {
            g_omega[i] = g_omega[i] / mf * sigma[i] + 1.0;
        }
        let f = sum_lp / mf + omega.iter().sum::<f64>() + 0.5 * d as f64 * (1.0 + LN_2PI);
        if f > self.best {
            self.best = f;
        }
        if self.best.is_finite() {
            self.trace.push(self.best);
            self.trace_gradients.push(self.gradients);
        }
        f
    }

    /// The Hessian of `F` at `xi` by central differences of its exact gradient, symmetrised.
    fn hessian(&mut self, xi: &[f64]) -> Option<DMatrix<f64>> {
        let n = xi.len();
        let mut h = DMatrix::zeros(n, n);
        let mut x = xi.to_vec();
        let mut gp = vec![0.0; n];
        let mut gm = vec![0.0; n];
        for j in 0..n {
            x[j] = xi[j] + HESSIAN_STEP;
            let fp = self.eval_quiet(&x, &mut gp);
            x[j] = xi[j] - HESSIAN_STEP;
            let fm = self.eval_quiet(&x, &mut gm);
            x[j] = xi[j];
            if !(fp.is_finite() && fm.is_finite()) {
                return None;
            }
            for i in 0..n {
                h[(i, j)] = (gp[i] - gm[i]) / (2.0 * HESSIAN_STEP);
            }
        }
        Some((&h + h.transpose()) * 0.5)
    }

    /// `eval` without touching the trace.
    fn eval_quiet(&mut self, xi: &[f64], grad: &mut [f64]) -> f64 {
        let (len, best) = (self.trace.len(), self.best);
        let f = self.eval(xi, grad, None);
        self.trace.truncate(len);
        self.trace_gradients.truncate(len);
        self.best = best;
        f
    }
}

/// The covariance of the pairs' gradients (`K x 2d` row-major) that the fixed draws do not
/// already integrate exactly: each gradient component's residual after regression on a
/// control variate whose mean over the fixed draws is exact by construction. With matched
/// moments that variate is the component's second-order Taylor prediction `quadratic`
/// (quadratic in the draws, so integrated exactly by a design with exact first and second
/// moments): what is left is the part of the posterior's log density beyond the quadratic
/// in each direction, which is what the fit's Monte Carlo error comes from. A Gaussian
/// target then has none, as is true of its fit. With only each coordinate's mean square
/// matched, the variate is `z_i^2 - 1`; without moment matching there is none and this is
/// DADVI's plain sandwich `V`.
fn pair_covariance(
    pairs: &[f64],
    quadratic: Option<&[f64]>,
    draws: &FixedDraws,
    d: usize,
    moment_matching: bool,
) -> DMatrix<f64> {
    let k = draws.m / 2;
    let n = 2 * d;
    // The first draw of pair r.
    let z = |r: usize, i: usize| draws.z[2 * r * d + i];
    let mut resid = DMatrix::zeros(k, n);
    let mut dof = k.saturating_sub(1).max(1);
    for c in 0..n {
        let i = c % d;
        let cv: Option<Vec<f64>> = match (moment_matching, draws.matched, quadratic) {
            (true, true, Some(q)) => Some((0..k).map(|r| q[r * n + c]).collect()),
            (true, _, _) => Some((0..k).map(|r| z(r, i) * z(r, i) - 1.0).collect()),
            (false, _, _) => None,
        };
        // Too few pairs to fit the regression and still estimate a variance: none.
        let cv = cv.filter(|_| k >= 6);
        let p = 1 + usize::from(cv.is_some());
        let x = DMatrix::from_fn(k, p, |r, j| match (j, &cv) {
            (0, _) => 1.0,
            (_, Some(v)) => v[r],
            (_, None) => 0.0,
        });
        let y = DVector::from_fn(k, |r, _| pairs[r * n + c]);
        let beta = x
            .clone()
            .svd(true, true)
            .solve(&y, 1e-12)
            .unwrap_or_else(|_| DVector::zeros(p));
        let r = &y - &x * beta;
        resid.set_column(c, &r);
        dof = dof.min(k.saturating_sub(p).max(1));
    }
    resid.transpose() * &resid / dof as f64
}

/// The Laplace start: the mode, the whitening factor and the log evidence.
fn laplace_start<M: Model + ?Sized>(model: &M, seed: u64) -> Result<LaplaceStart, String> {
    let fit = Laplace::default()
        .seed(seed)
        .draws(2)
        .fit(model)
        .map_err(|e| format!("no Laplace mode: {e}"))?;
    let Diagnostics::Laplace(d) = fit.diagnostics() else {
        return Err("Laplace returned no Laplace diagnostics".into());
    };
    // A point where L-BFGS stopped short of its tolerance still has a negative definite
    // Hessian (Laplace checked): the whitening it gives is what the optimisation needs.
    let chol = d
        .covariance
        .clone()
        .cholesky()
        .ok_or_else(|| "the Laplace covariance is not positive definite".to_string())?;
    Ok(LaplaceStart {
        mode: d.mode_unconstrained.clone(),
        l: chol.l(),
        log_evidence: d.log_evidence,
        converged: d.converged,
        distinct_modes: d.distinct_modes,
    })
}

/// What the Laplace start gives.
struct LaplaceStart {
    mode: Vec<f64>,
    /// `L L' = (-H)^-1`.
    l: DMatrix<f64>,
    log_evidence: f64,
    /// Whether L-BFGS met its tolerance there.
    converged: bool,
    /// How many distinct modes the mode search's starts reached.
    distinct_modes: usize,
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

        let started = if !self.laplace_start {
            Err("the Laplace start was turned off".to_string())
        } else if d > LAPLACE_MAX_DIM {
            Err(format!(
                "{d} parameters: above {LAPLACE_MAX_DIM}, the Laplace start's dense Hessian is \
                 not computed"
            ))
        } else {
            laplace_start(model, seed)
        };
        let (white, omega0, start) = match started {
            Ok(LaplaceStart {
                mode,
                l,
                log_evidence,
                converged,
                distinct_modes,
            }) => {
                // sd_i = 1 / sqrt((-H)_ii) with -H = (L L')^-1 = L^-T L^-1: the squared
                // norms of the columns of L^-1.
                let l_inv = l
                    .clone()
                    .solve_lower_triangular(&DMatrix::identity(d, d))
                    .unwrap_or_else(|| DMatrix::identity(d, d));
                let omega0: Vec<f64> = (0..d)
                    .map(|i| -0.5 * l_inv.column(i).norm_squared().ln())
                    .collect();
                (
                    Whitening::Dense { shift: mode, l },
                    omega0,
                    ViStart::Laplace {
                        log_evidence,
                        converged,
                        distinct_modes,
                    },
                )
            }
            Err(reason) => {
                let (theta0, _, _) = initial_point(model, rng, 2.0)?;
                (
                    Whitening::None { shift: theta0 },
                    vec![0.0; d],
                    ViStart::Random { reason },
                )
            }
        };

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

        let opt = lbfgs::maximize(
            |x, g| obj.eval(x, g, None),
            xi0,
            f0,
            g0,
            LbfgsSettings {
                tol_grad: self.grad_tolerance / f0.abs().max(1.0),
                tol_rel_obj: 0.0,
                max_iterations: self.max_iterations,
                history: 10,
            },
        );
        let mut xi = opt.x;
        let mut f = opt.f;
        let mut grad = opt.grad;
        let mut stop_reason = opt.message.to_string();

        let want_hessian = self.linear_response.unwrap_or(d <= LR_MAX_DIM);
        let mut hessian = if want_hessian
            || (stats::inf_norm(&grad) > self.grad_tolerance && d <= NEWTON_MAX_DIM)
        {
            obj.hessian(&xi)
        } else {
            None
        };
        // Newton steps on F's Hessian where L-BFGS stopped short of the tolerance.
        let mut newton_steps = 0;
        while stats::inf_norm(&grad) > self.grad_tolerance && newton_steps < NEWTON_STEPS {
            let Some(step) = hessian
                .as_ref()
                .and_then(|h| (-h).cholesky())
                .map(|c| c.solve(&DVector::from_column_slice(&grad)))
            else {
                break;
            };
            let mut t = 1.0;
            let mut accepted = false;
            let mut g_new = vec![0.0; 2 * d];
            for _ in 0..20 {
                let x_new: Vec<f64> = xi.iter().zip(step.iter()).map(|(x, s)| x + t * s).collect();
                let f_new = obj.eval(&x_new, &mut g_new, None);
                if f_new.is_finite() && f_new >= f - 1e-12 * f.abs().max(1.0) {
                    xi = x_new;
                    f = f_new;
                    grad.copy_from_slice(&g_new);
                    accepted = true;
                    break;
                }
                t *= 0.5;
            }
            if !accepted {
                break;
            }
            newton_steps += 1;
            if newton_steps % 2 == 0 {
                hessian = obj.hessian(&xi);
            }
        }
        let grad_norm = stats::inf_norm(&grad);
        let converged = grad_norm <= self.grad_tolerance;
        if newton_steps > 0 {
            stop_reason = if converged {
                format!("gradient below tolerance after {newton_steps} Newton steps")
            } else {
                format!("{stop_reason}; gradient still above tolerance after {newton_steps} Newton steps")
            };
            if want_hessian {
                hessian = obj.hessian(&xi);
            }
        } else if converged {
            stop_reason = "gradient below tolerance".into();
        }

        // The pairs' gradients at the optimum, for the sandwich.
        let mut pairs = Vec::new();
        let mut g_tmp = vec![0.0; 2 * d];
        obj.eval_quiet_pairs(&xi, &mut g_tmp, &mut pairs);
        let quadratic = (self.moment_matching && obj.draws.matched)
            .then(|| obj.quadratic_pairs(&xi))
            .flatten();
        let v = pair_covariance(
            &pairs,
            quadratic.as_deref(),
            &obj.draws,
            d,
            self.moment_matching,
        );
        let k = m / 2;
        let n = 2 * d;
        let neg_inv = hessian
            .as_ref()
            .and_then(|h| (-h).cholesky())
            .map(|c| c.inverse());
        let mcse_from_hessian = neg_inv.is_some();
        let h_inv = neg_inv.clone().unwrap_or_else(|| {
            // A Gaussian target's values: -H_F = I in u and 2 I in omega.
            DMatrix::from_fn(n, n, |i, j| match (i == j, i < d) {
                (true, true) => 1.0,
                (true, false) => 0.5,
                _ => 0.0,
            })
        });
        let cov_xi = &h_inv * v * &h_inv / k as f64;
        let cov_mu = obj
            .white
            .push_cov(&cov_xi.view((0, 0), (d, d)).into_owned());
        let mean_mcse: Vec<f64> = (0..d).map(|i| cov_mu[(i, i)].max(0.0).sqrt()).collect();
        let log_sd_mcse: Vec<f64> = (d..n).map(|i| cov_xi[(i, i)].max(0.0).sqrt()).collect();

        let (lr_covariance, lr_failure) = if want_hessian {
            match &neg_inv {
                Some(inv) => (
                    Some(obj.white.push_cov(&inv.view((0, 0), (d, d)).into_owned())),
                    None,
                ),
                None => (
                    None,
                    Some(match &hessian {
                        None => "the Hessian of the objective could not be computed (the log \
                                 density is not finite next to the optimum)"
                            .to_string(),
                        Some(_) => "the Hessian of the objective is not negative definite at \
                                    the optimum found"
                            .to_string(),
                    }),
                ),
            }
        } else {
            (None, None)
        };

        let mut mu = vec![0.0; d];
        obj.white.mu(&xi[..d], &mut mu);
        Ok(Run {
            mu,
            omega: xi[d..].to_vec(),
            objective: f,
            grad_norm,
            iterations: opt.iterations,
            newton_steps,
            converged,
            stop_reason,
            trace: std::mem::take(&mut obj.trace),
            trace_gradients: std::mem::take(&mut obj.trace_gradients),
            gradients: obj.gradients,
            draws: m,
            moments_matched,
            start,
            mean_mcse,
            log_sd_mcse,
            mcse_from_hessian,
            lr_covariance,
            lr_failure,
        })
    }
}

impl<M: Model + ?Sized> Objective<'_, M> {
    /// Each antithetic pair's gradient (`K x 2d`, as the pairs' rows of `eval`) as its
    /// second-order Taylor expansion at `mu` predicts it: with `v = sigma z`, the pair's
    /// mean gradient `g(mu) + T[v, v] / 2` and its half difference `H v`, the directional
    /// derivatives from `g(mu +- h v)`. `2K + 1` model gradients; `None` if one is not
    /// finite.
    fn quadratic_pairs(&mut self, xi: &[f64]) -> Option<Vec<f64>> {
        const H: f64 = 1e-3;
        let d = self.d;
        let (u, omega) = xi.split_at(d);
        let mut mu = vec![0.0; d];
        self.white.mu(u, &mut mu);
        let sigma: Vec<f64> = omega.iter().map(|w| w.exp()).collect();
        let mut g0 = vec![0.0; d];
        let (mut gp, mut gm) = (vec![0.0; d], vec![0.0; d]);
        let mut theta = vec![0.0; d];
        let finite = |lp: f64, g: &[f64]| lp.is_finite() && g.iter().all(|v| v.is_finite());
        if !finite(self.model.log_density_grad(&mu, &mut g0), &g0) {
            return None;
        }
        let k = self.draws.m / 2;
        let mut out = Vec::with_capacity(k * 2 * d);
        for r in 0..k {
            let z = &self.draws.z[2 * r * d..(2 * r + 1) * d];
            for (sign, g) in [(1.0, &mut gp), (-1.0, &mut gm)] {
                for i in 0..d {
                    theta[i] = mu[i] + sign * H * sigma[i] * z[i];
                }
                if !finite(self.model.log_density_grad(&theta, g), g) {
                    return None;
                }
            }
            let mut mean: Vec<f64> = (0..d)
                .map(|i| g0[i] + (gp[i] - 2.0 * g0[i] + gm[i]) / (2.0 * H * H))
                .collect();
            self.white.pull_back(&mut mean);
            out.extend_from_slice(&mean);
            out.extend((0..d).map(|i| sigma[i] * z[i] * (gp[i] - gm[i]) / (2.0 * H) + 1.0));
        }
        self.gradients += 2 * k + 1;
        Some(out)
    }

    /// `eval` with the pairs' gradients, without touching the trace.
    fn eval_quiet_pairs(&mut self, xi: &[f64], grad: &mut [f64], pairs: &mut Vec<f64>) -> f64 {
        let (len, best) = (self.trace.len(), self.best);
        let f = self.eval(xi, grad, Some(pairs));
        self.trace.truncate(len);
        self.trace_gradients.truncate(len);
        self.best = best;
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matched_draws_have_exact_first_and_second_moments() {
        let mut rng = super::super::rng_for(3, 0);
        for (d, m, matched) in [(5, 32, true), (20, 32, false)] {
            let fd = fixed_draws(d, m, true, &mut rng);
            assert_eq!(fd.matched, matched);
            for i in 0..d {
                let mean: f64 = (0..m).map(|r| fd.z[r * d + i]).sum::<f64>() / m as f64;
                assert!(mean.abs() < 1e-12);
                for j in 0..d {
                    let c: f64 = (0..m)
                        .map(|r| fd.z[r * d + i] * fd.z[r * d + j])
                        .sum::<f64>()
                        / m as f64;
                    if i == j {
                        assert!((c - 1.0).abs() < 1e-12, "{c}");
                    } else if matched {
                        assert!(c.abs() < 1e-12, "{c}");
                    }
                }
            }
        }
    }
}
