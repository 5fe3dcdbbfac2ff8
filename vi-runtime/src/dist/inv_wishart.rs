//! InvWishart(nu, S).

use super::multi::side;
use super::wishart::{check_named, draw, factors, lmgamma, ln_det, spd};
use super::ArgError;
use nalgebra::DMatrix;
use rand::Rng;

const NAME: &str = "InvWishart";

/// The inverse Wishart log density of the `K x K` matrix `w` (column-major) with
/// `nu > K - 1` degrees of freedom and scale `s` (`K x K`, symmetric positive definite):
/// `nu/2 ln|S| - nu K/2 ln 2 - ln Gamma_K(nu/2) - (nu + K + 1)/2 ln|W| - tr(S W^-1)/2`,
/// adding the partials into the buffers given (for the matrices, the gradient in each entry
/// taken one at a time). `-inf` for a `w` that is not positive definite; NaN for invalid
/// parameters or shapes that do not fit.
///
/// ```
/// use vi_runtime::dist::inv_wishart::lpdf;
/// // K = 1: InvWishart(nu, s) is InverseGamma(nu / 2, scale s / 2).
/// let (w, nu, s): (f64, f64, f64) = (0.9, 3.0, 0.8);
/// let inv_gamma = (nu / 2.0) * (s / 2.0).ln() - (nu / 2.0 + 1.0) * w.ln() - s / (2.0 * w)
///     - (0.5 * std::f64::consts::PI.sqrt()).ln(); // lgamma(1.5)
/// assert!((lpdf(&[w], &[nu], &[s], None, None, None) - inv_gamma).abs() < 1e-12);
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
    let sm = DMatrix::from_column_slice(k, k, s);
    let w_inv = chw.inverse();
    let (ldw, lds) = (ln_det(&chw), ln_det(&chs));
    let (lmg, dlmg) = lmgamma(k, nu / 2.0);
    let tr = sm.component_mul(&w_inv.transpose()).sum();
    let lp = 0.5 * nu * lds
        - 0.5 * nu * kf * std::f64::consts::LN_2
        - lmg
        - 0.5 * (nu + kf + 1.0) * ldw
        - 0.5 * tr;
    if let Some(g) = dw {
        let wsw = &w_inv * &sm * &w_inv;
        for (gi, (a, b)) in g.iter_mut().zip(w_inv.iter().zip(wsw.iter())) {
            *gi += -0.5 * (nu + kf + 1.0) * a + 0.5 * b;
        }
    }
    if let Some(g) = dnu {
        g[0] += 0.5 * lds - 0.5 * kf * std::f64::consts::LN_2 - 0.5 * dlmg - 0.5 * ldw;
    }
    if let Some(g) = ds {
        let s_inv = chs.inverse();
        for (gi, (a, b)) in g.iter_mut().zip(s_inv.iter().zip(w_inv.iter())) {
            *gi += 0.5 * nu * a - 0.5 * b;
        }
    }
    lp
}

/// Validates the data arguments (`None` for arguments that depend on a latent).
///
/// # Errors
/// A `W` or `S` that is not finite, square, symmetric and positive definite, `nu` not above
/// `K - 1`, or sides that do not agree.
pub fn check(w: Option<&[f64]>, nu: Option<&[f64]>, s: Option<&[f64]>) -> Result<(), ArgError> {
    check_named(NAME, w, nu, s)
}

/// `n` draws of `K x K` matrices (column-major, one after the other): the inverses of
/// Wishart(nu, S^-1) draws; all NaN for invalid parameters.
pub fn sample<R: Rng + ?Sized>(rng: &mut R, nu: &[f64], s: &[f64], n: usize) -> Vec<f64> {
    let k = side(s.len()).unwrap_or(0);
    let ok = nu.len() == 1 && nu[0] > k as f64 - 1.0;
    match (ok, spd(s, k)) {
        (true, Some(ch)) => match spd(ch.inverse().as_slice(), k) {
            Some(chi) => {
                let l = chi.l();
                (0..n)
                    .flat_map(|_| {
                        let w = draw(rng, nu[0], &l);
                        w.try_inverse()
                            .map(|m| m.as_slice().to_vec())
                            .unwrap_or_else(|| vec![f64::NAN; k * k])
                    })
                    .collect()
            }
            None => vec![f64::NAN; n * k * k],
        },
        _ => vec![f64::NAN; n * k * k],
    }
}
