//! Sufficient statistics: an observation statement whose parameters are all scalars and
//! whose data never changes (`y ~ Bernoulli(p)`, `y ~ Normal(mu, sigma)`,
//! `k ~ Poisson(lambda)`, Binomial with one number of trials, Exponential, Gamma, and the
//! logit/log forms BernoulliLogit and PoissonLog) is evaluated from statistics of the data
//! (counts, sums, centred sums of squares, `sum ln k!`, `sum ln y`) computed at the first
//! evaluation (the model's constructor) and kept with the model, so each gradient costs a
//! few operations instead of a pass over the data.
//!
//! The code `model!` generates passes a [`StatsCell`] with each data value that depends
//! only on the model's arguments; [`Kernel::lpdf_stats`](super::scalar::Kernel::lpdf_stats)
//! uses it when every parameter is one number and the data is valid for the distribution
//! (else the per-observation kernel runs, which also reports what is wrong). The density
//! and gradient equal the per-observation sums to rounding (tested to 1e-12 relative).

use std::any::Any;
use std::sync::OnceLock;

use super::{digamma, is_count, lchoose, lgamma, ln_factorial};
use crate::math::{log_sigmoid, sigmoid, LN_SQRT_2PI};

/// Where a statement's statistics of its data are kept (made once, at first use).
pub type StatsCell = OnceLock<Box<dyn Any + Send + Sync>>;

/// The statistics of the data in `cell`, made from `y` on first use; `None` when the cell
/// holds another type (never: one statement, one distribution) or the data does not fit
/// the distribution (`make` returned `None`).
fn stats<'c, S: Any + Send + Sync>(
    cell: &'c StatsCell,
    y: &[f64],
    make: impl FnOnce(&[f64]) -> Option<S>,
) -> Option<&'c S> {
    cell.get_or_init(|| match make(y) {
        Some(s) => Box::new(s),
        None => Box::new(()),
    })
    .downcast_ref::<S>()
}

/// Sums in the kernels' fixed order (one running sum: made once, so its cost does not count).
fn sum(y: &[f64], f: impl Fn(f64) -> f64) -> f64 {
    y.iter().map(|&v| f(v)).sum()
}

/// The only parameter values: each slice of length 1.
fn scalars<const N: usize>(x: &[&[f64]; N]) -> Option<[f64; N]> {
    if x[1..].iter().any(|s| s.len() != 1) || x[0].is_empty() {
        return None;
    }
    let mut out = [0.0; N];
    for (o, s) in out.iter_mut().zip(x).skip(1) {
        *o = s[0];
    }
    Some(out)
}

/// Adds `v` into the first element of an adjoint.
fn add(g: &mut Option<&mut [f64]>, v: f64) {
    if let Some(g) = g.as_deref_mut().and_then(|g| g.first_mut()) {
        *g += v;
    }
}

/// Normal: `n`, the mean `m` (rounded), `sum (y - m)^2` and `sum (y - m)` (the rounding of
/// `m`, kept so that `sum (y - mu)^2 = q + 2 d c + n d^2` with `d = m - mu` holds exactly).
struct NormalStats {
    n: f64,
    m: f64,
    q: f64,
    c: f64,
}

/// Normal(y | mu, sigma) from statistics; see [the module](self).
pub(crate) fn normal(
    cell: &StatsCell,
    x: [&[f64]; 3],
    mut g: [Option<&mut [f64]>; 3],
) -> Option<f64> {
    let [_, mu, sigma] = scalars(&x)?;
    let s = stats(cell, x[0], |y| {
        if !y.iter().all(|v| v.is_finite()) {
            return None;
        }
        let n = y.len() as f64;
        let m = sum(y, |v| v) / n;
        Some(NormalStats {
            n,
            m,
            q: sum(y, |v| (v - m) * (v - m)),
            c: sum(y, |v| v - m),
        })
    })?;
    if !(sigma > 0.0) || mu.is_nan() {
        return None;
    }
    let inv = 1.0 / sigma;
    let d = s.m - mu;
    let ss = (s.q + 2.0 * d * s.c + s.n * d * d) * inv * inv;
    // sum (y - mu) / sigma^2
    add(&mut g[1], (s.c + s.n * d) * inv * inv);
    add(&mut g[2], (ss - s.n) * inv);
    Some(-0.5 * ss - s.n * (sigma.ln() + LN_SQRT_2PI))
}

/// Counts of ones and zeros of 0/1 data.
struct Flips {
    ones: f64,
    zeros: f64,
}

fn flips(y: &[f64]) -> Option<Flips> {
    if !y.iter().all(|&v| v == 0.0 || v == 1.0) {
        return None;
    }
    let ones = sum(y, |v| v);
    Some(Flips {
        ones,
        zeros: y.len() as f64 - ones,
    })
}

/// Bernoulli(y | p) from the counts of ones and zeros.
pub(crate) fn bernoulli(
    cell: &StatsCell,
    x: [&[f64]; 2],
    mut g: [Option<&mut [f64]>; 2],
) -> Option<f64> {
    let [_, p] = scalars(&x)?;
    let s = stats(cell, x[0], flips)?;
    if !(0.0..=1.0).contains(&p) {
        return None;
    }
    // Zero counts are skipped, so p = 0 or 1 gives exact 0 * ln 0 = 0.
    let (mut lp, mut d) = (0.0, 0.0);
    if s.ones > 0.0 {
        lp += s.ones * p.ln();
        d += s.ones / p;
    }
    if s.zeros > 0.0 {
        lp += s.zeros * (-p).ln_1p();
        d -= s.zeros / (1.0 - p);
    }
    add(&mut g[1], d);
    Some(lp)
}

/// BernoulliLogit(y | logit) from the counts of ones and zeros.
pub(crate) fn bernoulli_logit(
    cell: &StatsCell,
    x: [&[f64]; 2],
    mut g: [Option<&mut [f64]>; 2],
) -> Option<f64> {
    let [_, l] = scalars(&x)?;
    let s = stats(cell, x[0], flips)?;
    if l.is_nan() {
        return None;
    }
    add(&mut g[1], s.ones * sigmoid(-l) - s.zeros * sigmoid(l));
    Some(s.ones * log_sigmoid(l) + s.zeros * log_sigmoid(-l))
}

/// Counts: `n`, `sum k`, `sum ln k!`.
struct Counts {
    n: f64,
    k: f64,
    ln_fact: f64,
}

fn counts(y: &[f64]) -> Option<Counts> {
    if !y.iter().all(|&v| is_count(v)) {
        return None;
    }
    Some(Counts {
        n: y.len() as f64,
        k: sum(y, |v| v),
        ln_fact: sum(y, ln_factorial),
    })
}

/// Poisson(k | rate) from the counts' sums.
pub(crate) fn poisson(
    cell: &StatsCell,
    x: [&[f64]; 2],
    mut g: [Option<&mut [f64]>; 2],
) -> Option<f64> {
    let [_, rate] = scalars(&x)?;
    let s = stats(cell, x[0], counts)?;
    if !(rate >= 0.0) {
        return None;
    }
    let mut lp = -(s.n * rate + s.ln_fact);
    let mut d = -s.n;
    // Skipped when every count is 0, so a rate of 0 gives exactly ln P(0) = 0.
    if s.k > 0.0 {
        lp += s.k * rate.ln();
        d += s.k / rate;
    }
    add(&mut g[1], d);
    Some(lp)
}

/// PoissonLog(k | log_rate) from the counts' sums.
pub(crate) fn poisson_log(
    cell: &StatsCell,
    x: [&[f64]; 2],
    mut g: [Option<&mut [f64]>; 2],
) -> Option<f64> {
    let [_, lr] = scalars(&x)?;
    let s = stats(cell, x[0], counts)?;
    if lr.is_nan() {
        return None;
    }
    let rate = lr.exp();
    let mut lp = -(s.n * rate + s.ln_fact);
    if s.k > 0.0 {
        lp += s.k * lr;
    }
    add(&mut g[1], s.k - s.n * rate);
    Some(lp)
}

/// Binomial counts with one number of trials: `sum k`, `sum (N - k)` and
/// `sum lchoose(N, k)`, for the `N` they were made with.
struct Trials {
    trials: f64,
    k: f64,
    rest: f64,
    lchoose: f64,
}

/// Binomial(k | N, p) with one `N` and one `p` from the counts' sums.
pub(crate) fn binomial(
    cell: &StatsCell,
    x: [&[f64]; 3],
    mut g: [Option<&mut [f64]>; 3],
) -> Option<f64> {
    let [_, trials, p] = scalars(&x)?;
    let s = stats(cell, x[0], |y| {
        if !(is_count(trials) && y.iter().all(|&k| is_count(k) && k <= trials)) {
            return None;
        }
        Some(Trials {
            trials,
            k: sum(y, |k| k),
            rest: sum(y, |k| trials - k),
            lchoose: sum(y, |k| lchoose(trials, k)),
        })
    })?;
    // Made for another number of trials (a statement whose `N` changes): per observation.
    if s.trials.to_bits() != trials.to_bits() || !(0.0..=1.0).contains(&p) {
        return None;
    }
    let (mut lp, mut d) = (s.lchoose, 0.0);
    if s.k > 0.0 {
        lp += s.k * p.ln();
        d += s.k / p;
    }
    if s.rest > 0.0 {
        lp += s.rest * (-p).ln_1p();
        d -= s.rest / (1.0 - p);
    }
    add(&mut g[2], d);
    Some(lp)
}

/// Positive data: `n`, `sum y`, `sum ln y`.
struct Positive {
    n: f64,
    sum: f64,
    sum_ln: f64,
}

/// Exponential(y | rate) from `n` and `sum y`.
pub(crate) fn exponential(
    cell: &StatsCell,
    x: [&[f64]; 2],
    mut g: [Option<&mut [f64]>; 2],
) -> Option<f64> {
    let [_, rate] = scalars(&x)?;
    let s = stats(cell, x[0], |y| {
        if !y.iter().all(|&v| v >= 0.0 && v.is_finite()) {
            return None;
        }
        Some(Positive {
            n: y.len() as f64,
            sum: sum(y, |v| v),
            sum_ln: 0.0,
        })
    })?;
    if !(rate > 0.0) {
        return None;
    }
    add(&mut g[1], s.n / rate - s.sum);
    Some(s.n * rate.ln() - rate * s.sum)
}

/// Gamma(y | shape, rate) from `n`, `sum y` and `sum ln y`.
pub(crate) fn gamma(
    cell: &StatsCell,
    x: [&[f64]; 3],
    mut g: [Option<&mut [f64]>; 3],
) -> Option<f64> {
    let [_, a, b] = scalars(&x)?;
    let s = stats(cell, x[0], |y| {
        if !y.iter().all(|&v| v > 0.0 && v.is_finite()) {
            return None;
        }
        Some(Positive {
            n: y.len() as f64,
            sum: sum(y, |v| v),
            sum_ln: sum(y, f64::ln),
        })
    })?;
    if !(a > 0.0 && b > 0.0) {
        return None;
    }
    let ln_b = b.ln();
    if g[1].is_some() {
        add(&mut g[1], s.n * (ln_b - digamma(a)) + s.sum_ln);
    }
    add(&mut g[2], s.n * a / b - s.sum);
    Some(s.n * (a * ln_b - lgamma(a)) + (a - 1.0) * s.sum_ln - b * s.sum)
}

/// A density from the statistics, with its partials into `g`, or `None` where they do not
/// apply (a parameter that is not one number, data the statistics cannot describe).
pub(crate) type FromStats<const N: usize> =
    fn(&StatsCell, [&[f64]; N], [Option<&mut [f64]>; N]) -> Option<f64>;

/// A kernel's [`lpdf_stats`](super::scalar::Kernel::lpdf_stats): `from_stats` (one of the
/// functions above) where the statistics apply, else the per-element
/// [`lpdf`](super::scalar::Kernel::lpdf). The data's own adjoint is never asked for (it is
/// data); when it is, the per-element form runs.
pub(crate) fn or_lpdf<K: super::scalar::Kernel<N>, const N: usize>(
    cell: &StatsCell,
    x: [&[f64]; N],
    mut g: [Option<&mut [f64]>; N],
    from_stats: FromStats<N>,
) -> f64 {
    if g[0].is_none() {
        if let Some(lp) = from_stats(cell, x, g.each_mut().map(|g| g.as_deref_mut())) {
            return lp;
        }
    }
    K::lpdf(x, g)
}
