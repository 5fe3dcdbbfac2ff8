//! Exponential(rate).

use super::scalar::{slices, Kernel, Memo};
use super::{
    at, check_each, observed, positive, sample_lens_ok, ArgError, Cdf, LogDensity, Support,
};
use crate::error::DistError;
use rand::Rng;

const NAME: &str = "Exponential";

/// The exponential distribution with rate `rate` (mean `1 / rate`), as in Stan.
///
/// ```
/// use vi_runtime::dist::{Exponential, LogDensity};
/// let d = Exponential::new(2.5)?;
/// // scipy.stats.expon(scale=1/2.5).logpdf(1.0) = -1.583709268125845
/// assert!((d.ln_density(1.0) + 1.583_709_268_125_845).abs() < 1e-12);
/// assert!(Exponential::new(0.0).is_err());
/// # Ok::<(), vi_runtime::DistError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exponential {
    rate: f64,
}

impl Exponential {
    /// An exponential distribution.
    ///
    /// # Errors
    /// [`DistError::NotFinite`] for a non-finite `rate`, [`DistError::NotPositive`] for
    /// `rate <= 0`.
    pub fn new(rate: f64) -> Result<Self, DistError> {
        positive(NAME, "rate", rate)?;
        Ok(Exponential { rate })
    }

    /// The rate.
    pub fn rate(&self) -> f64 {
        self.rate
    }
}

impl LogDensity for Exponential {
    fn ln_density(&self, x: f64) -> f64 {
        lpdf(&[x], &[self.rate], None, None)
    }

    fn support(&self) -> Support {
        Support::GreaterThan(0.0)
    }
}

impl Cdf for Exponential {
    fn cdf(&self, x: f64) -> f64 {
        if x <= 0.0 {
            0.0
        } else {
            -(-self.rate * x).exp_m1()
        }
    }
}

impl rand::distr::Distribution<f64> for Exponential {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let e: f64 = rng.sample(rand_distr::Exp1);
        e / self.rate
    }
}

/// Sum over the broadcast elements of ln Exponential(y | rate), adding partials into the
/// given buffers. `-inf` when a `y` is negative; NaN when the lengths do not broadcast or a
/// `rate` is not positive.
pub fn lpdf(y: &[f64], rate: &[f64], dy: Option<&mut [f64]>, drate: Option<&mut [f64]>) -> f64 {
    slices::<Scalar, 2>([y, rate], [dy, drate])
}

/// Exponential's one-element kernel: keeps `ln(rate)` while `rate` repeats.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scalar(Memo<f64, 1>);

impl Kernel<2> for Scalar {
    fn lpdf_stats(
        cell: &super::stats::StatsCell,
        x: [&[f64]; 2],
        g: [Option<&mut [f64]>; 2],
    ) -> f64 {
        super::stats::or_lpdf::<Self, 2>(cell, x, g, super::stats::exponential)
    }

    #[inline(always)]
    fn elem(&mut self, [y, rate]: [f64; 2], _want: [bool; 2]) -> (f64, [f64; 2]) {
        if !(rate > 0.0) {
            return (f64::NAN, [0.0; 2]);
        }
        if y < 0.0 {
            return (f64::NEG_INFINITY, [0.0; 2]);
        }
        let &ln_rate = self.0.get([rate], |[r]| r.ln());
        (ln_rate - rate * y, [-rate, 1.0 / rate - y])
    }
}

/// Validates the data arguments (`None` for arguments that depend on a latent).
///
/// # Errors
/// The first non-finite or negative observation, or non-positive rate.
pub fn check(y: Option<&[f64]>, rate: Option<&[f64]>) -> Result<(), ArgError> {
    check_each(0, y, |v| observed(NAME, "[0, inf)", v, |v| v >= 0.0))?;
    check_each(1, rate, |v| positive(NAME, "rate", v))
}

/// `n` draws with a broadcast rate (length 1 or `n`); NaN for a draw whose rate is invalid,
/// all NaN when the length does not broadcast to `n`.
pub fn sample<R: Rng + ?Sized>(rng: &mut R, rate: &[f64], n: usize) -> Vec<f64> {
    if !sample_lens_ok(n, &[rate.len()]) {
        return vec![f64::NAN; n];
    }
    (0..n)
        .map(|i| match rand_distr::Exp::new(at(rate, i)) {
            Ok(d) if at(rate, i) > 0.0 => rng.sample(d),
            _ => f64::NAN,
        })
        .collect()
}
