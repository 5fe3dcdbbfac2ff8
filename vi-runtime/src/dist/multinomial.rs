//! Multinomial(theta).

use super::categorical::simplex;
use super::multi::rows;
use super::{check_each, in_support, is_count, ln_factorial, ArgError, Support};
use crate::error::DistError;
use rand::Rng;

const NAME: &str = "Multinomial";

/// The multinomial log mass of the count vectors `y` (`N x K`, one per row, column-major;
/// a length-K vector for one), each with as many trials as its sum, for one simplex
/// `theta` of length K, adding `y_j / theta_j` into `dtheta`; `dy` is accepted for
/// uniformity and ignored. `-inf` for a `y` that is not a count or a count on a category of
/// probability 0; NaN when the shapes do not fit or `theta` has an element outside [0, 1].
///
/// ```
/// use vi_runtime::dist::multinomial::lpdf;
/// let lp = lpdf(&[2.0, 0.0, 3.0], &[0.2, 0.5, 0.3], None, None);
/// // scipy.stats.multinomial(5, [0.2, 0.5, 0.3]).logpmf([2, 0, 3]) = -4.528209144851965 (scipy 1.17.1)
/// assert!((lp + 4.528_209_144_851_965).abs() < 1e-12);
/// ```
pub fn lpdf(
    y: &[f64],
    theta: &[f64],
    _dy: Option<&mut [f64]>,
    mut dtheta: Option<&mut [f64]>,
) -> f64 {
    let k = theta.len();
    let Some(n) = rows(y.len(), k) else {
        return f64::NAN;
    };
    if !theta.iter().all(|t| (0.0..=1.0).contains(t)) {
        return f64::NAN;
    }
    let mut lp = 0.0;
    for i in 0..n {
        let mut total = 0.0;
        for j in 0..k {
            let c = y[i + j * n];
            if !is_count(c) {
                return super::outside(c);
            }
            total += c;
            if c > 0.0 {
                if theta[j] == 0.0 {
                    return f64::NEG_INFINITY;
                }
                lp += c * theta[j].ln() - ln_factorial(c);
                if let Some(g) = dtheta.as_deref_mut() {
                    g[j] += c / theta[j];
                }
            }
        }
        lp += ln_factorial(total);
    }
    lp
}

/// Validates the data arguments (`None` for arguments that depend on a latent).
///
/// # Errors
/// A `y` element that is not a count, a data `theta` that is not a simplex, or shapes that
/// do not fit.
pub fn check(y: Option<&[f64]>, theta: Option<&[f64]>) -> Result<(), ArgError> {
    check_each(0, y, |v| {
        in_support(NAME, Support::NonNegativeInteger, "{0, 1, 2, ...}", v)
    })?;
    if let Some(t) = theta {
        simplex(NAME, "theta", t)?;
        if let Some(y) = y {
            if rows(y.len(), t.len()).is_none() {
                return Err(ArgError {
                    arg: 0,
                    index: 0,
                    error: DistError::LengthMismatch {
                        dist: NAME,
                        lengths: vec![y.len(), t.len()],
                    },
                });
            }
        }
    }
    Ok(())
}

/// `n` draws (`n x K`, column-major) of `trials` (length 1 or `n`) trials each, as a chain
/// of binomials; all NaN for an invalid `theta` or trial count.
pub fn sample<R: Rng + ?Sized>(rng: &mut R, trials: &[f64], theta: &[f64], n: usize) -> Vec<f64> {
    let k = theta.len();
    let ok = k > 0
        && theta.iter().all(|&t| t >= 0.0 && t.is_finite())
        && super::sample_lens_ok(n, &[trials.len()])
        && trials.iter().all(|&t| is_count(t));
    if !ok {
        return vec![f64::NAN; n * k.max(1)];
    }
    let mut out = vec![0.0; n * k];
    for i in 0..n {
        let mut left = super::at(trials, i) as u64;
        let mut mass: f64 = theta.iter().sum();
        for j in 0..k {
            let c = if j + 1 == k || mass <= 0.0 {
                left
            } else {
                let p = (theta[j] / mass).clamp(0.0, 1.0);
                match rand_distr::Binomial::new(left, p) {
                    Ok(d) => rng.sample(d),
                    Err(_) => 0,
                }
            };
            out[i + j * n] = c as f64;
            left -= c;
            mass -= theta[j];
        }
    }
    out
}
