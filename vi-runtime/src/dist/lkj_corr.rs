//! LkjCorr(eta) on correlation matrices, and the LKJ normalising constant.

use super::multi::side;
use super::ArgError;
use crate::error::DistError;
use crate::math::special::{digamma, lbeta};
use nalgebra::DMatrix;
use std::f64::consts::LN_2;

const NAME: &str = "LkjCorr";

/// The log normalising constant of LKJ(eta) on `K x K` correlation matrices and its
/// derivative in `eta`: `-sum_(k=1)^(K-1) [(2 eta - 2 + K - k)(K - k) ln 2 +
/// (K - k) lbeta(b_k, b_k)]` with `b_k = eta + (K - k - 1) / 2` (Lewandowski, Kurowicka and
/// Joe 2009), so that `det(Omega)^(eta - 1)` integrates to 1.
pub(crate) fn log_constant(k: usize, eta: f64) -> (f64, f64) {
    let (mut c, mut dc) = (0.0, 0.0);
    for i in 1..k {
        let m = (k - i) as f64;
        let b = eta + (m - 1.0) / 2.0;
        c -= (2.0 * eta - 2.0 + m) * m * LN_2 + m * lbeta(b, b);
        dc -= 2.0 * m * LN_2 + m * 2.0 * (digamma(b) - digamma(2.0 * b));
    }
    (c, dc)
}

/// The LKJ log density `(eta - 1) ln det(Omega) + constant` of a `K x K` correlation matrix
/// `omega` (column-major) with shape `eta > 0`, adding `(eta - 1) Omega^-1` into `domega`
/// and the partial in `eta` into `deta`. NaN when `omega` is not square or not positive
/// definite, or `eta` is not positive.
///
/// ```
/// use vi_runtime::dist::lkj_corr::lpdf;
/// // K = 2: density (1 - r^2)^(eta - 1) / (2^(2 eta - 1) B(eta, eta)) on r in (-1, 1);
/// // at eta = 2, r = 0.5: ln(0.75 / (8 / 6)) = ln(0.5625).
/// let lp = lpdf(&[1.0, 0.5, 0.5, 1.0], &[2.0], None, None);
/// assert!((lp - 0.5625f64.ln()).abs() < 1e-14);
/// ```
pub fn lpdf(
    omega: &[f64],
    eta: &[f64],
    domega: Option<&mut [f64]>,
    deta: Option<&mut [f64]>,
) -> f64 {
    let (Some(k), [e]) = (side(omega.len()), eta) else {
        return f64::NAN;
    };
    let e = *e;
    if !(e > 0.0 && e.is_finite()) {
        return f64::NAN;
    }
    let Some(ch) = nalgebra::Cholesky::new(DMatrix::from_column_slice(k, k, omega)) else {
        return f64::NAN;
    };
    let ln_det = 2.0 * ch.l().diagonal().iter().map(|d| d.ln()).sum::<f64>();
    let (c, dc) = log_constant(k, e);
    if let Some(g) = domega {
        let inv = ch.inverse();
        for (gi, v) in g.iter_mut().zip(inv.iter()) {
            *gi += (e - 1.0) * v;
        }
    }
    if let Some(g) = deta {
        g[0] += ln_det + dc;
    }
    (e - 1.0) * ln_det + c
}

/// Validates the data arguments (`None` for arguments that depend on a latent).
///
/// # Errors
/// An `eta` that is not positive, or a data `omega` that is not a correlation matrix.
pub fn check(omega: Option<&[f64]>, eta: Option<&[f64]>) -> Result<(), ArgError> {
    super::check_each(1, eta, |v| super::positive(NAME, "eta", v))?;
    if let Some(o) = omega {
        let k = side(o.len()).unwrap_or(0);
        crate::transform::vector::VectorTransform::CorrMatrix(k)
            .unconstrain(o)
            .map_err(|e| ArgError {
                arg: 0,
                index: e.index,
                error: DistError::OutsideSupport {
                    dist: NAME,
                    value: o.get(e.index).copied().unwrap_or(f64::NAN),
                    support: "correlation matrices",
                },
            })?;
    }
    Ok(())
}

/// `n` draws (each `K x K`, column-major, one after the other) of `L L^T` for `L` from
/// [`lkj_corr_cholesky::sample`](super::lkj_corr_cholesky::sample).
pub fn sample<R: rand::Rng + ?Sized>(rng: &mut R, k: usize, eta: &[f64], n: usize) -> Vec<f64> {
    let ls = super::lkj_corr_cholesky::sample(rng, k, eta, n);
    let mut out = Vec::with_capacity(ls.len());
    for l in ls.chunks(k * k.max(1)) {
        let lm = DMatrix::from_column_slice(k, k, l);
        out.extend_from_slice((&lm * lm.transpose()).as_slice());
    }
    out
}
