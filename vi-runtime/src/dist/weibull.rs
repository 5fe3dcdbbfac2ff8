//! Weibull(alpha, sigma).

use super::scalar::{slices, Kernel, Memo};
use super::{
    at, check_each, observed, positive, sample_lens_ok, ArgError, Cdf, LogDensity, Support,
};
use crate::error::DistError;
use rand::Rng;

const NAME: &str = "Weibull";

/// The Weibull distribution with shape `alpha` and scale `sigma`, as in Stan: density
/// `(alpha / sigma) (y / sigma)^(alpha - 1) exp(-(y / sigma)^alpha)` on `y > 0`.
///
/// ```
/// use vi_runtime::dist::{LogDensity, Weibull};
/// let d = Weibull::new(1.5, 2.0)?;
/// // scipy.stats.weibull_min(c=1.5, scale=2).logpdf(1.0) = -0.9878090533250273 (scipy 1.17.1)
/// assert!((d.ln_density(1.0) + 0.987_809_053_325_027_3).abs() < 1e-12);
/// assert!(Weibull::new(0.0, 1.0).is_err());
/// # Ok::<(), vi_runtime::DistError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weibull {
    alpha: f64,
    sigma: f64,
}

impl Weibull {
    /// A Weibull distribution with shape `alpha` and scale `sigma`.
    ///
    /// # Errors
    /// [`DistError::NotFinite`] for a non-finite argument, [`DistError::NotPositive`] for a
    /// scale or shape that is not positive.
    pub fn new(alpha: f64, sigma: f64) -> Result<Self, DistError> {
        positive(NAME, "alpha", alpha)?;
        positive(NAME, "sigma", sigma)?;
        Ok(Weibull { alpha, sigma })
    }

    /// The parameter `alpha`.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// The parameter `sigma`.
    pub fn sigma(&self) -> f64 {
        self.sigma
    }
}

impl LogDensity for Weibull {
    fn ln_density(&self, x: f64) -> f64 {
        lpdf(&[x], &[self.alpha], &[self.sigma], None, None, None)
    }

    fn support(&self) -> Support {
        Support::GreaterThan(0.0)
    }
}

impl Cdf for Weibull {
    fn cdf(&self, x: f64) -> f64 {
        let (l, _) = super::cdf::weibull::one([x, self.alpha, self.sigma], false);
        l.exp()
    }
}

/// One draw, NaN for invalid parameters.
fn draw<R: Rng + ?Sized>(rng: &mut R, alpha: f64, sigma: f64) -> f64 {
    if !(super::is_positive(alpha) && super::is_positive(sigma)) {
        return f64::NAN;
    }
    match rand_distr::Weibull::new(sigma, alpha) {
        Ok(d) => rng.sample(d),
        Err(_) => f64::NAN,
    }
}

impl rand::distr::Distribution<f64> for Weibull {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        draw(rng, self.alpha, self.sigma)
    }
}

/// Sum over the broadcast elements of ln Weibull(y | alpha, sigma), adding partials into the
/// given buffers. `-inf` for a `y <= 0`; NaN when the lengths do not broadcast or a
/// parameter is not positive.
pub fn lpdf(
    y: &[f64],
    alpha: &[f64],
    sigma: &[f64],
    dy: Option<&mut [f64]>,
    dalpha: Option<&mut [f64]>,
    dsigma: Option<&mut [f64]>,
) -> f64 {
    slices::<Scalar, 3>([y, alpha, sigma], [dy, dalpha, dsigma])
}

/// Weibull's one-element kernel, keeping the logs of its parameters while they repeat.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scalar(Memo<(f64, f64), 2>);

impl Kernel<3> for Scalar {
    #[inline(always)]
    fn elem(&mut self, [y, alpha, sigma]: [f64; 3], _want: [bool; 3]) -> (f64, [f64; 3]) {
        if !(alpha > 0.0 && sigma > 0.0) {
            return (f64::NAN, [0.0; 3]);
        }
        if !(y > 0.0) {
            return (super::outside(y), [0.0; 3]);
        }
        let &(ln_a, ln_s) = self.0.get([alpha, sigma], |[a, s]| (a.ln(), s.ln()));
        let r = y.ln() - ln_s;
        let t = (alpha * r).exp();
        (
            ln_a - ln_s + (alpha - 1.0) * r - t,
            [
                ((alpha - 1.0) - alpha * t) / y,
                1.0 / alpha + r - t * r,
                alpha * (t - 1.0) / sigma,
            ],
        )
    }
}

/// Validates the data arguments (`None` for arguments that depend on a latent).
///
/// # Errors
/// The first observation outside the support, or invalid parameter.
pub fn check(
    y: Option<&[f64]>,
    alpha: Option<&[f64]>,
    sigma: Option<&[f64]>,
) -> Result<(), ArgError> {
    check_each(0, y, |v| observed(NAME, "(0, inf)", v, |v| v > 0.0))?;
    check_each(1, alpha, |v| positive(NAME, "alpha", v))?;
    check_each(2, sigma, |v| positive(NAME, "sigma", v))?;
    Ok(())
}

/// `n` draws with broadcast parameters (each of length 1 or `n`); NaN for a draw whose
/// parameters are invalid, all NaN when the lengths do not broadcast to `n`.
pub fn sample<R: Rng + ?Sized>(rng: &mut R, alpha: &[f64], sigma: &[f64], n: usize) -> Vec<f64> {
    if !sample_lens_ok(n, &[alpha.len(), sigma.len()]) {
        return vec![f64::NAN; n];
    }
    (0..n)
        .map(|i| {
            let alpha = at(alpha, i);
            let sigma = at(sigma, i);
            draw(rng, alpha, sigma)
        })
        .collect()
}
