//! MultiNormal(mu, Sigma).

use super::multi::{rows, side};
use super::multi_normal_cholesky::quad_part;
use super::ArgError;
use crate::error::DistError;
use crate::math::LN_2PI;
use nalgebra::DMatrix;
use rand::Rng;

const NAME: &str = "MultiNormal";

/// The multivariate normal log density of the draws `y` (`N x K`, one draw per row,
/// column-major; a length-K vector for one draw) with mean `mu` (length K, shared, or
/// `N x K`) and covariance `Sigma` (`K x K`, symmetric positive definite, column-major),
/// through its Cholesky factor, adding the partials into the buffers given. `dsigma`
/// receives `0.5 (sum_n w_n w_n^T - N Sigma^-1)` with `w = Sigma^-1 (y_n - mu_n)`: the
/// gradient in a symmetric matrix's entries taken one at a time (a change of `Sigma_ij`
/// and `Sigma_ji` together gets the sum of the two). NaN when the shapes do not fit or
/// `Sigma` is not positive definite.
///
/// ```
/// use vi_runtime::dist::multi_normal::lpdf;
/// let lp = lpdf(&[1.0, -1.0], &[0.0, 0.0], &[4.0, 2.0, 2.0, 2.0], None, None, None);
/// // scipy.stats.multivariate_normal([0, 0], [[4, 2], [2, 2]]).logpdf([1, -1])
/// // = -3.78102424696929 (scipy 1.17.1)
/// assert!((lp + 3.781_024_246_969_29).abs() < 1e-12);
/// ```
pub fn lpdf(
    y: &[f64],
    mu: &[f64],
    sigma: &[f64],
    dy: Option<&mut [f64]>,
    dmu: Option<&mut [f64]>,
    dsigma: Option<&mut [f64]>,
) -> f64 {
    let Some(k) = side(sigma.len()) else {
        return f64::NAN;
    };
    let s = DMatrix::from_column_slice(k, k, sigma);
    let Some(ch) = nalgebra::Cholesky::new(s) else {
        return f64::NAN;
    };
    let l = ch.l();
    let mut ww = dsigma.as_ref().map(|_| DMatrix::zeros(k, k));
    let Some((q, n)) = quad_part(y, mu, &l, dy, dmu, None, ww.as_mut()) else {
        return f64::NAN;
    };
    let ln_det: f64 = l.diagonal().iter().map(|d| d.ln()).sum();
    if let (Some(ds), Some(ww)) = (dsigma, ww) {
        let inv = ch.inverse();
        for (d, (w, v)) in ds.iter_mut().zip(ww.iter().zip(inv.iter())) {
            *d += 0.5 * (w - n as f64 * v);
        }
    }
    q - n as f64 * (ln_det + 0.5 * k as f64 * LN_2PI)
}

/// Validates the data arguments (`None` for arguments that depend on a latent).
///
/// # Errors
/// A non-finite element, a `Sigma` that is not square, symmetric (to 1e-8 relative) and
/// positive definite (`arg` 2), or shapes that do not fit.
pub fn check(y: Option<&[f64]>, mu: Option<&[f64]>, sigma: Option<&[f64]>) -> Result<(), ArgError> {
    super::check_each(0, y, |v| super::finite(NAME, "y", v))?;
    super::check_each(1, mu, |v| super::finite(NAME, "mu", v))?;
    if let Some(s) = sigma {
        super::check_each(2, Some(s), |v| super::finite(NAME, "Sigma", v))?;
        let bad = |index, value, range| ArgError {
            arg: 2,
            index,
            error: DistError::OutOfRange {
                dist: NAME,
                param: "Sigma",
                value,
                range,
            },
        };
        let k = side(s.len()).ok_or(ArgError {
            arg: 2,
            index: 0,
            error: DistError::LengthMismatch {
                dist: NAME,
                lengths: vec![s.len()],
            },
        })?;
        for c in 0..k {
            for r in 0..c {
                let (a, b) = (s[r + c * k], s[c + r * k]);
                if (a - b).abs() > 1e-8 * a.abs().max(b.abs()).max(1.0) {
                    return Err(bad(r + c * k, a, "a symmetric matrix (Sigma[j, i])"));
                }
            }
        }
        if nalgebra::Cholesky::new(DMatrix::from_column_slice(k, k, s)).is_none() {
            return Err(bad(0, s[0], "a positive definite matrix"));
        }
        if let Some(y) = y {
            if rows(y.len(), k).is_none() {
                return Err(ArgError {
                    arg: 0,
                    index: 0,
                    error: DistError::LengthMismatch {
                        dist: NAME,
                        lengths: vec![y.len(), s.len()],
                    },
                });
            }
        }
    }
    Ok(())
}

/// `n` draws (`n x K`, column-major); all NaN when `Sigma` is not positive definite or the
/// shapes do not fit.
pub fn sample<R: Rng + ?Sized>(rng: &mut R, mu: &[f64], sigma: &[f64], n: usize) -> Vec<f64> {
    let Some(k) = side(sigma.len()) else {
        return vec![f64::NAN; n];
    };
    match nalgebra::Cholesky::new(DMatrix::from_column_slice(k, k, sigma)) {
        Some(ch) => super::multi_normal_cholesky::sample(rng, mu, ch.l().as_slice(), n),
        None => vec![f64::NAN; n * k],
    }
}
