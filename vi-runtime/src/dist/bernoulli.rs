//! Bernoulli(p).

use super::scalar::{slices, Kernel, Memo};
use super::{
    as_bool, at, check_each, in_support, outside, probability, sample_lens_ok, ArgError, Cdf,
    LogDensity, Support,
};
use crate::error::DistError;
use rand::Rng;

const NAME: &str = "Bernoulli";

/// The Bernoulli distribution: 1 with probability `p`, 0 otherwise.
///
/// ```
/// use vi_runtime::dist::{Bernoulli, LogDensity};
/// let d = Bernoulli::new(0.3)?;
/// // scipy.stats.bernoulli(p=0.3).logpmf(1) = -1.2039728043259361
/// assert!((d.ln_density(1.0) + 1.203_972_804_325_936_1).abs() < 1e-12);
/// assert_eq!(d.ln_density(2.0), f64::NEG_INFINITY);
/// assert!(Bernoulli::new(1.5).is_err());
/// # Ok::<(), vi_runtime::DistError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bernoulli {
    p: f64,
}

impl Bernoulli {
    /// A Bernoulli distribution.
    ///
    /// # Errors
    /// [`DistError::NotFinite`] for NaN, [`DistError::OutOfRange`] for `p` outside `[0, 1]`.
    pub fn new(p: f64) -> Result<Self, DistError> {
        probability(NAME, "p", p)?;
        Ok(Bernoulli { p })
    }

    /// The probability of a 1.
    pub fn p(&self) -> f64 {
        self.p
    }
}

impl LogDensity for Bernoulli {
    fn ln_density(&self, x: f64) -> f64 {
        lpdf(&[x], &[self.p], None, None)
    }

    fn support(&self) -> Support {
        Support::Boolean
    }
}

impl Cdf for Bernoulli {
    fn cdf(&self, x: f64) -> f64 {
        if x.is_nan() {
            f64::NAN
        } else if x < 0.0 {
            0.0
        } else if x < 1.0 {
            1.0 - self.p
        } else {
            1.0
        }
    }
}

impl rand::distr::Distribution<f64> for Bernoulli {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match rand::distr::Bernoulli::new(self.p) {
            Ok(d) => f64::from(u8::from(rng.sample(d))),
            Err(_) => f64::NAN,
        }
    }
}

/// Sum over the broadcast elements of ln Bernoulli(y | p) (a log mass), adding the partial
/// in `p` into `dp`. `dy` is accepted for uniformity and ignored (`y` is discrete). `-inf`
/// when a `y` is not 0 or 1; NaN when the lengths do not broadcast or a `p` is outside
/// `[0, 1]`.
pub fn lpdf(y: &[f64], p: &[f64], dy: Option<&mut [f64]>, dp: Option<&mut [f64]>) -> f64 {
    slices::<Scalar, 2>([y, p], [dy, dp])
}

/// Bernoulli's one-element kernel: keeps `ln(p)` and `ln(1 - p)` while `p` repeats.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scalar(Memo<(f64, f64), 1>);

impl Kernel<2> for Scalar {
    fn lpdf_stats(
        cell: &super::stats::StatsCell,
        x: [&[f64]; 2],
        g: [Option<&mut [f64]>; 2],
    ) -> f64 {
        super::stats::or_lpdf::<Self, 2>(cell, x, g, super::stats::bernoulli)
    }

    #[inline(always)]
    fn elem(&mut self, [y, p]: [f64; 2], _want: [bool; 2]) -> (f64, [f64; 2]) {
        if !(0.0..=1.0).contains(&p) {
            return (f64::NAN, [0.0; 2]);
        }
        let &(ln_p, ln_q) = self.0.get([p], |[p]| (p.ln(), (-p).ln_1p()));
        match as_bool(y) {
            Some(true) => (ln_p, [0.0, 1.0 / p]),
            Some(false) => (ln_q, [0.0, -1.0 / (1.0 - p)]),
            None => (outside(y), [0.0; 2]),
        }
    }
}

/// Validates the data arguments (`None` for arguments that depend on a latent).
///
/// # Errors
/// The first observation that is not 0 or 1, or probability outside `[0, 1]`.
pub fn check(y: Option<&[f64]>, p: Option<&[f64]>) -> Result<(), ArgError> {
    check_each(0, y, |v| in_support(NAME, Support::Boolean, "{0, 1}", v))?;
    check_each(1, p, |v| probability(NAME, "p", v))
}

/// `n` draws (0.0 or 1.0) with a broadcast probability (length 1 or `n`); NaN for a draw
/// whose probability is invalid, all NaN when the length does not broadcast to `n`.
pub fn sample<R: Rng + ?Sized>(rng: &mut R, p: &[f64], n: usize) -> Vec<f64> {
    if !sample_lens_ok(n, &[p.len()]) {
        return vec![f64::NAN; n];
    }
    (0..n)
        .map(|i| match rand::distr::Bernoulli::new(at(p, i)) {
            Ok(d) => f64::from(u8::from(rng.sample(d))),
            Err(_) => f64::NAN,
        })
        .collect()
}
