//! Binomial(n, p).

use super::scalar::{slices, Kernel, Memo};
use super::{
    at, broadcast_len, check_each, count, is_count, lchoose, outside, probability, sample_lens_ok,
    ArgError, Cdf, LogDensity, Support,
};
use crate::error::DistError;
use rand::Rng;

const NAME: &str = "Binomial";

/// The binomial distribution: successes in `n` independent trials of probability `p`.
///
/// ```
/// use vi_runtime::dist::{Binomial, LogDensity};
/// let d = Binomial::new(20, 0.3)?;
/// // scipy.stats.binom(n=20, p=0.3).logpmf(6) = -1.6521419750931727
/// assert!((d.ln_density(6.0) + 1.652_141_975_093_172_7).abs() < 1e-12);
/// assert_eq!(d.ln_density(21.0), f64::NEG_INFINITY);
/// assert!(Binomial::new(20, 1.5).is_err());
/// # Ok::<(), vi_runtime::DistError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Binomial {
    n: u64,
    p: f64,
}

impl Binomial {
    /// A binomial distribution.
    ///
    /// # Errors
    /// [`DistError::NotFinite`] for NaN, [`DistError::OutOfRange`] for `p` outside `[0, 1]`.
    pub fn new(n: u64, p: f64) -> Result<Self, DistError> {
        probability(NAME, "p", p)?;
        Ok(Binomial { n, p })
    }

    /// The number of trials.
    pub fn n(&self) -> u64 {
        self.n
    }

    /// The success probability.
    pub fn p(&self) -> f64 {
        self.p
    }
}

impl LogDensity for Binomial {
    fn ln_density(&self, x: f64) -> f64 {
        lpdf(&[x], &[self.n as f64], &[self.p], None, None, None)
    }

    fn support(&self) -> Support {
        Support::IntegerInterval(0, self.n)
    }
}

/// P(X <= k) for X ~ Binomial(n, q) given `1 - q` as `q_c`: `I_{q_c}(n - k, k + 1)` for
/// `0 <= k < n`.
pub(crate) fn cdf_at(n: u64, q_c: f64, x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x < 0.0 {
        return 0.0;
    }
    let k = x.floor();
    let n = n as f64;
    if k >= n {
        return 1.0;
    }
    statrs::function::beta::checked_beta_reg(n - k, k + 1.0, q_c).unwrap_or(f64::NAN)
}

impl Cdf for Binomial {
    fn cdf(&self, x: f64) -> f64 {
        cdf_at(self.n, 1.0 - self.p, x)
    }
}

/// One draw from Binomial(n, p) as f64, NaN for invalid arguments.
pub(crate) fn draw<R: Rng + ?Sized>(rng: &mut R, n: f64, p: f64) -> f64 {
    if !is_count(n) || n > u64::MAX as f64 {
        return f64::NAN;
    }
    match rand_distr::Binomial::new(n as u64, p) {
        Ok(d) => rng.sample(d) as f64,
        Err(_) => f64::NAN,
    }
}

impl rand::distr::Distribution<f64> for Binomial {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        draw(rng, self.n as f64, self.p)
    }
}

/// Sum over the broadcast elements of ln Binomial(y | n, p) (a log mass), adding the partial
/// in `p` into `dp`. `dy` and `dn` are accepted for uniformity and ignored (`y` and `n` are
/// integers). `-inf` when a `y` is not an integer in `[0, n]`; NaN when the lengths do not
/// broadcast, an `n` is not a non-negative integer, or a `p` is outside `[0, 1]`.
pub fn lpdf(
    y: &[f64],
    n: &[f64],
    p: &[f64],
    dy: Option<&mut [f64]>,
    dn: Option<&mut [f64]>,
    dp: Option<&mut [f64]>,
) -> f64 {
    slices::<Scalar, 3>([y, n, p], [dy, dn, dp])
}

/// Binomial's one-element kernel: keeps `ln(p)` and `ln(1 - p)` while `p` repeats.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scalar(Memo<(f64, f64), 1>);

impl Kernel<3> for Scalar {
    fn lpdf_stats(
        cell: &super::stats::StatsCell,
        x: [&[f64]; 3],
        g: [Option<&mut [f64]>; 3],
    ) -> f64 {
        super::stats::or_lpdf::<Self, 3>(cell, x, g, super::stats::binomial)
    }

    #[inline(always)]
    fn elem(&mut self, [k, n, p]: [f64; 3], _want: [bool; 3]) -> (f64, [f64; 3]) {
        if !(is_count(n) && (0.0..=1.0).contains(&p)) {
            return (f64::NAN, [0.0; 3]);
        }
        if !(is_count(k) && k <= n) {
            return (outside(k), [0.0; 3]);
        }
        let &(ln_p, ln_q) = self.0.get([p], |[p]| (p.ln(), (-p).ln_1p()));
        // Terms with a zero count are skipped, so p = 0 or 1 gives exact 0 * ln 0 = 0.
        let mut lp = lchoose(n, k);
        let mut g = 0.0;
        if k > 0.0 {
            lp += k * ln_p;
            g += k / p;
        }
        if k < n {
            lp += (n - k) * ln_q;
            g -= (n - k) / (1.0 - p);
        }
        (lp, [0.0, 0.0, g])
    }
}

/// Validates the data arguments (`None` for arguments that depend on a latent); when both
/// `y` and `n` are data, each `y` must be at most its `n`.
///
/// # Errors
/// The first observation or `n` that is not a non-negative integer, observation above its
/// `n`, or probability outside `[0, 1]`.
pub fn check(y: Option<&[f64]>, n: Option<&[f64]>, p: Option<&[f64]>) -> Result<(), ArgError> {
    check_counts(NAME, y, n)?;
    check_each(2, p, |v| probability(NAME, "p", v))
}

/// The checks of `y` and `n` shared with BinomialLogit.
pub(crate) fn check_counts(
    dist: &'static str,
    y: Option<&[f64]>,
    n: Option<&[f64]>,
) -> Result<(), ArgError> {
    check_each(0, y, |v| {
        super::in_support(dist, Support::NonNegativeInteger, "{0, 1, ..., n}", v)
    })?;
    check_each(1, n, |v| count(dist, "n", v))?;
    if let (Some(y), Some(n)) = (y, n) {
        if let Some(len) = broadcast_len(&[y.len(), n.len()]) {
            for i in 0..len {
                let k = at(y, i);
                if k > at(n, i) {
                    return Err(ArgError {
                        arg: 0,
                        index: if y.len() == 1 { 0 } else { i },
                        error: DistError::OutsideSupport {
                            dist,
                            value: k,
                            support: "{0, 1, ..., n}",
                        },
                    });
                }
            }
        }
    }
    Ok(())
}

/// `n_draws` draws with broadcast parameters (each of length 1 or `n_draws`); NaN for a draw
/// whose parameters are invalid, all NaN when the lengths do not broadcast to `n_draws`.
pub fn sample<R: Rng + ?Sized>(rng: &mut R, n: &[f64], p: &[f64], n_draws: usize) -> Vec<f64> {
    if !sample_lens_ok(n_draws, &[n.len(), p.len()]) {
        return vec![f64::NAN; n_draws];
    }
    (0..n_draws)
        .map(|i| draw(rng, at(n, i), at(p, i)))
        .collect()
}
