//! LkjCholesky(eta): the LKJ distribution on Cholesky factors of correlation matrices.

use super::lkj_corr::log_constant;
use super::multi::side;
use super::ArgError;
use crate::error::DistError;
use rand::Rng;

const NAME: &str = "LkjCholesky";

/// The log density of the Cholesky factor `L` (`K x K`, lower triangular, unit rows,
/// column-major) of an LKJ(eta) correlation matrix, as Stan's `lkj_corr_cholesky`:
/// `sum_(i>=1) (K - i - 3 + 2 eta) ln L_ii + constant` (0-based `i`), adding the partials
/// in the diagonal into `dl` and in `eta` into `deta`. NaN when `L` is not square, has a
/// diagonal element that is not positive, or `eta` is not positive.
///
/// ```
/// use vi_runtime::dist::lkj_corr_cholesky::lpdf;
/// // K = 2, r = 0.5, eta = 2: the correlation's density 0.5625 times |dr / dL_10| = 1.
/// let l = [1.0, 0.5, 0.0, 0.75f64.sqrt()];
/// let lp = lpdf(&l, &[2.0], None, None);
/// assert!((lp - 0.5625f64.ln()).abs() < 1e-14);
/// ```
pub fn lpdf(l: &[f64], eta: &[f64], dl: Option<&mut [f64]>, deta: Option<&mut [f64]>) -> f64 {
    let (Some(k), [e]) = (side(l.len()), eta) else {
        return f64::NAN;
    };
    let e = *e;
    if !(e > 0.0 && e.is_finite()) {
        return f64::NAN;
    }
    if !(0..k).all(|i| l[i + i * k] > 0.0) {
        return f64::NAN;
    }
    let (c, dc) = log_constant(k, e);
    let mut lp = c;
    let mut sum_ln = 0.0;
    let mut dl = dl;
    for i in 1..k {
        let d = l[i + i * k];
        let w = k as f64 - i as f64 - 3.0 + 2.0 * e;
        lp += w * d.ln();
        sum_ln += d.ln();
        if let Some(g) = dl.as_deref_mut() {
            g[i + i * k] += w / d;
        }
    }
    if let Some(g) = deta {
        g[0] += 2.0 * sum_ln + dc;
    }
    lp
}

/// Validates the data arguments (`None` for arguments that depend on a latent).
///
/// # Errors
/// An `eta` that is not positive, or a data `L` that is not the Cholesky factor of a
/// correlation matrix.
pub fn check(l: Option<&[f64]>, eta: Option<&[f64]>) -> Result<(), ArgError> {
    super::check_each(1, eta, |v| super::positive(NAME, "eta", v))?;
    if let Some(x) = l {
        let k = side(x.len()).unwrap_or(0);
        crate::transform::vector::VectorTransform::CholeskyCorr(k)
            .unconstrain(x)
            .map_err(|e| ArgError {
                arg: 0,
                index: e.index,
                error: DistError::OutsideSupport {
                    dist: NAME,
                    value: x.get(e.index).copied().unwrap_or(f64::NAN),
                    support: "Cholesky factors of correlation matrices",
                },
            })?;
    }
    Ok(())
}

/// `n` draws of `K x K` factors (column-major, one after the other): the partial
/// correlation of row `i`, column `j` is `2 Beta(b, b) - 1` with `b = eta + (K - j - 2) / 2`,
/// independently, and `L` is built from them as by the Cholesky-correlation transform.
/// All NaN for an invalid `eta`.
pub fn sample<R: Rng + ?Sized>(rng: &mut R, k: usize, eta: &[f64], n: usize) -> Vec<f64> {
    let e = match eta {
        [e] if *e > 0.0 && e.is_finite() => *e,
        _ => return vec![f64::NAN; n * k * k],
    };
    let t = crate::transform::vector::VectorTransform::CholeskyCorr(k);
    let mut out = vec![0.0; n * k * k];
    for d in 0..n {
        let mut y = Vec::with_capacity(t.unconstrained_len());
        for i in 1..k {
            for j in 0..i {
                let b = e + (k as f64 - j as f64 - 2.0) / 2.0;
                let z = match rand_distr::Beta::new(b, b) {
                    Ok(bd) => 2.0 * rng.sample(bd) - 1.0,
                    Err(_) => f64::NAN,
                };
                y.push(z.clamp(-1.0 + 1e-16, 1.0 - 1e-16).atanh());
            }
        }
        t.constrain(&y, &mut out[d * k * k..(d + 1) * k * k]);
    }
    out
}
