//! Unary elementwise rules on `f64`, `DVector`, `RowDVector` and `DMatrix`.
//!
//! Forward: [`Value::map_elements`] (one allocation, the output, each element written once).
//! Backward: `gx[i] += g[i] * f'(x[i])`, where `f'` may reuse the output `y[i]`. Both are
//! plain indexed loops over slices re-sliced to one length, so there is no bounds check in
//! the loop and the compiler vectorises what can be vectorised; both run at the
//! [`simd::level`](crate::simd::level) chosen at start-up (AVX2 where the CPU has it).

use super::{ShapeError, Value};
use crate::math;

#[inline(always)]
#[allow(clippy::needless_range_loop)]
fn back_map(x: &[f64], y: &[f64], g: &[f64], gx: &mut [f64], d: impl Fn(f64, f64) -> f64) {
    let n = gx.len();
    let (x, y, g) = (&x[..n], &y[..n], &g[..n]);
    for i in 0..n {
        gx[i] += g[i] * d(x[i], y[i]);
    }
}

/// Whether the backward rule's operands fit (they do whenever the forward rule ran on them).
#[inline(always)]
fn fits(x: &[f64], y: &[f64], g: &[f64], gx: &[f64]) -> bool {
    x.len() == gx.len() && y.len() == gx.len() && g.len() == gx.len()
}

macro_rules! unary {
    ($($(#[$doc:meta])* $name:ident, $back:ident, |$x:ident| $f:expr, |$dx:ident, $y:ident| $d:expr;)*) => {$(
        $(#[$doc])*
        #[inline]
        pub fn $name<X: Value>(x: &X) -> Result<X, ShapeError> {
            Ok(crate::simd::dispatch!([X: Value] [X] (x: &X) -> X { x.map_elements(|$x| $f) }))
        }

        #[doc = concat!("Backward rule of [`", stringify!($name), "`]: `gx += g * d/dx ",
            stringify!($name), "(x)`, given the forward output `out`.")]
        #[inline]
        #[allow(unused_variables)]
        pub fn $back<X: Value>(x: &X, out: &X, g: &X, gx: &mut X) {
            let (x, y, g, gx) = (x.flat(), out.flat(), g.flat(), gx.flat_mut());
            if fits(x, y, g, gx) {
                crate::simd::dispatch!([] [] (x: &[f64], y: &[f64], g: &[f64], gx: &mut [f64]) -> () {
                    back_map(x, y, g, gx, |$dx, $y| $d)
                });
            }
        }
    )*};
}

unary! {
    /// `-x`.
    neg, neg_back, |x| -x, |x, y| -1.0;
    /// `e^x` ([`math::exp`](crate::math::exp): branch-free, so it vectorises).
    ///
    /// ```
    /// use nalgebra::DVector;
    /// use vi_runtime::ad;
    /// let x = DVector::from_vec(vec![0.0, 1.0]);
    /// let y = ad::exp(&x)?;
    /// let mut gx = ad::zeros_like(&x);
    /// ad::exp_back(&x, &y, &DVector::from_vec(vec![1.0, 1.0]), &mut gx);
    /// assert_eq!(gx, y); // d/dx e^x = e^x
    /// # Ok::<(), vi_runtime::ad::ShapeError>(())
    /// ```
    exp, exp_back, |x| math::exp(x), |x, y| y;
    /// Natural logarithm (`NaN` for negative input, `-inf` at 0, as `f64::ln`).
    ln, ln_back, |x| x.ln(), |x, y| 1.0 / x;
    /// `ln(1 + x)`, accurate near 0.
    log1p, log1p_back, |x| x.ln_1p(), |x, y| 1.0 / (1.0 + x);
    /// `e^x - 1`, accurate near 0 ([`math::expm1`](crate::math::expm1): vectorises).
    expm1, expm1_back, |x| math::expm1(x), |x, y| y + 1.0;
    /// Square root.
    sqrt, sqrt_back, |x| x.sqrt(), |x, y| 0.5 / y;
    /// Hyperbolic tangent ([`math::tanh`](crate::math::tanh): branch-free, so it vectorises).
    tanh, tanh_back, |x| math::tanh(x), |x, y| 1.0 - y * y;
    /// The logistic function `1 / (1 + e^-x)` (stable in both tails; vectorises).
    sigmoid, sigmoid_back, |x| math::sigmoid(x), |x, y| y * (1.0 - y);
    /// `ln(1 + e^x)` (stable in both tails).
    softplus, softplus_back, |x| math::softplus(x), |x, y| math::sigmoid(x);
    /// `ln(sigmoid(x)) = -softplus(-x)` (stable in both tails).
    log_sigmoid, log_sigmoid_back, |x| math::log_sigmoid(x), |x, y| math::sigmoid(-x);
    /// Sine.
    sin, sin_back, |x| x.sin(), |x, y| x.cos();
    /// Cosine.
    cos, cos_back, |x| x.cos(), |x, y| -x.sin();
    /// Absolute value; its derivative is taken as 0 at 0.
    abs, abs_back, |x| x.abs(), |x, y| if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    };
}

/// `x^n` elementwise for an integer power `n` (`f64::powi`).
///
/// ```
/// use vi_runtime::ad;
/// assert_eq!(ad::powi(&3.0, 2)?, 9.0);
/// let mut g = 0.0;
/// ad::powi_back(&3.0, 2, &9.0, &1.0, &mut g);
/// assert_eq!(g, 6.0);
/// # Ok::<(), vi_runtime::ad::ShapeError>(())
/// ```
#[inline]
pub fn powi<X: Value>(x: &X, n: i32) -> Result<X, ShapeError> {
    Ok(x.map_elements(|v| v.powi(n)))
}

/// Backward rule of [`powi`]: `gx += g * n x^(n-1)` (0 for `n = 0`).
#[inline]
pub fn powi_back<X: Value>(x: &X, n: i32, out: &X, g: &X, gx: &mut X) {
    let (x, y, g, gx) = (x.flat(), out.flat(), g.flat(), gx.flat_mut());
    if !fits(x, y, g, gx) || n == 0 {
        return;
    }
    let nf = f64::from(n);
    back_map(x, y, g, gx, |x, _| nf * x.powi(n - 1));
}
