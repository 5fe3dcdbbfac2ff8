//! Rules of the special and log-scale functions (Stan's names): unary elementwise ones on
//! `f64`, `DVector`, `RowDVector` and `DMatrix`, binary ones with NumPy broadcasting (any
//! operand pairing the arithmetic rules take), the reduction [`log_sum_exp`] and the
//! three-operand [`log_mix`].
//!
//! The same contract as the other rules: forward `op(&x..) -> Result<_, ShapeError>`,
//! backward `op_back(&x.., &out, &g, gx..)` adding into the adjoints (a `&mut` for a unary
//! rule, one `Option<&mut _>` per operand otherwise). The scalar functions and their
//! derivatives are in [`math::special`](crate::math::special).

use super::{Broadcast, ElemOp, Operand, ShapeError, Value};
use crate::math::special as sp;
use crate::math::{sigmoid, softplus};

#[inline(always)]
#[allow(clippy::needless_range_loop)]
fn back_map(x: &[f64], y: &[f64], g: &[f64], gx: &mut [f64], d: impl Fn(f64, f64) -> f64) {
    let n = gx.len();
    let (x, y, g) = (&x[..n], &y[..n], &g[..n]);
    for i in 0..n {
        gx[i] += g[i] * d(x[i], y[i]);
    }
}

macro_rules! unary {
    ($($(#[$doc:meta])* $name:ident, $back:ident, |$x:ident| $f:expr, |$dx:ident, $y:ident| $d:expr;)*) => {$(
        $(#[$doc])*
        #[inline]
        pub fn $name<X: Value>(x: &X) -> Result<X, ShapeError> {
            Ok(x.map_elements(|$x| $f))
        }

        #[doc = concat!("Backward rule of [`", stringify!($name), "`]: `gx += g * d/dx ",
            stringify!($name), "(x)`, given the forward output `out`.")]
        #[inline]
        #[allow(unused_variables)]
        pub fn $back<X: Value>(x: &X, out: &X, g: &X, gx: &mut X) {
            let (x, y, g, gx) = (x.flat(), out.flat(), g.flat(), gx.flat_mut());
            if x.len() == gx.len() && y.len() == gx.len() && g.len() == gx.len() {
                back_map(x, y, g, gx, |$dx, $y| $d);
            }
        }
    )*};
}

unary! {
    /// `ln(1 - x)`, accurate near 0 (Stan's `log1m`).
    log1m, log1m_back, |x| sp::log1m(x), |x, y| -1.0 / (1.0 - x);
    /// `ln(1 - e^x)` for `x <= 0`, accurate at both ends (Stan's `log1m_exp`).
    log1m_exp, log1m_exp_back, |x| sp::log1m_exp(x), |x, y| sp::log1m_exp_grad(x);
    /// `ln(1 + e^x)`, stable in both tails (Stan's `log1p_exp`; the same as `softplus`).
    log1p_exp, log1p_exp_back, |x| softplus(x), |x, y| sigmoid(x);
    /// `ln(x / (1 - x))`.
    logit, logit_back, |x| crate::math::logit(x), |x, y| 1.0 / (x * (1.0 - x));
    /// `1 / (1 + e^-x)`, stable in both tails (Stan's `inv_logit`; the same as `sigmoid`).
    inv_logit, inv_logit_back, |x| sigmoid(x), |x, y| y * (1.0 - y);
    /// `ln Gamma(x)`; its derivative is digamma.
    ///
    /// ```
    /// use vi_runtime::ad;
    /// // scipy.special.gammaln(0.5) = 0.5723649429247001 (scipy 1.17.1)
    /// assert!((ad::lgamma(&0.5)? - 0.572_364_942_924_700_1).abs() < 1e-15);
    /// let mut g = 0.0;
    /// ad::lgamma_back(&0.5, &0.0, &1.0, &mut g);
    /// // scipy.special.digamma(0.5) = -1.9635100260214235
    /// assert!((g + 1.963_510_026_021_423_5).abs() < 1e-14);
    /// # Ok::<(), vi_runtime::ad::ShapeError>(())
    /// ```
    lgamma, lgamma_back, |x| sp::lgamma(x), |x, y| sp::digamma(x);
    /// The digamma function; its derivative is [`trigamma`](crate::math::special::trigamma).
    digamma, digamma_back, |x| sp::digamma(x), |x, y| sp::trigamma(x);
    /// The standard normal CDF `Phi(x)` (Stan's `Phi`), accurate in the left tail.
    phi, phi_back, |x| sp::phi(x), |x, y| sp::phi_density(x);
    /// The error function.
    erf, erf_back, |x| sp::erf(x), |x, y| sp::erf_grad(x);
    /// The complementary error function `1 - erf(x)`, accurate in the right tail.
    erfc, erfc_back, |x| sp::erfc(x), |x, y| -sp::erf_grad(x);
    /// `x^2`.
    square, square_back, |x| x * x, |x, y| 2.0 * x;
    /// `1 / x`.
    inv, inv_back, |x| 1.0 / x, |x, y| -y * y;
    /// The arc tangent.
    atan, atan_back, |x| x.atan(), |x, y| 1.0 / (1.0 + x * x);
    /// The tangent.
    tan, tan_back, |x| x.tan(), |x, y| 1.0 + y * y;
}

macro_rules! elem_op {
    ($($op:ident, $sym:literal, |$a:ident, $b:ident| $f:expr, |$da:ident, $db:ident, $o:ident| ($ga:expr, $gb:expr);)*) => {$(
        struct $op;
        impl ElemOp for $op {
            const NAME: &'static str = $sym;
            #[inline(always)]
            fn f($a: f64, $b: f64) -> f64 {
                $f
            }
            #[inline(always)]
            #[allow(unused_variables)]
            fn da($da: f64, $db: f64, $o: f64) -> f64 {
                $ga
            }
            #[inline(always)]
            #[allow(unused_variables)]
            fn db($da: f64, $db: f64, $o: f64) -> f64 {
                $gb
            }
        }
    )*};
}

/// `e^(x - out)`, 0 where `out` is `-inf` (both terms of a `log_sum_exp` were `-inf`).
#[inline(always)]
fn weight(x: f64, out: f64) -> f64 {
    if out == f64::NEG_INFINITY {
        0.0
    } else {
        (x - out).exp()
    }
}

elem_op! {
    LogSumExpOp, "log_sum_exp", |a, b| sp::log_sum_exp2(a, b),
        |a, b, o| (weight(a, o), weight(b, o));
    LogDiffExpOp, "log_diff_exp", |a, b| sp::log_diff_exp(a, b),
        |a, b, o| (-1.0 / (b - a).exp_m1(), -1.0 / (a - b).exp_m1());
    LbetaOp, "lbeta", |a, b| sp::lbeta(a, b),
        |a, b, o| (sp::digamma(a) - sp::digamma(a + b), sp::digamma(b) - sp::digamma(a + b));
    LchooseOp, "lchoose", |n, k| sp::lchoose(n, k),
        |n, k, o| (sp::lchoose_grad(n, k).0, sp::lchoose_grad(n, k).1);
    FminOp, "fmin", |a, b| a.min(b),
        |a, b, o| (min_takes_a(a, b), 1.0 - min_takes_a(a, b));
    FmaxOp, "fmax", |a, b| a.max(b),
        |a, b, o| (max_takes_a(a, b), 1.0 - max_takes_a(a, b));
}

/// Whether `fmin(a, b)` is `a`: `a <= b`, or `b` is NaN (a tie goes to `a`).
#[inline(always)]
fn min_takes_a(a: f64, b: f64) -> f64 {
    f64::from(u8::from(!a.is_nan() && (b.is_nan() || a <= b)))
}

/// Whether `fmax(a, b)` is `a`: `a >= b`, or `b` is NaN (a tie goes to `a`).
#[inline(always)]
fn max_takes_a(a: f64, b: f64) -> f64 {
    f64::from(u8::from(!a.is_nan() && (b.is_nan() || a >= b)))
}

macro_rules! binary_fns {
    ($($(#[$doc:meta])* $name:ident, $back:ident, $op:ty;)*) => {$(
        $(#[$doc])*
        #[inline]
        pub fn $name<A: Broadcast<B> + ?Sized, B: ?Sized>(
            a: &A,
            b: &B,
        ) -> Result<A::Output, ShapeError> {
            A::zip::<$op>(a, b)
        }

        #[doc = concat!("Backward rule of [`", stringify!($name), "`]: adds into `ga`, `gb` \
            (those given), summing over broadcast axes.")]
        #[inline]
        pub fn $back<A: Broadcast<B> + ?Sized, B: ?Sized>(
            a: &A,
            b: &B,
            out: &A::Output,
            g: &A::Output,
            ga: Option<&mut A>,
            gb: Option<&mut B>,
        ) {
            A::zip_back::<$op>(a, b, out, g, ga, gb)
        }
    )*};
}

binary_fns! {
    /// `ln(e^a + e^b)` elementwise with broadcasting (Stan's two-argument `log_sum_exp`),
    /// without overflow.
    ///
    /// ```
    /// use vi_runtime::ad;
    /// let out = ad::log_sum_exp2(&1000.0, &1000.0)?;
    /// assert!((out - (1000.0 + std::f64::consts::LN_2)).abs() < 1e-12);
    /// let (mut ga, mut gb) = (0.0, 0.0);
    /// ad::log_sum_exp2_back(&1000.0, &1000.0, &out, &1.0, Some(&mut ga), Some(&mut gb));
    /// assert!((ga - 0.5).abs() < 1e-12 && (gb - 0.5).abs() < 1e-12);
    /// # Ok::<(), vi_runtime::ad::ShapeError>(())
    /// ```
    log_sum_exp2, log_sum_exp2_back, LogSumExpOp;
    /// `ln(e^a - e^b)` for `a > b`, elementwise with broadcasting (Stan's `log_diff_exp`).
    log_diff_exp, log_diff_exp_back, LogDiffExpOp;
    /// `ln B(a, b)` elementwise with broadcasting (Stan's `lbeta`), without cancellation for
    /// large arguments.
    lbeta, lbeta_back, LbetaOp;
    /// `ln (n choose k)` for real `n >= k >= 0`, elementwise with broadcasting (Stan's
    /// `lchoose`).
    lchoose, lchoose_back, LchooseOp;
    /// The smaller of `a` and `b` elementwise with broadcasting (Stan's `fmin`; a NaN
    /// operand gives the other). The adjoint goes to the chosen side; on a tie, to `a`.
    ///
    /// ```
    /// use vi_runtime::ad;
    /// let (a, b) = (2.0, 3.0);
    /// let out = ad::fmin(&a, &b)?;
    /// let (mut ga, mut gb) = (0.0, 0.0);
    /// ad::fmin_back(&a, &b, &out, &1.0, Some(&mut ga), Some(&mut gb));
    /// assert_eq!((out, ga, gb), (2.0, 1.0, 0.0));
    /// # Ok::<(), vi_runtime::ad::ShapeError>(())
    /// ```
    fmin, fmin_back, FminOp;
    /// The larger of `a` and `b` elementwise with broadcasting (Stan's `fmax`; a NaN
    /// operand gives the other). The adjoint goes to the chosen side; on a tie, to `a`.
    fmax, fmax_back, FmaxOp;
}

/// `x^p` (Stan's `pow`): the same rule as [`powf`](super::powf).
#[inline]
pub fn pow<A: Broadcast<B> + ?Sized, B: ?Sized>(a: &A, b: &B) -> Result<A::Output, ShapeError> {
    super::powf(a, b)
}

/// Backward rule of [`pow`] (that of [`powf`](super::powf)).
#[inline]
pub fn pow_back<A: Broadcast<B> + ?Sized, B: ?Sized>(
    a: &A,
    b: &B,
    out: &A::Output,
    g: &A::Output,
    ga: Option<&mut A>,
    gb: Option<&mut B>,
) {
    super::powf_back(a, b, out, g, ga, gb)
}

/// `ln(sum(e^x))` over every element of a vector or matrix (Stan's one-argument
/// `log_sum_exp`), without overflow; `-inf` for an empty value.
///
/// ```
/// use nalgebra::DVector;
/// use vi_runtime::ad;
/// let x = DVector::from_vec(vec![1000.0, 1000.0]);
/// let out = ad::log_sum_exp(&x)?;
/// assert!((out - (1000.0 + std::f64::consts::LN_2)).abs() < 1e-12);
/// let mut gx = ad::zeros_like(&x);
/// ad::log_sum_exp_back(&x, &out, &1.0, &mut gx); // the softmax
/// assert!((gx[0] - 0.5).abs() < 1e-12 && (gx[1] - 0.5).abs() < 1e-12);
/// # Ok::<(), vi_runtime::ad::ShapeError>(())
/// ```
#[inline]
pub fn log_sum_exp<X: Operand + ?Sized>(x: &X) -> Result<f64, ShapeError> {
    Ok(crate::math::log_sum_exp(x.flat()))
}

/// Backward rule of [`log_sum_exp`]: `gx += g * softmax(x)`.
#[inline]
pub fn log_sum_exp_back<X: Operand + ?Sized>(x: &X, out: &f64, g: &f64, gx: &mut X) {
    let (x, gx) = (x.flat(), gx.flat_mut());
    if x.len() != gx.len() || !out.is_finite() {
        return;
    }
    for (gi, &xi) in gx.iter_mut().zip(x) {
        *gi += g * (xi - out).exp();
    }
}

/// `ln(theta e^lp1 + (1 - theta) e^lp2)` elementwise (Stan's three-argument `log_mix`):
/// `lp1` and `lp2` of one shape, `theta` a scalar or of their length. Stable when the two
/// log densities are far apart.
///
/// ```
/// use vi_runtime::ad;
/// let out = ad::log_mix(&0.3, &-1.0, &-2.0)?;
/// let want = (0.3 * (-1.0f64).exp() + 0.7 * (-2.0f64).exp()).ln();
/// assert!((out - want).abs() < 1e-15);
/// # Ok::<(), vi_runtime::ad::ShapeError>(())
/// ```
pub fn log_mix<T: Operand + ?Sized, A: Value>(
    theta: &T,
    lp1: &A,
    lp2: &A,
) -> Result<A, ShapeError> {
    let (t, a, b) = (theta.flat(), lp1.flat(), lp2.flat());
    if a.len() != b.len() || lp1.dims() != lp2.dims() {
        return Err(ShapeError {
            op: "log_mix",
            left: lp1.dims(),
            right: lp2.dims(),
        });
    }
    if t.len() != 1 && t.len() != a.len() {
        return Err(ShapeError {
            op: "log_mix",
            left: theta.dims(),
            right: lp1.dims(),
        });
    }
    let mut out = lp1.clone();
    for (i, o) in out.flat_mut().iter_mut().enumerate() {
        let th = if t.len() == 1 { t[0] } else { t[i] };
        *o = sp::log_mix(th, a[i], b[i]);
    }
    Ok(out)
}

/// Backward rule of [`log_mix`]: adds into the adjoints given (a scalar `theta`'s is the sum
/// over elements).
#[allow(clippy::too_many_arguments)]
pub fn log_mix_back<T: Operand + ?Sized, A: Value>(
    theta: &T,
    lp1: &A,
    lp2: &A,
    out: &A,
    g: &A,
    mut gtheta: Option<&mut T>,
    mut g1: Option<&mut A>,
    mut g2: Option<&mut A>,
) {
    let (t, a, b, o, g) = (theta.flat(), lp1.flat(), lp2.flat(), out.flat(), g.flat());
    let n = a.len();
    if b.len() != n || o.len() != n || g.len() != n || (t.len() != 1 && t.len() != n) {
        return;
    }
    for i in 0..n {
        let ti = if t.len() == 1 { 0 } else { i };
        let (dt, d1, d2) = sp::log_mix_grad(t[ti], a[i], b[i], o[i]);
        if let Some(gt) = gtheta.as_deref_mut() {
            gt.flat_mut()[ti] += g[i] * dt;
        }
        if let Some(g1) = g1.as_deref_mut() {
            g1.flat_mut()[i] += g[i] * d1;
        }
        if let Some(g2) = g2.as_deref_mut() {
            g2.flat_mut()[i] += g[i] * d2;
        }
    }
}

/// Backward rule of a log density (or log CDF) used as a value, `Dist(..).lpdf(x)` in a
/// model: `gx += g * p`, where `p` holds the partials of the value with respect to the
/// operand, written by the density's kernel in the forward call.
///
/// ```
/// use vi_runtime::ad;
/// let mut gx = 1.0;
/// ad::partial_back(&-0.5, &2.0, &mut gx);
/// assert_eq!(gx, 0.0);
/// ```
#[inline]
pub fn partial_back<X: super::Flat + ?Sized>(p: &X, g: &f64, gx: &mut X) {
    let (p, gx) = (p.flat(), gx.flat_mut());
    if p.len() != gx.len() {
        return;
    }
    for (gi, &pi) in gx.iter_mut().zip(p) {
        *gi += g * pi;
    }
}
