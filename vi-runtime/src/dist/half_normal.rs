//! HalfNormal(sigma): a zero-mean normal folded onto `(0, inf)`.

use super::scalar::{slices, Kernel, Memo};
use super::{
    at, check_each, observed, positive, sample_lens_ok, ArgError, Cdf, LogDensity, Support,
};
use crate::error::DistError;
use crate::math::LN_SQRT_2PI;
use rand::Rng;
use std::f64::consts::{LN_2, SQRT_2};

const NAME: &str = "HalfNormal";

/// The half-normal distribution with scale `sigma`: `|X|` for `X ~ Normal(0, sigma)`, with
/// density `2 Normal(y | 0, sigma)` on `y >= 0`.
///
/// ```
/// use vi_runtime::dist::{HalfNormal, LogDensity};
/// let d = HalfNormal::new(1.5)?;
/// // scipy.stats.halfnorm(scale=1.5).logpdf(2.0) = -1.5201453496417807
/// assert!((d.ln_density(2.0) + 1.520_145_349_641_780_7).abs() < 1e-12);
/// assert_eq!(d.ln_density(-1.0), f64::NEG_INFINITY);
/// assert!(HalfNormal::new(0.0).is_err());
/// # Ok::<(), vi_runtime::DistError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HalfNormal {
    sigma: f64,
}

impl HalfNormal {
    /// A half-normal distribution.
    ///
    /// # Errors
    /// [`DistError::NotFinite`] for a non-finite `sigma`, [`DistError::NotPositive`] for
    /// `sigma <= 0`.
    pub fn new(sigma: f64) -> Result<Self, DistError> {
        positive(NAME, "sigma", sigma)?;
        Ok(HalfNormal { sigma })
    }

    /// The scale.
    pub fn sigma(&self) -> f64 {
        self.sigma
    }
}

impl LogDensity for HalfNormal {
    fn ln_density(&self, x: f64) -> f64 {
        lpdf(&[x], &[self.sigma], None, None)
    }

    fn support(&self) -> Support {
        Support::GreaterThan(0.0)
    }
}

impl Cdf for HalfNormal {
    fn cdf(&self, x: f64) -> f64 {
        if x <= 0.0 {
            0.0
        } else {
            libm::erf(x / (self.sigma * SQRT_2))
        }
    }
}

impl rand::distr::Distribution<f64> for HalfNormal {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let z: f64 = rng.sample(rand_distr::StandardNormal);
        self.sigma * z.abs()
    }
}

/// Sum over the broadcast elements of ln HalfNormal(y | sigma), adding partials into the
/// given buffers. `-inf` when a `y` is negative; NaN when the lengths do not broadcast or a
/// `sigma` is not positive.
pub fn lpdf(y: &[f64], sigma: &[f64], dy: Option<&mut [f64]>, dsigma: Option<&mut [f64]>) -> f64 {
    slices::<Scalar, 2>([y, sigma], [dy, dsigma])
}

/// HalfNormal's one-element kernel: keeps `1 / sigma` and `ln(sigma)` while `sigma` repeats.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scalar(Memo<(f64, f64), 1>);

impl Kernel<2> for Scalar {
    #[inline(always)]
    fn elem(&mut self, [y, sigma]: [f64; 2], _want: [bool; 2]) -> (f64, [f64; 2]) {
        if !(sigma > 0.0) {
            return (f64::NAN, [0.0; 2]);
        }
        if y < 0.0 {
            return (f64::NEG_INFINITY, [0.0; 2]);
        }
        let &(inv, ln_sigma) = self.0.get([sigma], |[s]| (1.0 / s, s.ln()));
        let z = y * inv;
        (
            LN_2 - LN_SQRT_2PI - ln_sigma - 0.5 * z * z,
            [-z * inv, (z * z - 1.0) * inv],
        )
    }
}

/// Validates the data arguments (`None` for arguments that depend on a latent).
///
/// # Errors
/// The first non-finite or negative observation, or non-positive scale.
pub fn check(y: Option<&[f64]>, sigma: Option<&[f64]>) -> Result<(), ArgError> {
    check_each(0, y, |v| observed(NAME, "[0, inf)", v, |v| v >= 0.0))?;
    check_each(1, sigma, |v| positive(NAME, "sigma", v))
}

/// `n` draws with a broadcast scale (length 1 or `n`); NaN for a draw whose scale is
/// invalid, all NaN when the length does not broadcast to `n`.
pub fn sample<R: Rng + ?Sized>(rng: &mut R, sigma: &[f64], n: usize) -> Vec<f64> {
    if !sample_lens_ok(n, &[sigma.len()]) {
        return vec![f64::NAN; n];
    }
    (0..n)
        .map(|i| {
            let z: f64 = rng.sample(rand_distr::StandardNormal);
            let s = at(sigma, i);
            if s > 0.0 {
                s * z.abs()
            } else {
                f64::NAN
            }
        })
        .collect()
}
