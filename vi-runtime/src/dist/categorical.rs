//! Categorical(theta), with 0-based categories.

use super::{check_each, finite, outside, ArgError, Cdf, LogDensity, Support};
use crate::error::DistError;
use rand::Rng;

const NAME: &str = "Categorical";

/// The words for the support in errors.
pub(crate) const SUPPORT: &str = "{0, 1, ..., K - 1} (K categories, 0-based)";

/// How far the sum of a data simplex may be from 1.
const SIMPLEX_TOL: f64 = 1e-8;

/// The categorical distribution over `0..K` with probabilities `theta` (a simplex of
/// length K), as Stan's `categorical` but with 0-based categories, as Rust indexes.
///
/// ```
/// use vi_runtime::dist::{Categorical, LogDensity};
/// let d = Categorical::new(vec![0.2, 0.5, 0.3])?;
/// assert!((d.ln_density(1.0) - 0.5f64.ln()).abs() < 1e-15);
/// assert_eq!(d.ln_density(3.0), f64::NEG_INFINITY); // only 0, 1, 2
/// assert!(Categorical::new(vec![0.5, 0.6]).is_err());
/// # Ok::<(), vi_runtime::DistError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Categorical {
    theta: Vec<f64>,
}

/// `Ok` when `theta` is a simplex: non-empty, every element finite and in [0, 1], summing
/// to 1 within 1e-8. The error names the first bad element (by its value) or the sum.
pub(crate) fn simplex(
    dist: &'static str,
    param: &'static str,
    theta: &[f64],
) -> Result<(), ArgError> {
    if theta.is_empty() {
        return Err(ArgError {
            arg: 1,
            index: 0,
            error: DistError::LengthMismatch {
                dist,
                lengths: vec![0],
            },
        });
    }
    check_each(1, Some(theta), |v| super::probability(dist, param, v))?;
    let s: f64 = theta.iter().sum();
    if (s - 1.0).abs() > SIMPLEX_TOL {
        return Err(ArgError {
            arg: 1,
            index: theta.len() - 1,
            error: DistError::OutOfRange {
                dist,
                param: "sum of theta",
                value: s,
                range: "{1} (a simplex)",
            },
        });
    }
    Ok(())
}

impl Categorical {
    /// A categorical distribution with probabilities `theta`.
    ///
    /// # Errors
    /// [`DistError::OutOfRange`] when `theta` is not a simplex (an element outside [0, 1], or
    /// a sum that is not 1), [`DistError::LengthMismatch`] for an empty `theta`.
    pub fn new(theta: Vec<f64>) -> Result<Self, DistError> {
        simplex(NAME, "theta", &theta).map_err(|e| e.error)?;
        Ok(Categorical { theta })
    }

    /// The probabilities.
    pub fn theta(&self) -> &[f64] {
        &self.theta
    }
}

/// The category index of an observation `y` for `k` categories, if it is one.
#[inline]
pub(crate) fn category(y: f64, k: usize) -> Option<usize> {
    if y >= 0.0 && y.fract() == 0.0 && y < k as f64 {
        Some(y as usize)
    } else {
        None
    }
}

impl LogDensity for Categorical {
    fn ln_density(&self, x: f64) -> f64 {
        lpdf(&[x], &self.theta, None, None)
    }

    fn support(&self) -> Support {
        Support::IntegerInterval(0, self.theta.len() as u64 - 1)
    }
}

impl Cdf for Categorical {
    fn cdf(&self, x: f64) -> f64 {
        if x.is_nan() {
            return f64::NAN;
        }
        if x < 0.0 {
            return 0.0;
        }
        let top = (x.floor() as usize).min(self.theta.len() - 1);
        self.theta[..=top].iter().sum::<f64>().min(1.0)
    }
}

/// One draw by inversion of the cumulative sums of `theta`.
pub(crate) fn draw_index<R: Rng + ?Sized>(rng: &mut R, theta: &[f64]) -> f64 {
    let u: f64 = rng.random::<f64>() * theta.iter().sum::<f64>();
    let mut acc = 0.0;
    for (j, &t) in theta.iter().enumerate() {
        acc += t;
        if u < acc {
            return j as f64;
        }
    }
    // Rounding at the top: the last category with positive mass.
    theta
        .iter()
        .rposition(|&t| t > 0.0)
        .map_or(f64::NAN, |j| j as f64)
}

impl rand::distr::Distribution<f64> for Categorical {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        draw_index(rng, &self.theta)
    }
}

/// Sum over the observations `y` (categories in `0..K`) of `ln theta[y]`, for one simplex
/// `theta` of length K shared by all of them, adding `1 / theta[y]` into `dtheta[y]` for
/// each; `dy` is accepted for uniformity and ignored. `-inf` for a `y` that is not a
/// category (an integer in `0..K`); NaN for a `theta` with a negative or non-finite
/// element, or an empty one.
pub fn lpdf(
    y: &[f64],
    theta: &[f64],
    _dy: Option<&mut [f64]>,
    mut dtheta: Option<&mut [f64]>,
) -> f64 {
    let k = theta.len();
    if k == 0 || !theta.iter().all(|&t| (0.0..=1.0).contains(&t)) {
        return f64::NAN;
    }
    if let Some(g) = dtheta.as_deref() {
        if g.len() != k {
            return f64::NAN;
        }
    }
    let mut lp = 0.0;
    for &yi in y {
        let Some(j) = category(yi, k) else {
            return outside(yi);
        };
        lp += theta[j].ln();
        if let Some(g) = dtheta.as_deref_mut() {
            g[j] += 1.0 / theta[j];
        }
    }
    lp
}

/// Validates the data arguments (`None` for arguments that depend on a latent).
///
/// # Errors
/// The first observation that is not a category in `0..K` (an outcome of K or more is
/// outside the support, with its index), or a data `theta` that is not a simplex.
pub fn check(y: Option<&[f64]>, theta: Option<&[f64]>) -> Result<(), ArgError> {
    if let Some(t) = theta {
        simplex(NAME, "theta", t)?;
    }
    check_categories(NAME, y, theta.map(<[f64]>::len))
}

/// The observations' check shared by the categorical distributions: finite, integer, in
/// `0..k` when `k` is known.
pub(crate) fn check_categories(
    dist: &'static str,
    y: Option<&[f64]>,
    k: Option<usize>,
) -> Result<(), ArgError> {
    check_each(0, y, |v| {
        finite(dist, "y", v)?;
        let ok = v >= 0.0 && v.fract() == 0.0 && k.is_none_or(|k| v < k as f64);
        if ok {
            Ok(())
        } else {
            Err(DistError::OutsideSupport {
                dist,
                value: v,
                support: SUPPORT,
            })
        }
    })
}

/// `n` draws from Categorical(theta) (all NaN for an empty `theta`).
pub fn sample<R: Rng + ?Sized>(rng: &mut R, theta: &[f64], n: usize) -> Vec<f64> {
    if theta.is_empty() || !theta.iter().all(|&t| t >= 0.0 && t.is_finite()) {
        return vec![f64::NAN; n];
    }
    (0..n).map(|_| draw_index(rng, theta)).collect()
}

/// Validates observed categories against a known number of categories `k` (for a `theta`
/// that depends on a latent, whose length the model knows but [`check`] is not given).
///
/// # Errors
/// The first observation that is not an integer in `0..k`, with its index.
pub fn check_outcomes(dist: &'static str, y: &[f64], k: usize) -> Result<(), ArgError> {
    check_categories(dist, Some(y), Some(k))
}
