//! Dirichlet(alpha).

use super::multi::rows;
use super::{check_each, ArgError};
use crate::error::DistError;
use crate::math::special::{digamma, lgamma};
use rand::Rng;

const NAME: &str = "Dirichlet";

/// The Dirichlet log density of the simplexes `theta` (`N x K`, one per row, column-major;
/// a length-K vector for one) with concentrations `alpha` (length K, shared, or `N x K`),
/// adding the partials `(alpha - 1) / theta` and `psi(sum alpha) - psi(alpha) + ln theta`
/// into the buffers given. `-inf` for a `theta` with an element outside (0, 1); NaN when the
/// shapes do not fit or an `alpha` is not positive.
///
/// ```
/// use vi_runtime::dist::dirichlet::lpdf;
/// let lp = lpdf(&[0.2, 0.3, 0.5], &[1.5, 2.0, 3.0], None, None);
/// // scipy.stats.dirichlet([1.5, 2, 3]).logpdf([0.2, 0.3, 0.5]) = 1.695210995269564 (scipy 1.17.1)
/// assert!((lp - 1.695_210_995_269_564).abs() < 1e-12);
/// ```
pub fn lpdf(
    theta: &[f64],
    alpha: &[f64],
    mut dtheta: Option<&mut [f64]>,
    mut dalpha: Option<&mut [f64]>,
) -> f64 {
    let k = alpha.len();
    let Some(n) = rows(theta.len(), k) else {
        return f64::NAN;
    };
    if !alpha.iter().all(|&a| a > 0.0 && a.is_finite()) {
        return f64::NAN;
    }
    if !theta.iter().all(|&t| t > 0.0 && t < 1.0) {
        return if theta.iter().any(|t| t.is_nan()) {
            f64::NAN
        } else {
            f64::NEG_INFINITY
        };
    }
    let mut lp = 0.0;
    for i in 0..n {
        let s: f64 = alpha.iter().sum();
        lp += lgamma(s);
        let ds = if dalpha.is_some() { digamma(s) } else { 0.0 };
        for j in 0..k {
            let (t, a) = (theta[i + j * n], alpha[j]);
            let ln_t = t.ln();
            lp += (a - 1.0) * ln_t - lgamma(a);
            if let Some(g) = dtheta.as_deref_mut() {
                g[i + j * n] += (a - 1.0) / t;
            }
            if let Some(g) = dalpha.as_deref_mut() {
                g[j] += ds - digamma(a) + ln_t;
            }
        }
    }
    lp
}

/// Validates the data arguments (`None` for arguments that depend on a latent).
///
/// # Errors
/// A `theta` row that is not a simplex (an element outside (0, 1), or a sum that is not 1),
/// or an `alpha` that is not positive.
pub fn check(theta: Option<&[f64]>, alpha: Option<&[f64]>) -> Result<(), ArgError> {
    check_each(1, alpha, |v| super::positive(NAME, "alpha", v))?;
    if let (Some(t), Some(a)) = (theta, alpha) {
        let k = a.len();
        let n = rows(t.len(), k).ok_or(ArgError {
            arg: 0,
            index: 0,
            error: DistError::LengthMismatch {
                dist: NAME,
                lengths: vec![t.len(), k],
            },
        })?;
        check_each(0, Some(t), |v| {
            super::observed(NAME, "a simplex", v, |v| v > 0.0 && v < 1.0)
        })?;
        for i in 0..n {
            let s: f64 = (0..k).map(|j| t[i + j * n]).sum();
            if (s - 1.0).abs() > 1e-8 {
                return Err(ArgError {
                    arg: 0,
                    index: i,
                    error: DistError::OutsideSupport {
                        dist: NAME,
                        value: s,
                        support: "a simplex (the row's sum is shown)",
                    },
                });
            }
        }
    }
    Ok(())
}

/// `n` draws (`n x K`, column-major) from Dirichlet(alpha) for one `alpha` of length K, as
/// normalised Gamma(alpha, 1) draws; all NaN for an invalid `alpha`.
pub fn sample<R: Rng + ?Sized>(rng: &mut R, alpha: &[f64], n: usize) -> Vec<f64> {
    let k = alpha.len();
    if k == 0 || !alpha.iter().all(|&a| a > 0.0 && a.is_finite()) {
        return vec![f64::NAN; n * k.max(1)];
    }
    let mut out = vec![0.0; n * k];
    for i in 0..n {
        let g: Vec<f64> = alpha
            .iter()
            .map(|&a| match rand_distr::Gamma::new(a, 1.0) {
                Ok(d) => rng.sample(d),
                Err(_) => f64::NAN,
            })
            .collect();
        let s: f64 = g.iter().sum();
        for j in 0..k {
            out[i + j * n] = g[j] / s;
        }
    }
    out
}
