//! The fused hidden tanh layer with its Gaussian output, as generated code calls it: one pass
//! over the rows ([`crate::ad::tanh_layer::normal_tanh_layer`]) in place of the layer's
//! `N x H` values, its adjoint and the four products of the rules.

use super::errors::Fail;
use crate::ad::tanh_layer::LayerGrads;
use nalgebra::DMatrix;

/// `sum_i ln Normal(y_i | tanh(x_i w1 + b1) w2 + b2, sigma)` of statement `stmt`, the
/// partials added into the adjoints given; `b2` empty without an output bias. `names` are the
/// user's texts of `x`, `y`, `w1`, `b1`, `w2`, `b2` and `sigma`, for the message when a
/// length does not fit.
///
/// # Errors
/// [`Fail::Invalid`] naming the statement and the operand whose length does not fit.
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn normal_tanh_layer(
    stmt: usize,
    names: [&str; 7],
    x: &DMatrix<f64>,
    y: &[f64],
    w1: &[f64],
    b1: &[f64],
    w2: &[f64],
    b2: &[f64],
    sigma: &[f64],
    dw1: Option<&mut [f64]>,
    db1: Option<&mut [f64]>,
    dw2: Option<&mut [f64]>,
    db2: Option<&mut [f64]>,
    dsigma: Option<&mut [f64]>,
) -> Result<f64, Fail> {
    crate::ad::tanh_layer::normal_tanh_layer(
        x.as_slice(),
        x.nrows(),
        x.ncols(),
        y,
        w1,
        b1,
        w2,
        b2,
        sigma,
        LayerGrads {
            w1: dw1,
            b1: db1,
            w2: dw2,
            b2: db2,
            sigma: dsigma,
        },
    )
    .map_err(|e| Fail::Invalid(stmt, e.describe(names)))
}
