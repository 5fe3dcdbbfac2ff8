//! Data-subsampled stochastic VI: the method of [`Vi::minibatch`](super::vi::Vi::minibatch)
//! (NumPyro's `subsample_size`, PyMC's `Minibatch`).
//!
//! The model's log density must be a prior plus a sum over `N` rows ([`Model::subsample_rows`]);
//! [`Model::subsample`] builds the model on a batch `B` of `b` rows, whose density is
//! `S_B = P + L_B` (prior plus the batch's likelihood), and the model on no rows gives the
//! prior `P` alone. The guide is the mean-field Gaussian of [`Vi::stochastic`](super::vi::Vi::stochastic)
//! (`theta = mu + exp(omega) * eta`).
//!
//! **The gradient estimate.** Every iteration draws `B` without replacement (seeded; sorted
//! so that the gather reads memory in order) and one guide draw `theta`. The plain estimate
//! of the full gradient is `P'(theta) + (N/b) (S_B'(theta) - P'(theta))`, the likelihood
//! scaled by `N/b`. Its noise is of the order of the posterior's own width whenever `b T`
//! (rows seen over the run) is not much larger than `N`: averaged SGD's error in posterior
//! sds is about `sqrt(N / (b T))`, so the means could not come within 0.1 sd without
//! reading the data hundreds of times. So by default the estimate carries a control variate
//! (SVRG, Johnson and Zhang 2013; for stochastic VI, Wang, Chen, Smola and Xing 2013): every
//! `anchor_every` iterations the full gradient `F'(a)` is computed once at the guide's mean
//! `a`, and each step uses
//! `F'(a) + (N/b) (S_B'(theta) - S_B'(a)) + (1 - N/b) (P'(theta) - P'(a))`,
//! unbiased, with a noise that shrinks with `|theta - a|`, a guide sd or so. One full pass
//! per `anchor_every` steps is the price; memory stays that of one batch.
//!
//! **The steps.** Each iteration evaluates the estimate at an antithetic pair of guide
//! draws, `theta = mu +- sigma eta`; `g` below is the pair's mean for the means and half the
//! pair's difference for the log sds (which drops the part of the gradient that the mean's
//! distance from the optimum makes: it would swamp the log sds' steps while the mean
//! travels). The log sds take natural-gradient steps of the mean-field Gaussian (Khan
//! and Lin 2017; Fisher information 2 for `omega`): `omega += rho / 2 (sigma g eta + 1)`,
//! clipped to `1/2`, whose fixed point is the ELBO's (`sigma_i^2 = 1 / E[-H_ii]`). The means
//! take Newton steps `mu += rho C^-1 g` on a curvature estimate `C` (the negative Hessian at
//! the mean by differences of the batch gradient on `4b` rows, eigenvalues made positive),
//! renewed with every anchor (and often in the first iterations), no coordinate moving by
//! more than 1 in a step. A
//! preconditioner leaves the fixed point alone, and without it the means crawl along the
//! ridges of correlated posteriors: with a predictor near 100 the intercept and slope
//! correlate at -0.98 to -0.999, and steps scaled per coordinate (Stan's, or `sigma^2 g`)
//! need thousands of iterations per e-fold there. The guide's sds start at `C_ii^-1/2`.
//!
//! **The fit and its verdict.** The iterates are summed in blocks of `block` iterations; the
//! last `window` blocks are kept (constant memory). The fitted guide is the average over the
//! window (Polyak-Ruppert). Every block, once the window is full, the averages of its older
//! and newer halves are compared: the run has converged when no mean moved by more than
//! `tolerance` guide sds and no log sd by more than `tolerance`; otherwise it goes on, up to
//! `max_iterations`, and the diagnostics say it did not converge and by how much the
//! halves differ.
//!
//! Before the fit the row split is checked once: at the initial point, the log density on
//! all the rows must equal `P + sum_k (S_k - P)` over a partition of the rows into batches
//! (relative 1e-8). A model that computes from the data as a whole (a column's mean inside
//! the model, a lag `y[t - 1]`, a latent per row) fails it and gets an error saying so,
//! never a wrong fit.

use std::collections::VecDeque;

use rand::Rng as _;
use rand_distr::StandardNormal;

use super::guard::Guarded;
use super::init::initial_point;
use super::Rng;
use crate::error::FitError;
use crate::math::LN_2PI;
use crate::model::Model;

/// The settings of the minibatch method.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Settings {
    /// Rows per batch.
    pub batch: usize,
    /// Iterations at most.
    pub max_iterations: usize,
    /// The natural-gradient step `rho`.
    pub step: f64,
    /// Iterations between full-data gradients of the control variate; 0 for none.
    pub anchor_every: usize,
    /// Iterations per block of the average.
    pub block: usize,
    /// Blocks in the averaging window.
    pub window: usize,
    /// The largest move of a mean (in guide sds) or log sd between the window's halves.
    pub tolerance: f64,
}

impl Settings {
    /// Batch `b`; at most 20,000 iterations; step 0.5; a full gradient every 250
    /// iterations; blocks of 50 iterations, a window of 40 blocks; tolerance 0.05.
    pub(crate) fn new(batch: usize) -> Self {
        Settings {
            batch,
            max_iterations: 20_000,
            step: 0.5,
            anchor_every: 250,
            block: 50,
            window: 40,
            tolerance: 0.05,
        }
    }
}

/// What the minibatch method reports beside the ELBO, in [`ViDiagnostics::minibatch`](super::vi::ViDiagnostics::minibatch).
#[derive(Debug, Clone, PartialEq)]
pub struct MinibatchReport {
    /// The observations' number of rows.
    pub rows: usize,
    /// Rows per batch.
    pub batch: usize,
    /// Iterations between full-data gradients (the control variate); 0 without.
    pub anchor_every: usize,
    /// Full-data gradients computed (control variate and the row-split check).
    pub full_passes: usize,
    /// The natural-gradient step used.
    pub step: f64,
    /// The largest move of a mean between the averaging window's halves, in guide sds.
    pub mean_drift: f64,
    /// The largest move of a log sd between the window's halves.
    pub log_sd_drift: f64,
    /// The stop rule's tolerance on both drifts.
    pub tolerance: f64,
}

/// Where the run ended.
pub(crate) struct Run {
    pub mu: Vec<f64>,
    pub omega: Vec<f64>,
    pub elbo_trace: Vec<f64>,
    pub trace_gradients: Vec<usize>,
    pub gradients: usize,
    pub iterations: usize,
    pub converged: bool,
    pub skipped: usize,
    pub report: MinibatchReport,
}

/// The error for a model whose rows cannot be taken apart.
fn refused(why: impl std::fmt::Display) -> FitError {
    FitError::InvalidSettings {
        message: format!("Vi::minibatch: {why}"),
    }
}

/// A model built on some rows, behind the panic guard.
struct Batch<'a> {
    model: Box<dyn Model + 'a>,
}

impl Batch<'_> {
    fn grad(&self, theta: &[f64], grad: &mut [f64]) -> f64 {
        let guarded = Guarded::new(&*self.model);
        guarded.log_density_grad(theta, grad)
    }
    fn value(&self, theta: &[f64]) -> f64 {
        let guarded = Guarded::new(&*self.model);
        guarded.log_density(theta)
    }
}

fn build<'a, M: Model + ?Sized>(
    model: &'a M,
    rows: &[usize],
    d: usize,
) -> Result<Batch<'a>, FitError> {
    let sub = model.subsample(rows).map_err(refused)?;
    if sub.dim() != d {
        return Err(refused(format!(
            "the model on {} rows has {} parameters and on all of them {d}: a latent's size \
             depends on the rows (a latent per row), so batches are not the same model",
            rows.len(),
            sub.dim()
        )));
    }
    Ok(Batch { model: sub })
}

/// Checks that the log density at `theta` is the prior plus the sum of the batches'
/// likelihoods over a partition of the rows into batches of `b`.
fn check_split<M: Model + ?Sized>(
    model: &M,
    prior: &Batch<'_>,
    theta: &[f64],
    n: usize,
    b: usize,
) -> Result<(), FitError> {
    let d = theta.len();
    let full = Guarded::new(model).log_density(theta);
    let p = prior.value(theta);
    let mut sum = p;
    let mut scale = p.abs();
    let rows: Vec<usize> = (0..n).collect();
    for chunk in rows.chunks(b) {
        let s = build(model, chunk, d)?.value(theta);
        sum += s - p;
        scale += (s - p).abs();
    }
    if !(full.is_finite() && sum.is_finite()) {
        return Err(refused(format!(
            "the log density is not finite at the initial point on all the rows ({full}) or on \
             a batch ({sum})"
        )));
    }
    if (full - sum).abs() > 1e-8 * (scale + full.abs()) + 1e-8 {
        return Err(refused(format!(
            "the log density on all {n} rows ({full}) is not the prior plus the sum of its \
             batches' likelihoods ({sum}) at the initial point: the model computes from the \
             rows as a whole (a mean or sum of a column, a lag `y[t - 1]`, a size from the \
             number of rows), so a batch is not a sample of its terms"
        )));
    }
    Ok(())
}

impl Settings {
    pub(crate) fn run<M: Model + ?Sized>(&self, model: &M, rng: &mut Rng) -> Result<Run, FitError> {
        let n = model.subsample_rows().map_err(refused)?;
        if n == 0 {
            return Err(refused("the observations have no rows"));
        }
        let b = self.batch.min(n);
        let guarded = Guarded::new(model);
        let (theta0, _, _) = initial_point(&guarded, rng, 2.0)?;
        let d = theta0.len();
        let prior = build(model, &[], d)?;
        check_split(model, &prior, &theta0, n, b)?;
        let mut full_passes = 1usize;

        let scale = n as f64 / b as f64;
        let mut mu = theta0;
        // The curvature at the start sets the guide's sds and the mean's preconditioner.
        let mut gradients = 0usize;
        let mut curv = self.curvature(model, &prior, &mu, n, rng, &mut gradients)?;
        let mut omega: Vec<f64> = (0..d).map(|i| -0.5 * curv.h[(i, i)].ln()).collect();
        let mut sigma: Vec<f64> = omega.iter().map(|w| w.exp()).collect();
        let mut step_mu = nalgebra::DVector::zeros(d);
        let mut eta = vec![0.0; d];
        let mut theta = vec![0.0; d];
        let mut g = vec![0.0; d];
        let mut g_minus = vec![0.0; d];
        let mut gs = vec![0.0; d];
        let mut gs_ref = vec![0.0; d];
        let mut gp = vec![0.0; d];
        // The control variate's anchor: its point, full gradient and value, prior gradient
        // and value.
        let use_cv = self.anchor_every > 0;
        let mut anchor = vec![0.0; d];
        let mut f_ref = vec![0.0; d];
        let mut p_ref = vec![0.0; d];
        let (mut fv_ref, mut pv_ref) = (0.0, 0.0);
        let mut rows: Vec<usize> = Vec::with_capacity(b);
        let mut skipped = 0usize;
        let mut consecutive = 0usize;

        let mut blocks: VecDeque<Vec<f64>> = VecDeque::with_capacity(self.window + 1);
        let mut block = vec![0.0; 2 * d];
        let mut block_elbo = 0.0;
        let mut block_kept = 0usize;
        let mut elbo_trace = Vec::new();
        let mut trace_gradients = Vec::new();
        let mut converged = false;
        let mut iterations = 0;
        let (mut mean_drift, mut log_sd_drift) = (f64::INFINITY, f64::INFINITY);

        for iter in 0..self.max_iterations {
            iterations = iter + 1;
            // The anchor and the curvature are renewed every 8 iterations up to 64, then at
            // 128, 256, ... while the mean may still travel far, then every `anchor_every`.
            let renew = iter > 0
                && ((iter < 64 && iter % 8 == 0)
                    || (iter < self.anchor_every && iter >= 64 && iter.is_power_of_two())
                    || (self.anchor_every > 0 && iter % self.anchor_every == 0));
            if renew {
                curv = self.curvature(model, &prior, &mu, n, rng, &mut gradients)?;
            }
            if use_cv && (iter == 0 || renew) {
                anchor.copy_from_slice(&mu);
                fv_ref = guarded.log_density_grad(&anchor, &mut f_ref);
                pv_ref = prior.grad(&anchor, &mut p_ref);
                full_passes += 1;
                gradients += 2;
                if !(fv_ref.is_finite() && pv_ref.is_finite())
                    || f_ref.iter().chain(&p_ref).any(|v| !v.is_finite())
                {
                    return Err(FitError::Diverged {
                        message: format!(
                            "the full-data gradient is not finite at the guide's mean at \
                             iteration {iterations}"
                        ),
                    });
                }
            }
            rows.clear();
            rows.extend(rand::seq::index::sample(rng, n, b).iter());
            rows.sort_unstable();
            for i in 0..d {
                eta[i] = rng.sample(StandardNormal);
                theta[i] = mu[i] + sigma[i] * eta[i];
            }
            let batch = build(model, &rows, d)?;
            // The estimate at `theta` into `g`: the scaled batch, plus the control variate.
            let s_ref = if use_cv {
                gradients += 1;
                batch.grad(&anchor, &mut gs_ref)
            } else {
                0.0
            };
            let mut estimate = |theta: &[f64], g: &mut [f64]| -> f64 {
                let s = batch.grad(theta, &mut gs);
                let p = prior.grad(theta, &mut gp);
                if use_cv {
                    for i in 0..d {
                        g[i] = f_ref[i]
                            + scale * (gs[i] - gs_ref[i])
                            + (1.0 - scale) * (gp[i] - p_ref[i]);
                    }
                    fv_ref + scale * (s - s_ref) + (1.0 - scale) * (p - pv_ref)
                } else {
                    for i in 0..d {
                        g[i] = gp[i] + scale * (gs[i] - gp[i]);
                    }
                    p + scale * (s - p)
                }
            };
            // An antithetic pair of guide draws.
            let v_plus = estimate(&theta, &mut g);
            for i in 0..d {
                theta[i] = mu[i] - sigma[i] * eta[i];
            }
            let v_minus = estimate(&theta, &mut g_minus);
            gradients += 4;
            let value = 0.5 * (v_plus + v_minus);
            if !value.is_finite() || g.iter().chain(&g_minus).any(|v| !v.is_finite()) {
                skipped += 1;
                consecutive += 1;
                if consecutive > 50 {
                    return Err(FitError::Diverged {
                        message: format!(
                            "{consecutive} consecutive steps had a non-finite gradient at \
                             iteration {iterations}; {skipped} skipped in all"
                        ),
                    });
                }
            } else {
                consecutive = 0;
                block_elbo += value;
                block_kept += 1;
                // The mean: a damped Newton step on the curvature estimate, shortened so that
                // no coordinate moves by more than 1 (L-BFGS's usual safeguard).
                for i in 0..d {
                    step_mu[i] = self.step * 0.5 * (g[i] + g_minus[i]);
                }
                let step = &curv.inv * &step_mu;
                let len = step.amax();
                let shrink = if len > 1.0 { 1.0 / len } else { 1.0 };
                for i in 0..d {
                    mu[i] += shrink * step[i];
                    // The pair's difference drops the part of the gradient that the mean's
                    // distance from the optimum makes, which would swamp the log sds.
                    let sge = 0.5 * sigma[i] * (g[i] - g_minus[i]) * eta[i];
                    let domega = (0.5 * self.step * (sge + 1.0)).clamp(-0.5, 0.5);
                    omega[i] += domega;
                    sigma[i] = omega[i].exp();
                }
            }
            if mu.iter().chain(&omega).any(|v| !v.is_finite()) {
                return Err(FitError::Diverged {
                    message: format!(
                        "the guide's parameters became non-finite at iteration {iterations} \
                         (step {})",
                        self.step
                    ),
                });
            }
            for (acc, v) in block.iter_mut().zip(mu.iter().chain(&omega)) {
                *acc += v;
            }
            if iterations % self.block == 0 {
                let entropy = 0.5 * d as f64 * (1.0 + LN_2PI) + omega.iter().sum::<f64>();
                elbo_trace.push(if block_kept > 0 {
                    block_elbo / block_kept as f64 + entropy
                } else {
                    f64::NAN
                });
                trace_gradients.push(gradients);
                block_elbo = 0.0;
                block_kept = 0;
                let k = self.block as f64;
                blocks.push_back(
                    std::mem::replace(&mut block, vec![0.0; 2 * d])
                        .into_iter()
                        .map(|v| v / k)
                        .collect(),
                );
                if blocks.len() > self.window {
                    blocks.pop_front();
                }
                if blocks.len() == self.window {
                    (mean_drift, log_sd_drift) = drifts(&blocks, d);
                    if mean_drift <= self.tolerance && log_sd_drift <= self.tolerance {
                        converged = true;
                        break;
                    }
                }
            }
        }
        // The average over the window (the blocks kept; the partial block if none is full).
        let avg: Vec<f64> = if blocks.is_empty() {
            mu.iter().chain(&omega).copied().collect()
        } else {
            (0..2 * d)
                .map(|i| blocks.iter().map(|bl| bl[i]).sum::<f64>() / blocks.len() as f64)
                .collect()
        };
        Ok(Run {
            mu: avg[..d].to_vec(),
            omega: avg[d..].to_vec(),
            elbo_trace,
            trace_gradients,
            gradients,
            iterations,
            converged,
            skipped,
            report: MinibatchReport {
                rows: n,
                batch: b,
                anchor_every: self.anchor_every,
                full_passes,
                step: self.step,
                mean_drift,
                log_sd_drift,
                tolerance: self.tolerance,
            },
        })
    }
}

/// The negative Hessian of the log density near the guide's mean, estimated on a batch,
/// made positive definite, and its inverse: the mean steps' preconditioner.
struct Curvature {
    h: nalgebra::DMatrix<f64>,
    inv: nalgebra::DMatrix<f64>,
}

impl Settings {
    /// The negative Hessian at `mu` by forward differences of the batch estimate of the
    /// full gradient (`P' + (N/b) (S_B' - P')` on `4b` rows), symmetrised; its eigenvalues
    /// are taken in absolute value and floored at `1e-10` of the largest, so that the
    /// preconditioner is positive definite even where the density is not concave.
    fn curvature<M: Model + ?Sized>(
        &self,
        model: &M,
        prior: &Batch<'_>,
        mu: &[f64],
        n: usize,
        rng: &mut Rng,
        gradients: &mut usize,
    ) -> Result<Curvature, FitError> {
        let d = mu.len();
        let b = (4 * self.batch).min(n);
        let mut rows: Vec<usize> = rand::seq::index::sample(rng, n, b).into_vec();
        rows.sort_unstable();
        let batch = build(model, &rows, d)?;
        let scale = n as f64 / b as f64;
        let (mut gs, mut gp) = (vec![0.0; d], vec![0.0; d]);
        let mut full_grad = |theta: &[f64], out: &mut [f64]| -> bool {
            let s = batch.grad(theta, &mut gs);
            let p = prior.grad(theta, &mut gp);
            *gradients += 2;
            for i in 0..d {
                out[i] = gp[i] + scale * (gs[i] - gp[i]);
            }
            s.is_finite() && p.is_finite() && out.iter().all(|v| v.is_finite())
        };
        let mut g0 = vec![0.0; d];
        let mut g1 = vec![0.0; d];
        let mut theta = mu.to_vec();
        if !full_grad(mu, &mut g0) {
            return Err(FitError::Diverged {
                message: "the gradient is not finite at the guide's mean, where the curvature is estimated"
                    .into(),
            });
        }
        let mut h = nalgebra::DMatrix::zeros(d, d);
        for j in 0..d {
            let step = 1e-5 * mu[j].abs().max(1e-3);
            theta[j] = mu[j] + step;
            if !full_grad(&theta, &mut g1) {
                return Err(FitError::Diverged {
                    message: "the gradient is not finite next to the guide's mean, where the curvature is estimated"
                        .into(),
                });
            }
            theta[j] = mu[j];
            for i in 0..d {
                h[(i, j)] = -(g1[i] - g0[i]) / step;
            }
        }
        let h = 0.5 * (&h + h.transpose());
        let eig = nalgebra::SymmetricEigen::new(h);
        let top = eig.eigenvalues.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if !(top.is_finite() && top > 0.0) {
            return Err(FitError::Diverged {
                message: format!("the curvature at the guide's mean is {top}"),
            });
        }
        let lambda = eig.eigenvalues.map(|v| v.abs().max(1e-10 * top));
        let q = &eig.eigenvectors;
        let h = q * nalgebra::DMatrix::from_diagonal(&lambda) * q.transpose();
        let inv = q * nalgebra::DMatrix::from_diagonal(&lambda.map(|v| 1.0 / v)) * q.transpose();
        Ok(Curvature { h, inv })
    }
}

/// The largest move between the averages of the window's older and newer halves: of a mean
/// in guide sds (the newer half's), and of a log sd.
fn drifts(blocks: &VecDeque<Vec<f64>>, d: usize) -> (f64, f64) {
    let h = blocks.len() / 2;
    let avg = |range: std::ops::Range<usize>, i: usize| {
        range.clone().map(|k| blocks[k][i]).sum::<f64>() / range.len() as f64
    };
    let (mut dm, mut dw) = (0.0f64, 0.0f64);
    for i in 0..d {
        let (old_mu, new_mu) = (avg(0..h, i), avg(h..blocks.len(), i));
        let (old_w, new_w) = (avg(0..h, d + i), avg(h..blocks.len(), d + i));
        dm = dm.max((new_mu - old_mu).abs() / new_w.exp());
        dw = dw.max((new_w - old_w).abs());
    }
    (dm, dw)
}

/// The minibatch fit: the run, then `draws` draws from the averaged guide (each with the
/// log density on all the rows, for Pareto k-hat).
pub(crate) fn fit<M: Model + ?Sized>(
    settings: &Settings,
    model: &M,
    seed: u64,
    draws: usize,
) -> Result<super::posterior::Posterior, FitError> {
    use super::posterior::{Diagnostics, Posterior};
    use super::psis::{pareto_k, Reliability};
    use super::vi::{draw, Spread, ViDiagnostics, ViMethod};
    use crate::stats::mean_and_se;

    let mut rng = super::rng_for(seed, 0);
    let run = settings.run(model, &mut rng)?;
    let sd: Vec<f64> = run.omega.iter().map(|w| w.exp()).collect();
    let guarded = Guarded::new(model);
    let (chain, ratios) = draw(
        &guarded,
        &run.mu,
        &Spread::Diagonal(&sd),
        draws,
        &mut rng,
        None,
    )?;
    let (elbo, elbo_mcse) = mean_and_se(&ratios);
    let khat = pareto_k(&ratios);
    let mut warnings = Vec::new();
    if !run.converged {
        warnings.push(format!(
            "the minibatch fit did not converge within {} iterations: between the halves of \
             its averaging window the means still moved by up to {:.3} guide sds and the log \
             sds by up to {:.3} (tolerance {}); raise `max_iterations`",
            run.iterations, run.report.mean_drift, run.report.log_sd_drift, run.report.tolerance
        ));
    }
    let diagnostics = ViDiagnostics {
        method: ViMethod::Stochastic,
        elbo,
        elbo_mcse,
        elbo_trace: run.elbo_trace,
        trace_gradients: run.trace_gradients,
        gradient_evaluations: run.gradients,
        eval_interval: settings.block,
        iterations: run.iterations,
        converged: run.converged,
        skipped_steps: run.skipped,
        khat,
        reliability: Reliability::from_khat(khat),
        mean: run.mu,
        sd,
        warnings,
        minibatch: Some(run.report),
        ..ViDiagnostics::default()
    };
    let (layout, chains) = super::derived::with_derived(model, model.layout().clone(), vec![chain]);
    Ok(Posterior::new(layout, chains, Diagnostics::Vi(diagnostics)))
}

/// The first line of the verdict of a minibatch fit.
pub(crate) fn fmt_verdict(
    d: &super::vi::ViDiagnostics,
    mb: &MinibatchReport,
    f: &mut std::fmt::Formatter<'_>,
) -> std::fmt::Result {
    let how = if mb.anchor_every > 0 {
        format!(
            "with a full-data control variate every {} iterations, {} full passes",
            mb.anchor_every, mb.full_passes
        )
    } else {
        "without a control variate".to_string()
    };
    if d.converged {
        write!(
            f,
            "Mean-field VI (minibatches of {} of {} rows, {how}) converged after {} \
             iterations: the averaged means moved by at most {:.3} guide sds",
            mb.batch, mb.rows, d.iterations, mb.mean_drift
        )?;
    } else {
        write!(
            f,
            "Mean-field VI (minibatches of {} of {} rows, {how}) did NOT converge within {} \
             iterations (the averaged means still moved by {:.3} guide sds, the log sds by \
             {:.3}; tolerance {})",
            mb.batch, mb.rows, d.iterations, mb.mean_drift, mb.log_sd_drift, mb.tolerance
        )?;
    }
    write!(f, ", ELBO {:.4} +- {:.4}", d.elbo, d.elbo_mcse)?;
    if d.skipped_steps > 0 {
        write!(
            f,
            "; {} steps skipped (non-finite gradient)",
            d.skipped_steps
        )?;
    }
    writeln!(f, ".")
}
