//! Poisson(rate).

use super::scalar::{slices, Kernel, Memo};
use super::{
    at, check_each, gamma_q, in_support, is_count, ln_factorial, nonnegative, outside,
    sample_lens_ok, ArgError, Cdf, LogDensity, Support,
};
use crate::error::DistError;
use rand::Rng;

const NAME: &str = "Poisson";

/// The Poisson distribution with mean `rate` (`rate >= 0`, as in Stan; a rate of 0 puts all
/// mass on 0).
///
/// ```
/// use vi_runtime::dist::{LogDensity, Poisson};
/// let d = Poisson::new(3.5)?;
/// // scipy.stats.poisson(mu=3.5).logpmf(4) = -1.6670019563664735
/// assert!((d.ln_density(4.0) + 1.667_001_956_366_473_5).abs() < 1e-12);
/// assert_eq!(d.ln_density(2.5), f64::NEG_INFINITY);
/// assert!(Poisson::new(-1.0).is_err());
/// # Ok::<(), vi_runtime::DistError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Poisson {
    rate: f64,
}

impl Poisson {
    /// A Poisson distribution.
    ///
    /// # Errors
    /// [`DistError::NotFinite`] for a non-finite `rate`, [`DistError::OutOfRange`] for a
    /// negative one.
    pub fn new(rate: f64) -> Result<Self, DistError> {
        nonnegative(NAME, "rate", rate)?;
        Ok(Poisson { rate })
    }

    /// The rate (mean).
    pub fn rate(&self) -> f64 {
        self.rate
    }
}

impl LogDensity for Poisson {
    fn ln_density(&self, x: f64) -> f64 {
        lpdf(&[x], &[self.rate], None, None)
    }

    fn support(&self) -> Support {
        Support::NonNegativeInteger
    }
}

/// P(X <= x) for X ~ Poisson(rate): the regularised upper incomplete gamma function
/// `Q(floor(x) + 1, rate)`.
pub(crate) fn cdf_at(rate: f64, x: f64) -> f64 {
    if x.is_nan() || rate.is_nan() {
        return f64::NAN;
    }
    if x < 0.0 {
        return 0.0;
    }
    if rate == 0.0 || x.is_infinite() {
        return 1.0;
    }
    gamma_q(x.floor() + 1.0, rate)
}

impl Cdf for Poisson {
    fn cdf(&self, x: f64) -> f64 {
        cdf_at(self.rate, x)
    }
}

/// One draw from Poisson(rate) as f64, NaN for an invalid rate.
pub(crate) fn draw<R: Rng + ?Sized>(rng: &mut R, rate: f64) -> f64 {
    if rate == 0.0 {
        return 0.0;
    }
    match rand_distr::Poisson::new(rate) {
        Ok(d) => rng.sample(d),
        Err(_) => f64::NAN,
    }
}

impl rand::distr::Distribution<f64> for Poisson {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        draw(rng, self.rate)
    }
}

/// Sum over the broadcast elements of ln Poisson(y | rate) (a log mass), adding the partial
/// in `rate` into `drate`. `dy` is accepted for uniformity and ignored (`y` is a count).
/// `-inf` when a `y` is not a non-negative integer; NaN when the lengths do not broadcast or
/// a `rate` is negative or NaN.
pub fn lpdf(y: &[f64], rate: &[f64], dy: Option<&mut [f64]>, drate: Option<&mut [f64]>) -> f64 {
    slices::<Scalar, 2>([y, rate], [dy, drate])
}

/// Poisson's one-element kernel: keeps `ln(rate)` while `rate` repeats.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scalar(Memo<f64, 1>);

impl Kernel<2> for Scalar {
    fn lpdf_stats(
        cell: &super::stats::StatsCell,
        x: [&[f64]; 2],
        g: [Option<&mut [f64]>; 2],
    ) -> f64 {
        super::stats::or_lpdf::<Self, 2>(cell, x, g, super::stats::poisson)
    }

    #[inline(always)]
    fn elem(&mut self, [k, rate]: [f64; 2], _want: [bool; 2]) -> (f64, [f64; 2]) {
        if !(rate >= 0.0) {
            return (f64::NAN, [0.0; 2]);
        }
        if !is_count(k) {
            return (outside(k), [0.0; 2]);
        }
        let mut lp = -(rate + ln_factorial(k));
        let mut g = -1.0;
        // Skipped for k = 0, so a rate of 0 gives exactly ln P(0) = 0.
        if k > 0.0 {
            let &ln_rate = self.0.get([rate], |[r]| r.ln());
            lp += k * ln_rate;
            g += k / rate;
        }
        (lp, [0.0, g])
    }
}

/// Validates the data arguments (`None` for arguments that depend on a latent).
///
/// # Errors
/// The first observation that is not a non-negative integer, or negative or non-finite
/// rate.
pub fn check(y: Option<&[f64]>, rate: Option<&[f64]>) -> Result<(), ArgError> {
    check_each(0, y, |v| {
        in_support(NAME, Support::NonNegativeInteger, "{0, 1, 2, ...}", v)
    })?;
    check_each(1, rate, |v| nonnegative(NAME, "rate", v))
}

/// `n` draws with a broadcast rate (length 1 or `n`); NaN for a draw whose rate is invalid,
/// all NaN when the length does not broadcast to `n`.
pub fn sample<R: Rng + ?Sized>(rng: &mut R, rate: &[f64], n: usize) -> Vec<f64> {
    if !sample_lens_ok(n, &[rate.len()]) {
        return vec![f64::NAN; n];
    }
    (0..n).map(|i| draw(rng, at(rate, i))).collect()
}
