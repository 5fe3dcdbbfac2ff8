//! StudentT(nu, mu, sigma).

use super::{
    acc, at, broadcast_len, check_each, digamma, finite, is_positive, lgamma, ln1p_sq, positive,
    sample_lens_ok, ArgError, Cdf, Hoisted, LogDensity, Support,
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
    mut dy: Option<&mut [f64]>,
    mut dnu: Option<&mut [f64]>,
    mut dmu: Option<&mut [f64]>,
    mut dsigma: Option<&mut [f64]>,
) -> f64 {
    let Some(n) = broadcast_len(&[y.len(), nu.len(), mu.len(), sigma.len()]) else {
        return f64::NAN;
    };
    // ln Gamma((nu + 1) / 2) - ln Gamma(nu / 2) - ln(nu pi) / 2, and its derivative in nu.
    let norm = Hoisted::new(nu, |v| {
        lgamma(0.5 * (v + 1.0)) - lgamma(0.5 * v) - 0.5 * (v.ln() + LN_PI)
    });
    let want_dnu = dnu.is_some();
    let dnorm = Hoisted::new(nu, |v| {
        if want_dnu {
            0.5 * (digamma(0.5 * (v + 1.0)) - digamma(0.5 * v)) - 0.5 / v
        } else {
            0.0
        }
    });
    let ln_sigma = Hoisted::new(sigma, f64::ln);
    let inv_sqrt_nu = Hoisted::new(nu, |v: f64| 1.0 / v.sqrt());
    let mut lp = 0.0;
    for i in 0..n {
        let (v, s) = (at(nu, i), at(sigma, i));
        if !(v > 0.0 && s > 0.0) {
            return f64::NAN;
        }
        let inv = 1.0 / s;
        let z = (at(y, i) - at(mu, i)) * inv;
        // ln(1 + r), r = z^2 / nu, without overflow for huge |z|.
        let l1p = ln1p_sq(z * inv_sqrt_nu.get(v));
        lp += norm.get(v) - ln_sigma.get(s) - 0.5 * (v + 1.0) * l1p;
        // d/dy of -(nu + 1)/2 ln(1 + r) is -(nu + 1) z / (nu sigma (1 + r)), written so
        // that neither z = 0 nor a huge z overflows.
        let g = (v + 1.0) / (s * (v / z + z));
        acc(&mut dy, i, -g);
        acc(&mut dmu, i, g);
        acc(&mut dsigma, i, -inv + g * z);
        if want_dnu {
            // r / (1 + r), again without overflow.
            let w = 1.0 / (1.0 + v / (z * z));
            acc(
                &mut dnu,
                i,
                dnorm.get(v) - 0.5 * l1p + 0.5 * (v + 1.0) * w / v,
            );
        }
    }
    lp
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
