//! Pareto(y_min, alpha).

use super::scalar::{slices, Kernel, Memo};
use super::{
    at, check_each, observed, positive, sample_lens_ok, ArgError, Cdf, LogDensity, Support,
};
use crate::error::DistError;
use rand::Rng;

const NAME: &str = "Pareto";

/// The Pareto distribution with scale (minimum) `y_min` and shape `alpha`, as in Stan:
/// density `alpha y_min^alpha / y^(alpha + 1)` on `y >= y_min`.
///
/// ```
/// use vi_runtime::dist::{LogDensity, Pareto};
/// let d = Pareto::new(1.5, 3.0)?;
/// // scipy.stats.pareto(b=3, scale=1.5).logpdf(2.0) = -0.45758110924717815 (scipy 1.17.1)
/// assert!((d.ln_density(2.0) + 0.457_581_109_247_178_15).abs() < 1e-12);
/// assert_eq!(d.ln_density(1.0), f64::NEG_INFINITY);
/// # Ok::<(), vi_runtime::DistError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pareto {
    y_min: f64,
    alpha: f64,
}

impl Pareto {
    /// A Pareto distribution with minimum `y_min` and shape `alpha`.
    ///
    /// # Errors
    /// [`DistError::NotFinite`] for a non-finite argument, [`DistError::NotPositive`] for a
    /// scale or shape that is not positive.
    pub fn new(y_min: f64, alpha: f64) -> Result<Self, DistError> {
        positive(NAME, "y_min", y_min)?;
        positive(NAME, "alpha", alpha)?;
        Ok(Pareto { y_min, alpha })
    }

    /// The parameter `y_min`.
    pub fn y_min(&self) -> f64 {
        self.y_min
    }

    /// The parameter `alpha`.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }
}

impl LogDensity for Pareto {
    fn ln_density(&self, x: f64) -> f64 {
        lpdf(&[x], &[self.y_min], &[self.alpha], None, None, None)
    }

    fn support(&self) -> Support {
        Support::GreaterThan(self.y_min)
    }
}

impl Cdf for Pareto {
    fn cdf(&self, x: f64) -> f64 {
        let (l, _) = super::cdf::pareto::one([x, self.y_min, self.alpha], false);
        l.exp()
    }
}

/// One draw, NaN for invalid parameters.
fn draw<R: Rng + ?Sized>(rng: &mut R, y_min: f64, alpha: f64) -> f64 {
    if !(super::is_positive(y_min) && super::is_positive(alpha)) {
        return f64::NAN;
    }
    match rand_distr::Pareto::new(y_min, alpha) {
        Ok(d) => rng.sample(d),
        Err(_) => f64::NAN,
    }
}

impl rand::distr::Distribution<f64> for Pareto {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        draw(rng, self.y_min, self.alpha)
    }
}

/// Sum over the broadcast elements of ln Pareto(y | y_min, alpha), adding partials into the
/// given buffers. `-inf` for a `y < y_min`; NaN when the lengths do not broadcast or a
/// parameter is not positive.
pub fn lpdf(
    y: &[f64],
    y_min: &[f64],
    alpha: &[f64],
    dy: Option<&mut [f64]>,
    dy_min: Option<&mut [f64]>,
    dalpha: Option<&mut [f64]>,
) -> f64 {
    slices::<Scalar, 3>([y, y_min, alpha], [dy, dy_min, dalpha])
}

/// Pareto's one-element kernel, keeping the logs of its parameters while they repeat.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scalar(Memo<(f64, f64), 2>);

impl Kernel<3> for Scalar {
    #[inline(always)]
    fn elem(&mut self, [y, y_min, alpha]: [f64; 3], _want: [bool; 3]) -> (f64, [f64; 3]) {
        if !(y_min > 0.0 && alpha > 0.0) {
            return (f64::NAN, [0.0; 3]);
        }
        if !(y >= y_min) {
            return (super::outside(y), [0.0; 3]);
        }
        let &(ln_a, ln_m) = self.0.get([alpha, y_min], |[a, m]| (a.ln(), m.ln()));
        let ln_y = y.ln();
        (
            ln_a + alpha * ln_m - (alpha + 1.0) * ln_y,
            [-(alpha + 1.0) / y, alpha / y_min, 1.0 / alpha + ln_m - ln_y],
        )
    }
}

/// Validates the data arguments (`None` for arguments that depend on a latent).
///
/// # Errors
/// The first observation outside the support, or invalid parameter.
pub fn check(
    y: Option<&[f64]>,
    y_min: Option<&[f64]>,
    alpha: Option<&[f64]>,
) -> Result<(), ArgError> {
    check_each(0, y, |v| {
        observed(NAME, "(0, inf), at least y_min", v, |v| v > 0.0)
    })?;
    check_each(1, y_min, |v| positive(NAME, "y_min", v))?;
    check_each(2, alpha, |v| positive(NAME, "alpha", v))?;
    Ok(())
}

/// `n` draws with broadcast parameters (each of length 1 or `n`); NaN for a draw whose
/// parameters are invalid, all NaN when the lengths do not broadcast to `n`.
pub fn sample<R: Rng + ?Sized>(rng: &mut R, y_min: &[f64], alpha: &[f64], n: usize) -> Vec<f64> {
    if !sample_lens_ok(n, &[y_min.len(), alpha.len()]) {
        return vec![f64::NAN; n];
    }
    (0..n)
        .map(|i| {
            let y_min = at(y_min, i);
            let alpha = at(alpha, i);
            draw(rng, y_min, alpha)
        })
        .collect()
}
