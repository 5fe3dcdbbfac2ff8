//! Wishart(nu, S) and, through the same pieces, InvWishart(nu, S) (`dist::inv_wishart`).

use super::multi::side;
use super::{check_each, ArgError};
use crate::error::DistError;
use crate::math::special::{digamma, lgamma};
use nalgebra::DMatrix;
use rand::Rng;

const NAME: &str = "Wishart";

/// `ln Gamma_K(a)`, the multivariate log gamma function, and its derivative in `a`.
pub(crate) fn lmgamma(k: usize, a: f64) -> (f64, f64) {
    let mut v = k as f64 * (k as f64 - 1.0) / 4.0 * std::f64::consts::PI.ln();
    let mut d = 0.0;
    for j in 1..=k {
        let x = a + (1.0 - j as f64) / 2.0;
        v += lgamma(x);
        d += digamma(x);
    }
    (v, d)
}

/// A flat `K x K` column-major matrix's Cholesky factorisation, or `None` when it is not
/// symmetric positive definite (only its lower triangle is read).
pub(crate) fn spd(x: &[f64], k: usize) -> Option<nalgebra::Cholesky<f64, nalgebra::Dyn>> {
    nalgebra::Cholesky::new(DMatrix::from_column_slice(k, k, x))
}

/// A Cholesky factorisation of a `K x K` matrix.
pub(crate) type Chol = nalgebra::Cholesky<f64, nalgebra::Dyn>;

/// What both Wishart densities start from: the side `K`, `nu`, and the factorisations of
/// `s` and `w`; or the density to return instead: NaN for shapes that do not fit or invalid
/// parameters (`nu <= K - 1`, `s` not positive definite), `-inf` for a `w` that is not
/// positive definite (outside the support).
pub(crate) fn factors(w: &[f64], nu: &[f64], s: &[f64]) -> Result<(usize, f64, Chol, Chol), f64> {
    let (Some(k), Some(ks)) = (side(w.len()), side(s.len())) else {
        return Err(f64::NAN);
    };
    if k != ks || nu.len() != 1 || !nu[0].is_finite() || nu[0] <= k as f64 - 1.0 {
        return Err(f64::NAN);
    }
    let chs = spd(s, k).ok_or(f64::NAN)?;
    let chw = spd(w, k).ok_or(f64::NEG_INFINITY)?;
    Ok((k, nu[0], chs, chw))
}

/// `ln |A|` from a Cholesky factorisation.
pub(crate) fn ln_det(ch: &nalgebra::Cholesky<f64, nalgebra::Dyn>) -> f64 {
    2.0 * ch.l_dirty().diagonal().iter().map(|d| d.ln()).sum::<f64>()
}

/// The Wishart log density of the `K x K` matrix `w` (column-major) with `nu > K - 1`
/// degrees of freedom and scale `s` (`K x K`, symmetric positive definite):
/// `(nu - K - 1)/2 ln|W| - tr(S^-1 W)/2 - nu K/2 ln 2 - nu/2 ln|S| - ln Gamma_K(nu/2)`,
/// adding the partials into the buffers given (for the matrices, the gradient in each entry
/// taken one at a time, as `multi_normal::lpdf`'s `dsigma`). `-inf` for a `w` that is not
/// positive definite; NaN for invalid parameters or shapes that do not fit.
///
/// ```
/// use vi_runtime::dist::wishart::lpdf;
/// // K = 1: Wishart(nu, s) is Gamma(nu / 2, rate 1 / (2 s)).
/// let (w, nu, s): (f64, f64, f64) = (1.7, 3.0, 0.8);
/// let gamma = (nu / 2.0) * (1.0 / (2.0 * s)).ln() + (nu / 2.0 - 1.0) * w.ln()
///     - w / (2.0 * s) - 0.5f64.ln() - std::f64::consts::PI.sqrt().ln(); // lgamma(1.5)
/// assert!((lpdf(&[w], &[nu], &[s], None, None, None) - gamma).abs() < 1e-12);
/// ```
pub fn lpdf(
    w: &[f64],
    nu: &[f64],
    s: &[f64],
    dw: Option<&mut [f64]>,
    dnu: Option<&mut [f64]>,
    ds: Option<&mut [f64]>,
) -> f64 {
    let (k, nu, chs, chw) = match factors(w, nu, s) {
        Ok(f) => f,
        Err(lp) => return lp,
    };
    let kf = k as f64;
    let wm = DMatrix::from_column_slice(k, k, w);
    let s_inv = chs.inverse();
    let (ldw, lds) = (ln_det(&chw), ln_det(&chs));
    let (lmg, dlmg) = lmgamma(k, nu / 2.0);
    let tr = s_inv.component_mul(&wm.transpose()).sum();
    let lp = 0.5 * (nu - kf - 1.0) * ldw
        - 0.5 * tr
        - 0.5 * nu * kf * std::f64::consts::LN_2
        - 0.5 * nu * lds
        - lmg;
    if let Some(g) = dw {
        let w_inv = chw.inverse();
        for (gi, (wi, si)) in g.iter_mut().zip(w_inv.iter().zip(s_inv.iter())) {
            *gi += 0.5 * (nu - kf - 1.0) * wi - 0.5 * si;
        }
    }
    if let Some(g) = dnu {
        g[0] += 0.5 * ldw - 0.5 * kf * std::f64::consts::LN_2 - 0.5 * lds - 0.5 * dlmg;
    }
    if let Some(g) = ds {
        let sws = &s_inv * &wm * &s_inv;
        for (gi, (a, b)) in g.iter_mut().zip(s_inv.iter().zip(sws.iter())) {
            *gi += -0.5 * nu * a + 0.5 * b;
        }
    }
    lp
}

/// The checks shared with `InvWishart`: `w` (when data) symmetric positive definite, `nu`
/// greater than `K - 1`, `s` symmetric positive definite, sides that agree.
pub(crate) fn check_named(
    name: &'static str,
    w: Option<&[f64]>,
    nu: Option<&[f64]>,
    s: Option<&[f64]>,
) -> Result<(), ArgError> {
    let bad = |arg, index, value, param, range| ArgError {
        arg,
        index,
        error: DistError::OutOfRange {
            dist: name,
            param,
            value,
            range,
        },
    };
    let shape = |arg, lengths| ArgError {
        arg,
        index: 0,
        error: DistError::LengthMismatch {
            dist: name,
            lengths,
        },
    };
    check_each(0, w, |v| super::finite(name, "W", v))?;
    check_each(2, s, |v| super::finite(name, "S", v))?;
    let k = match (w, s) {
        (_, Some(s)) => side(s.len()).ok_or_else(|| shape(2, vec![s.len()]))?,
        (Some(w), None) => side(w.len()).ok_or_else(|| shape(0, vec![w.len()]))?,
        (None, None) => 0,
    };
    for (arg, x, param) in [(0, w, "W"), (2, s, "S")] {
        let Some(x) = x else { continue };
        if x.len() != k * k {
            return Err(shape(arg, vec![x.len(), k * k]));
        }
        for c in 0..k {
            for r in 0..c {
                let (a, b) = (x[r + c * k], x[c + r * k]);
                if (a - b).abs() > 1e-8 * a.abs().max(b.abs()).max(1.0) {
                    return Err(bad(arg, r + c * k, a, param, "a symmetric matrix"));
                }
            }
        }
        if spd(x, k).is_none() {
            return Err(bad(arg, 0, x[0], param, "a positive definite matrix"));
        }
    }
    if let Some(nu) = nu {
        if nu.len() != 1 {
            return Err(shape(1, vec![nu.len()]));
        }
        if !nu[0].is_finite() || nu[0] <= k as f64 - 1.0 {
            return Err(bad(1, 0, nu[0], "nu", "(K - 1, inf)"));
        }
    }
    Ok(())
}

/// Validates the data arguments (`None` for arguments that depend on a latent).
///
/// # Errors
/// A `W` or `S` that is not finite, square, symmetric and positive definite, `nu` not above
/// `K - 1`, or sides that do not agree.
pub fn check(w: Option<&[f64]>, nu: Option<&[f64]>, s: Option<&[f64]>) -> Result<(), ArgError> {
    check_named(NAME, w, nu, s)
}

/// One Wishart draw `L A A^T L^T` by Bartlett's decomposition (`S = L L^T`, `A` lower
/// triangular with `A_ii^2 ~ chi^2(nu - i)` and standard normal `A_ij` below).
pub(crate) fn draw<R: Rng + ?Sized>(rng: &mut R, nu: f64, l: &DMatrix<f64>) -> DMatrix<f64> {
    let k = l.nrows();
    let mut a = DMatrix::zeros(k, k);
    for i in 0..k {
        let chi2 = rand_distr::ChiSquared::new(nu - i as f64)
            .map(|d| rng.sample(d))
            .unwrap_or(f64::NAN);
        a[(i, i)] = chi2.sqrt();
        for j in 0..i {
            a[(i, j)] = rng.sample::<f64, _>(rand_distr::StandardNormal);
        }
    }
    let la = l * a;
    &la * la.transpose()
}

/// `n` draws of `K x K` matrices (column-major, one after the other); all NaN for invalid
/// parameters.
pub fn sample<R: Rng + ?Sized>(rng: &mut R, nu: &[f64], s: &[f64], n: usize) -> Vec<f64> {
    let k = side(s.len()).unwrap_or(0);
    let ok = nu.len() == 1 && nu[0] > k as f64 - 1.0;
    match (ok, spd(s, k)) {
        (true, Some(ch)) => {
            let l = ch.l();
            (0..n)
                .flat_map(|_| draw(rng, nu[0], &l).as_slice().to_vec())
                .collect()
        }
        _ => vec![f64::NAN; n * k * k],
    }
}
