//! Cauchy(mu, sigma).

use super::scalar::{slices, Kernel, Memo};
use super::{
    at, check_each, finite, ln1p_sq, positive, sample_lens_ok, ArgError, Cdf, LogDensity, Support,
};
use crate::error::DistError;
use crate::math::LN_PI;
use rand::Rng;
use std::f64::consts::PI;

const NAME: &str = "Cauchy";

/// The Cauchy distribution with location `mu` and scale `sigma`.
///
/// ```
/// use vi_runtime::dist::{Cauchy, LogDensity};
/// let d = Cauchy::new(-1.0, 0.5)?;
/// // scipy.stats.cauchy(loc=-1, scale=0.5).logpdf(0.0) = -2.061020617723555
/// assert!((d.ln_density(0.0) + 2.061_020_617_723_555).abs() < 1e-12);
/// assert!(Cauchy::new(0.0, 0.0).is_err());
/// # Ok::<(), vi_runtime::DistError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cauchy {
    mu: f64,
    sigma: f64,
}

impl Cauchy {
    /// A Cauchy distribution.
    ///
    /// # Errors
    /// [`DistError::NotFinite`] for a non-finite `mu` or `sigma`, [`DistError::NotPositive`]
    /// for `sigma <= 0`.
    pub fn new(mu: f64, sigma: f64) -> Result<Self, DistError> {
        finite(NAME, "mu", mu)?;
        positive(NAME, "sigma", sigma)?;
        Ok(Cauchy { mu, sigma })
    }

    /// The location (median).
    pub fn mu(&self) -> f64 {
        self.mu
    }

    /// The scale (half the interquartile range).
    pub fn sigma(&self) -> f64 {
        self.sigma
    }
}

impl LogDensity for Cauchy {
    fn ln_density(&self, x: f64) -> f64 {
        lpdf(&[x], &[self.mu], &[self.sigma], None, None, None)
    }

    fn support(&self) -> Support {
        Support::Real
    }
}

impl Cdf for Cauchy {
    fn cdf(&self, x: f64) -> f64 {
        // 1/2 + atan(z)/pi loses the lower tail to cancellation; atan(-1/z)/pi keeps it.
        let z = (x - self.mu) / self.sigma;
        if z < 0.0 {
            (-1.0 / z).atan() / PI
        } else {
            0.5 + z.atan() / PI
        }
    }
}

impl rand::distr::Distribution<f64> for Cauchy {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match rand_distr::Cauchy::new(self.mu, self.sigma) {
            Ok(d) => rng.sample(d),
            Err(_) => f64::NAN,
        }
    }
}

/// Sum over the broadcast elements of ln Cauchy(y | mu, sigma), adding partials into the
/// given buffers. NaN when the lengths do not broadcast or a `sigma` is not positive.
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

/// Cauchy's one-element kernel: keeps `1 / sigma` and `ln(sigma)` while `sigma` repeats.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scalar(Memo<(f64, f64), 1>);

impl Kernel<3> for Scalar {
    #[inline(always)]
    fn elem(&mut self, [y, mu, sigma]: [f64; 3], _want: [bool; 3]) -> (f64, [f64; 3]) {
        if !(sigma > 0.0) {
            return (f64::NAN, [0.0; 3]);
        }
        let &(inv, ln_sigma) = self.0.get([sigma], |[s]| (1.0 / s, s.ln()));
        let z = (y - mu) * inv;
        // 2 z / (1 + z^2), without overflow for huge |z| (0 at z = 0: 1 / 0 = inf).
        let g = 2.0 * inv / (z + 1.0 / z);
        (-LN_PI - ln_sigma - ln1p_sq(z), [-g, g, -inv + g * z])
    }
}

/// Validates the data arguments (`None` for arguments that depend on a latent).
///
/// # Errors
/// The first non-finite observation or location, or non-positive scale.
pub fn check(y: Option<&[f64]>, mu: Option<&[f64]>, sigma: Option<&[f64]>) -> Result<(), ArgError> {
    check_each(0, y, |v| finite(NAME, "y", v))?;
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
        .map(|i| match rand_distr::Cauchy::new(at(mu, i), at(sigma, i)) {
            Ok(d) if at(sigma, i) > 0.0 => rng.sample(d),
            _ => f64::NAN,
        })
        .collect()
}
