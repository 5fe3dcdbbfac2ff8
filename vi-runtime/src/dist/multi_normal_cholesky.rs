//! MultiNormalCholesky(mu, L): the multivariate normal with covariance `L L^T`.

use super::multi::{add_row, row, rows, side};
use super::ArgError;
use crate::error::DistError;
use crate::math::LN_2PI;
use nalgebra::DMatrix;
use rand::Rng;

const NAME: &str = "MultiNormalCholesky";

/// `-0.5 |L^-1 (y_n - mu_n)|^2` summed over the draws with `L` lower triangular with a
/// positive diagonal, adding `-w`, `w` into `dy`, `dmu` (`w = L^-T L^-1 r`) and `w z^T` into
/// `dl` (`z = L^-1 r`, lower triangle). Returns `None` when the shapes do not fit.
pub(crate) fn quad_part(
    y: &[f64],
    mu: &[f64],
    l: &DMatrix<f64>,
    mut dy: Option<&mut [f64]>,
    mut dmu: Option<&mut [f64]>,
    mut dl: Option<&mut DMatrix<f64>>,
    mut ww: Option<&mut DMatrix<f64>>,
) -> Option<(f64, usize)> {
    let k = l.nrows();
    let n = rows(y.len(), k)?;
    if !(mu.len() == k || mu.len() == y.len()) {
        return None;
    }
    let mut q = 0.0;
    for i in 0..n {
        let r = row(y, i, n, k) - row(mu, i, n, k);
        let z = l.solve_lower_triangular(&r)?;
        q += z.norm_squared();
        if dy.is_some() || dmu.is_some() || dl.is_some() || ww.is_some() {
            let w = l.transpose().solve_upper_triangular(&z)?;
            if let Some(g) = dy.as_deref_mut() {
                add_row(g, i, n, &w, -1.0);
            }
            if let Some(g) = dmu.as_deref_mut() {
                add_row(g, i, n, &w, 1.0);
            }
            if let Some(g) = dl.as_deref_mut() {
                for c in 0..k {
                    for r in c..k {
                        g[(r, c)] += w[r] * z[c];
                    }
                }
            }
            if let Some(g) = ww.as_deref_mut() {
                g.ger(1.0, &w, &w, 1.0);
            }
        }
    }
    Some((-0.5 * q, n))
}

/// The multivariate normal log density of the draws `y` (`N x K`, one draw per row,
/// column-major; a length-K vector for one draw) with mean `mu` (length K, shared, or
/// `N x K`) and covariance `L L^T` for a lower-triangular `L` (`K x K`, column-major; the
/// upper triangle is ignored), adding the partials into the buffers given (`dl` on the
/// lower triangle). NaN when the shapes do not fit or `L` has a diagonal element that is
/// not positive.
///
/// ```
/// use vi_runtime::dist::multi_normal_cholesky::lpdf;
/// // L = [[2, 0], [1, 1]]: Sigma = [[4, 2], [2, 2]].
/// let l = [2.0, 1.0, 0.0, 1.0];
/// let lp = lpdf(&[1.0, -1.0], &[0.0, 0.0], &l, None, None, None);
/// // scipy.stats.multivariate_normal([0, 0], [[4, 2], [2, 2]]).logpdf([1, -1])
/// // = -3.78102424696929 (scipy 1.17.1)
/// assert!((lp + 3.781_024_246_969_29).abs() < 1e-12);
/// ```
pub fn lpdf(
    y: &[f64],
    mu: &[f64],
    l: &[f64],
    dy: Option<&mut [f64]>,
    dmu: Option<&mut [f64]>,
    dl: Option<&mut [f64]>,
) -> f64 {
    let Some(k) = side(l.len()) else {
        return f64::NAN;
    };
    let lm = DMatrix::from_column_slice(k, k, l).lower_triangle();
    if !lm.diagonal().iter().all(|&d| d > 0.0 && d.is_finite()) {
        return f64::NAN;
    }
    let mut gl = dl.as_ref().map(|_| DMatrix::zeros(k, k));
    let Some((q, n)) = quad_part(y, mu, &lm, dy, dmu, gl.as_mut(), None) else {
        return f64::NAN;
    };
    let ln_det: f64 = lm.diagonal().iter().map(|d| d.ln()).sum();
    if let (Some(dl), Some(mut gl)) = (dl, gl) {
        for i in 0..k {
            gl[(i, i)] -= n as f64 / lm[(i, i)];
        }
        for (d, g) in dl.iter_mut().zip(gl.iter()) {
            *d += g;
        }
    }
    q - n as f64 * (ln_det + 0.5 * k as f64 * LN_2PI)
}

/// Validates the data arguments (`None` for arguments that depend on a latent).
///
/// # Errors
/// A non-finite element, `L` that is not square or has a diagonal element that is not
/// positive (`arg` 2, its flat index), or shapes that do not fit
/// ([`DistError::LengthMismatch`]).
pub fn check(y: Option<&[f64]>, mu: Option<&[f64]>, l: Option<&[f64]>) -> Result<(), ArgError> {
    super::check_each(0, y, |v| super::finite(NAME, "y", v))?;
    super::check_each(1, mu, |v| super::finite(NAME, "mu", v))?;
    if let Some(l) = l {
        super::check_each(2, Some(l), |v| super::finite(NAME, "L", v))?;
        let k = side(l.len()).ok_or(ArgError {
            arg: 2,
            index: 0,
            error: DistError::LengthMismatch {
                dist: NAME,
                lengths: vec![l.len()],
            },
        })?;
        for i in 0..k {
            super::positive(NAME, "L", l[i + i * k]).map_err(|error| ArgError {
                arg: 2,
                index: i + i * k,
                error,
            })?;
        }
        if let Some(y) = y {
            if rows(y.len(), k).is_none() {
                return Err(ArgError {
                    arg: 0,
                    index: 0,
                    error: DistError::LengthMismatch {
                        dist: NAME,
                        lengths: vec![y.len(), l.len()],
                    },
                });
            }
        }
    }
    Ok(())
}

/// `n` draws (`n x K`, column-major) `mu + L z` with standard normal `z`; all NaN when
/// the shapes do not fit.
pub fn sample<R: Rng + ?Sized>(rng: &mut R, mu: &[f64], l: &[f64], n: usize) -> Vec<f64> {
    let Some(k) = side(l.len()) else {
        return vec![f64::NAN; n];
    };
    if !(mu.len() == k || mu.len() == n * k) {
        return vec![f64::NAN; n * k];
    }
    let lm = DMatrix::from_column_slice(k, k, l).lower_triangle();
    let mut out = vec![0.0; n * k];
    for i in 0..n {
        let z =
            nalgebra::DVector::from_fn(k, |_, _| rng.sample::<f64, _>(rand_distr::StandardNormal));
        let x = row(mu, i, n, k) + &lm * z;
        for j in 0..k {
            out[i + j * n] = x[j];
        }
    }
    out
}
