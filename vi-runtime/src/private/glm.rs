//! The observation `y ~ Normal(x * w + b, sigma)` with a data matrix `x`, as generated code
//! calls it: one pass over `x` ([`crate::ad::glm::normal_id_glm`]) in place of the product,
//! the likelihood and the transposed product.

use super::errors::Fail;
use nalgebra::DMatrix;

/// `sum_i ln Normal(y_i | (x w)_i + b_i, sigma_i)` of statement `stmt`, the partials added
/// into the adjoints given; `b` empty for `Normal(x * w, sigma)`. `names` are the user's
/// texts of `x`, `y`, `w`, `b` and `sigma`, for the message when a length does not fit.
///
/// # Errors
/// [`Fail::Invalid`] naming the statement and the operand whose length does not fit.
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn normal_id_glm(
    stmt: usize,
    names: [&str; 5],
    x: &DMatrix<f64>,
    y: &[f64],
    w: &[f64],
    b: &[f64],
    sigma: &[f64],
    dw: Option<&mut [f64]>,
    db: Option<&mut [f64]>,
    dsigma: Option<&mut [f64]>,
) -> Result<f64, Fail> {
    crate::ad::glm::normal_id_glm(
        x.as_slice(),
        x.nrows(),
        x.ncols(),
        y,
        w,
        b,
        sigma,
        dw,
        db,
        dsigma,
    )
    .map_err(|e| Fail::Invalid(stmt, e.describe(names)))
}
