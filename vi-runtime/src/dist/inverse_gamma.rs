//! InverseGamma(shape, scale).

use super::scalar::{slices, Kernel, Memo};
use super::{
    at, check_each, digamma, gamma_q, is_positive, lgamma, observed, positive, sample_lens_ok,
    ArgError, Cdf, LogDensity, Support,
};
use crate::error::DistError;
use rand::Rng;

const NAME: &str = "InverseGamma";

/// The inverse gamma distribution with shape `alpha` and scale `beta`, as in Stan: `1 / X`
/// for `X ~ Gamma(alpha, beta)` (rate `beta`), with density
/// `beta^alpha y^(-alpha - 1) exp(-beta / y) / Gamma(alpha)` on `y > 0`.
///
/// ```
/// use vi_runtime::dist::{InverseGamma, LogDensity};
/// let d = InverseGamma::new(3.0, 2.0)?;
/// // scipy.stats.invgamma(a=3, scale=2).logpdf(2.0) = -2.386294361119891
/// assert!((d.ln_density(2.0) + 2.386_294_361_119_891).abs() < 1e-12);
/// assert!(InverseGamma::new(3.0, 0.0).is_err());
/// # Ok::<(), vi_runtime::DistError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InverseGamma {
    shape: f64,
    scale: f64,
}

impl InverseGamma {
    /// An inverse gamma distribution.
    ///
    /// # Errors
    /// [`DistError::NotFinite`] for a non-finite argument, [`DistError::NotPositive`] for
    /// `shape <= 0` or `scale <= 0`.
    pub fn new(shape: f64, scale: f64) -> Result<Self, DistError> {
        positive(NAME, "shape", shape)?;
        positive(NAME, "scale", scale)?;
        Ok(InverseGamma { shape, scale })
    }

    /// The shape `alpha`.
    pub fn shape(&self) -> f64 {
        self.shape
    }

    /// The scale `beta`.
    pub fn scale(&self) -> f64 {
        self.scale
    }
}

impl LogDensity for InverseGamma {
    fn ln_density(&self, x: f64) -> f64 {
        lpdf(&[x], &[self.shape], &[self.scale], None, None, None)
    }

    fn support(&self) -> Support {
        Support::GreaterThan(0.0)
    }
}

impl Cdf for InverseGamma {
    fn cdf(&self, x: f64) -> f64 {
        if x <= 0.0 {
            0.0
        } else {
            gamma_q(self.shape, self.scale / x)
        }
    }
}

impl rand::distr::Distribution<f64> for InverseGamma {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match rand_distr::Gamma::new(self.shape, 1.0) {
            Ok(d) => self.scale / rng.sample(d),
            Err(_) => f64::NAN,
        }
    }
}

/// Sum over the broadcast elements of ln InverseGamma(y | shape, scale), adding partials
/// into the given buffers. `-inf` when a `y` is not positive; NaN when the lengths do not
/// broadcast or a `shape` or `scale` is not positive.
pub fn lpdf(
    y: &[f64],
    shape: &[f64],
    scale: &[f64],
    dy: Option<&mut [f64]>,
    dshape: Option<&mut [f64]>,
    dscale: Option<&mut [f64]>,
) -> f64 {
    slices::<Scalar, 3>([y, shape, scale], [dy, dshape, dscale])
}

/// InverseGamma's one-element kernel: keeps `lgamma(shape)`, `digamma(shape)` (when wanted)
/// and `ln(scale)` while `shape` and `scale` repeat.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scalar(Memo<(f64, f64, f64), 3>);

impl Kernel<3> for Scalar {
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
        let (ln_y, inv_y) = (y.ln(), 1.0 / y);
        (
            a * ln_b - lgamma_a - (a + 1.0) * ln_y - b * inv_y,
            [
                (b * inv_y - (a + 1.0)) * inv_y,
                ln_b - digamma_a - ln_y,
                a / b - inv_y,
            ],
        )
    }
}

/// Validates the data arguments (`None` for arguments that depend on a latent).
///
/// # Errors
/// The first non-finite or non-positive observation, or non-positive shape or scale.
pub fn check(
    y: Option<&[f64]>,
    shape: Option<&[f64]>,
    scale: Option<&[f64]>,
) -> Result<(), ArgError> {
    check_each(0, y, |v| observed(NAME, "(0, inf)", v, |v| v > 0.0))?;
    check_each(1, shape, |v| positive(NAME, "shape", v))?;
    check_each(2, scale, |v| positive(NAME, "scale", v))
}

/// `n` draws with broadcast parameters (each of length 1 or `n`); NaN for a draw whose
/// parameters are invalid, all NaN when the lengths do not broadcast to `n`.
pub fn sample<R: Rng + ?Sized>(rng: &mut R, shape: &[f64], scale: &[f64], n: usize) -> Vec<f64> {
    if !sample_lens_ok(n, &[shape.len(), scale.len()]) {
        return vec![f64::NAN; n];
    }
    (0..n)
        .map(|i| {
            let (a, b) = (at(shape, i), at(scale, i));
            match rand_distr::Gamma::new(a, 1.0) {
                Ok(d) if is_positive(a) && is_positive(b) => b / rng.sample(d),
                _ => f64::NAN,
            }
        })
        .collect()
}
