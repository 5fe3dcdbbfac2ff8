//! HalfCauchy(sigma): a zero-location Cauchy folded onto `(0, inf)`.

use super::scalar::{slices, Kernel, Memo};
use super::{
    at, check_each, ln1p_sq, observed, positive, sample_lens_ok, ArgError, Cdf, LogDensity, Support,
};
use crate::error::DistError;
use crate::math::LN_PI;
use rand::Rng;
use std::f64::consts::{FRAC_2_PI, LN_2};

const NAME: &str = "HalfCauchy";

/// The half-Cauchy distribution with scale `sigma`: `|X|` for `X ~ Cauchy(0, sigma)`, with
/// density `2 Cauchy(y | 0, sigma)` on `y >= 0`.
///
/// ```
/// use vi_runtime::dist::{HalfCauchy, LogDensity};
/// let d = HalfCauchy::new(2.0)?;
/// // scipy.stats.halfcauchy(scale=2).logpdf(0.1) = -1.1472267660479873
/// assert!((d.ln_density(0.1) + 1.147_226_766_047_987_3).abs() < 1e-12);
/// assert!(HalfCauchy::new(f64::INFINITY).is_err());
/// # Ok::<(), vi_runtime::DistError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HalfCauchy {
    sigma: f64,
}

impl HalfCauchy {
    /// A half-Cauchy distribution.
    ///
    /// # Errors
    /// [`DistError::NotFinite`] for a non-finite `sigma`, [`DistError::NotPositive`] for
    /// `sigma <= 0`.
    pub fn new(sigma: f64) -> Result<Self, DistError> {
        positive(NAME, "sigma", sigma)?;
        Ok(HalfCauchy { sigma })
    }

    /// The scale (the median).
    pub fn sigma(&self) -> f64 {
        self.sigma
    }
}

impl LogDensity for HalfCauchy {
    fn ln_density(&self, x: f64) -> f64 {
        lpdf(&[x], &[self.sigma], None, None)
    }

    fn support(&self) -> Support {
        Support::GreaterThan(0.0)
    }
}

impl Cdf for HalfCauchy {
    fn cdf(&self, x: f64) -> f64 {
        if x <= 0.0 {
            0.0
        } else {
            FRAC_2_PI * (x / self.sigma).atan()
        }
    }
}

impl rand::distr::Distribution<f64> for HalfCauchy {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match rand_distr::Cauchy::new(0.0, self.sigma) {
            Ok(d) => rng.sample(d).abs(),
            Err(_) => f64::NAN,
        }
    }
}

/// Sum over the broadcast elements of ln HalfCauchy(y | sigma), adding partials into the
/// given buffers. `-inf` when a `y` is negative; NaN when the lengths do not broadcast or a
/// `sigma` is not positive.
pub fn lpdf(y: &[f64], sigma: &[f64], dy: Option<&mut [f64]>, dsigma: Option<&mut [f64]>) -> f64 {
    slices::<Scalar, 2>([y, sigma], [dy, dsigma])
}

/// HalfCauchy's one-element kernel: keeps `1 / sigma` and `ln(sigma)` while `sigma` repeats.
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
        // 2 z / (1 + z^2), without overflow for huge |z| (0 at z = 0: 1 / 0 = inf).
        let g = 2.0 * inv / (z + 1.0 / z);
        (LN_2 - LN_PI - ln_sigma - ln1p_sq(z), [-g, -inv + g * z])
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
        .map(|i| match rand_distr::Cauchy::new(0.0, at(sigma, i)) {
            Ok(d) if at(sigma, i) > 0.0 => rng.sample(d).abs(),
            _ => f64::NAN,
        })
        .collect()
}
