//! LogNormal(mu, sigma).

use super::scalar::{slices, Kernel, Memo};
use super::{
    at, check_each, finite, observed, positive, sample_lens_ok, ArgError, Cdf, LogDensity, Support,
};
use crate::error::DistError;
use crate::math::LN_SQRT_2PI;
use rand::Rng;
use std::f64::consts::SQRT_2;

const NAME: &str = "LogNormal";

/// The log-normal distribution: `exp(X)` for `X ~ Normal(mu, sigma)`.
///
/// ```
/// use vi_runtime::dist::{LogDensity, LogNormal};
/// let d = LogNormal::new(0.5, 0.8)?;
/// // scipy.stats.lognorm(s=0.8, scale=np.exp(0.5)).logpdf(1.2) = -0.9569599709327117
/// assert!((d.ln_density(1.2) + 0.956_959_970_932_711_7).abs() < 1e-12);
/// assert_eq!(d.ln_density(0.0), f64::NEG_INFINITY);
/// assert!(LogNormal::new(0.0, f64::NAN).is_err());
/// # Ok::<(), vi_runtime::DistError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogNormal {
    mu: f64,
    sigma: f64,
}

impl LogNormal {
    /// A log-normal distribution with log-scale location `mu` and log-scale standard
    /// deviation `sigma`.
    ///
    /// # Errors
    /// [`DistError::NotFinite`] for a non-finite `mu` or `sigma`, [`DistError::NotPositive`]
    /// for `sigma <= 0`.
    pub fn new(mu: f64, sigma: f64) -> Result<Self, DistError> {
        finite(NAME, "mu", mu)?;
        positive(NAME, "sigma", sigma)?;
        Ok(LogNormal { mu, sigma })
    }

    /// The mean of `ln X`.
    pub fn mu(&self) -> f64 {
        self.mu
    }

    /// The standard deviation of `ln X`.
    pub fn sigma(&self) -> f64 {
        self.sigma
    }
}

impl LogDensity for LogNormal {
    fn ln_density(&self, x: f64) -> f64 {
        lpdf(&[x], &[self.mu], &[self.sigma], None, None, None)
    }

    fn support(&self) -> Support {
        Support::GreaterThan(0.0)
    }
}

impl Cdf for LogNormal {
    fn cdf(&self, x: f64) -> f64 {
        if x <= 0.0 {
            0.0
        } else {
            0.5 * libm::erfc(-(x.ln() - self.mu) / (self.sigma * SQRT_2))
        }
    }
}

impl rand::distr::Distribution<f64> for LogNormal {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let z: f64 = rng.sample(rand_distr::StandardNormal);
        (self.mu + self.sigma * z).exp()
    }
}

/// Sum over the broadcast elements of ln LogNormal(y | mu, sigma), adding partials into the
/// given buffers. `-inf` when a `y` is not positive; NaN when the lengths do not broadcast
/// or a `sigma` is not positive.
pub fn lpdf(
    y: &[f64],
    mu: &[f64],
    sigma: &[f64],
    dy: Option<&mut [f64]>,
    dmu: Option<&mut [f64]>,
    dsigma: Option<&mut [f64]>,
) -> f64 {
    slices::<Scalar, 3>([y, mu, sigma], [dy, dmu, dsigma])
}

/// LogNormal's one-element kernel: keeps `1 / sigma` and `ln(sigma)` while `sigma` repeats.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scalar(Memo<(f64, f64), 1>);

impl Kernel<3> for Scalar {
    #[inline(always)]
    fn elem(&mut self, [y, mu, sigma]: [f64; 3], _want: [bool; 3]) -> (f64, [f64; 3]) {
        if !(sigma > 0.0) {
            return (f64::NAN, [0.0; 3]);
        }
        if y <= 0.0 {
            return (f64::NEG_INFINITY, [0.0; 3]);
        }
        let &(inv, ln_sigma) = self.0.get([sigma], |[s]| (1.0 / s, s.ln()));
        let ln_y = y.ln();
        let z = (ln_y - mu) * inv;
        (
            -0.5 * z * z - ln_sigma - LN_SQRT_2PI - ln_y,
            [-(1.0 + z * inv) / y, z * inv, (z * z - 1.0) * inv],
        )
    }
}

/// Validates the data arguments (`None` for arguments that depend on a latent).
///
/// # Errors
/// The first non-finite or non-positive observation, non-finite location, or non-positive
/// scale.
pub fn check(y: Option<&[f64]>, mu: Option<&[f64]>, sigma: Option<&[f64]>) -> Result<(), ArgError> {
    check_each(0, y, |v| observed(NAME, "(0, inf)", v, |v| v > 0.0))?;
    check_each(1, mu, |v| finite(NAME, "mu", v))?;
    check_each(2, sigma, |v| positive(NAME, "sigma", v))
}

/// `n` draws with broadcast parameters (each of length 1 or `n`); NaN for a draw whose
/// parameters are invalid, all NaN when the lengths do not broadcast to `n`.
pub fn sample<R: Rng + ?Sized>(rng: &mut R, mu: &[f64], sigma: &[f64], n: usize) -> Vec<f64> {
    if !sample_lens_ok(n, &[mu.len(), sigma.len()]) {
        return vec![f64::NAN; n];
    }
    (0..n)
        .map(
            |i| match rand_distr::LogNormal::new(at(mu, i), at(sigma, i)) {
                Ok(d) if at(sigma, i) > 0.0 => rng.sample(d),
                _ => f64::NAN,
            },
        )
        .collect()
}
