//! One NUTS transition: the trajectory tree, built in buffers allocated once per chain.
//!
//! The transition is Stan's `base_nuts.hpp` (Betancourt 2017, "A Conceptual Introduction to
//! Hamiltonian Monte Carlo", appendix A): the trajectory doubles in a random direction; a new
//! subtree replaces the current sample with probability `min(1, w_new / w_old)` (biased
//! progressive sampling) while states inside a subtree are chosen in proportion to their
//! weights `exp(-H)` (multinomial sampling); the generalised no-U-turn criterion
//! `p#_minus . rho > 0 && p#_plus . rho > 0` is checked across every merged tree and, as in
//! Stan since 2.21, across the two halves extended by one state each. A transition whose
//! energy error exceeds `max_energy_error`, or whose log density or gradient is not finite,
//! is divergent and ends the trajectory.
//!
//! A (sub)tree is a value, [`Tree`] (nuts-rs's `NutsTree` idea): its two ends' momenta and
//! velocities, its summed momentum, its log weight and its proposal. Building a tree of
//! depth `j` builds its first half in place and its second half in the scratch tree of
//! level `j`, then merges them by swapping buffers. Every buffer is allocated when the
//! chain starts: a transition allocates nothing. The arithmetic and the order of random
//! draws are those of the recursion this replaced, so a seed gives the same draws.

use rand::Rng as _;

use super::metric::MetricState;
use crate::error::FitError;
use crate::infer::Rng;
use crate::model::Model;

use super::SamplerStats;

/// A point in phase space: position, momentum, log density and its gradient.
#[derive(Clone, Debug, Default)]
pub(crate) struct Point {
    pub(crate) q: Vec<f64>,
    pub(crate) p: Vec<f64>,
    pub(crate) lp: f64,
    pub(crate) grad: Vec<f64>,
}

impl Point {
    fn copy_from(&mut self, other: &Point) {
        self.q.copy_from_slice(&other.q);
        self.p.copy_from_slice(&other.p);
        self.grad.copy_from_slice(&other.grad);
        self.lp = other.lp;
    }
}

/// A subtree or the whole trajectory: its first and last momenta (in integration order)
/// and velocities `p# = M^-1 p`, the sum `rho` of its momenta, the log of its summed
/// weights `exp(H0 - H)` and the state it proposes.
#[derive(Clone, Debug, Default)]
struct Tree {
    p_beg: Vec<f64>,
    p_sharp_beg: Vec<f64>,
    p_end: Vec<f64>,
    p_sharp_end: Vec<f64>,
    rho: Vec<f64>,
    log_sum_weight: f64,
    propose: Point,
}

impl Tree {
    fn new(d: usize) -> Self {
        let z = vec![0.0; d];
        Tree {
            p_beg: z.clone(),
            p_sharp_beg: z.clone(),
            p_end: z.clone(),
            p_sharp_end: z.clone(),
            rho: z.clone(),
            log_sum_weight: 0.0,
            propose: Point {
                q: z.clone(),
                p: z.clone(),
                lp: 0.0,
                grad: z,
            },
        }
    }
}

/// The buffers of one chain's transitions.
#[derive(Debug, Default)]
struct Workspace {
    z_fwd: Point,
    z_bck: Point,
    z_sample: Point,
    /// The trajectory so far and the subtree that extends it.
    traj: Tree,
    sub: Tree,
    /// `levels[j - 1]`: the second half of a tree of depth `j`.
    levels: Vec<Tree>,
}

/// The state a transition carries across the recursion (Stan's `n_leapfrog`,
/// `sum_metro_prob`, `divergent_`).
struct Tally {
    h0: f64,
    n_leapfrog: usize,
    sum_metro_prob: f64,
    divergent: bool,
}

/// `p#_minus . (a + b) > 0 && p#_plus . (a + b) > 0`: the generalised no-U-turn criterion
/// for `rho = a + b`. Both dot products in one pass, each summed in index order (as
/// `Iterator::sum` would), so the bits are those of two separate sums.
#[inline]
fn criterion(p_sharp_minus: &[f64], p_sharp_plus: &[f64], a: &[f64], b: &[f64]) -> bool {
    let (mut minus, mut plus) = (-0.0, -0.0);
    for (((m, p), a), b) in p_sharp_minus.iter().zip(p_sharp_plus).zip(a).zip(b) {
        let r = a + b;
        minus += m * r;
        plus += p * r;
    }
    plus > 0.0 && minus > 0.0
}

/// What builds trees: the model, the metric, the integrator's state and the generator.
pub(crate) struct Integrator<'m, M: ?Sized> {
    model: &'m M,
    pub(crate) metric: MetricState,
    /// The step size of the current transition.
    eps_now: f64,
    max_energy_error: f64,
    rng: Rng,
    /// The integrator's state.
    zi: Point,
    /// Velocity scratch.
    v: Vec<f64>,
}

/// One chain's sampler: the current point, the step size, the integrator and the buffers.
pub(crate) struct Sampler<'m, M: ?Sized> {
    pub(crate) int: Integrator<'m, M>,
    /// The nominal step size (what adaptation sets).
    pub(crate) eps: f64,
    /// Each transition uses `eps * (1 + jitter * u)`, `u` uniform in (-1, 1).
    pub(crate) jitter: f64,
    pub(crate) max_depth: usize,
    /// The current state.
    pub(crate) z: Point,
    /// Whether the last transition moved away from its initial state.
    pub(crate) moved: bool,
    ws: Workspace,
}

/// `ln(e^a + e^b)`, as `crate::math::log_sum_exp` computes it for two terms (the larger one's
/// exponential is exactly 1), with one exponential instead of two.
#[inline]
fn log_add_exp(a: f64, b: f64) -> f64 {
    let m = a.max(b);
    if !m.is_finite() {
        return m;
    }
    let lo = a.min(b);
    m + (1.0 + (lo - m).exp()).ln()
}

impl<'m, M: Model + ?Sized> Sampler<'m, M> {
    /// A sampler at `(q, lp, grad)` with the identity metric.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        model: &'m M,
        q: Vec<f64>,
        lp: f64,
        grad: Vec<f64>,
        eps: f64,
        jitter: f64,
        max_depth: usize,
        max_energy_error: f64,
        rng: Rng,
    ) -> Self {
        let d = q.len();
        let z = Point {
            p: vec![0.0; d],
            q,
            lp,
            grad,
        };
        Sampler {
            int: Integrator {
                model,
                metric: MetricState::identity(d),
                eps_now: eps,
                max_energy_error,
                rng,
                zi: z.clone(),
                v: vec![0.0; d],
            },
            eps,
            jitter,
            max_depth,
            ws: Workspace {
                z_fwd: z.clone(),
                z_bck: z.clone(),
                z_sample: z.clone(),
                traj: Tree::new(d),
                sub: Tree::new(d),
                levels: (0..max_depth).map(|_| Tree::new(d)).collect(),
            },
            z,
            moved: false,
        }
    }

    /// Stan's `init_stepsize` (`base_hmc.hpp`): double or halve the step size until the
    /// acceptance probability of one leapfrog step from a fresh momentum crosses 0.8.
    pub(crate) fn init_stepsize(&mut self) -> Result<(), FitError> {
        let delta_h = |s: &mut Self| -> f64 {
            let int = &mut s.int;
            int.zi.copy_from(&s.z);
            int.metric.sample_momentum(&mut int.rng, &mut int.zi.p);
            let h0 = int.hamiltonian_zi();
            int.leapfrog(s.eps);
            h0 - int.hamiltonian_zi()
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
                return Err(FitError::Diverged {
                    message: "the step size grew beyond 1e7 while initialising it: the \
                              posterior is improper (check the model's priors)"
                        .into(),
                });
            }
            if self.eps == 0.0 {
                return Err(FitError::Diverged {
                    message: "no acceptably small step size could be found: the log density \
                              or its gradient is not finite or not continuous near the \
                              initial point"
                        .into(),
                });
            }
        }
        Ok(())
    }

    /// One NUTS transition from `self.z` (Stan's `base_nuts::transition`).
    pub(crate) fn transition(&mut self) -> SamplerStats {
        let int = &mut self.int;
        let ws = &mut self.ws;
        int.eps_now = if self.jitter > 0.0 {
            let u: f64 = int.rng.random();
            self.eps * (1.0 + self.jitter * (2.0 * u - 1.0))
        } else {
            self.eps
        };
        int.metric.sample_momentum(&mut int.rng, &mut self.z.p);
        let mut tally = Tally {
            h0: Integrator::<M>::hamiltonian_sharp(
                &mut int.metric,
                &self.z,
                &mut ws.traj.p_sharp_beg,
            ),
            n_leapfrog: 0,
            sum_metro_prob: 0.0,
            divergent: false,
        };
        ws.z_fwd.copy_from(&self.z);
        ws.z_bck.copy_from(&self.z);
        // `z_sample` is written (swapped in) only when a subtree is accepted; the end of
        // the transition takes it only then.
        self.moved = false;
        {
            let t = &mut ws.traj;
            t.p_sharp_end.copy_from_slice(&t.p_sharp_beg);
            t.p_beg.copy_from_slice(&self.z.p);
            t.p_end.copy_from_slice(&self.z.p);
            t.rho.copy_from_slice(&self.z.p);
            // Log of the summed weights exp(H0 - H), offset by H0.
            t.log_sum_weight = 0.0;
        }
        let mut depth = 0;

        while depth < self.max_depth {
            let forward = int.rng.random::<f64>() > 0.5;
            let (sign, start) = if forward {
                (1.0, &ws.z_fwd)
            } else {
                (-1.0, &ws.z_bck)
            };
            int.zi.copy_from(start);
            let valid = int.build_tree(depth, &mut ws.sub, &mut ws.levels, sign, &mut tally);
            // The new end; `zi` is reloaded from an end before the next subtree.
            if forward {
                std::mem::swap(&mut ws.z_fwd, &mut int.zi);
            } else {
                std::mem::swap(&mut ws.z_bck, &mut int.zi);
            }
            if !valid {
                break;
            }
            depth += 1;
            let (traj, sub) = (&mut ws.traj, &mut ws.sub);

            // Biased progressive sampling: prefer the new subtree. (`sub`'s proposal is
            // rebuilt before it is read again, so it is swapped out, not copied.)
            if sub.log_sum_weight > traj.log_sum_weight {
                std::mem::swap(&mut ws.z_sample, &mut sub.propose);
                self.moved = true;
            } else {
                let accept_prob = (sub.log_sum_weight - traj.log_sum_weight).exp();
                if int.rng.random::<f64>() < accept_prob {
                    std::mem::swap(&mut ws.z_sample, &mut sub.propose);
                    self.moved = true;
                }
            }
            traj.log_sum_weight = log_add_exp(traj.log_sum_weight, sub.log_sum_weight);

            // Across the merged trajectory, then between the old trajectory and the
            // subtree extended by one state each. At the first doubling both are single
            // states (`p_beg = p_end = rho`, `p#_beg = p#_end`), so the three checks are one.
            let persist = if depth == 1 {
                if forward {
                    criterion(&traj.p_sharp_beg, &sub.p_sharp_end, &traj.rho, &sub.rho)
                } else {
                    criterion(&sub.p_sharp_end, &traj.p_sharp_end, &sub.rho, &traj.rho)
                }
            } else if forward {
                criterion(&traj.p_sharp_beg, &sub.p_sharp_end, &traj.rho, &sub.rho)
                    && criterion(&traj.p_sharp_beg, &sub.p_sharp_beg, &traj.rho, &sub.p_beg)
                    && criterion(&traj.p_sharp_end, &sub.p_sharp_end, &sub.rho, &traj.p_end)
            } else {
                criterion(&sub.p_sharp_end, &traj.p_sharp_end, &sub.rho, &traj.rho)
                    && criterion(&sub.p_sharp_end, &traj.p_sharp_beg, &sub.rho, &traj.p_beg)
                    && criterion(&sub.p_sharp_beg, &traj.p_sharp_end, &traj.rho, &sub.p_beg)
            };
            for (r, s) in traj.rho.iter_mut().zip(&sub.rho) {
                *r += s;
            }
            if forward {
                std::mem::swap(&mut traj.p_end, &mut sub.p_end);
                std::mem::swap(&mut traj.p_sharp_end, &mut sub.p_sharp_end);
            } else {
                std::mem::swap(&mut traj.p_beg, &mut sub.p_end);
                std::mem::swap(&mut traj.p_sharp_beg, &mut sub.p_sharp_end);
            }
            if !persist {
                break;
            }
        }

        let accept_stat = if tally.n_leapfrog > 0 {
            tally.sum_metro_prob / tally.n_leapfrog as f64
        } else {
            0.0
        };
        if self.moved {
            std::mem::swap(&mut self.z, &mut ws.z_sample);
        }
        SamplerStats {
            accept_stat,
            step_size: int.eps_now,
            tree_depth: depth,
            n_leapfrog: tally.n_leapfrog,
            divergent: tally.divergent,
            energy: int.hamiltonian(&self.z),
        }
    }
}

impl<M: Model + ?Sized> Integrator<'_, M> {
    /// `H = -log p(q) + p' M^-1 p / 2` at `zi`, with the velocity `M^-1 p` written to
    /// `sharp`; NaN counts as infinite.
    fn hamiltonian_sharp(metric: &mut MetricState, z: &Point, sharp: &mut [f64]) -> f64 {
        let k: f64 = match metric {
            MetricState::Diag { inv } => {
                for ((s, p), m) in sharp.iter_mut().zip(&z.p).zip(inv.iter()) {
                    *s = p * m;
                }
                z.p.iter().zip(inv.iter()).map(|(p, m)| p * p * m).sum()
            }
            _ => {
                metric.velocity(&z.p, sharp);
                z.p.iter().zip(sharp.iter()).map(|(p, v)| p * v).sum()
            }
        };
        let h = -z.lp + 0.5 * k;
        if h.is_nan() {
            f64::INFINITY
        } else {
            h
        }
    }

    /// The Hamiltonian at `z` (see [`Self::hamiltonian_sharp`]).
    fn hamiltonian(&mut self, z: &Point) -> f64 {
        Self::hamiltonian_sharp(&mut self.metric, z, &mut self.v)
    }

    /// The Hamiltonian at the integrator's state.
    fn hamiltonian_zi(&mut self) -> f64 {
        Self::hamiltonian_sharp(&mut self.metric, &self.zi, &mut self.v)
    }

    /// Makes `out` the one-state tree at `zi` and returns its Hamiltonian (as
    /// [`Self::hamiltonian_sharp`], in one pass for a diagonal metric).
    #[inline]
    fn leaf(&mut self, out: &mut Tree) -> f64 {
        let z = &self.zi;
        let h = match &self.metric {
            MetricState::Diag { inv } => {
                let n = z.p.len();
                // Slices of one length, so the loop has no bounds checks.
                let (q, g, inv) = (&z.q[..n], &z.grad[..n], &inv[..n]);
                let (sb, se) = (&mut out.p_sharp_beg[..n], &mut out.p_sharp_end[..n]);
                let (pq, pp, pg) = (
                    &mut out.propose.q[..n],
                    &mut out.propose.p[..n],
                    &mut out.propose.grad[..n],
                );
                let (rho, pb, pe) = (&mut out.rho[..n], &mut out.p_beg[..n], &mut out.p_end[..n]);
                let mut k = -0.0;
                for i in 0..n {
                    let (p, m) = (z.p[i], inv[i]);
                    let s = p * m;
                    sb[i] = s;
                    se[i] = s;
                    k += p * p * m;
                    pq[i] = q[i];
                    pp[i] = p;
                    pg[i] = g[i];
                    rho[i] = p;
                    pb[i] = p;
                    pe[i] = p;
                }
                let h = -z.lp + 0.5 * k;
                if h.is_nan() {
                    f64::INFINITY
                } else {
                    h
                }
            }
            _ => {
                let h = Self::hamiltonian_sharp(&mut self.metric, z, &mut out.p_sharp_beg);
                out.propose.copy_from(z);
                out.p_sharp_end.copy_from_slice(&out.p_sharp_beg);
                out.rho.copy_from_slice(&z.p);
                out.p_beg.copy_from_slice(&z.p);
                out.p_end.copy_from_slice(&z.p);
                h
            }
        };
        out.propose.lp = z.lp;
        h
    }

    /// One leapfrog step of size `eps` from `zi`. A non-finite log density or gradient sets
    /// the log density to -inf, so the energy error is infinite: a divergence.
    fn leapfrog(&mut self, eps: f64) {
        let z = &mut self.zi;
        match &mut self.metric {
            MetricState::Diag { inv } => {
                for (((q, p), g), m) in z.q.iter_mut().zip(&mut z.p).zip(&z.grad).zip(inv.iter()) {
                    *p += 0.5 * eps * g;
                    *q += eps * m * *p;
                }
            }
            metric => {
                for (p, g) in z.p.iter_mut().zip(&z.grad) {
                    *p += 0.5 * eps * g;
                }
                metric.velocity(&z.p, &mut self.v);
                for (q, v) in z.q.iter_mut().zip(&self.v) {
                    *q += eps * v;
                }
            }
        }
        let lp = self.model.log_density_grad(&z.q, &mut z.grad);
        // The second half step, checking the gradient on the way; at a rejected point the
        // momentum no longer matters (the energy is infinite).
        let mut finite = lp.is_finite();
        for (p, g) in z.p.iter_mut().zip(&z.grad) {
            finite &= g.is_finite();
            *p += 0.5 * eps * g;
        }
        z.lp = if finite { lp } else { f64::NEG_INFINITY };
    }

    /// Builds into `out` a subtree of `2^depth` leapfrog steps in direction `sign` from
    /// `self.zi` (Stan's `base_nuts::build_tree`), with `scratch[depth - 1]` holding its
    /// second half; returns whether it is valid (no divergence, no U-turn inside it).
    fn build_tree(
        &mut self,
        depth: usize,
        out: &mut Tree,
        scratch: &mut [Tree],
        sign: f64,
        tally: &mut Tally,
    ) -> bool {
        if depth == 0 {
            self.leapfrog(sign * self.eps_now);
            tally.n_leapfrog += 1;
            let h = self.leaf(out);
            if h - tally.h0 > self.max_energy_error {
                tally.divergent = true;
            }
            out.log_sum_weight = tally.h0 - h;
            tally.sum_metro_prob += if tally.h0 - h > 0.0 {
                1.0
            } else {
                (tally.h0 - h).exp()
            };
            return !tally.divergent;
        }
        let (lower, rest) = scratch.split_at_mut(depth - 1);
        let fin = &mut rest[0];

        // The initial half, in place, then the final half.
        if !self.build_tree(depth - 1, out, lower, sign, tally) {
            return false;
        }
        if !self.build_tree(depth - 1, fin, lower, sign, tally) {
            return false;
        }

        // Multinomial sampling between the two halves.
        let log_sum_weight_subtree = log_add_exp(out.log_sum_weight, fin.log_sum_weight);
        if fin.log_sum_weight > log_sum_weight_subtree {
            std::mem::swap(&mut out.propose, &mut fin.propose);
        } else {
            let accept_prob = (fin.log_sum_weight - log_sum_weight_subtree).exp();
            if self.rng.random::<f64>() < accept_prob {
                std::mem::swap(&mut out.propose, &mut fin.propose);
            }
        }
        out.log_sum_weight = log_sum_weight_subtree;

        // Two leaves (depth 1): `p_beg = p_end = rho` and `p#_beg = p#_end` in each, so the
        // three checks are the same sums (`a + b = b + a` exactly).
        let persist = criterion(&out.p_sharp_beg, &fin.p_sharp_end, &out.rho, &fin.rho)
            && (depth == 1
                || (criterion(&out.p_sharp_beg, &fin.p_sharp_beg, &out.rho, &fin.p_beg)
                    && criterion(&out.p_sharp_end, &fin.p_sharp_end, &fin.rho, &out.p_end)));
        for (r, s) in out.rho.iter_mut().zip(&fin.rho) {
            *r += s;
        }
        std::mem::swap(&mut out.p_end, &mut fin.p_end);
        std::mem::swap(&mut out.p_sharp_end, &mut fin.p_sharp_end);
        persist
    }
}
