//! HalfStudentT(nu, sigma): a zero-location Student's t folded onto `(0, inf)`.

use super::scalar::{slices, Kernel, Memo};
use super::{
    at, check_each, digamma, is_positive, lgamma, ln1p_sq, observed, positive, sample_lens_ok,
    ArgError, Cdf, LogDensity, Support,
};
use crate::error::DistError;
use crate::math::LN_PI;
use rand::Rng;
use std::f64::consts::LN_2;

const NAME: &str = "HalfStudentT";

/// The half Student's t distribution: `|X|` for `X ~ StudentT(nu, 0, sigma)`, with density
/// `2 StudentT(y | nu, 0, sigma)` on `y >= 0`.
///
/// ```
/// use vi_runtime::dist::{HalfStudentT, LogDensity};
/// let d = HalfStudentT::new(4.0, 1.5)?;
/// // np.log(2) + scipy.stats.t(df=4, scale=1.5).logpdf(3.0) = -2.426015131959809
/// assert!((d.ln_density(3.0) + 2.426_015_131_959_809).abs() < 1e-12);
/// assert!(HalfStudentT::new(4.0, -1.0).is_err());
/// # Ok::<(), vi_runtime::DistError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HalfStudentT {
    nu: f64,
    sigma: f64,
}

impl HalfStudentT {
    /// A half Student's t distribution.
    ///
    /// # Errors
    /// [`DistError::NotFinite`] for a non-finite argument, [`DistError::NotPositive`] for
    /// `nu <= 0` or `sigma <= 0`.
    pub fn new(nu: f64, sigma: f64) -> Result<Self, DistError> {
        positive(NAME, "nu", nu)?;
        positive(NAME, "sigma", sigma)?;
        Ok(HalfStudentT { nu, sigma })
    }

    /// The degrees of freedom.
    pub fn nu(&self) -> f64 {
        self.nu
    }

    /// The scale.
    pub fn sigma(&self) -> f64 {
        self.sigma
    }
}

impl LogDensity for HalfStudentT {
    fn ln_density(&self, x: f64) -> f64 {
        lpdf(&[x], &[self.nu], &[self.sigma], None, None, None)
    }

    fn support(&self) -> Support {
        Support::GreaterThan(0.0)
    }
}

impl Cdf for HalfStudentT {
    fn cdf(&self, x: f64) -> f64 {
        if x <= 0.0 {
            return 0.0;
        }
        if x.is_infinite() {
            return 1.0;
        }
        // 2 F(t) - 1 = 1 - I_{nu / (nu + t^2)}(nu / 2, 1 / 2).
        let t = x / self.sigma;
        let w = self.nu / (self.nu + t * t);
        1.0 - statrs::function::beta::checked_beta_reg(0.5 * self.nu, 0.5, w).unwrap_or(f64::NAN)
    }
}

impl rand::distr::Distribution<f64> for HalfStudentT {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match rand_distr::StudentT::new(self.nu) {
            Ok(t) => self.sigma * rng.sample(t).abs(),
            Err(_) => f64::NAN,
        }
    }
}

/// Sum over the broadcast elements of ln HalfStudentT(y | nu, sigma), adding partials into
/// the given buffers. `-inf` when a `y` is negative; NaN when the lengths do not broadcast
/// or a `nu` or `sigma` is not positive.
pub fn lpdf(
    y: &[f64],
    nu: &[f64],
    sigma: &[f64],
    dy: Option<&mut [f64]>,
    dnu: Option<&mut [f64]>,
    dsigma: Option<&mut [f64]>,
) -> f64 {
    slices::<Scalar, 3>([y, nu, sigma], [dy, dnu, dsigma])
}

/// HalfStudentT's one-element kernel: keeps the normalising constant (and its derivative in
/// `nu` when wanted), `ln(sigma)`, `1 / sqrt(nu)` and `1 / sigma` while `nu` and `sigma`
/// repeat.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scalar(Memo<(f64, f64, f64, f64, f64), 3>);

impl Kernel<3> for Scalar {
    #[inline(always)]
    fn elem(&mut self, [y, nu, sigma]: [f64; 3], want: [bool; 3]) -> (f64, [f64; 3]) {
        if !(nu > 0.0 && sigma > 0.0) {
            return (f64::NAN, [0.0; 3]);
        }
        if y < 0.0 {
            return (f64::NEG_INFINITY, [0.0; 3]);
        }
        let key = [nu, sigma, f64::from(u8::from(want[1]))];
        let &(norm, dnorm, ln_sigma, inv_sqrt_nu, inv) = self.0.get(key, |[v, s, w]| {
            (
                LN_2 + lgamma(0.5 * (v + 1.0)) - lgamma(0.5 * v) - 0.5 * (v.ln() + LN_PI),
                if w > 0.0 {
                    0.5 * (digamma(0.5 * (v + 1.0)) - digamma(0.5 * v)) - 0.5 / v
                } else {
                    0.0
                },
                s.ln(),
                1.0 / v.sqrt(),
                1.0 / s,
            )
        });
        let z = y * inv;
        // ln(1 + r), r = z^2 / nu, without overflow for huge |z|.
        let l1p = ln1p_sq(z * inv_sqrt_nu);
        let g = (nu + 1.0) / (sigma * (nu / z + z));
        let dnu = if want[1] {
            // r / (1 + r), again without overflow.
            let w = 1.0 / (1.0 + nu / (z * z));
            dnorm - 0.5 * l1p + 0.5 * (nu + 1.0) * w / nu
        } else {
            0.0
        };
        (
            norm - ln_sigma - 0.5 * (nu + 1.0) * l1p,
            [-g, dnu, -inv + g * z],
        )
    }
}

/// Validates the data arguments (`None` for arguments that depend on a latent).
///
/// # Errors
/// The first non-finite or negative observation, or non-positive degrees of freedom or
/// scale.
pub fn check(y: Option<&[f64]>, nu: Option<&[f64]>, sigma: Option<&[f64]>) -> Result<(), ArgError> {
    check_each(0, y, |v| observed(NAME, "[0, inf)", v, |v| v >= 0.0))?;
    check_each(1, nu, |v| positive(NAME, "nu", v))?;
    check_each(2, sigma, |v| positive(NAME, "sigma", v))
}

/// `n` draws with broadcast parameters (each of length 1 or `n`); NaN for a draw whose
/// parameters are invalid, all NaN when the lengths do not broadcast to `n`.
pub fn sample<R: Rng + ?Sized>(rng: &mut R, nu: &[f64], sigma: &[f64], n: usize) -> Vec<f64> {
    if !sample_lens_ok(n, &[nu.len(), sigma.len()]) {
        return vec![f64::NAN; n];
    }
    (0..n)
        .map(|i| {
            let s = at(sigma, i);
            match rand_distr::StudentT::new(at(nu, i)) {
                Ok(t) if is_positive(s) && at(nu, i).is_finite() => s * rng.sample(t).abs(),
                _ => f64::NAN,
            }
        })
        .collect()
}
