//! How close the fit is: DADVI's sandwich estimate of the Monte Carlo error of the fitted
//! means and log sds, `Cov(eta^) = H_F^-1 V H_F^-1 / K` with `V` the covariance of the `K`
//! antithetic pairs' gradients beyond what the fixed draws integrate exactly; and the
//! linear-response covariance of `theta`, the `mu` block of `(-H_F)^-1`.

use nalgebra::{DMatrix, DVector};

use super::draws::FixedDraws;
use super::objective::Objective;
use super::Settings;
use crate::model::Model;

/// The fit's Monte Carlo errors and its linear-response covariance.
pub(super) struct Uncertainty {
    /// The Monte Carlo error (sd) of each fitted mean, unconstrained scale.
    pub(super) mean_mcse: Vec<f64>,
    /// The Monte Carlo error (sd) of each fitted log sd.
    pub(super) log_sd_mcse: Vec<f64>,
    /// Whether `mean_mcse` used the computed Hessian of `F` (else its Gaussian value).
    pub(super) mcse_from_hessian: bool,
    /// The linear-response covariance of theta, if wanted and computed.
    pub(super) lr_covariance: Option<DMatrix<f64>>,
    /// Why linear response was wanted but not given.
    pub(super) lr_failure: Option<String>,
}

/// The errors and covariance at the optimum `xi`, with `F`'s Hessian there if it was
/// computed; the linear-response covariance only when `want_hessian`.
pub(super) fn uncertainty<M: Model + ?Sized>(
    settings: &Settings,
    obj: &mut Objective<'_, M>,
    xi: &[f64],
    hessian: Option<&DMatrix<f64>>,
    want_hessian: bool,
) -> Uncertainty {
    let (d, m) = (obj.d, obj.draws.m);
    // The pairs' gradients at the optimum, for the sandwich.
    let mut pairs = Vec::new();
    let mut g_tmp = vec![0.0; 2 * d];
    obj.eval_quiet_pairs(xi, &mut g_tmp, &mut pairs);
    let quadratic = (settings.moment_matching && obj.draws.matched)
        .then(|| obj.quadratic_pairs(xi))
        .flatten();
    let v = pair_covariance(
        &pairs,
        quadratic.as_deref(),
        &obj.draws,
        d,
        settings.moment_matching,
    );
    let k = m / 2;
    let n = 2 * d;
    let neg_inv = hessian.and_then(|h| (-h).cholesky()).map(|c| c.inverse());
    let mcse_from_hessian = neg_inv.is_some();
    let h_inv = neg_inv.clone().unwrap_or_else(|| {
        // A Gaussian target's values: -H_F = I in u and 2 I in omega.
        DMatrix::from_fn(n, n, |i, j| match (i == j, i < d) {
            (true, true) => 1.0,
            (true, false) => 0.5,
            _ => 0.0,
        })
    });
    let cov_xi = &h_inv * v * &h_inv / k as f64;
    let cov_mu = obj
        .white
        .push_cov(&cov_xi.view((0, 0), (d, d)).into_owned());
    let mean_mcse: Vec<f64> = (0..d).map(|i| cov_mu[(i, i)].max(0.0).sqrt()).collect();
    let log_sd_mcse: Vec<f64> = (d..n).map(|i| cov_xi[(i, i)].max(0.0).sqrt()).collect();

    let (lr_covariance, lr_failure) = if want_hessian {
        match &neg_inv {
            Some(inv) => (
                Some(obj.white.push_cov(&inv.view((0, 0), (d, d)).into_owned())),
                None,
            ),
            None => (
                None,
                Some(match hessian {
                    None => "the Hessian of the objective could not be computed (the log \
                             density is not finite next to the optimum)"
                        .to_string(),
                    Some(_) => "the Hessian of the objective is not negative definite at \
                                the optimum found"
                        .to_string(),
                }),
            ),
        }
    } else {
        (None, None)
    };
    Uncertainty {
        mean_mcse,
        log_sd_mcse,
        mcse_from_hessian,
        lr_covariance,
        lr_failure,
    }
}

/// The covariance of the pairs' gradients (`K x 2d` row-major) that the fixed draws do not
/// already integrate exactly: each gradient component's residual after regression on a
/// control variate whose mean over the fixed draws is exact by construction. With matched
/// moments that variate is the component's second-order Taylor prediction `quadratic`
/// (quadratic in the draws, so integrated exactly by a design with exact first and second
/// moments): what is left is the part of the posterior's log density beyond the quadratic
/// in each direction, which is what the fit's Monte Carlo error comes from. A Gaussian
/// target then has none, as is true of its fit. With only each coordinate's mean square
/// matched, the variate is `z_i^2 - 1`; without moment matching there is none and this is
/// DADVI's plain sandwich `V`.
fn pair_covariance(
    pairs: &[f64],
    quadratic: Option<&[f64]>,
    draws: &FixedDraws,
    d: usize,
    moment_matching: bool,
) -> DMatrix<f64> {
    let k = draws.m / 2;
    let n = 2 * d;
    // The first draw of pair r.
    let z = |r: usize, i: usize| draws.z[2 * r * d + i];
    let mut resid = DMatrix::zeros(k, n);
    let mut dof = k.saturating_sub(1).max(1);
    for c in 0..n {
        let i = c % d;
        let cv: Option<Vec<f64>> = match (moment_matching, draws.matched, quadratic) {
            (true, true, Some(q)) => Some((0..k).map(|r| q[r * n + c]).collect()),
            (true, _, _) => Some((0..k).map(|r| z(r, i) * z(r, i) - 1.0).collect()),
            (false, _, _) => None,
        };
        // Too few pairs to fit the regression and still estimate a variance: none.
        let cv = cv.filter(|_| k >= 6);
        let p = 1 + usize::from(cv.is_some());
        let x = DMatrix::from_fn(k, p, |r, j| match (j, &cv) {
            (0, _) => 1.0,
            (_, Some(v)) => v[r],
            (_, None) => 0.0,
        });
        let y = DVector::from_fn(k, |r, _| pairs[r * n + c]);
        let beta = x
            .clone()
            .svd(true, true)
            .solve(&y, 1e-12)
            .unwrap_or_else(|_| DVector::zeros(p));
        let r = &y - &x * beta;
        resid.set_column(c, &r);
        dof = dof.min(k.saturating_sub(p).max(1));
    }
    resid.transpose() * &resid / dof as f64
}
