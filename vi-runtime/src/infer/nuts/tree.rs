//! One NUTS transition: the trajectory tree, over a pool of states that each chain keeps.
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
//! The states of a chain's trajectories live in one allocation ([`States`], nuts-rs's
//! state pool): state `i` is its position, momentum, gradient and velocity `p# = M^-1 p`
//! side by side, with its log density and Hamiltonian (with a diagonal metric the velocity
//! is not stored: the U-turn checks multiply the momenta by the diagonal as they sum,
//! [`criterion_diag`], so a leapfrog step writes one cache line less and a check reads one
//! state's momentum where it read its momentum and velocity). A leapfrog step reads one state and
//! writes the next into a free one; a (sub)tree is a small value, [`Tree`], that names its
//! first and last states and its proposal, and owns a slot of summed momenta `rho` (one per
//! tree level, in one allocation too). Nothing is copied into a tree, and merging trees
//! passes state indices, not vectors. States a tree no longer names go back to the pool
//! (a count of the names each has) and are reused most recently freed first, so the pool
//! holds a few states per tree level. It grows only when a trajectory first needs more states than
//! before: after the first deep trajectory, a transition allocates nothing. A subtree is
//! built without recursion ([`Integrator::build_tree`]: leaf by leaf, the first halves
//! waiting for their second by height, as in NumPyro's iterative NUTS and nuts-rs), and
//! with a diagonal metric a leapfrog step writes the new state's `rho` and kinetic energy in
//! its last pass ([`Integrator::step_diag`]). The arithmetic and the order
//! of random draws are those of Stan's recursion, so a seed gives the same draws.

use rand::Rng as _;

use super::metric::MetricState;
use crate::error::FitError;
use crate::infer::Rng;
use crate::model::Model;

use super::SamplerStats;

/// Phase-space states, `q | p | grad | v` of length `d` each, and the log density and
/// Hamiltonian, in one allocation. Every part starts on a 64-byte cache line (its length
/// rounded up to 8 numbers) and the two numbers share a line after them, so a state of
/// `d <= 8` is five lines: the gradient streams the model's data through the L1 cache
/// between leapfrog steps, and the sampler then fetches as few lines back as it can.
#[derive(Debug)]
struct States {
    d: usize,
    /// `d` rounded up to a multiple of 8: the distance between a state's parts.
    w: usize,
    /// State `i` at `data[base + stride i..]` (`stride = 4 w + 8`); `base` puts it on a line.
    data: Vec<f64>,
    base: usize,
    /// How many names (tree ends, proposals, the current state) each state has.
    refs: Vec<u32>,
    /// States without a name, most recently freed last.
    free: Vec<usize>,
}

/// Numbers in a 64-byte cache line.
const LINE: usize = 8;

/// `d` rounded up to whole cache lines.
fn padded(d: usize) -> usize {
    d.div_ceil(LINE) * LINE
}

/// Grows `data` (whose live part starts at `*base`) to `len` live numbers, keeping the
/// live part on a cache line: after a reallocation the numbers are moved to the new
/// line-aligned offset. New numbers are zero.
fn grow_aligned(data: &mut Vec<f64>, base: &mut usize, len: usize) {
    let live = data.len() - *base;
    data.resize(LINE + len, 0.0);
    // In numbers; always below LINE for an f64 pointer and a 64-byte line.
    let want = data.as_ptr().align_offset(64).min(LINE);
    if want != *base {
        data.copy_within(*base..*base + live, want);
        *base = want;
    }
    data.truncate(*base + len);
}

impl States {
    fn new(d: usize) -> Self {
        States {
            d,
            w: padded(d),
            data: Vec::new(),
            base: 0,
            refs: Vec::new(),
            free: Vec::new(),
        }
    }

    /// Where state `i` starts in `data`.
    #[inline(always)]
    fn at(&self, i: usize) -> usize {
        self.base + i * (4 * self.w + LINE)
    }

    /// A state with one name: a free one, or a new one.
    #[inline]
    fn alloc(&mut self) -> usize {
        self.alloc_named(1)
    }

    /// A state with `names` names: a free one, or a new one.
    #[inline]
    fn alloc_named(&mut self, names: u32) -> usize {
        let i = match self.free.pop() {
            Some(i) => i,
            None => {
                let n = self.refs.len() + 1;
                grow_aligned(&mut self.data, &mut self.base, n * (4 * self.w + LINE));
                self.refs.push(0);
                n - 1
            }
        };
        self.refs[i] = names;
        i
    }

    #[inline]
    fn lp(&self, i: usize) -> f64 {
        self.data[self.at(i) + 4 * self.w]
    }
    #[inline]
    fn set_lp(&mut self, i: usize, lp: f64) {
        let k = self.at(i) + 4 * self.w;
        self.data[k] = lp;
    }
    /// The Hamiltonian, set when the state is made.
    #[inline]
    fn h(&self, i: usize) -> f64 {
        self.data[self.at(i) + 4 * self.w + 1]
    }
    #[inline]
    fn set_h(&mut self, i: usize, h: f64) {
        let k = self.at(i) + 4 * self.w + 1;
        self.data[k] = h;
    }

    /// `n` more names for state `i`.
    #[inline]
    fn retain(&mut self, i: usize, n: u32) {
        self.refs[i] += n;
    }

    /// One name less for state `i`; without names it is free.
    #[inline]
    fn release(&mut self, i: usize) {
        self.refs[i] -= 1;
        if self.refs[i] == 0 {
            self.free.push(i);
        }
    }

    /// Drops the three names a tree gives its states.
    #[inline]
    fn release_tree(&mut self, t: &Tree) {
        self.release(t.beg);
        self.release(t.end);
        self.release(t.propose);
    }

    #[inline]
    fn part(&self, i: usize, k: usize) -> &[f64] {
        let a = self.at(i) + k * self.w;
        &self.data[a..a + self.d]
    }
    #[inline]
    fn q(&self, i: usize) -> &[f64] {
        self.part(i, 0)
    }
    #[inline]
    fn p(&self, i: usize) -> &[f64] {
        self.part(i, 1)
    }
    #[inline]
    fn grad(&self, i: usize) -> &[f64] {
        self.part(i, 2)
    }
    #[inline]
    fn v(&self, i: usize) -> &[f64] {
        self.part(i, 3)
    }

    /// State `i`'s `(q, p, grad, v)`, writable.
    #[inline]
    fn parts_mut(&mut self, i: usize) -> Parts<'_> {
        let ((w, d), a) = (self.wd(), self.at(i));
        split4(&mut self.data[a..a + 4 * w], w, d)
    }

    /// `(w, d)`, with `d <= w` (always so) visible to the compiler: `[..d]` of a part `w`
    /// long then needs no bounds check.
    #[inline(always)]
    fn wd(&self) -> (usize, usize) {
        (self.w, self.d.min(self.w))
    }

    /// State `from`'s `(q, p, grad)` to read, state `to`'s parts to write and its log
    /// density and Hamiltonian line (`from != to`). One bounds check per state; the parts
    /// are cut from the two states' blocks with lengths the compiler can follow.
    #[inline(always)]
    fn step_pair(&mut self, from: usize, to: usize) -> ([&[f64]; 3], Parts<'_>, &mut [f64; 2]) {
        debug_assert_ne!(from, to);
        let (w, d) = self.wd();
        let len = 4 * w + LINE;
        let (f, t) = (self.at(from), self.at(to));
        let (a, b) = if from < to {
            let (lo, hi) = self.data.split_at_mut(t);
            (&lo[f..f + len], &mut hi[..len])
        } else {
            let (lo, hi) = self.data.split_at_mut(f);
            (&hi[..len], &mut lo[t..t + len])
        };
        let (q0, a) = a.split_at(w);
        let (p0, a) = a.split_at(w);
        let g0 = &a[..w];
        let (parts, tail) = b.split_at_mut(4 * w);
        let tail: &mut [f64; 2] = (&mut tail[..2])
            .try_into()
            .expect("a line follows the parts");
        ([&q0[..d], &p0[..d], &g0[..d]], split4(parts, w, d), tail)
    }
}

/// A state's `(q, p, grad, v)`.
type Parts<'a> = (&'a mut [f64], &'a mut [f64], &'a mut [f64], &'a mut [f64]);

/// The four parts, `w` apart, of length `d`, of a state's `4 w` numbers.
#[inline(always)]
fn split4(b: &mut [f64], w: usize, d: usize) -> Parts<'_> {
    let (q, rest) = b.split_at_mut(w);
    let (p, rest) = rest.split_at_mut(w);
    let (g, v) = rest.split_at_mut(w);
    (&mut q[..d], &mut p[..d], &mut g[..d], &mut v[..d])
}

/// A subtree or the whole trajectory: its first and last states (in integration order for
/// a subtree; backward-most and forward-most for the trajectory), the state it proposes,
/// its slot of summed momenta `rho` and its summed weights `exp(H0 - H)`.
#[derive(Clone, Copy, Debug)]
struct Tree {
    beg: usize,
    end: usize,
    propose: usize,
    rho: usize,
    weight: Weight,
}

/// A sum of weights `exp(H0 - H)`, as `s * exp(m)`. A state within `SCALE_FREE` of the
/// initial energy has `m = 0` and `s = exp(H0 - H)`, so summing the weights of a trajectory
/// that stays there (every one but the wildest of early warmup) is one addition, and the
/// probabilities of the progressive and multinomial sampling are quotients: no logarithm
/// and no exponential beyond the one each leaf needs for its acceptance statistic. States
/// further out keep their log weight in `m`, so nothing overflows or underflows.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Weight {
    m: f64,
    s: f64,
}

/// `|H0 - H|` up to which a leaf's weight is stored as it is (`e^600 * 2^64` is finite).
const SCALE_FREE: f64 = 600.0;

impl Weight {
    /// The weight `exp(x)` of a leaf with `x = H0 - H` (never NaN or `+inf`), given `e = exp(x)`.
    #[inline]
    fn leaf(x: f64, e: f64) -> Self {
        if x.abs() <= SCALE_FREE {
            Weight { m: 0.0, s: e }
        } else {
            Weight { m: x, s: 1.0 }
        }
    }

    /// The sum of two weights.
    #[inline]
    fn add(self, o: Self) -> Self {
        if self.m == o.m {
            return Weight {
                m: self.m,
                s: self.s + o.s,
            };
        }
        let (hi, lo) = if self.m > o.m { (self, o) } else { (o, self) };
        Weight {
            m: hi.m,
            s: hi.s + lo.s * (lo.m - hi.m).exp(),
        }
    }

    /// `self / o` (`o` not zero).
    #[inline]
    fn ratio(self, o: Self) -> f64 {
        if self.m == o.m {
            self.s / o.s
        } else {
            self.s / o.s * (self.m - o.m).exp()
        }
    }
}

/// The slot of `rho` of the trajectory, and the first of the subtree's slots (`SUB + s`,
/// `s` in `0..max_depth`; see [`Integrator::build_tree`]).
const TRAJ: usize = 0;
const SUB: usize = 1;

/// The buffers of one chain's transitions.
#[derive(Debug)]
struct Workspace {
    states: States,
    /// The `rho` slots, `d` each, `states.w` apart, from `rho_base` (on a cache line).
    rho: Vec<f64>,
    rho_base: usize,
    /// The first halves of a subtree waiting for their second, by height (the iterative
    /// tree builder's checkpoints).
    pending: Vec<Tree>,
}

impl Workspace {
    fn new(states: States, max_depth: usize) -> Self {
        let (mut rho, mut rho_base) = (Vec::new(), 0);
        grow_aligned(&mut rho, &mut rho_base, (SUB + max_depth) * states.w);
        let none = Tree {
            beg: 0,
            end: 0,
            propose: 0,
            rho: 0,
            weight: Weight { m: 0.0, s: 0.0 },
        };
        Workspace {
            states,
            rho,
            rho_base,
            pending: vec![none; max_depth],
        }
    }

    /// Where slot `slot` starts in `rho`.
    #[inline(always)]
    fn slot(&self, slot: usize) -> usize {
        self.rho_base + slot * self.states.w
    }

    #[inline]
    fn rho(&self, slot: usize) -> &[f64] {
        let a = self.slot(slot);
        &self.rho[a..a + self.states.d]
    }

    /// `rho[a] += rho[b]`, `a != b`.
    #[inline(always)]
    fn add_rho(&mut self, a: usize, b: usize) {
        let d = self.states.d;
        let (sa, sb) = (self.slot(a), self.slot(b));
        let (x, y) = if a < b {
            let (lo, hi) = self.rho.split_at_mut(sb);
            (&mut lo[sa..sa + d], &hi[..d])
        } else {
            let (lo, hi) = self.rho.split_at_mut(sa);
            (&mut hi[..d], &lo[sb..sb + d])
        };
        for (r, s) in x.iter_mut().zip(y.iter()) {
            *r += s;
        }
    }
}

/// The state a transition carries across its subtrees (Stan's `n_leapfrog`,
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

/// [`criterion`] with a diagonal metric, whose velocities `p# = inv * p` are formed as the
/// sums go (each product rounded as a stored velocity would be, so the bits are the same):
/// a state's velocity is never written, and a U-turn check reads the states' momenta only.
#[inline]
fn criterion_diag(p_minus: &[f64], p_plus: &[f64], inv: &[f64], a: &[f64], b: &[f64]) -> bool {
    let d = p_minus.len();
    let (p_minus, p_plus, inv, a, b) = (&p_minus[..d], &p_plus[..d], &inv[..d], &a[..d], &b[..d]);
    let (mut minus, mut plus) = (-0.0, -0.0);
    for j in 0..d {
        let r = a[j] + b[j];
        minus += p_minus[j] * inv[j] * r;
        plus += p_plus[j] * inv[j] * r;
    }
    plus > 0.0 && minus > 0.0
}

/// Whether the trajectory from state `minus` to state `plus` with summed momenta `a + b`
/// keeps going (the generalised no-U-turn criterion): with a diagonal metric from the
/// states' momenta ([`criterion_diag`]), otherwise from their stored velocities.
#[inline(always)]
fn no_uturn(
    metric: &MetricState,
    st: &States,
    minus: usize,
    plus: usize,
    a: &[f64],
    b: &[f64],
) -> bool {
    match metric {
        MetricState::Diag { inv, .. } => criterion_diag(st.p(minus), st.p(plus), inv, a, b),
        _ => criterion(st.v(minus), st.v(plus), a, b),
    }
}

/// The first half step and the drift of a leapfrog step with a diagonal metric, from
/// `(q0, p0, g0)` into `(q, p)`: `p = p0 + eps/2 g0`, `q = q0 + eps M^-1 p`. (Separate
/// arguments tell the compiler the slices do not overlap.)
#[inline(always)]
fn drift_diag(q: &mut [f64], p: &mut [f64], [q0, p0, g0, inv]: [&[f64]; 4], eps: f64) {
    let n = q.len();
    // Slices of one length, so the loop has no bounds checks.
    let (p, q0, p0, g0, inv) = (&mut p[..n], &q0[..n], &p0[..n], &g0[..n], &inv[..n]);
    for i in 0..n {
        let pi = p0[i] + 0.5 * eps * g0[i];
        p[i] = pi;
        q[i] = q0[i] + eps * inv[i] * pi;
    }
}

/// What builds trees: the model, the metric, the integrator's state and the generator.
pub(crate) struct Integrator<'m, M: ?Sized> {
    model: &'m M,
    pub(crate) metric: MetricState,
    /// The step size of the current transition.
    eps_now: f64,
    max_energy_error: f64,
    rng: Rng,
}

/// One chain's sampler: the current state, the step size, the integrator and the buffers.
pub(crate) struct Sampler<'m, M: ?Sized> {
    pub(crate) int: Integrator<'m, M>,
    /// The nominal step size (what adaptation sets).
    pub(crate) eps: f64,
    /// Each transition uses `eps * (1 + jitter * u)`, `u` uniform in (-1, 1).
    pub(crate) jitter: f64,
    pub(crate) max_depth: usize,
    /// The current state (its index in the pool).
    cur: usize,
    /// Whether the last transition moved away from its initial state.
    pub(crate) moved: bool,
    ws: Workspace,
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
        let mut states = States::new(d);
        let cur = states.alloc();
        let (sq, _, sg, _) = states.parts_mut(cur);
        sq.copy_from_slice(&q);
        sg.copy_from_slice(&grad);
        states.set_lp(cur, lp);
        Sampler {
            int: Integrator {
                model,
                metric: MetricState::identity(d),
                eps_now: eps,
                max_energy_error,
                rng,
            },
            eps,
            jitter,
            max_depth,
            cur,
            moved: false,
            ws: Workspace::new(states, max_depth),
        }
    }

    /// The current position.
    pub(crate) fn q(&self) -> &[f64] {
        self.ws.states.q(self.cur)
    }

    /// The gradient of the log density at the current position.
    pub(crate) fn grad(&self) -> &[f64] {
        self.ws.states.grad(self.cur)
    }

    /// The metric, writable, and the current position.
    pub(crate) fn metric_and_q(&mut self) -> (&mut MetricState, &[f64]) {
        (&mut self.int.metric, self.ws.states.q(self.cur))
    }

    /// The log density at the current position.
    pub(crate) fn lp(&self) -> f64 {
        self.ws.states.lp(self.cur)
    }

    /// Stan's `init_stepsize` (`base_hmc.hpp`): double or halve the step size until the
    /// acceptance probability of one leapfrog step from a fresh momentum crosses 0.8.
    pub(crate) fn init_stepsize(&mut self) -> Result<(), FitError> {
        // The fresh momentum goes into the current state's own (the next transition draws
        // its own); the step lands in a free state, which goes back to the pool.
        let delta_h = |s: &mut Self| -> f64 {
            let (int, st, z) = (&mut s.int, &mut s.ws.states, s.cur);
            let (_, p, _, _) = st.parts_mut(z);
            int.metric.sample_momentum(&mut int.rng, p);
            let h0 = int.hamiltonian(st, z);
            let next = st.alloc();
            int.leapfrog(st, z, next, s.eps);
            let h = int.hamiltonian(st, next);
            st.release(next);
            h0 - h
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

    /// One NUTS transition from the current state (Stan's `base_nuts::transition`).
    pub(crate) fn transition(&mut self) -> SamplerStats {
        let int = &mut self.int;
        let ws = &mut self.ws;
        int.eps_now = if self.jitter > 0.0 {
            let u: f64 = int.rng.random();
            self.eps * (1.0 + self.jitter * (2.0 * u - 1.0))
        } else {
            self.eps
        };
        let z = self.cur;
        let (_, p, _, _) = ws.states.parts_mut(z);
        int.metric.sample_momentum(&mut int.rng, p);
        // The Hamiltonian, the velocity and the trajectory's `rho = p`, in one pass.
        let h0 = int.leaf(ws, z, TRAJ);
        let mut tally = Tally {
            h0,
            n_leapfrog: 0,
            sum_metro_prob: 0.0,
            divergent: false,
        };
        // The trajectory so far: the current state, named as its two ends and its proposal
        // (the sampler's own name stays). The proposal changes only when a subtree is
        // accepted (`moved`).
        ws.states.retain(z, 3);
        let mut traj = Tree {
            beg: z,
            end: z,
            propose: z,
            rho: TRAJ,
            // The initial state's weight, exp(H0 - H0).
            weight: Weight { m: 0.0, s: 1.0 },
        };
        // Kept here and stored at the end (the sampler's line is not fetched back after
        // every gradient for it).
        let mut moved = false;
        let mut depth = 0;

        while depth < self.max_depth {
            let forward = int.rng.random::<f64>() > 0.5;
            let (from, sign) = if forward {
                (traj.end, 1.0)
            } else {
                (traj.beg, -1.0)
            };
            let (sub, valid) = int.build_tree(ws, depth, from, sign, &mut tally);
            if !valid {
                ws.states.release_tree(&sub);
                break;
            }
            depth += 1;
            let st = &mut ws.states;

            // Biased progressive sampling: prefer the new subtree.
            let r = sub.weight.ratio(traj.weight);
            let take = r > 1.0 || {
                // `u < sub / traj`, the acceptance probability.
                let u = int.rng.random::<f64>();
                u < r
            };
            if take {
                st.release(traj.propose);
                traj.propose = sub.propose;
                moved = true;
            } else {
                st.release(sub.propose);
            }
            traj.weight = traj.weight.add(sub.weight);

            // Across the merged trajectory, then between the old trajectory and the
            // subtree extended by one state each. At the first doubling both are single
            // states (`p_beg = p_end = rho`, `p#_beg = p#_end`), so the three checks are one.
            let (st, m) = (&ws.states, &int.metric);
            let (rt, rs) = (ws.rho(traj.rho), ws.rho(sub.rho));
            let persist = if depth == 1 {
                if forward {
                    no_uturn(m, st, traj.beg, sub.end, rt, rs)
                } else {
                    no_uturn(m, st, sub.end, traj.end, rs, rt)
                }
            } else if forward {
                no_uturn(m, st, traj.beg, sub.end, rt, rs)
                    && no_uturn(m, st, traj.beg, sub.beg, rt, st.p(sub.beg))
                    && no_uturn(m, st, traj.end, sub.end, rs, st.p(traj.end))
            } else {
                no_uturn(m, st, sub.end, traj.end, rs, rt)
                    && no_uturn(m, st, sub.end, traj.beg, rs, st.p(traj.beg))
                    && no_uturn(m, st, sub.beg, traj.end, rt, st.p(sub.beg))
            };
            ws.add_rho(traj.rho, sub.rho);
            let st = &mut ws.states;
            st.release(sub.beg);
            if forward {
                st.release(traj.end);
                traj.end = sub.end;
            } else {
                st.release(traj.beg);
                traj.beg = sub.end;
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
        // Unless a subtree was accepted the proposal is the initial state. The trajectory's
        // proposal becomes the current state (its name passes to the sampler); the ends and
        // the sampler's old name go.
        let st = &mut ws.states;
        st.release(traj.beg);
        st.release(traj.end);
        st.release(self.cur);
        self.cur = traj.propose;
        self.moved = moved;
        debug_assert!(
            st.refs
                .iter()
                .enumerate()
                .all(|(i, &r)| r == u32::from(i == self.cur)),
            "between transitions only the current state is named"
        );
        SamplerStats {
            accept_stat,
            step_size: int.eps_now,
            tree_depth: depth,
            n_leapfrog: tally.n_leapfrog,
            divergent: tally.divergent,
            energy: ws.states.h(self.cur),
        }
    }
}

impl<M: Model + ?Sized> Integrator<'_, M> {
    /// `H = -log p(q) + p' M^-1 p / 2` at state `i`, with its velocity `M^-1 p` written to
    /// the state (except with a diagonal metric, see [`criterion_diag`]) and `H` recorded
    /// there; NaN counts as infinite.
    fn hamiltonian(&mut self, st: &mut States, i: usize) -> f64 {
        let lp = st.lp(i);
        let (_, p, _, v) = st.parts_mut(i);
        let k: f64 = match &mut self.metric {
            MetricState::Diag { inv, .. } => {
                // Summed in index order from -0.0 as `Iterator::sum` does; the velocity is
                // not stored ([`criterion_diag`]).
                let d = p.len();
                let (p, inv) = (&p[..d], &inv[..d]);
                let mut k = -0.0;
                for j in 0..d {
                    let (p, m) = (p[j], inv[j]);
                    k += p * p * m;
                }
                k
            }
            metric => {
                metric.velocity(p, v);
                p.iter().zip(v.iter()).map(|(p, v)| p * v).sum()
            }
        };
        let h = -lp + 0.5 * k;
        let h = if h.is_nan() { f64::INFINITY } else { h };
        st.set_h(i, h);
        h
    }

    /// Makes state `i` a one-state tree with its `rho` in slot `rho`, and returns its
    /// Hamiltonian (as [`Self::hamiltonian`], in one pass for a diagonal metric).
    #[inline(always)]
    fn leaf(&mut self, ws: &mut Workspace, i: usize, rho: usize) -> f64 {
        let (d, a) = (ws.states.d, ws.slot(rho));
        let rho = &mut ws.rho[a..a + d];
        match &self.metric {
            MetricState::Diag { inv, .. } => {
                let st = &mut ws.states;
                let lp = st.lp(i);
                let p = st.p(i);
                // Slices of one length, so the loop has no bounds checks.
                let (p, inv, rho) = (&p[..d], &inv[..d], &mut rho[..d]);
                let mut k = -0.0;
                for j in 0..d {
                    let (p, m) = (p[j], inv[j]);
                    k += p * p * m;
                    rho[j] = p;
                }
                let h = -lp + 0.5 * k;
                let h = if h.is_nan() { f64::INFINITY } else { h };
                st.set_h(i, h);
                h
            }
            _ => {
                rho.copy_from_slice(ws.states.p(i));
                self.hamiltonian(&mut ws.states, i)
            }
        }
    }

    /// One leapfrog step of size `eps` from state `from` into state `to`. A non-finite log
    /// density or gradient sets the log density to -inf, so the energy error is infinite: a
    /// divergence.
    fn leapfrog(&mut self, st: &mut States, from: usize, to: usize, eps: f64) {
        let ([q0, p0, g0], (q, p, g, v), lp_h) = st.step_pair(from, to);
        match &mut self.metric {
            MetricState::Diag { inv, .. } => drift_diag(q, p, [q0, p0, g0, inv], eps),
            metric => {
                for ((p, p0), g0) in p.iter_mut().zip(p0).zip(g0) {
                    *p = p0 + 0.5 * eps * g0;
                }
                // The velocity at the half step, in the state's velocity (rewritten at the
                // full step).
                metric.velocity(p, v);
                for ((q, q0), v) in q.iter_mut().zip(q0).zip(v.iter()) {
                    *q = q0 + eps * v;
                }
            }
        }
        let lp = self.model.log_density_grad(q, g);
        // The second half step, checking the gradient on the way; at a rejected point the
        // momentum no longer matters (the energy is infinite).
        let mut finite = lp.is_finite();
        for (p, g) in p.iter_mut().zip(g.iter()) {
            finite &= g.is_finite();
            *p += 0.5 * eps * g;
        }
        lp_h[0] = if finite { lp } else { f64::NEG_INFINITY };
    }

    /// [`Self::leapfrog`] and [`Self::leaf`] for a diagonal metric: one leapfrog step from
    /// state `from` into state `to`, whose second half step also writes the `rho = p` of
    /// slot `rho` and sums the kinetic energy, in one pass over the new
    /// momentum; returns the Hamiltonian. The arithmetic, and so every bit, is that of the
    /// two.
    #[inline(always)]
    fn step_diag(
        &mut self,
        ws: &mut Workspace,
        from: usize,
        to: usize,
        rho: usize,
        eps: f64,
    ) -> f64 {
        let MetricState::Diag { inv, .. } = &self.metric else {
            unreachable!("step_diag is called with a diagonal metric")
        };
        let a = ws.slot(rho);
        let ([q0, p0, g0], (q, p, g, _), lp_h) = ws.states.step_pair(from, to);
        let d = q.len();
        let rho = &mut ws.rho[a..a + d];
        drift_diag(q, p, [q0, p0, g0, inv], eps);
        let lp = self.model.log_density_grad(q, g);
        // The second half step, checking the gradient on the way; at a rejected point the
        // momentum no longer matters (the energy is infinite). Slices of one length, so
        // the loop has no bounds checks.
        let (p, g, inv, rho) = (&mut p[..d], &g[..d], &inv[..d], &mut rho[..d]);
        let mut finite = lp.is_finite();
        // Summed in index order from -0.0, as `Iterator::sum` does.
        let mut k = -0.0;
        for j in 0..d {
            let gj = g[j];
            finite &= gj.is_finite();
            let pj = p[j] + 0.5 * eps * gj;
            p[j] = pj;
            k += pj * pj * inv[j];
            rho[j] = pj;
        }
        let lp = if finite { lp } else { f64::NEG_INFINITY };
        let h = -lp + 0.5 * k;
        let h = if h.is_nan() { f64::INFINITY } else { h };
        *lp_h = [lp, h];
        h
    }

    /// Builds a subtree of `2^depth` leapfrog steps in direction `sign` from state `from`
    /// (Stan's `base_nuts::build_tree`, without recursion); returns it and whether it is
    /// valid (no divergence, no U-turn inside it). Its `rho` ends in slot `SUB + depth`.
    ///
    /// Leaf `k` (counting from 0) closes the subtrees whose last leaf it is: one of height
    /// `h` for each of `k`'s trailing one bits, each merged with the first half waiting at
    /// level `h - 1` (`ws.pending`), in the order the recursion merged them, so the random
    /// numbers, the multinomial choices and the U-turn checks are the recursion's. The
    /// merged tree then waits at the level of `k`'s lowest zero bit. A tree's `rho` lives in
    /// the slot of its first leaf `a`, `SUB + trailing_zeros(a)` (`SUB + depth` for `a = 0`):
    /// the first leaves of the trees waiting at one time have distinct trailing zeros, all
    /// above the new leaf's, so no slot is shared.
    fn build_tree(
        &mut self,
        ws: &mut Workspace,
        depth: usize,
        from: usize,
        sign: f64,
        tally: &mut Tally,
    ) -> (Tree, bool) {
        let eps = sign * self.eps_now;
        let n = 1usize << depth;
        // The generator as a local for the subtree (put back before returning), so that
        // its state is not stored back into the integrator after every draw.
        let mut rng = self.rng.clone();
        let mut last = from;
        for k in 0..n {
            // Named as both ends and the proposal of its one-leaf tree (counted before the
            // gradient, while the line of counts is still in the cache).
            let i = ws.states.alloc_named(3);
            let slot = SUB
                + if k == 0 {
                    depth
                } else {
                    k.trailing_zeros() as usize
                };
            let h = if let MetricState::Diag { .. } = self.metric {
                self.step_diag(ws, last, i, slot, eps)
            } else {
                self.leapfrog(&mut ws.states, last, i, eps);
                self.leaf(ws, i, slot)
            };
            last = i;
            tally.n_leapfrog += 1;
            if h - tally.h0 > self.max_energy_error {
                tally.divergent = true;
            }
            let x = tally.h0 - h;
            let e = x.exp();
            tally.sum_metro_prob += if x > 0.0 { 1.0 } else { e };
            let mut tree = Tree {
                beg: i,
                end: i,
                propose: i,
                rho: slot,
                weight: Weight::leaf(x, e),
            };
            let mut height = 0;
            let mut valid = !tally.divergent;
            while valid && k >> height & 1 == 1 {
                let mut out = ws.pending[height];
                height += 1;
                valid = self.merge(ws, &mut rng, &mut out, &tree, height);
                tree = out;
            }
            if valid {
                if k + 1 == n {
                    self.rng = rng;
                    return (tree, true);
                }
                ws.pending[height] = tree;
                continue;
            }
            // Divergent, or a U-turn in the tree of height `height`: the first halves still
            // waiting (`k`'s one bits from `height` up) go back to the pool, the tree closed
            // so far goes up.
            for level in height..depth {
                if k >> level & 1 == 1 {
                    let t = ws.pending[level];
                    ws.states.release_tree(&t);
                }
            }
            self.rng = rng;
            return (tree, false);
        }
        unreachable!("the last leaf of a subtree returns it")
    }

    /// Merges `fin` into `out`, the two halves of a tree of height `height` (Stan's
    /// `build_tree` after its two recursive calls): multinomial sampling between the
    /// halves, the summed weight and `rho`, and the no-U-turn criterion across the tree and,
    /// from height 2, across each half extended by one state of the other. Returns whether
    /// the criterion holds; `fin`'s states that `out` does not name go back to the pool.
    #[inline(always)]
    fn merge(
        &mut self,
        ws: &mut Workspace,
        rng: &mut Rng,
        out: &mut Tree,
        fin: &Tree,
        height: usize,
    ) -> bool {
        let st = &mut ws.states;
        let weight_subtree = out.weight.add(fin.weight);
        let r = fin.weight.ratio(weight_subtree);
        let take = r > 1.0 || {
            let u = rng.random::<f64>();
            u < r
        };
        if take {
            st.release(out.propose);
            out.propose = fin.propose;
        } else {
            st.release(fin.propose);
        }
        out.weight = weight_subtree;

        // Two leaves (height 1): `p_beg = p_end = rho` and `p#_beg = p#_end` in each, so
        // the three checks are the same sums (`a + b = b + a` exactly).
        let (st, m) = (&ws.states, &self.metric);
        let (ro, rf) = (ws.rho(out.rho), ws.rho(fin.rho));
        let persist = no_uturn(m, st, out.beg, fin.end, ro, rf)
            && (height == 1
                || (no_uturn(m, st, out.beg, fin.beg, ro, st.p(fin.beg))
                    && no_uturn(m, st, out.end, fin.end, rf, st.p(out.end))));
        ws.add_rho(out.rho, fin.rho);
        ws.states.release(out.end);
        ws.states.release(fin.beg);
        out.end = fin.end;
        persist
    }
}

#[cfg(test)]
mod tests {
    use super::Weight;

    /// `ln(sum exp(x_i))` by the usual shift by the largest term: the log-scale sums the
    /// sampler kept before [`Weight`].
    fn log_sum_exp(xs: &[f64]) -> f64 {
        let m = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if !m.is_finite() {
            return m;
        }
        m + xs.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
    }

    /// The log of a weight, for comparing with log-scale sums.
    fn ln(w: Weight) -> f64 {
        w.m + w.s.ln()
    }

    /// Sums of leaf weights, merged as trees merge them (pairs of neighbours, then pairs of
    /// pairs), and their quotients agree with the log-scale sums to rounding, from energies
    /// near the initial one to errors of thousands (beyond `exp`'s range either way) and
    /// infinite ones (divergent leaves).
    #[test]
    fn weights_sum_and_divide_as_log_scale_sums_do() {
        let sets: [&[f64]; 7] = [
            &[0.0, -0.3, 0.2, -1.5, 0.01, -0.7, 0.4, -2.0],
            &[0.0, -650.0, -700.0, -1e3, -0.5, -3.0, -800.0, -2e3],
            &[0.0, 650.0, 700.0, 1e3, -0.5, 3.0, 800.0, 2e3],
            &[0.0, f64::NEG_INFINITY, -1.0, f64::NEG_INFINITY],
            &[-800.0, -801.0, -650.0, -599.0, -601.0, -900.0, -1e4, -1e4],
            &[599.0, 601.0, 1e4, 1e4, 605.0, 0.0, -599.0, -1e4],
            &[-10.0, -20.0, -40.0, -80.0, -160.0, -320.0, -640.0, -1280.0],
        ];
        for xs in sets {
            let leaves: Vec<Weight> = xs.iter().map(|&x| Weight::leaf(x, x.exp())).collect();
            let mut level = leaves.clone();
            while level.len() > 1 {
                level = level.chunks(2).map(|p| p[0].add(p[1])).collect();
            }
            let (want, got) = (log_sum_exp(xs), ln(level[0]));
            assert!(
                (got - want).abs() <= 1e-12 * want.abs().max(1.0),
                "{xs:?}: {got} against {want}"
            );
            // The quotient of the second half by the whole, and of one leaf by another.
            let half = &xs[xs.len() / 2..];
            let w_half = leaves[xs.len() / 2..]
                .iter()
                .fold(None, |acc: Option<Weight>, w| {
                    Some(acc.map_or(*w, |a| a.add(*w)))
                })
                .expect("non-empty");
            let want = (log_sum_exp(half) - log_sum_exp(xs)).exp();
            let got = w_half.ratio(level[0]);
            assert!(
                (got - want).abs() <= 1e-12 * want,
                "{xs:?}: half/whole {got} against {want}"
            );
            for (a, b) in [(0, 1), (1, 0), (2, 3), (3, 2)] {
                let want = (xs[a] - xs[b]).exp();
                let got = leaves[a].ratio(leaves[b]);
                assert!(
                    got == want || (got - want).abs() <= 1e-12 * want,
                    "{xs:?}: leaf {a}/{b} {got} against {want}"
                );
            }
        }
    }
}
