//! The No-U-Turn sampler: multinomial NUTS with Stan's windowed adaptation.
//!
//! The transition is Stan's `base_nuts.hpp` (Betancourt 2017, "A Conceptual Introduction to
//! Hamiltonian Monte Carlo", appendix A): the trajectory doubles in a random direction; a new
//! subtree replaces the current sample with probability `min(1, w_new / w_old)` (biased
//! progressive sampling) while states inside a subtree are chosen in proportion to their
//! weights `exp(-H)` (multinomial sampling); the generalised no-U-turn criterion
//! `p#_minus . rho > 0 && p#_plus . rho > 0` is checked across every merged tree and, as in
//! Stan since 2.21, across the two halves extended by one state each. The integrator is
//! leapfrog with a diagonal metric; a transition whose energy error exceeds 1000, or whose
//! log density or gradient is not finite, is divergent and ends the trajectory.
//!
//! Warmup is Stan's `windowed_adaptation.hpp` and `stepsize_adaptation.hpp`: an initial
//! buffer of 75 iterations adapting the step size only; slow windows of 25, 50, 100, ...
//! iterations at the end of each of which the metric is set to the regularised variance of
//! the window's draws and the step size re-initialised by Stan's heuristic; a terminal buffer
//! of 50 iterations; the step size by Nesterov dual averaging toward the target acceptance
//! statistic, fixed at the end of warmup to the averaged iterate.

use std::fmt;
use std::time::{Duration, Instant};

use rand::Rng as _;
use rand_distr::StandardNormal;

use super::diagnostics;
use super::init::initial_point;
use super::posterior::{Chain, Diagnostics, Posterior};
use super::{rng_for, Rng};
use crate::error::FitError;
use crate::math::log_sum_exp;
use crate::model::Model;
use crate::progress::Bars;

/// The NUTS engine and its settings; [`Nuts::fit`] runs it.
///
/// Defaults are CmdStan's: 4 chains of 1000 warmup and 1000 sampling iterations, target
/// acceptance statistic 0.8, maximum tree depth 10, adaptation windows 75 / 25 / 50, dual
/// averaging with gamma 0.05, t0 10, kappa 0.75, initial values uniform in (-2, 2).
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
    init_radius: f64,
    init_buffer: usize,
    term_buffer: usize,
    window: usize,
    gamma: f64,
    kappa: f64,
    t0: f64,
    max_energy_error: f64,
    threads: Option<usize>,
    progress: bool,
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
            init_radius: 2.0,
            init_buffer: 75,
            term_buffer: 50,
            window: 25,
            gamma: 0.05,
            kappa: 0.75,
            t0: 10.0,
            max_energy_error: 1000.0,
            threads: None,
            progress: true,
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
    /// Width of the initial fast adaptation interval (default 75).
    pub fn init_buffer(mut self, n: usize) -> Self {
        self.init_buffer = n;
        self
    }
    /// Width of the final fast adaptation interval (default 50).
    pub fn term_buffer(mut self, n: usize) -> Self {
        self.term_buffer = n;
        self
    }
    /// Width of the first slow adaptation window; later windows double (default 25).
    pub fn window(mut self, n: usize) -> Self {
        self.window = n;
        self
    }
    /// Dual averaging: adaptation regularisation scale (default 0.05).
    pub fn gamma(mut self, gamma: f64) -> Self {
        self.gamma = gamma;
        self
    }
    /// Dual averaging: relaxation exponent (default 0.75).
    pub fn kappa(mut self, kappa: f64) -> Self {
        self.kappa = kappa;
        self
    }
    /// Dual averaging: adaptation iteration offset (default 10).
    pub fn t0(mut self, t0: f64) -> Self {
        self.t0 = t0;
        self
    }
    /// The energy error above which a transition is divergent (default 1000).
    pub fn max_energy_error(mut self, max: f64) -> Self {
        self.max_energy_error = max;
        self
    }
    /// The number of worker threads (default: the machine's parallelism, at most one per
    /// chain). The draws do not depend on it.
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
        for (name, v) in [("gamma", self.gamma), ("t0", self.t0)] {
            if !(v > 0.0 && v.is_finite()) {
                return bad(format!("{name} must be positive and finite, got {v}"));
            }
        }
        if !(self.kappa > 0.0 && self.kappa <= 1.0) {
            return bad(format!("kappa must be in (0, 1], got {}", self.kappa));
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
    /// usable step size (an improper or discontinuous posterior).
    pub fn fit<M: Model + ?Sized>(&self, model: &M) -> Result<Posterior, FitError> {
        self.validate()?;
        if model.dim() == 0 {
            return Err(FitError::NoParameters);
        }
        let start = Instant::now();
        let bars = if self.progress {
            Bars::new("NUTS")
        } else {
            Bars::hidden("NUTS")
        };
        let bars = &bars;
        let threads = self
            .threads
            .unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(usize::from)
                    .unwrap_or(1)
            })
            .clamp(1, self.chains);
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
                            (t..self.chains)
                                .step_by(threads)
                                .map(|c| (c, self.run_chain(model, c, bars)))
                                .collect::<Vec<_>>()
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
                ParamDiagnostics {
                    name,
                    rhat: diagnostics::rhat(&x),
                    ess_bulk: diagnostics::ess_bulk(&x),
                    ess_tail: diagnostics::ess_tail(&x),
                    mcse_mean: diagnostics::mcse_mean(&x),
                }
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
            elapsed: start.elapsed(),
        };
        Ok(Posterior::new(layout, chains, Diagnostics::Nuts(diag)))
    }

    /// Warmup and sampling of chain `chain`, with its own generator.
    fn run_chain<M: Model + ?Sized>(
        &self,
        model: &M,
        chain: usize,
        bars: &Bars,
    ) -> Result<ChainRun, FitError> {
        let warmup_start = Instant::now();
        let mut rng = rng_for(self.seed, chain as u64);
        let (q, lp, grad) = initial_point(model, &mut rng, self.init_radius)?;
        let d = q.len();
        let mut s = Sampler {
            model,
            inv_metric: vec![1.0; d],
            eps: self.step_size,
            max_depth: self.max_depth,
            max_energy_error: self.max_energy_error,
            rng,
            z: Point {
                p: vec![0.0; d],
                q,
                lp,
                grad,
            },
        };
        s.init_stepsize()?;

        let mut dual = DualAveraging::new(self);
        dual.set_mu((10.0 * self.step_size).ln());
        let mut windows =
            Windows::new(self.warmup, self.init_buffer, self.term_buffer, self.window);
        let mut welford = Welford::new(d);
        let mut warmup_divergences = 0;
        bars.start(chain, "warmup", self.warmup as u64);
        for _ in 0..self.warmup {
            bars.advance(chain, 1);
            let t = s.transition();
            warmup_divergences += usize::from(t.divergent);
            dual.learn(&mut s.eps, t.accept_stat);
            if windows.learn_variance(&mut welford, &mut s.inv_metric, &s.z.q) {
                s.init_stepsize()?;
                dual.set_mu((10.0 * s.eps).ln());
                dual.restart();
            }
        }
        if self.warmup > 0 {
            s.eps = dual.x_bar.exp();
        }

        let warmup_time = warmup_start.elapsed();
        let sampling_start = Instant::now();
        let kept = self.draws.div_ceil(self.thin);
        let mut draws = Vec::with_capacity(kept * d);
        let mut lps = Vec::with_capacity(kept);
        let mut stats = Vec::with_capacity(kept);
        let mut x = vec![0.0; d];
        bars.start(chain, "sampling", self.draws as u64);
        for it in 0..self.draws {
            bars.advance(chain, 1);
            let t = s.transition();
            if it % self.thin == 0 {
                model.constrain(&s.z.q, &mut x);
                draws.extend_from_slice(&x);
                lps.push(s.z.lp);
                stats.push(t);
            }
        }
        bars.finish(chain);
        Ok(ChainRun {
            draws,
            lp: lps,
            stats,
            step_size: s.eps,
            inv_metric: s.inv_metric,
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
    warmup_divergences: usize,
    warmup_time: Duration,
    sampling_time: Duration,
}

/// CmdStan's sampler parameters of one draw.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SamplerStats {
    /// The mean Metropolis acceptance probability over the trajectory (`accept_stat__`).
    pub accept_stat: f64,
    /// The step size used (`stepsize__`).
    pub step_size: f64,
    /// The depth of the trajectory tree (`treedepth__`).
    pub tree_depth: usize,
    /// The number of leapfrog steps (`n_leapfrog__`).
    pub n_leapfrog: usize,
    /// Whether the trajectory diverged (`divergent__`).
    pub divergent: bool,
    /// The Hamiltonian at the draw (`energy__`).
    pub energy: f64,
}

/// A point in phase space: position, momentum, log density and its gradient.
#[derive(Clone)]
struct Point {
    q: Vec<f64>,
    p: Vec<f64>,
    lp: f64,
    grad: Vec<f64>,
}

/// One chain's sampler: the current point, the metric and the step size.
struct Sampler<'m, M: ?Sized> {
    model: &'m M,
    /// The diagonal of the inverse metric (the variance estimate).
    inv_metric: Vec<f64>,
    eps: f64,
    max_depth: usize,
    max_energy_error: f64,
    rng: Rng,
    z: Point,
}

/// The state a transition carries across the recursion (Stan's `n_leapfrog`,
/// `sum_metro_prob`, `divergent_`).
struct Tally {
    h0: f64,
    n_leapfrog: usize,
    sum_metro_prob: f64,
    divergent: bool,
}

/// `p#_minus . rho > 0 && p#_plus . rho > 0`: the generalised no-U-turn criterion.
fn criterion(p_sharp_minus: &[f64], p_sharp_plus: &[f64], rho: &[f64]) -> bool {
    dot(p_sharp_plus, rho) > 0.0 && dot(p_sharp_minus, rho) > 0.0
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn add(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x + y).collect()
}

impl<M: Model + ?Sized> Sampler<'_, M> {
    /// `H = -log p(q) + p' M^-1 p / 2`; NaN counts as infinite.
    fn hamiltonian(&self, z: &Point) -> f64 {
        let k: f64 =
            z.p.iter()
                .zip(&self.inv_metric)
                .map(|(p, m)| p * p * m)
                .sum();
        let h = -z.lp + 0.5 * k;
        if h.is_nan() {
            f64::INFINITY
        } else {
            h
        }
    }

    /// `dtau/dp = M^-1 p`.
    fn p_sharp(&self, z: &Point) -> Vec<f64> {
        z.p.iter()
            .zip(&self.inv_metric)
            .map(|(p, m)| p * m)
            .collect()
    }

    fn sample_momentum(&mut self) {
        for (p, m) in self.z.p.iter_mut().zip(&self.inv_metric) {
            let n: f64 = self.rng.sample(StandardNormal);
            *p = n / m.sqrt();
        }
    }

    /// One leapfrog step of size `eps` from `self.z`. A non-finite log density or gradient
    /// sets the log density to -inf, so the energy error is infinite: a divergence.
    fn leapfrog(&mut self, eps: f64) {
        let z = &mut self.z;
        for (p, g) in z.p.iter_mut().zip(&z.grad) {
            *p += 0.5 * eps * g;
        }
        for ((q, p), m) in z.q.iter_mut().zip(&z.p).zip(&self.inv_metric) {
            *q += eps * m * p;
        }
        let lp = self.model.log_density_grad(&z.q, &mut z.grad);
        if !lp.is_finite() || !z.grad.iter().all(|g| g.is_finite()) {
            z.lp = f64::NEG_INFINITY;
            return;
        }
        z.lp = lp;
        for (p, g) in z.p.iter_mut().zip(&z.grad) {
            *p += 0.5 * eps * g;
        }
    }

    /// Stan's `init_stepsize` (`base_hmc.hpp`): double or halve the step size until the
    /// acceptance probability of one leapfrog step from a fresh momentum crosses 0.8.
    fn init_stepsize(&mut self) -> Result<(), FitError> {
        let z_init = self.z.clone();
        let delta_h = |s: &mut Self| -> f64 {
            s.z = z_init.clone();
            s.sample_momentum();
            let h0 = s.hamiltonian(&s.z);
            s.leapfrog(s.eps);
            h0 - s.hamiltonian(&s.z)
        };
        let threshold = 0.8f64.ln();
        let direction = if delta_h(self) > threshold { 1 } else { -1 };
        loop {
            let dh = delta_h(self);
            // `dh` is never NaN (the Hamiltonian maps NaN to +inf), so `<=` is `!(>)`.
            if (direction == 1 && dh <= threshold) || (direction == -1 && dh >= threshold) {
                break;
            }
            self.eps = if direction == 1 {
                self.eps * 2.0
            } else {
                self.eps * 0.5
            };
            if self.eps > 1e7 {
                self.z = z_init;
                return Err(FitError::Diverged {
                    message: "the step size grew beyond 1e7 while initialising it: the \
                              posterior is improper (check the model's priors)"
                        .into(),
                });
            }
            if self.eps == 0.0 {
                self.z = z_init;
                return Err(FitError::Diverged {
                    message: "no acceptably small step size could be found: the log density \
                              or its gradient is not finite or not continuous near the \
                              initial point"
                        .into(),
                });
            }
        }
        self.z = z_init;
        Ok(())
    }

    /// One NUTS transition from `self.z` (Stan's `base_nuts::transition`).
    fn transition(&mut self) -> SamplerStats {
        let d = self.z.q.len();
        self.sample_momentum();
        let mut tally = Tally {
            h0: self.hamiltonian(&self.z),
            n_leapfrog: 0,
            sum_metro_prob: 0.0,
            divergent: false,
        };
        let mut z_fwd = self.z.clone();
        let mut z_bck = self.z.clone();
        let mut z_sample = self.z.clone();
        let mut z_propose = self.z.clone();

        // Momenta and sharp momenta at both ends of the forward and backward subtrees.
        let mut p_fwd_fwd = self.z.p.clone();
        let mut p_sharp_fwd_fwd = self.p_sharp(&self.z);
        let mut p_fwd_bck = p_fwd_fwd.clone();
        let mut p_sharp_fwd_bck = p_sharp_fwd_fwd.clone();
        let mut p_bck_fwd = p_fwd_fwd.clone();
        let mut p_sharp_bck_fwd = p_sharp_fwd_fwd.clone();
        let mut p_bck_bck = p_fwd_fwd.clone();
        let mut p_sharp_bck_bck = p_sharp_fwd_fwd.clone();

        // Summed momenta along the trajectory.
        let mut rho = self.z.p.clone();
        // Log of the summed weights exp(H0 - H), offset by H0.
        let mut log_sum_weight = 0.0;
        let mut depth = 0;

        while depth < self.max_depth {
            let mut rho_fwd = vec![0.0; d];
            let mut rho_bck = vec![0.0; d];
            let mut log_sum_weight_subtree = f64::NEG_INFINITY;
            let valid_subtree;
            if self.rng.random::<f64>() > 0.5 {
                // Extend forward: the old trajectory becomes the backward subtree.
                self.z = z_fwd.clone();
                rho_bck.clone_from(&rho);
                p_bck_fwd.clone_from(&p_fwd_fwd);
                p_sharp_bck_fwd.clone_from(&p_sharp_fwd_fwd);
                valid_subtree = self.build_tree(
                    depth,
                    &mut z_propose,
                    &mut p_sharp_fwd_bck,
                    &mut p_sharp_fwd_fwd,
                    &mut rho_fwd,
                    &mut p_fwd_bck,
                    &mut p_fwd_fwd,
                    1.0,
                    &mut tally,
                    &mut log_sum_weight_subtree,
                );
                z_fwd = self.z.clone();
            } else {
                // Extend backward: the old trajectory becomes the forward subtree.
                self.z = z_bck.clone();
                rho_fwd.clone_from(&rho);
                p_fwd_bck.clone_from(&p_bck_bck);
                p_sharp_fwd_bck.clone_from(&p_sharp_bck_bck);
                valid_subtree = self.build_tree(
                    depth,
                    &mut z_propose,
                    &mut p_sharp_bck_fwd,
                    &mut p_sharp_bck_bck,
                    &mut rho_bck,
                    &mut p_bck_fwd,
                    &mut p_bck_bck,
                    -1.0,
                    &mut tally,
                    &mut log_sum_weight_subtree,
                );
                z_bck = self.z.clone();
            }
            if !valid_subtree {
                break;
            }
            depth += 1;

            // Biased progressive sampling: prefer the new subtree.
            if log_sum_weight_subtree > log_sum_weight {
                z_sample = z_propose.clone();
            } else {
                let accept_prob = (log_sum_weight_subtree - log_sum_weight).exp();
                if self.rng.random::<f64>() < accept_prob {
                    z_sample = z_propose.clone();
                }
            }
            log_sum_weight = log_sum_exp(&[log_sum_weight, log_sum_weight_subtree]);

            rho = add(&rho_bck, &rho_fwd);
            // Across the merged trajectory, then between the subtrees extended by one state.
            let mut persist = criterion(&p_sharp_bck_bck, &p_sharp_fwd_fwd, &rho);
            let rho_extended = add(&rho_bck, &p_fwd_bck);
            persist &= criterion(&p_sharp_bck_bck, &p_sharp_fwd_bck, &rho_extended);
            let rho_extended = add(&rho_fwd, &p_bck_fwd);
            persist &= criterion(&p_sharp_bck_fwd, &p_sharp_fwd_fwd, &rho_extended);
            if !persist {
                break;
            }
        }

        let accept_stat = if tally.n_leapfrog > 0 {
            tally.sum_metro_prob / tally.n_leapfrog as f64
        } else {
            0.0
        };
        self.z = z_sample;
        SamplerStats {
            accept_stat,
            step_size: self.eps,
            tree_depth: depth,
            n_leapfrog: tally.n_leapfrog,
            divergent: tally.divergent,
            energy: self.hamiltonian(&self.z),
        }
    }

    /// Builds a subtree of `2^depth` leapfrog steps in direction `sign` from `self.z`
    /// (Stan's `base_nuts::build_tree`); returns whether it is valid (no divergence, no
    /// U-turn inside it).
    #[allow(clippy::too_many_arguments)]
    fn build_tree(
        &mut self,
        depth: usize,
        z_propose: &mut Point,
        p_sharp_beg: &mut Vec<f64>,
        p_sharp_end: &mut Vec<f64>,
        rho: &mut [f64],
        p_beg: &mut Vec<f64>,
        p_end: &mut Vec<f64>,
        sign: f64,
        tally: &mut Tally,
        log_sum_weight: &mut f64,
    ) -> bool {
        if depth == 0 {
            self.leapfrog(sign * self.eps);
            tally.n_leapfrog += 1;
            let h = self.hamiltonian(&self.z);
            if h - tally.h0 > self.max_energy_error {
                tally.divergent = true;
            }
            *log_sum_weight = log_sum_exp(&[*log_sum_weight, tally.h0 - h]);
            tally.sum_metro_prob += if tally.h0 - h > 0.0 {
                1.0
            } else {
                (tally.h0 - h).exp()
            };
            z_propose.clone_from(&self.z);
            *p_sharp_beg = self.p_sharp(&self.z);
            p_sharp_end.clone_from(p_sharp_beg);
            for (r, p) in rho.iter_mut().zip(&self.z.p) {
                *r += p;
            }
            p_beg.clone_from(&self.z.p);
            p_end.clone_from(&self.z.p);
            return !tally.divergent;
        }
        let d = rho.len();

        // The initial subtree.
        let mut log_sum_weight_init = f64::NEG_INFINITY;
        let mut p_init_end = vec![0.0; d];
        let mut p_sharp_init_end = vec![0.0; d];
        let mut rho_init = vec![0.0; d];
        if !self.build_tree(
            depth - 1,
            z_propose,
            p_sharp_beg,
            &mut p_sharp_init_end,
            &mut rho_init,
            p_beg,
            &mut p_init_end,
            sign,
            tally,
            &mut log_sum_weight_init,
        ) {
            return false;
        }

        // The final subtree.
        let mut z_propose_final = self.z.clone();
        let mut log_sum_weight_final = f64::NEG_INFINITY;
        let mut p_final_beg = vec![0.0; d];
        let mut p_sharp_final_beg = vec![0.0; d];
        let mut rho_final = vec![0.0; d];
        if !self.build_tree(
            depth - 1,
            &mut z_propose_final,
            &mut p_sharp_final_beg,
            p_sharp_end,
            &mut rho_final,
            &mut p_final_beg,
            p_end,
            sign,
            tally,
            &mut log_sum_weight_final,
        ) {
            return false;
        }

        // Multinomial sampling between the two halves.
        let log_sum_weight_subtree = log_sum_exp(&[log_sum_weight_init, log_sum_weight_final]);
        *log_sum_weight = log_sum_exp(&[*log_sum_weight, log_sum_weight_subtree]);
        if log_sum_weight_final > log_sum_weight_subtree {
            *z_propose = z_propose_final;
        } else {
            let accept_prob = (log_sum_weight_final - log_sum_weight_subtree).exp();
            if self.rng.random::<f64>() < accept_prob {
                *z_propose = z_propose_final;
            }
        }

        let rho_subtree = add(&rho_init, &rho_final);
        for (r, s) in rho.iter_mut().zip(&rho_subtree) {
            *r += s;
        }
        let mut persist = criterion(p_sharp_beg, p_sharp_end, &rho_subtree);
        let rho_extended = add(&rho_init, &p_final_beg);
        persist &= criterion(p_sharp_beg, &p_sharp_final_beg, &rho_extended);
        let rho_extended = add(&rho_final, &p_init_end);
        persist &= criterion(&p_sharp_init_end, p_sharp_end, &rho_extended);
        persist
    }
}

/// Nesterov dual averaging of the log step size (Stan's `stepsize_adaptation.hpp`).
struct DualAveraging {
    counter: f64,
    s_bar: f64,
    x_bar: f64,
    mu: f64,
    delta: f64,
    gamma: f64,
    kappa: f64,
    t0: f64,
}

impl DualAveraging {
    fn new(nuts: &Nuts) -> Self {
        DualAveraging {
            counter: 0.0,
            s_bar: 0.0,
            x_bar: 0.0,
            mu: 0.0,
            delta: nuts.target_accept,
            gamma: nuts.gamma,
            kappa: nuts.kappa,
            t0: nuts.t0,
        }
    }

    fn set_mu(&mut self, mu: f64) {
        self.mu = mu;
    }

    fn restart(&mut self) {
        self.counter = 0.0;
        self.s_bar = 0.0;
        self.x_bar = 0.0;
    }

    fn learn(&mut self, eps: &mut f64, adapt_stat: f64) {
        self.counter += 1.0;
        let adapt_stat = adapt_stat.min(1.0);
        let eta = 1.0 / (self.counter + self.t0);
        self.s_bar = (1.0 - eta) * self.s_bar + eta * (self.delta - adapt_stat);
        let x = self.mu - self.s_bar * self.counter.sqrt() / self.gamma;
        let x_eta = self.counter.powf(-self.kappa);
        self.x_bar = (1.0 - x_eta) * self.x_bar + x_eta * x;
        *eps = x.exp();
    }
}

/// Stan's windowed adaptation schedule (`windowed_adaptation.hpp`) with the variance
/// estimator of `var_adaptation.hpp`.
struct Windows {
    num_warmup: i64,
    init_buffer: i64,
    term_buffer: i64,
    counter: i64,
    window_size: i64,
    next_window: i64,
    /// False when warmup is too short (< 20) to estimate a metric.
    enabled: bool,
}

impl Windows {
    fn new(num_warmup: usize, init_buffer: usize, term_buffer: usize, base_window: usize) -> Self {
        let w = num_warmup as i64;
        let (mut ib, mut tb, mut bw) = (init_buffer as i64, term_buffer as i64, base_window as i64);
        let enabled = num_warmup >= 20;
        if enabled && ib + bw + tb > w {
            // Stan: 15% / 75% / 10% when the configured stages do not fit.
            ib = (0.15 * w as f64) as i64;
            tb = (0.1 * w as f64) as i64;
            bw = w - (ib + tb);
        }
        Windows {
            num_warmup: w,
            init_buffer: ib,
            term_buffer: tb,
            counter: 0,
            window_size: bw,
            next_window: ib + bw - 1,
            enabled,
        }
    }

    fn in_window(&self) -> bool {
        self.counter >= self.init_buffer
            && self.counter < self.num_warmup - self.term_buffer
            && self.counter != self.num_warmup
    }

    fn end_of_window(&self) -> bool {
        self.counter == self.next_window && self.counter != self.num_warmup
    }

    fn compute_next_window(&mut self) {
        if self.next_window == self.num_warmup - self.term_buffer - 1 {
            return;
        }
        self.window_size *= 2;
        self.next_window = self.counter + self.window_size;
        if self.next_window != self.num_warmup - self.term_buffer - 1 {
            let next_boundary = self.next_window + 2 * self.window_size;
            if next_boundary >= self.num_warmup - self.term_buffer {
                self.next_window = self.num_warmup - self.term_buffer - 1;
            }
        }
    }

    /// Stan's `learn_variance`: adds `q` inside a slow window; at a window's end sets
    /// `inv_metric` to the regularised variance `(n / (n + 5)) var + 1e-3 (5 / (n + 5))` and
    /// returns true.
    fn learn_variance(&mut self, est: &mut Welford, inv_metric: &mut [f64], q: &[f64]) -> bool {
        if !self.enabled {
            return false;
        }
        if self.in_window() {
            est.add(q);
        }
        if self.end_of_window() {
            self.compute_next_window();
            let n = est.n as f64;
            if est.n > 1 {
                for (v, m2) in inv_metric.iter_mut().zip(&est.m2) {
                    let var = m2 / (n - 1.0);
                    *v = (n / (n + 5.0)) * var + 1e-3 * (5.0 / (n + 5.0));
                }
            }
            est.restart();
            self.counter += 1;
            return true;
        }
        self.counter += 1;
        false
    }
}

/// Welford's running mean and sum of squared deviations.
struct Welford {
    n: usize,
    mean: Vec<f64>,
    m2: Vec<f64>,
}

impl Welford {
    fn new(d: usize) -> Self {
        Welford {
            n: 0,
            mean: vec![0.0; d],
            m2: vec![0.0; d],
        }
    }
    fn restart(&mut self) {
        self.n = 0;
        self.mean.iter_mut().for_each(|m| *m = 0.0);
        self.m2.iter_mut().for_each(|m| *m = 0.0);
    }
    fn add(&mut self, q: &[f64]) {
        self.n += 1;
        for ((m, m2), x) in self.mean.iter_mut().zip(&mut self.m2).zip(q) {
            let delta = x - *m;
            *m += delta / self.n as f64;
            *m2 += (x - *m) * delta;
        }
    }
}

/// The R-hat above which a parameter is flagged (Vehtari et al. 2021).
pub const RHAT_THRESHOLD: f64 = 1.01;
/// The bulk and tail ESS below which a parameter is flagged (Vehtari et al. 2021: 100 per
/// chain for 4 chains).
pub const ESS_THRESHOLD: f64 = 400.0;

/// What a NUTS run reports about itself.
#[derive(Debug, Clone, Default)]
pub struct NutsDiagnostics {
    /// Divergent transitions after warmup, per chain.
    pub divergences: Vec<usize>,
    /// What each chain reports: adapted step size and metric, tree-depth hits, per-draw
    /// sampler parameters.
    pub chains: Vec<ChainDiagnostics>,
    /// The convergence diagnostics of each flat parameter, in flat order.
    pub params: Vec<ParamDiagnostics>,
    /// The maximum tree depth the run used.
    pub max_depth: usize,
    /// The seed of the run.
    pub seed: u64,
    /// Warmup iterations per chain.
    pub warmup: usize,
    /// Sampling iterations per chain (before thinning).
    pub draws: usize,
    /// The thinning interval.
    pub thin: usize,
    /// The target acceptance statistic.
    pub target_accept: f64,
    /// Wall time of the whole fit, diagnostics included.
    pub elapsed: Duration,
}

/// What one NUTS chain reports about itself.
#[derive(Debug, Clone, Default)]
pub struct ChainDiagnostics {
    /// Divergent transitions during warmup (expected while adapting; not a warning).
    pub warmup_divergences: usize,
    /// Draws after warmup whose tree reached the maximum depth.
    pub max_depth_hits: usize,
    /// The adapted step size.
    pub step_size: f64,
    /// The adapted diagonal inverse metric (variance estimate, unconstrained scale).
    pub inv_metric: Vec<f64>,
    /// CmdStan's sampler parameters of each kept draw.
    pub sampler: Vec<SamplerStats>,
    /// Wall time of the warmup (initialisation included).
    pub warmup_time: Duration,
    /// Wall time of the sampling iterations.
    pub sampling_time: Duration,
}

/// The convergence diagnostics of one flat parameter element, on the constrained scale.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParamDiagnostics {
    /// The flat (CmdStan) name: `sigma`, `w.1`.
    pub name: String,
    /// Rank-normalised split R-hat (NaN for one chain).
    pub rhat: f64,
    /// Bulk effective sample size.
    pub ess_bulk: f64,
    /// Tail effective sample size.
    pub ess_tail: f64,
    /// Monte Carlo standard error of the mean.
    pub mcse_mean: f64,
}

impl NutsDiagnostics {
    /// The diagnostics of flat element `name` (`w.2`), if any.
    pub fn param(&self, name: &str) -> Option<&ParamDiagnostics> {
        self.params.iter().find(|p| p.name == name)
    }

    /// The adapted step size of each chain.
    pub fn step_sizes(&self) -> Vec<f64> {
        self.chains.iter().map(|c| c.step_size).collect()
    }

    /// The total number of divergent transitions after warmup.
    pub fn total_divergences(&self) -> usize {
        self.divergences.iter().sum()
    }

    /// The total number of draws whose tree hit the maximum depth.
    pub fn total_max_depth_hits(&self) -> usize {
        self.chains.iter().map(|c| c.max_depth_hits).sum()
    }

    /// What needs attention, one sentence each: R-hat > 1.01, bulk or tail ESS < 400, any
    /// divergent transition after warmup, any draw at the maximum tree depth. Empty when
    /// nothing was found.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let flagged = |get: &dyn Fn(&ParamDiagnostics) -> f64, bad: &dyn Fn(f64) -> bool| {
            self.params
                .iter()
                .filter(|p| bad(get(p)))
                .map(|p| format!("{} ({:.3})", p.name, get(p)))
                .collect::<Vec<_>>()
        };
        let n_div = self.total_divergences();
        if n_div > 0 {
            let total: usize = self.chains.iter().map(|c| c.sampler.len()).sum();
            out.push(format!(
                "{n_div} of {total} transitions after warmup were divergent (per chain: {:?}): \
                 the sampler cannot explore part of the posterior and the draws may be biased; \
                 raise target_accept (now {}) or reparameterise the model",
                self.divergences, self.target_accept
            ));
        }
        let hits = self.total_max_depth_hits();
        if hits > 0 {
            out.push(format!(
                "{hits} transitions hit the maximum tree depth {} (per chain: {:?}): the \
                 trajectories were cut short, which costs efficiency; raise max_depth or \
                 reparameterise",
                self.max_depth,
                self.chains
                    .iter()
                    .map(|c| c.max_depth_hits)
                    .collect::<Vec<_>>()
            ));
        }
        let r = flagged(&|p| p.rhat, &|x| x > RHAT_THRESHOLD);
        if !r.is_empty() {
            out.push(format!(
                "R-hat above {RHAT_THRESHOLD} for {}: the chains have not mixed; run longer \
                 or reparameterise",
                r.join(", ")
            ));
        }
        let b = flagged(&|p| p.ess_bulk, &|x| x < ESS_THRESHOLD);
        if !b.is_empty() {
            out.push(format!(
                "bulk ESS below {ESS_THRESHOLD} for {}: means and medians are unreliable; \
                 run more draws",
                b.join(", ")
            ));
        }
        let t = flagged(&|p| p.ess_tail, &|x| x < ESS_THRESHOLD);
        if !t.is_empty() {
            out.push(format!(
                "tail ESS below {ESS_THRESHOLD} for {}: tail quantiles (5%, 95%) are \
                 unreliable; run more draws",
                t.join(", ")
            ));
        }
        let nan: Vec<&str> = self
            .params
            .iter()
            .filter(|p| p.ess_bulk.is_nan())
            .map(|p| p.name.as_str())
            .collect();
        if !nan.is_empty() {
            out.push(format!(
                "ESS could not be computed for {} (too few draws or NaN draws)",
                nan.join(", ")
            ));
        }
        out
    }
}

impl fmt::Display for NutsDiagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let chains = self.chains.len();
        write!(
            f,
            "NUTS: {chains} chain{} of {} warmup + {} draws{}, {:.2} s. Step size{} {}.",
            if chains == 1 { "" } else { "s" },
            self.warmup,
            self.draws,
            if self.thin > 1 {
                format!(" (thinned by {})", self.thin)
            } else {
                String::new()
            },
            self.elapsed.as_secs_f64(),
            if chains == 1 { "" } else { "s" },
            self.chains
                .iter()
                .map(|c| format!("{:.3}", c.step_size))
                .collect::<Vec<_>>()
                .join(", ")
        )?;
        let warnings = self.warnings();
        if warnings.is_empty() {
            let rhat_note = if chains > 1 {
                format!("R-hat <= {RHAT_THRESHOLD}, ")
            } else {
                String::new()
            };
            write!(
                f,
                "\nNo problems detected: {rhat_note}bulk and tail ESS >= {ESS_THRESHOLD} for \
                 every parameter, no divergent transitions, no draw at the maximum tree \
                 depth ({}).",
                self.max_depth
            )
        } else {
            write!(
                f,
                "\n{} problem{} detected:",
                warnings.len(),
                if warnings.len() == 1 { "" } else { "s" }
            )?;
            for w in &warnings {
                write!(f, "\n  - {w}")?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The warmup schedule of CmdStan's defaults: windows end at iterations 99, 149, 249, 449,
    /// 949 (0-based: init buffer 75, windows 25, 50, 100, 200, 500, term buffer 50).
    #[test]
    fn windows_follow_stan_schedule() {
        let mut w = Windows::new(1000, 75, 50, 25);
        let mut est = Welford::new(1);
        let mut m = vec![1.0];
        let ends: Vec<i64> = (0..1000)
            .filter(|&i| w.learn_variance(&mut est, &mut m, &[i as f64]))
            .collect();
        assert_eq!(ends, [99, 149, 249, 449, 949]);
        // The last window collected iterations 450..=949: the sample variance (divisor
        // n - 1) of 500 consecutive integers is n (n + 1) / 12, regularised with n = 500.
        let var = 500.0 * 501.0 / 12.0;
        let expect = 500.0 / 505.0 * var + 1e-3 * 5.0 / 505.0;
        assert!((m[0] - expect).abs() < 1e-9 * expect);
        // Too short for the configured stages: 15% / 75% / 10%.
        let mut w = Windows::new(100, 75, 50, 25);
        let ends: Vec<i64> = (0..100)
            .filter(|&i| w.learn_variance(&mut est, &mut m, &[i as f64]))
            .collect();
        assert_eq!(ends, [89]);
    }

    #[test]
    fn dual_averaging_matches_the_recursion() {
        // Two steps by hand: counter 1: eta = 1/11, s_bar = (0.8 - 0.5)/11,
        // x = mu - s_bar * 1 / 0.05, x_bar = x (weight 1).
        let mut da = DualAveraging::new(&Nuts::default());
        da.set_mu((10.0f64).ln());
        let mut eps = 1.0;
        da.learn(&mut eps, 0.5);
        let s_bar = 0.3 / 11.0;
        let x = 10.0f64.ln() - s_bar / 0.05;
        assert!((eps - x.exp()).abs() < 1e-12);
        assert!((da.x_bar - x).abs() < 1e-12);
        // An acceptance above 1 counts as 1.
        da.learn(&mut eps, 3.0);
        let s_bar2 = (1.0 - 1.0 / 12.0) * s_bar + (0.8 - 1.0) / 12.0;
        let x2 = 10.0f64.ln() - s_bar2 * 2.0f64.sqrt() / 0.05;
        let w = 2.0f64.powf(-0.75);
        assert!((eps - x2.exp()).abs() < 1e-12);
        assert!((da.x_bar - ((1.0 - w) * x + w * x2)).abs() < 1e-12);
    }
}
