//! BernoulliLogit(logit): a Bernoulli parameterised by the log-odds.

use super::scalar::{slices, Kernel};
use super::{
    as_bool, at, check_each, finite, in_support, outside, sample_lens_ok, ArgError, Cdf,
    LogDensity, Support,
};
use crate::error::DistError;
use crate::math::{log_sigmoid, sigmoid};
use rand::Rng;

const NAME: &str = "BernoulliLogit";

/// The Bernoulli distribution with success probability `sigmoid(logit)`, computed in log
/// space so that `|logit|` of 40 or 800 loses nothing.
///
/// ```
/// use vi_runtime::dist::{BernoulliLogit, LogDensity};
/// let d = BernoulliLogit::new(40.0)?;
/// // scipy.special.log_expit(-40.0) = -40.0 (ln(1 - sigmoid(40)) without cancellation)
/// assert_eq!(d.ln_density(0.0), -40.0);
/// assert!(BernoulliLogit::new(f64::NAN).is_err());
/// # Ok::<(), vi_runtime::DistError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BernoulliLogit {
    logit: f64,
}

impl BernoulliLogit {
    /// A Bernoulli distribution on the logit scale.
    ///
    /// # Errors
    /// [`DistError::NotFinite`] for a non-finite `logit`.
    pub fn new(logit: f64) -> Result<Self, DistError> {
        finite(NAME, "logit", logit)?;
        Ok(BernoulliLogit { logit })
    }

    /// The log-odds of a 1.
    pub fn logit(&self) -> f64 {
        self.logit
    }
}

impl LogDensity for BernoulliLogit {
    fn ln_density(&self, x: f64) -> f64 {
        lpdf(&[x], &[self.logit], None, None)
    }

    fn support(&self) -> Support {
        Support::Boolean
    }
}

impl Cdf for BernoulliLogit {
    fn cdf(&self, x: f64) -> f64 {
        if x.is_nan() {
            f64::NAN
        } else if x < 0.0 {
            0.0
        } else if x < 1.0 {
            sigmoid(-self.logit)
        } else {
            1.0
        }
    }
}

impl rand::distr::Distribution<f64> for BernoulliLogit {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match rand::distr::Bernoulli::new(sigmoid(self.logit)) {
            Ok(d) => f64::from(u8::from(rng.sample(d))),
            Err(_) => f64::NAN,
        }
    }
}

/// Sum over the broadcast elements of ln BernoulliLogit(y | logit) (a log mass), adding the
/// partial in `logit` into `dlogit`. `dy` is accepted for uniformity and ignored (`y` is
/// discrete). `-inf` when a `y` is not 0 or 1; NaN when the lengths do not broadcast or a
/// `logit` is NaN.
pub fn lpdf(y: &[f64], logit: &[f64], dy: Option<&mut [f64]>, dlogit: Option<&mut [f64]>) -> f64 {
    slices::<Scalar, 2>([y, logit], [dy, dlogit])
}

/// BernoulliLogit's one-element kernel (nothing worth keeping: the logit usually changes
/// with every element).
#[derive(Debug, Clone, Copy, Default)]
pub struct Scalar;

impl Kernel<2> for Scalar {
    fn lpdf_stats(
        cell: &super::stats::StatsCell,
        x: [&[f64]; 2],
        g: [Option<&mut [f64]>; 2],
    ) -> f64 {
        super::stats::or_lpdf::<Self, 2>(cell, x, g, super::stats::bernoulli_logit)
    }

    #[inline(always)]
    fn elem(&mut self, [y, logit]: [f64; 2], _want: [bool; 2]) -> (f64, [f64; 2]) {
        if logit.is_nan() {
            return (f64::NAN, [0.0; 2]);
        }
        match as_bool(y) {
            Some(true) => (log_sigmoid(logit), [0.0, sigmoid(-logit)]),
            Some(false) => (log_sigmoid(-logit), [0.0, -sigmoid(logit)]),
            None => (outside(y), [0.0; 2]),
        }
    }
}

/// Validates the data arguments (`None` for arguments that depend on a latent).
///
/// # Errors
/// The first observation that is not 0 or 1, or non-finite logit.
pub fn check(y: Option<&[f64]>, logit: Option<&[f64]>) -> Result<(), ArgError> {
    check_each(0, y, |v| in_support(NAME, Support::Boolean, "{0, 1}", v))?;
    check_each(1, logit, |v| finite(NAME, "logit", v))
}

/// `n` draws (0.0 or 1.0) with a broadcast logit (length 1 or `n`); NaN for a draw whose
/// logit is NaN, all NaN when the length does not broadcast to `n`.
pub fn sample<R: Rng + ?Sized>(rng: &mut R, logit: &[f64], n: usize) -> Vec<f64> {
    if !sample_lens_ok(n, &[logit.len()]) {
        return vec![f64::NAN; n];
    }
    (0..n)
        .map(
            |i| match rand::distr::Bernoulli::new(sigmoid(at(logit, i))) {
                Ok(d) => f64::from(u8::from(rng.sample(d))),
                Err(_) => f64::NAN,
            },
        )
        .collect()
}
