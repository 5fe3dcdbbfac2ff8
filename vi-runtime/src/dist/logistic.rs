//! Logistic(mu, sigma).

use super::scalar::{slices, Kernel, Memo};
use super::{at, check_each, finite, positive, sample_lens_ok, ArgError, Cdf, LogDensity, Support};
use crate::error::DistError;
use rand::Rng;

const NAME: &str = "Logistic";

/// The logistic distribution with location `mu` and scale `sigma`, as in Stan: density
/// `e^-z / (sigma (1 + e^-z)^2)` with `z = (y - mu) / sigma`.
///
/// ```
/// use vi_runtime::dist::{LogDensity, Logistic};
/// let d = Logistic::new(1.0, 2.0)?;
/// // scipy.stats.logistic(loc=1, scale=2).logpdf(0.0) = -2.1413011489201588 (scipy 1.17.1)
/// assert!((d.ln_density(0.0) + 2.141_301_148_920_158_8).abs() < 1e-12);
/// # Ok::<(), vi_runtime::DistError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Logistic {
    mu: f64,
    sigma: f64,
}

impl Logistic {
    /// A logistic distribution with location `mu` and scale `sigma`.
    ///
    /// # Errors
    /// [`DistError::NotFinite`] for a non-finite argument, [`DistError::NotPositive`] for a
    /// scale or shape that is not positive.
    pub fn new(mu: f64, sigma: f64) -> Result<Self, DistError> {
        finite(NAME, "mu", mu)?;
        positive(NAME, "sigma", sigma)?;
        Ok(Logistic { mu, sigma })
    }

    /// The parameter `mu`.
    pub fn mu(&self) -> f64 {
        self.mu
    }

    /// The parameter `sigma`.
    pub fn sigma(&self) -> f64 {
        self.sigma
    }
}

impl LogDensity for Logistic {
    fn ln_density(&self, x: f64) -> f64 {
        lpdf(&[x], &[self.mu], &[self.sigma], None, None, None)
    }

    fn support(&self) -> Support {
        Support::Real
    }
}

impl Cdf for Logistic {
    fn cdf(&self, x: f64) -> f64 {
        let (l, _) = super::cdf::logistic::one([x, self.mu, self.sigma], false);
        l.exp()
    }
}

/// One draw, NaN for invalid parameters.
fn draw<R: Rng + ?Sized>(rng: &mut R, mu: f64, sigma: f64) -> f64 {
    if !(mu.is_finite() && super::is_positive(sigma)) {
        return f64::NAN;
    }
    // The inverse CDF at a uniform draw in (0, 1).
    let u: f64 = rng.sample(rand::distr::Open01);
    mu + sigma * (u / (1.0 - u)).ln()
}

impl rand::distr::Distribution<f64> for Logistic {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        draw(rng, self.mu, self.sigma)
    }
}

/// Sum over the broadcast elements of ln Logistic(y | mu, sigma), adding partials into the
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

/// Logistic's one-element kernel, keeping the logs of its parameters while they repeat.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scalar(Memo<(f64, f64), 1>);

impl Kernel<3> for Scalar {
    #[inline(always)]
    fn elem(&mut self, [y, mu, sigma]: [f64; 3], _want: [bool; 3]) -> (f64, [f64; 3]) {
        if !(sigma > 0.0) {
            return (f64::NAN, [0.0; 3]);
        }
        let &(inv, ln_s) = self.0.get([sigma], |[s]| (1.0 / s, s.ln()));
        let z = (y - mu) * inv;
        // ln p = -z - ln sigma - 2 ln(1 + e^-z); d/dz = 2 sigmoid(-z) - 1.
        let dz = 2.0 * crate::math::sigmoid(-z) - 1.0;
        (
            -z - ln_s - 2.0 * crate::math::softplus(-z),
            [dz * inv, -dz * inv, (-1.0 - z * dz) * inv],
        )
    }
}

/// Validates the data arguments (`None` for arguments that depend on a latent).
///
/// # Errors
/// The first observation outside the support, or invalid parameter.
pub fn check(y: Option<&[f64]>, mu: Option<&[f64]>, sigma: Option<&[f64]>) -> Result<(), ArgError> {
    check_each(0, y, |v| finite(NAME, "y", v))?;
    check_each(1, mu, |v| finite(NAME, "mu", v))?;
    check_each(2, sigma, |v| positive(NAME, "sigma", v))?;
    Ok(())
}

/// `n` draws with broadcast parameters (each of length 1 or `n`); NaN for a draw whose
/// parameters are invalid, all NaN when the lengths do not broadcast to `n`.
pub fn sample<R: Rng + ?Sized>(rng: &mut R, mu: &[f64], sigma: &[f64], n: usize) -> Vec<f64> {
    if !sample_lens_ok(n, &[mu.len(), sigma.len()]) {
        return vec![f64::NAN; n];
    }
    (0..n)
        .map(|i| {
            let mu = at(mu, i);
            let sigma = at(sigma, i);
            draw(rng, mu, sigma)
        })
        .collect()
}
