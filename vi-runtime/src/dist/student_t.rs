//! StudentT(nu, mu, sigma).

use super::scalar::{slices, Kernel, Memo};
use super::{
    at, check_each, digamma, finite, is_positive, lgamma, ln1p_sq, positive, sample_lens_ok,
    ArgError, Cdf, LogDensity, Support,
};
use crate::error::DistError;
use crate::math::LN_PI;
use rand::Rng;

const NAME: &str = "StudentT";

/// Student's t distribution with `nu` degrees of freedom, location `mu` and scale `sigma`.
///
/// ```
/// use vi_runtime::dist::{LogDensity, StudentT};
/// let d = StudentT::new(3.0, 1.0, 2.0)?;
/// // scipy.stats.t(df=3, loc=1, scale=2).logpdf(1.5) = -1.7352746045889265
/// assert!((d.ln_density(1.5) + 1.735_274_604_588_926_5).abs() < 1e-12);
/// assert!(StudentT::new(-1.0, 0.0, 1.0).is_err());
/// # Ok::<(), vi_runtime::DistError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StudentT {
    nu: f64,
    mu: f64,
    sigma: f64,
}

impl StudentT {
    /// A Student's t distribution.
    ///
    /// # Errors
    /// [`DistError::NotFinite`] for a non-finite argument, [`DistError::NotPositive`] for
    /// `nu <= 0` or `sigma <= 0`.
    pub fn new(nu: f64, mu: f64, sigma: f64) -> Result<Self, DistError> {
        positive(NAME, "nu", nu)?;
        finite(NAME, "mu", mu)?;
        positive(NAME, "sigma", sigma)?;
        Ok(StudentT { nu, mu, sigma })
    }

    /// The degrees of freedom.
    pub fn nu(&self) -> f64 {
        self.nu
    }

    /// The location.
    pub fn mu(&self) -> f64 {
        self.mu
    }

    /// The scale.
    pub fn sigma(&self) -> f64 {
        self.sigma
    }
}

impl LogDensity for StudentT {
    fn ln_density(&self, x: f64) -> f64 {
        lpdf(
            &[x],
            &[self.nu],
            &[self.mu],
            &[self.sigma],
            None,
            None,
            None,
            None,
        )
    }

    fn support(&self) -> Support {
        Support::Real
    }
}

/// P(T <= t) for a standard Student's t with `nu` degrees of freedom, through the
/// regularised incomplete beta function: `I_{nu / (nu + t^2)}(nu / 2, 1 / 2) / 2` in the
/// tail beyond `t`.
pub(crate) fn standard_cdf(nu: f64, t: f64) -> f64 {
    if t.is_nan() {
        return f64::NAN;
    }
    if t.is_infinite() {
        return if t > 0.0 { 1.0 } else { 0.0 };
    }
    let x = nu / (nu + t * t);
    let tail = 0.5 * statrs::function::beta::checked_beta_reg(0.5 * nu, 0.5, x).unwrap_or(f64::NAN);
    if t > 0.0 {
        1.0 - tail
    } else {
        tail
    }
}

impl Cdf for StudentT {
    fn cdf(&self, x: f64) -> f64 {
        standard_cdf(self.nu, (x - self.mu) / self.sigma)
    }
}

impl rand::distr::Distribution<f64> for StudentT {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match rand_distr::StudentT::new(self.nu) {
            Ok(t) => self.mu + self.sigma * rng.sample(t),
            Err(_) => f64::NAN,
        }
    }
}

/// Sum over the broadcast elements of ln StudentT(y | nu, mu, sigma), adding partials into
/// the given buffers. NaN when the lengths do not broadcast or a `nu` or `sigma` is not
/// positive.
#[allow(clippy::too_many_arguments)]
pub fn lpdf(
    y: &[f64],
    nu: &[f64],
    mu: &[f64],
    sigma: &[f64],
    dy: Option<&mut [f64]>,
    dnu: Option<&mut [f64]>,
    dmu: Option<&mut [f64]>,
    dsigma: Option<&mut [f64]>,
) -> f64 {
    slices::<Scalar, 4>([y, nu, mu, sigma], [dy, dnu, dmu, dsigma])
}

/// StudentT's one-element kernel: keeps the normalising constant (and its derivative in `nu`
/// when wanted), `ln(sigma)`, `1 / sqrt(nu)` and `1 / sigma` while `nu` and `sigma` repeat.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scalar(Memo<(f64, f64, f64, f64, f64), 3>);

impl Kernel<4> for Scalar {
    #[inline(always)]
    fn elem(&mut self, [y, nu, mu, sigma]: [f64; 4], want: [bool; 4]) -> (f64, [f64; 4]) {
        if !(nu > 0.0 && sigma > 0.0) {
            return (f64::NAN, [0.0; 4]);
        }
        let key = [nu, sigma, f64::from(u8::from(want[1]))];
        let &(norm, dnorm, ln_sigma, inv_sqrt_nu, inv) = self.0.get(key, |[v, s, w]| {
            (
                // ln Gamma((nu + 1) / 2) - ln Gamma(nu / 2) - ln(nu pi) / 2, and its
                // derivative in nu.
                lgamma(0.5 * (v + 1.0)) - lgamma(0.5 * v) - 0.5 * (v.ln() + LN_PI),
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
        let z = (y - mu) * inv;
        // ln(1 + r), r = z^2 / nu, without overflow for huge |z|.
        let l1p = ln1p_sq(z * inv_sqrt_nu);
        // d/dy of -(nu + 1)/2 ln(1 + r) is -(nu + 1) z / (nu sigma (1 + r)), written so
        // that neither z = 0 nor a huge z overflows.
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
            [-g, dnu, g, -inv + g * z],
        )
    }
}

/// Validates the data arguments (`None` for arguments that depend on a latent).
///
/// # Errors
/// The first non-finite observation or location, or non-positive degrees of freedom or
/// scale.
pub fn check(
    y: Option<&[f64]>,
    nu: Option<&[f64]>,
    mu: Option<&[f64]>,
    sigma: Option<&[f64]>,
) -> Result<(), ArgError> {
    check_each(0, y, |v| finite(NAME, "y", v))?;
    check_each(1, nu, |v| positive(NAME, "nu", v))?;
    check_each(2, mu, |v| finite(NAME, "mu", v))?;
    check_each(3, sigma, |v| positive(NAME, "sigma", v))
}

/// `n` draws with broadcast parameters (each of length 1 or `n`); NaN for a draw whose
/// parameters are invalid, all NaN when the lengths do not broadcast to `n`.
pub fn sample<R: Rng + ?Sized>(
    rng: &mut R,
    nu: &[f64],
    mu: &[f64],
    sigma: &[f64],
    n: usize,
) -> Vec<f64> {
    if !sample_lens_ok(n, &[nu.len(), mu.len(), sigma.len()]) {
        return vec![f64::NAN; n];
    }
    (0..n)
        .map(|i| {
            let s = at(sigma, i);
            match rand_distr::StudentT::new(at(nu, i)) {
                Ok(t) if is_positive(s) && at(nu, i).is_finite() => at(mu, i) + s * rng.sample(t),
                _ => f64::NAN,
            }
        })
        .collect()
}
