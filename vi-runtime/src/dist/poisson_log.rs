//! PoissonLog(log_rate): a Poisson parameterised by the log of its rate.

use super::scalar::{slices, Kernel};
use super::{
    at, check_each, finite, in_support, is_count, ln_factorial, outside, poisson, sample_lens_ok,
    ArgError, Cdf, LogDensity, Support,
};
use crate::error::DistError;
use rand::Rng;

const NAME: &str = "PoissonLog";

/// The Poisson distribution with rate `exp(log_rate)`; the log mass
/// `y log_rate - exp(log_rate) - ln y!` never forms the rate's logarithm.
///
/// ```
/// use vi_runtime::dist::{LogDensity, PoissonLog};
/// let d = PoissonLog::new(1.2)?;
/// // scipy.stats.poisson(mu=np.exp(1.2)).logpmf(3) = -1.5118763919646026
/// assert!((d.ln_density(3.0) + 1.511_876_391_964_602_6).abs() < 1e-12);
/// assert!(PoissonLog::new(f64::NAN).is_err());
/// # Ok::<(), vi_runtime::DistError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoissonLog {
    log_rate: f64,
}

impl PoissonLog {
    /// A Poisson distribution on the log scale.
    ///
    /// # Errors
    /// [`DistError::NotFinite`] for a non-finite `log_rate`.
    pub fn new(log_rate: f64) -> Result<Self, DistError> {
        finite(NAME, "log_rate", log_rate)?;
        Ok(PoissonLog { log_rate })
    }

    /// The log of the rate.
    pub fn log_rate(&self) -> f64 {
        self.log_rate
    }
}

impl LogDensity for PoissonLog {
    fn ln_density(&self, x: f64) -> f64 {
        lpdf(&[x], &[self.log_rate], None, None)
    }

    fn support(&self) -> Support {
        Support::NonNegativeInteger
    }
}

impl Cdf for PoissonLog {
    fn cdf(&self, x: f64) -> f64 {
        poisson::cdf_at(self.log_rate.exp(), x)
    }
}

impl rand::distr::Distribution<f64> for PoissonLog {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        poisson::draw(rng, self.log_rate.exp())
    }
}

/// Sum over the broadcast elements of ln PoissonLog(y | log_rate) (a log mass), adding the
/// partial in `log_rate` into `dlog_rate`. `dy` is accepted for uniformity and ignored (`y`
/// is a count). `-inf` when a `y` is not a non-negative integer; NaN when the lengths do not
/// broadcast or a `log_rate` is NaN.
pub fn lpdf(
    y: &[f64],
    log_rate: &[f64],
    dy: Option<&mut [f64]>,
    dlog_rate: Option<&mut [f64]>,
) -> f64 {
    slices::<Scalar, 2>([y, log_rate], [dy, dlog_rate])
}

/// PoissonLog's one-element kernel (nothing worth keeping: the log rate usually changes with
/// every element).
#[derive(Debug, Clone, Copy, Default)]
pub struct Scalar;

impl Kernel<2> for Scalar {
    fn lpdf_stats(
        cell: &super::stats::StatsCell,
        x: [&[f64]; 2],
        g: [Option<&mut [f64]>; 2],
    ) -> f64 {
        super::stats::or_lpdf::<Self, 2>(cell, x, g, super::stats::poisson_log)
    }

    #[inline(always)]
    fn elem(&mut self, [k, log_rate]: [f64; 2], _want: [bool; 2]) -> (f64, [f64; 2]) {
        if log_rate.is_nan() {
            return (f64::NAN, [0.0; 2]);
        }
        if !is_count(k) {
            return (outside(k), [0.0; 2]);
        }
        let rate = log_rate.exp();
        let mut lp = -(rate + ln_factorial(k));
        // Skipped for k = 0, so a log rate of -inf gives exactly ln P(0) = 0.
        if k > 0.0 {
            lp += k * log_rate;
        }
        (lp, [0.0, k - rate])
    }
}

/// Validates the data arguments (`None` for arguments that depend on a latent).
///
/// # Errors
/// The first observation that is not a non-negative integer, or non-finite log rate.
pub fn check(y: Option<&[f64]>, log_rate: Option<&[f64]>) -> Result<(), ArgError> {
    check_each(0, y, |v| {
        in_support(NAME, Support::NonNegativeInteger, "{0, 1, 2, ...}", v)
    })?;
    check_each(1, log_rate, |v| finite(NAME, "log_rate", v))
}

/// `n` draws with a broadcast log rate (length 1 or `n`); NaN for a draw whose log rate is
/// invalid, all NaN when the length does not broadcast to `n`.
pub fn sample<R: Rng + ?Sized>(rng: &mut R, log_rate: &[f64], n: usize) -> Vec<f64> {
    if !sample_lens_ok(n, &[log_rate.len()]) {
        return vec![f64::NAN; n];
    }
    (0..n)
        .map(|i| poisson::draw(rng, at(log_rate, i).exp()))
        .collect()
}
