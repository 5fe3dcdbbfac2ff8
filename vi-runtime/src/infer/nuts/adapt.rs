//! Warmup: the step size by dual averaging and the metric by one of two schedules.
//!
//! - [`Adaptation::Nutpie`] (the default; nuts-rs's `GlobalStrategy`, Seyboldt et al. 2024):
//!   the metric starts from the gradient at the initial point (`M^-1_ii = 1 / |g_i|`) and is
//!   re-estimated after every draw from the draws *and* gradients of a window that grows:
//!   two estimators run at once, and whenever the newer (background) one holds a full
//!   window it replaces the older (foreground) one. Windows are 10 draws long in the first
//!   30% of warmup, then 80 draws growing by 1.5 each time. The metric is frozen for the last
//!   15% of warmup, in which only the step size adapts (dual averaging restarted there, a
//!   departure from nuts-rs, which keeps averaging from earlier metrics). Draws that did not
//!   move are not used. Dense and low-rank metrics are re-estimated at every window switch
//!   and every `matrix_update_freq` draws, the diagonal at every draw.
//! - [`Adaptation::Stan`]: Stan's `windowed_adaptation.hpp` and `stepsize_adaptation.hpp`:
//!   an initial buffer of 75 iterations adapting the step size only; slow windows of 25, 50,
//!   100, ... iterations at the end of each of which the metric is set to the regularised
//!   (co)variance of the window's draws and the step size re-initialised by Stan's
//!   heuristic; a terminal buffer of 50 iterations.
//!
//! In both, the step size follows Nesterov dual averaging toward the target acceptance
//! statistic and is fixed at the end of warmup to the averaged iterate.

use nalgebra::DMatrix;

use super::metric::{self, MetricState, Samples};
use super::tree::Sampler;
use super::{Adaptation, Metric, Nuts};
use crate::error::FitError;
use crate::model::Model;

/// The knobs of warmup, grouped; [`Nuts::adapt_options`] sets them all at once, and the
/// builder methods of [`Nuts`] one at a time.
///
/// ```
/// use vi_runtime::infer::nuts::{AdaptOptions, Nuts};
///
/// let nuts = Nuts::default().adapt_options(AdaptOptions {
///     step_size_window: 0.2,
///     ..AdaptOptions::default()
/// });
/// assert_eq!(nuts.adapt_settings().step_size_window, 0.2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdaptOptions {
    /// Dual averaging: adaptation regularisation scale (default 0.05).
    pub gamma: f64,
    /// Dual averaging: relaxation exponent (default 0.75).
    pub kappa: f64,
    /// Dual averaging: adaptation iteration offset (default 10).
    pub t0: f64,
    /// Stan: width of the initial fast interval (default 75).
    pub init_buffer: usize,
    /// Stan: width of the final fast interval (default 50).
    pub term_buffer: usize,
    /// Stan: width of the first slow window; later windows double (default 25).
    pub window: usize,
    /// nutpie: the fraction of warmup with short windows (default 0.3).
    pub early_window: f64,
    /// nutpie: the fraction of warmup at its end where only the step size adapts
    /// (default 0.15).
    pub step_size_window: f64,
    /// nutpie: the window length in the early part (default 10).
    pub early_switch_freq: usize,
    /// nutpie: the first window length after the early part (default 80).
    pub switch_freq: usize,
    /// nutpie: the growth factor of each later window (default 1.5).
    pub window_growth: f64,
    /// nutpie: dense and low-rank metrics are re-estimated every this many draws and at
    /// every window switch (default 10; the diagonal is re-estimated at every draw).
    pub matrix_update_freq: usize,
}

impl Default for AdaptOptions {
    fn default() -> Self {
        AdaptOptions {
            gamma: 0.05,
            kappa: 0.75,
            t0: 10.0,
            init_buffer: 75,
            term_buffer: 50,
            window: 25,
            early_window: 0.3,
            step_size_window: 0.15,
            early_switch_freq: 10,
            switch_freq: 80,
            window_growth: 1.5,
            matrix_update_freq: 10,
        }
    }
}

/// Nesterov dual averaging of the log step size (Stan's `stepsize_adaptation.hpp`).
pub(crate) struct DualAveraging {
    counter: f64,
    s_bar: f64,
    pub(crate) x_bar: f64,
    mu: f64,
    delta: f64,
    gamma: f64,
    kappa: f64,
    t0: f64,
}

impl DualAveraging {
    pub(crate) fn new(nuts: &Nuts) -> Self {
        DualAveraging {
            counter: 0.0,
            s_bar: 0.0,
            x_bar: 0.0,
            mu: 0.0,
            delta: nuts.target_accept,
            gamma: nuts.adapt.gamma,
            kappa: nuts.adapt.kappa,
            t0: nuts.adapt.t0,
        }
    }

    pub(crate) fn set_mu(&mut self, mu: f64) {
        self.mu = mu;
    }

    pub(crate) fn restart(&mut self) {
        self.counter = 0.0;
        self.s_bar = 0.0;
        self.x_bar = 0.0;
    }

    pub(crate) fn learn(&mut self, eps: &mut f64, adapt_stat: f64) {
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
pub(crate) struct Windows {
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
    pub(crate) fn new(
        num_warmup: usize,
        init_buffer: usize,
        term_buffer: usize,
        base_window: usize,
    ) -> Self {
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

    /// One iteration of the schedule: whether its draw belongs to a slow window and
    /// whether a window ends with it.
    fn advance(&mut self) -> (bool, bool) {
        if !self.enabled {
            return (false, false);
        }
        let collect = self.in_window();
        let end = self.end_of_window();
        if end {
            self.compute_next_window();
        }
        self.counter += 1;
        (collect, end)
    }

    /// Stan's `learn_variance`: adds `q` inside a slow window; at a window's end sets
    /// `inv_metric` to the regularised variance `(n / (n + 5)) var + 1e-3 (5 / (n + 5))` and
    /// returns true.
    pub(crate) fn learn_variance(
        &mut self,
        est: &mut Welford,
        inv_metric: &mut [f64],
        q: &[f64],
    ) -> bool {
        let (collect, end) = self.advance();
        if collect {
            est.add(q);
        }
        if end {
            let n = est.n as f64;
            if est.n > 1 {
                for (v, m2) in inv_metric.iter_mut().zip(&est.m2) {
                    let var = m2 / (n - 1.0);
                    *v = (n / (n + 5.0)) * var + 1e-3 * (5.0 / (n + 5.0));
                }
            }
            est.restart();
        }
        end
    }
}

/// Welford's running mean and sum of squared deviations.
#[derive(Clone)]
pub(crate) struct Welford {
    pub(crate) n: usize,
    mean: Vec<f64>,
    pub(crate) m2: Vec<f64>,
}

impl Welford {
    pub(crate) fn new(d: usize) -> Self {
        Welford {
            n: 0,
            mean: vec![0.0; d],
            m2: vec![0.0; d],
        }
    }
    pub(crate) fn restart(&mut self) {
        self.n = 0;
        self.mean.iter_mut().for_each(|m| *m = 0.0);
        self.m2.iter_mut().for_each(|m| *m = 0.0);
    }
    pub(crate) fn add(&mut self, q: &[f64]) {
        self.n += 1;
        for ((m, m2), x) in self.mean.iter_mut().zip(&mut self.m2).zip(q) {
            let delta = x - *m;
            *m += delta / self.n as f64;
            *m2 += (x - *m) * delta;
        }
    }
}

/// Above this condition number of the estimated posterior correlation matrix,
/// [`Metric::Auto`] uses a dense metric (for two parameters: |correlation| above 9/11).
pub const AUTO_DENSE_CONDITION: f64 = 10.0;
/// [`Metric::Auto`] considers a dense metric only up to this many parameters.
pub const AUTO_DENSE_MAX_DIM: usize = 50;

/// The metric a chain ends warmup with, and how it was chosen.
pub(crate) struct Adapted {
    pub(crate) warmup_divergences: usize,
}

/// What the metric estimators need to know about the requested metric.
#[derive(Clone, Copy, PartialEq)]
enum Want {
    Diag,
    Dense,
    LowRank(usize),
    /// Dense if the estimate is strongly correlated, else diagonal.
    Auto,
}

fn want(metric: Metric, d: usize) -> Want {
    match metric {
        Metric::Diag => Want::Diag,
        Metric::Dense => Want::Dense,
        Metric::LowRank(k) => Want::LowRank(k.min(d)),
        Metric::Auto if d <= AUTO_DENSE_MAX_DIM && d > 1 => Want::Auto,
        Metric::Auto => Want::Diag,
    }
}

/// The matrix metric for `want` from the samples (`grads`: nutpie's estimate), or `None`
/// for a diagonal one (by request or, for `Auto`, because the posterior is not strongly
/// correlated).
fn matrix_metric(w: Want, s: &Samples, grads: bool, fallback: &[f64]) -> Option<MetricState> {
    match w {
        Want::Diag => None,
        Want::LowRank(k) => Some(metric::estimate_low_rank(s, grads, k, fallback)),
        // Stein's identity fails for draws that are not yet from the posterior: a matrix
        // estimated from them (from a chain still climbing from its initial point, where
        // the coordinates drift together and look strongly correlated) is not used.
        _ if grads && !in_equilibrium(s) => None,
        Want::Dense | Want::Auto => {
            let m: DMatrix<f64> = metric::estimate_dense(s, grads, fallback)?;
            if w == Want::Auto && metric::correlation_condition(&m) <= AUTO_DENSE_CONDITION {
                return None;
            }
            MetricState::dense(m)
        }
    }
}

/// Stein's ratio (see [`metric::stein_ratio`]) within a factor [`STEIN_TOLERANCE`] of 1.
fn in_equilibrium(s: &Samples) -> bool {
    metric::stein_ratio(s).ln().abs() < STEIN_TOLERANCE.ln()
}

/// A matrix metric is estimated only from windows whose Stein ratio is within this factor
/// of 1; otherwise the window's diagonal estimate is used.
pub(crate) const STEIN_TOLERANCE: f64 = 2.0;

fn push(s: &mut Samples, q: &[f64], g: &[f64]) {
    s.draws.extend_from_slice(q);
    s.grads.extend_from_slice(g);
}

/// Runs warmup on `s`; at its end `s` holds the adapted metric and step size.
pub(crate) fn warmup<M: Model + ?Sized>(
    nuts: &Nuts,
    s: &mut Sampler<'_, M>,
    mut tick: impl FnMut(),
) -> Result<Adapted, FitError> {
    match nuts.adaptation {
        Adaptation::Stan => stan(nuts, s, &mut tick),
        Adaptation::Nutpie => nutpie(nuts, s, &mut tick),
    }
}

/// Stan's windowed adaptation.
fn stan<M: Model + ?Sized>(
    nuts: &Nuts,
    s: &mut Sampler<'_, M>,
    tick: &mut dyn FnMut(),
) -> Result<Adapted, FitError> {
    let d = s.q().len();
    s.init_stepsize()?;
    let mut dual = DualAveraging::new(nuts);
    dual.set_mu((10.0 * nuts.step_size).ln());
    let a = &nuts.adapt;
    let mut windows = Windows::new(nuts.warmup, a.init_buffer, a.term_buffer, a.window);
    let w = want(nuts.metric, d);
    let mut welford = Welford::new(d);
    let mut samples = Samples {
        d,
        ..Samples::default()
    };
    let mut warmup_divergences = 0;
    for _ in 0..nuts.warmup {
        tick();
        let t = s.transition();
        warmup_divergences += usize::from(t.divergent);
        dual.learn(&mut s.eps, t.accept_stat);
        let (metric, q) = s.metric_and_q();
        let end = if let (Want::Diag, MetricState::Diag { inv, .. }) = (w, &mut *metric) {
            // Stan's own estimator, arithmetic included.
            let end = windows.learn_variance(&mut welford, inv, q);
            if end {
                metric.refresh_sqrt();
            }
            end
        } else {
            let (collect, end) = windows.advance();
            if collect {
                push(&mut samples, s.q(), s.grad());
            }
            if end {
                if samples.n() > 1 {
                    let diag = metric::stan_diag(&samples);
                    s.int.metric = matrix_metric(w, &samples, false, &diag)
                        .unwrap_or_else(|| MetricState::from_diag(diag));
                }
                samples.draws.clear();
                samples.grads.clear();
            }
            end
        };
        if end {
            s.init_stepsize()?;
            dual.set_mu((10.0 * s.eps).ln());
            dual.restart();
        }
    }
    if nuts.warmup > 0 {
        s.eps = dual.x_bar.exp();
    }
    Ok(Adapted { warmup_divergences })
}

/// nutpie's adaptation (nuts-rs's `GlobalStrategy` with the gradient-based estimators).
fn nutpie<M: Model + ?Sized>(
    nuts: &Nuts,
    s: &mut Sampler<'_, M>,
    tick: &mut dyn FnMut(),
) -> Result<Adapted, FitError> {
    let d = s.q().len();
    let n_warm = nuts.warmup;
    let a = &nuts.adapt;
    if n_warm == 0 {
        // No adaptation: Stan's heuristic refines the initial step size once.
        s.init_stepsize()?;
        return Ok(Adapted {
            warmup_divergences: 0,
        });
    }
    let w = want(nuts.metric, d);
    s.int.metric = MetricState::from_diag(metric::init_diag(s.grad()));
    s.init_stepsize()?;
    let mut dual = DualAveraging::new(nuts);
    dual.set_mu((10.0 * s.eps).ln());

    let early_end = (a.early_window * n_warm as f64) as usize;
    let final_start = n_warm - (a.step_size_window * n_warm as f64) as usize;
    // Foreground and background: Welford sums of draws and gradients, and the rows.
    let mut fg = (Welford::new(d), Welford::new(d));
    let mut bg = (Welford::new(d), Welford::new(d));
    let mut rows = Samples {
        d,
        ..Samples::default()
    };
    // Rows of `rows` from which the foreground and the background start.
    let (mut fg_start, mut bg_start) = (0usize, 0usize);
    let add = |e: &mut (Welford, Welford), q: &[f64], g: &[f64]| {
        e.0.add(q);
        e.1.add(g);
    };
    add(&mut fg, s.q(), s.grad());
    add(&mut bg, s.q(), s.grad());
    push(&mut rows, s.q(), s.grad());

    let mut window = a.switch_freq.max(1);
    let mut first_change = true;
    let mut since_matrix = 0usize;
    let mut warmup_divergences = 0;
    for it in 0..n_warm {
        tick();
        let t = s.transition();
        warmup_divergences += usize::from(t.divergent);
        if it >= final_start {
            if it == final_start {
                // The metric is final: average the step size for it alone.
                s.eps = dual.x_bar.exp();
                dual.set_mu((10.0 * s.eps).ln());
                dual.restart();
            }
            dual.learn(&mut s.eps, t.accept_stat);
            continue;
        }
        let early = it < early_end;
        if !early && it == early_end {
            window = window.max(bg.0.n);
        }
        let switch_freq = if early {
            a.early_switch_freq.max(1)
        } else {
            window
        };
        if s.moved {
            add(&mut fg, s.q(), s.grad());
            add(&mut bg, s.q(), s.grad());
            push(&mut rows, s.q(), s.grad());
        }
        let next_window = if early {
            a.early_switch_freq.max(1)
        } else {
            (window + 1).max((window as f64 * a.window_growth).round() as usize)
        };
        let late = next_window + it > final_start;
        let mut switched = false;
        if bg.0.n >= switch_freq && !late {
            fg = bg.clone();
            bg.0.restart();
            bg.1.restart();
            fg_start = bg_start;
            bg_start = rows.n();
            switched = true;
            if !early {
                window = next_window;
            }
        }
        since_matrix += 1;
        let mut changed = false;
        if fg.0.n >= 3 {
            let fallback = s.int.metric.diag();
            let diag = metric::grad_diag(&fg.0.m2, &fg.1.m2, &fallback);
            let matrix_due = switched || since_matrix >= a.matrix_update_freq.max(1);
            let keeps_matrix = !matches!(s.int.metric, MetricState::Diag { .. });
            if w != Want::Diag && fg.0.n >= 5 && matrix_due {
                since_matrix = 0;
                let sub = Samples {
                    d,
                    draws: rows.draws[fg_start * d..].to_vec(),
                    grads: rows.grads[fg_start * d..].to_vec(),
                };
                s.int.metric = matrix_metric(w, &sub, true, &diag)
                    .unwrap_or_else(|| MetricState::from_diag(diag));
                changed = true;
            } else if !(keeps_matrix && w != Want::Diag) {
                s.int.metric = MetricState::from_diag(diag);
                changed = true;
            }
        }
        // A new foreground metric (and the first estimate) gets a step size of its own:
        // Stan's search from the current one, then dual averaging restarted around it, as
        // Stan does after every window. Without it a chain that climbs out of a far-off
        // initial point keeps the tiny step size of its start (ARMA(1,1): 1e-33) for
        // hundreds of iterations, and a dual-averaged step size tuned for one metric is
        // wrong by orders of magnitude for the next one.
        if changed && (first_change || switched) {
            let first = first_change;
            first_change = false;
            let before = s.eps;
            if let Err(e) = s.init_stepsize() {
                if first {
                    return Err(e);
                }
                // Later searches may fail far out in a transient: keep the step size.
                s.eps = before;
            }
            dual.set_mu((10.0 * s.eps).ln());
            dual.restart();
        } else {
            dual.learn(&mut s.eps, t.accept_stat);
        }
    }
    s.eps = dual.x_bar.exp();
    Ok(Adapted { warmup_divergences })
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
