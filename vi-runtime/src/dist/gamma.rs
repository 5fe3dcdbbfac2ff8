//! Gamma(shape, rate).

use super::scalar::{slices, Kernel, Memo};
use super::{
    at, check_each, digamma, gamma_p, is_positive, lgamma, observed, positive, sample_lens_ok,
    ArgError, Cdf, LogDensity, Support,
};
use crate::error::DistError;
use rand::Rng;

const NAME: &str = "Gamma";

/// The gamma distribution with shape `alpha` and rate `beta` (mean `alpha / beta`), as in
/// Stan: density `beta^alpha y^(alpha - 1) exp(-beta y) / Gamma(alpha)` on `y > 0`.
///
/// ```
/// use vi_runtime::dist::{Gamma, LogDensity};
/// let d = Gamma::new(2.5, 1.5)?;
/// // scipy.stats.gamma(a=2.5, scale=1/1.5).logpdf(0.5) = -1.0607408710424262
/// assert!((d.ln_density(0.5) + 1.060_740_871_042_426_2).abs() < 1e-12);
/// assert!(Gamma::new(0.0, 1.0).is_err());
/// # Ok::<(), vi_runtime::DistError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gamma {
    shape: f64,
    rate: f64,
}

impl Gamma {
    /// A gamma distribution.
    ///
    /// # Errors
    /// [`DistError::NotFinite`] for a non-finite argument, [`DistError::NotPositive`] for
    /// `shape <= 0` or `rate <= 0`.
    pub fn new(shape: f64, rate: f64) -> Result<Self, DistError> {
        positive(NAME, "shape", shape)?;
        positive(NAME, "rate", rate)?;
        Ok(Gamma { shape, rate })
    }

    /// The shape `alpha`.
    pub fn shape(&self) -> f64 {
        self.shape
    }

    /// The rate `beta`.
    pub fn rate(&self) -> f64 {
        self.rate
    }
}

impl LogDensity for Gamma {
    fn ln_density(&self, x: f64) -> f64 {
        lpdf(&[x], &[self.shape], &[self.rate], None, None, None)
    }

    fn support(&self) -> Support {
        Support::GreaterThan(0.0)
    }
}

impl Cdf for Gamma {
    fn cdf(&self, x: f64) -> f64 {
        if x <= 0.0 {
            0.0
        } else {
            gamma_p(self.shape, self.rate * x)
        }
    }
}

impl rand::distr::Distribution<f64> for Gamma {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match rand_distr::Gamma::new(self.shape, 1.0 / self.rate) {
            Ok(d) => rng.sample(d),
            Err(_) => f64::NAN,
        }
    }
}

/// Sum over the broadcast elements of ln Gamma(y | shape, rate), adding partials into the
/// given buffers. `-inf` when a `y` is not positive; NaN when the lengths do not broadcast
/// or a `shape` or `rate` is not positive.
pub fn lpdf(
    y: &[f64],
    shape: &[f64],
    rate: &[f64],
    dy: Option<&mut [f64]>,
    dshape: Option<&mut [f64]>,
    drate: Option<&mut [f64]>,
) -> f64 {
    slices::<Scalar, 3>([y, shape, rate], [dy, dshape, drate])
}

/// Gamma's one-element kernel: keeps `lgamma(shape)`, `digamma(shape)` (when wanted) and
/// `ln(rate)` while `shape` and `rate` repeat.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scalar(Memo<(f64, f64, f64), 3>);

impl Kernel<3> for Scalar {
    fn lpdf_stats(
        cell: &super::stats::StatsCell,
        x: [&[f64]; 3],
        g: [Option<&mut [f64]>; 3],
    ) -> f64 {
        super::stats::or_lpdf::<Self, 3>(cell, x, g, super::stats::gamma)
    }

    #[inline(always)]
    fn elem(&mut self, [y, a, b]: [f64; 3], want: [bool; 3]) -> (f64, [f64; 3]) {
        if !(a > 0.0 && b > 0.0) {
            return (f64::NAN, [0.0; 3]);
        }
        if y <= 0.0 {
            return (f64::NEG_INFINITY, [0.0; 3]);
        }
        let key = [a, b, f64::from(u8::from(want[1]))];
        let &(lgamma_a, digamma_a, ln_b) = self.0.get(key, |[a, b, w]| {
            (lgamma(a), if w > 0.0 { digamma(a) } else { 0.0 }, b.ln())
        });
        let ln_y = y.ln();
        (
            a * ln_b - lgamma_a + (a - 1.0) * ln_y - b * y,
            [(a - 1.0) / y - b, ln_b - digamma_a + ln_y, a / b - y],
        )
    }
}

/// Validates the data arguments (`None` for arguments that depend on a latent).
///
/// # Errors
/// The first non-finite or non-positive observation, or non-positive shape or rate.
pub fn check(
    y: Option<&[f64]>,
    shape: Option<&[f64]>,
    rate: Option<&[f64]>,
) -> Result<(), ArgError> {
    check_each(0, y, |v| observed(NAME, "(0, inf)", v, |v| v > 0.0))?;
    check_each(1, shape, |v| positive(NAME, "shape", v))?;
    check_each(2, rate, |v| positive(NAME, "rate", v))
}

/// `n` draws with broadcast parameters (each of length 1 or `n`); NaN for a draw whose
/// parameters are invalid, all NaN when the lengths do not broadcast to `n`.
pub fn sample<R: Rng + ?Sized>(rng: &mut R, shape: &[f64], rate: &[f64], n: usize) -> Vec<f64> {
    if !sample_lens_ok(n, &[shape.len(), rate.len()]) {
        return vec![f64::NAN; n];
    }
    (0..n)
        .map(|i| {
            let (a, b) = (at(shape, i), at(rate, i));
            match rand_distr::Gamma::new(a, 1.0 / b) {
                Ok(d) if is_positive(a) && is_positive(b) => rng.sample(d),
                _ => f64::NAN,
            }
        })
        .collect()
}
