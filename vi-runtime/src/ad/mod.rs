//! Differentiation rules: the forward and backward rule of every primitive the `model!`
//! macro emits calls to.
//!
//! # The contract (read by the macro's code generator)
//!
//! Values are `f64`, `DVector<f64>` (a column), `RowDVector<f64>` (a row) and
//! `DMatrix<f64>`. An adjoint has the type of its value.
//!
//! * **Forward** rules are functions `op(&a, &b, ...) -> Result<Out, ShapeError>`: every
//!   forward rule returns a `Result` (shapes are checked, never a panic), so generated code
//!   writes `let __t = ad::mul(&x, &w)?;`.
//! * **Backward** rules are `op_back(&a, &b, ..., &out, &g_out, ga, gb)`: they *add* the
//!   input adjoints into `ga`, `gb`; they are only called after the forward rule succeeded
//!   on the same operands, so they never fail. A binary rule takes `Option<&mut A>` per
//!   input (`None` when that input is inactive); a unary rule takes `&mut A`.
//! * Broadcasting as NumPy: a scalar against anything; two vectors (or two rows, or two
//!   matrices) of one shape; a `DVector` against a `DMatrix` with as many rows (broadcast
//!   across columns); a `RowDVector` against a `DMatrix` with as many columns (broadcast over
//!   every row); a `DVector` against a `RowDVector` gives the outer matrix. The backward rule
//!   of a broadcast input sums the adjoint over the broadcast axis.
//! * `*` with a `DMatrix` on the left and a `DVector` or `DMatrix` on the right is the matrix
//!   product, and a `RowDVector` times a `DMatrix` is the vector-matrix product; every other
//!   `*` is elementwise.
//! * On the inactive side of a binary rule, data may also be `Vec<f64>`/`[f64]` (a column)
//!   and integer scalars (`i32`, `i64`, `usize`, as `f64`).
//!
//! [`Flat`] views any value as a flat slice for the distributions' vectorised log densities;
//! [`ToF64s`] turns observed data of any element type (integers, `bool`) into `f64`s.
//!
//! # The rules (extensions of the contract are marked *extension*)
//!
//! Every forward rule is `#[inline]` and returns `Result<_, ShapeError>`; every backward rule
//! *adds* into the adjoints it is given. `out` is the forward rule's output, `g` its adjoint.
//!
//! * Adjoint initialisation: [`zeros_like`]`(&v) -> V` (trait [`Zeros`]).
//! * Binary, broadcasting ([`Broadcast`], [`MulRule`]): [`add`], [`sub`], [`mul`], [`div`]
//!   and [`powf`] (`x^p`, both sides may be active) as `op(&a, &b) -> Result<Out, _>` and
//!   `op_back(&a, &b, &out, &g, ga: Option<&mut A>, gb: Option<&mut B>)`. Any of `f64`,
//!   `DVector`, `RowDVector`, `DMatrix`, `Vec<f64>`, `[f64]` against any other (data types on
//!   either side, adjoints of data are never needed but are accepted), plus `i32`, `i64`,
//!   `usize` on either side against a value type (their adjoint is ignored). A reference
//!   to an operand (`&&DVector<f64>` when a data field is itself a reference) is that
//!   operand, everywhere an operand is taken (binary rules, `dot`, `sum`, `index`). The output
//!   type is the broadcast of the operand types: a scalar takes the other's type, a column
//!   against a row or a matrix is a matrix, and so on; [`mul`] of `DMatrix * DVector`,
//!   `DMatrix * DMatrix` and `RowDVector * DMatrix` (and `DMatrix * Vec<f64>`/`[f64]`) is
//!   the matrix product instead.
//! * *Extension*, fused: [`mul_add`]`(&a, &b, &c)` is `a * b + c` ([`mul`], then [`add`])
//!   and [`mul_add_back`]`(&a, &b, &c, &out, &g, ga, gb, gc)` its backward rule. When the
//!   sum has the product's shape, `c` is added into the product's storage and the sum's
//!   adjoint is the product's: no temporary, no copy, no second adjoint.
//! * Unary, elementwise on `f64`, `DVector`, `RowDVector`, `DMatrix` (trait [`Value`]):
//!   [`neg`], [`exp`], [`ln`], [`log1p`], [`expm1`], [`sqrt`], [`tanh`], [`sigmoid`],
//!   [`softplus`], [`log_sigmoid`], [`sin`], [`cos`], [`abs`] as `op(&x) -> Result<X, _>` and
//!   `op_back(&x, &out, &g, &mut gx)`; [`powi`]`(&x, n)` and
//!   `powi_back(&x, n, &out, &g, &mut gx)` for an integer power `n: i32`.
//! * Reductions and structure: [`sum`], [`mean`] of any value (`-> f64`), [`dot`] of two
//!   vectors (columns, rows, or data `Vec<f64>`/`[f64]`, in any pairing; `-> f64`),
//!   [`transpose`] (`DVector <-> RowDVector`, `DMatrix -> DMatrix`, `f64 -> f64`), with
//!   `sum_back(&x, &out, &g, &mut gx)`, `dot_back(&a, &b, &out, &g, ga, gb)` (options as
//!   for binary rules) and so on. `mean` of an empty value is a `ShapeError`.
//! * Indexing, checked (out of bounds is a `ShapeError`): [`index`]`(&v, i) -> f64` for
//!   `DVector`/`RowDVector`, [`index2`]`(&m, i, j)`, [`row`]`(&m, i) -> RowDVector`,
//!   [`col`]`(&m, j) -> DVector`, each with `op_back(&v, i.., &out, &g, &mut gv)`.
//!   *Extension*, for vectors written in a loop: [`set`]`(&mut v, i, x) -> Result<(), _>`
//!   writes `v[i] = x`; its backward rule [`set_back`]`(&mut gv, i, &mut gx)` moves the
//!   adjoint of the overwritten element into `x`'s adjoint (`gx += gv[i]; gv[i] = 0`).
//!   *Extension*, for loops over observations run as whole vectors: [`gather`]`(&v, idx,
//!   sub) -> DVector` is `v[idx[k] - sub]` for every `k` (`a[g[i]]` over the lanes), whose
//!   backward rule adds each element of `g` into the element it read (a scatter-add);
//!   [`segment`]`(&v, start, len) -> DVector` is `v[start..start + len]` (`h[t - k]` over
//!   the lanes, `h[a..b]`, `segment(h, start, len)`).
//!
//! * *Extension*, densities as values: the generated code calls a distribution's kernel
//!   with partial buffers in the forward pass, and [`partial_back`]`(&p, &g, &mut gx)` adds
//!   `g * p` into the operand's adjoint in the sweep.
//!
//! Integer indices are `usize`.
//!
//! The loops under the rules (reductions with several partial sums, axpy, the matrix
//! products on column-major slices) are in [`kernels`]; they vectorise.

mod binary;
pub(crate) mod fast;
mod gather;
pub mod glm;
mod index;
pub mod kernels;
mod matrix;
pub(crate) mod pool;
mod reduce;
mod special;
pub mod tanh_layer;
mod unary;

pub use binary::{
    add, add_back, div, div_back, kind, mul, mul_add, mul_add_back, mul_back, powf, powf_back, sub,
    sub_back, Broadcast, ElemOp, MulKind, MulRule,
};
pub use gather::{gather, gather_back, segment, segment_back};
pub use index::{
    col, col_back, index, index2, index2_back, index_back, row, row_back, set, set_back,
};
pub use matrix::{
    add_diag, add_diag_back, add_diag_vec, add_diag_vec_back, cholesky, cholesky_back,
    columns_dot_product, columns_dot_product_back, diag_post_multiply, diag_post_multiply_back,
    diag_pre_multiply, diag_pre_multiply_back, dot_self, dot_self_back, gp_exp_quad_unit,
    gp_exp_quad_unit_back, log_determinant, log_determinant_back, mdivide_left_tri_low,
    mdivide_left_tri_low_back, quad_form, quad_form_back, rows_dot_product, rows_dot_product_back,
};
pub use matrix::{DiagOperand, GpPoints, GpPointsElem, Points, RightOperand};
pub use reduce::{
    dot, dot_back, mean, mean_back, sum, sum_back, transpose, transpose_back, Transpose,
};
pub use special::{
    atan, atan_back, digamma, digamma_back, erf, erf_back, erfc, erfc_back, fmax, fmax_back, fmin,
    fmin_back, inv, inv_back, inv_logit, inv_logit_back, lbeta, lbeta_back, lchoose, lchoose_back,
    lgamma, lgamma_back, log1m, log1m_back, log1m_exp, log1m_exp_back, log1p_exp, log1p_exp_back,
    log_diff_exp, log_diff_exp_back, log_mix, log_mix_back, log_sum_exp, log_sum_exp2,
    log_sum_exp2_back, log_sum_exp_back, logit, logit_back, partial_back, phi, phi_back, pow,
    pow_back, square, square_back, tan, tan_back,
};
pub use unary::{
    abs, abs_back, cos, cos_back, exp, exp_back, expm1, expm1_back, ln, ln_back, log1p, log1p_back,
    log_sigmoid, log_sigmoid_back, neg, neg_back, powi, powi_back, sigmoid, sigmoid_back, sin,
    sin_back, softplus, softplus_back, sqrt, sqrt_back, tanh, tanh_back,
};

use nalgebra::{DMatrix, DVector, RowDVector};
use std::borrow::Cow;
use std::fmt;

/// A fresh adjoint: zeros of a value's shape.
pub trait Zeros {
    /// Zeros shaped like `self`.
    fn zeros_like(&self) -> Self;
}

impl Zeros for f64 {
    #[inline]
    fn zeros_like(&self) -> Self {
        // The additive identity of IEEE addition (`-0.0 + x` is `x` for every `x`, while
        // `0.0 + -0.0` is `0.0`), so the compiler can drop the first `+=` into an adjoint.
        -0.0
    }
}

impl Zeros for DVector<f64> {
    #[inline]
    fn zeros_like(&self) -> Self {
        DVector::from_vec(pool::zeroed(self.len()))
    }
}

impl Zeros for RowDVector<f64> {
    #[inline]
    fn zeros_like(&self) -> Self {
        RowDVector::from_vec(pool::zeroed(self.len()))
    }
}

impl Zeros for DMatrix<f64> {
    #[inline]
    fn zeros_like(&self) -> Self {
        DMatrix::from_vec(self.nrows(), self.ncols(), pool::zeroed(self.len()))
    }
}

impl Zeros for Vec<f64> {
    #[inline]
    fn zeros_like(&self) -> Self {
        pool::zeroed(self.len())
    }
}

/// Free-function form of [`Zeros::zeros_like`]: `let mut __gw = ad::zeros_like(&w);`.
///
/// ```
/// use vi_runtime::ad;
/// let w = nalgebra::DVector::from_vec(vec![1.0, 2.0]);
/// assert_eq!(ad::zeros_like(&w), nalgebra::DVector::zeros(2));
/// ```
#[inline]
pub fn zeros_like<V: Zeros>(v: &V) -> V {
    v.zeros_like()
}

/// An operand of a binary rule: a value or data seen as a (rows, columns) array with a kind
/// that says along which axes it broadcasts.
pub trait Operand: Flat {
    /// [`kind::Scalar`], [`kind::Col`], [`kind::Row`] or [`kind::Mat`].
    type Kind: kind::Kind;
    /// (rows, columns); a scalar is (1, 1), a column of n is (n, 1), a row (1, n).
    fn dims(&self) -> (usize, usize);
}

impl Operand for f64 {
    type Kind = kind::Scalar;
    #[inline]
    fn dims(&self) -> (usize, usize) {
        (1, 1)
    }
}

impl Operand for DVector<f64> {
    type Kind = kind::Col;
    #[inline]
    fn dims(&self) -> (usize, usize) {
        (self.len(), 1)
    }
}

impl Operand for RowDVector<f64> {
    type Kind = kind::Row;
    #[inline]
    fn dims(&self) -> (usize, usize) {
        (1, self.len())
    }
}

impl Operand for DMatrix<f64> {
    type Kind = kind::Mat;
    #[inline]
    fn dims(&self) -> (usize, usize) {
        (self.nrows(), self.ncols())
    }
}

impl Operand for Vec<f64> {
    type Kind = kind::Col;
    #[inline]
    fn dims(&self) -> (usize, usize) {
        (self.len(), 1)
    }
}

impl Operand for [f64] {
    type Kind = kind::Col;
    #[inline]
    fn dims(&self) -> (usize, usize) {
        (self.len(), 1)
    }
}

/// A reference to data (`&&DVector<f64>` when generated code borrows a field that is
/// itself a reference) is the operand it points to; it is never given an adjoint.
impl<T: Operand + ?Sized> Operand for &T {
    type Kind = T::Kind;
    #[inline]
    fn dims(&self) -> (usize, usize) {
        (**self).dims()
    }
}

/// A value the rules compute with and return: `f64`, `DVector<f64>`, `RowDVector<f64>`,
/// `DMatrix<f64>`.
pub trait Value: Operand + Zeros + Clone + pool::Recycle {
    /// Zeros of shape (rows, columns) (which must fit the type: (1, 1) for a scalar).
    fn zeros_shaped(rows: usize, cols: usize) -> Self;

    /// The value of shape (rows, columns) held in `data` (column-major, `rows * cols`
    /// elements, which must fit the type), taking the storage over.
    fn from_storage(rows: usize, cols: usize, data: Vec<f64>) -> Self;

    /// The value's storage (column-major), given up.
    fn into_storage(self) -> Vec<f64>;

    /// `f` applied to every element, as a new value of the same shape. The vector and
    /// matrix types write each result once into fresh storage (no copy of `self` first),
    /// in a loop that vectorises when `f` does.
    #[inline(always)]
    fn map_elements(&self, f: impl Fn(f64) -> f64) -> Self {
        let mut out = self.clone();
        for v in out.flat_mut() {
            *v = f(*v);
        }
        out
    }
}

use pool::mapped;

impl Value for f64 {
    #[inline]
    fn zeros_shaped(_: usize, _: usize) -> Self {
        0.0
    }
    #[inline]
    fn from_storage(_: usize, _: usize, data: Vec<f64>) -> Self {
        data.first().copied().unwrap_or(0.0)
    }
    #[inline]
    fn into_storage(self) -> Vec<f64> {
        vec![self]
    }
}

impl Value for DVector<f64> {
    #[inline]
    fn zeros_shaped(rows: usize, _: usize) -> Self {
        DVector::from_vec(pool::zeroed(rows))
    }
    #[inline]
    fn from_storage(_: usize, _: usize, data: Vec<f64>) -> Self {
        DVector::from_vec(data)
    }
    #[inline]
    fn into_storage(self) -> Vec<f64> {
        self.data.into()
    }
    #[inline(always)]
    fn map_elements(&self, f: impl Fn(f64) -> f64) -> Self {
        DVector::from_vec(mapped(self.as_slice(), f))
    }
}

impl Value for RowDVector<f64> {
    #[inline]
    fn zeros_shaped(_: usize, cols: usize) -> Self {
        RowDVector::from_vec(pool::zeroed(cols))
    }
    #[inline]
    fn from_storage(_: usize, _: usize, data: Vec<f64>) -> Self {
        RowDVector::from_vec(data)
    }
    #[inline]
    fn into_storage(self) -> Vec<f64> {
        self.data.into()
    }
    #[inline(always)]
    fn map_elements(&self, f: impl Fn(f64) -> f64) -> Self {
        RowDVector::from_vec(mapped(self.as_slice(), f))
    }
}

impl Value for DMatrix<f64> {
    #[inline]
    fn zeros_shaped(rows: usize, cols: usize) -> Self {
        DMatrix::from_vec(rows, cols, pool::zeroed(rows * cols))
    }
    #[inline]
    fn from_storage(rows: usize, cols: usize, data: Vec<f64>) -> Self {
        DMatrix::from_vec(rows, cols, data)
    }
    #[inline]
    fn into_storage(self) -> Vec<f64> {
        self.data.into()
    }
    #[inline(always)]
    fn map_elements(&self, f: impl Fn(f64) -> f64) -> Self {
        DMatrix::from_vec(self.nrows(), self.ncols(), mapped(self.as_slice(), f))
    }
}

/// Operands whose shapes do not fit an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeError {
    /// The operation, e.g. `"+"`, `"matrix product"`, `"index"`.
    pub op: &'static str,
    /// The left operand's shape as (rows, columns); a scalar is (1, 1).
    pub left: (usize, usize),
    /// The right operand's shape (for an index: the index as (i, 0) or (i, j)).
    pub right: (usize, usize),
}

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` of a {}x{} and a {}x{} operand",
            self.op, self.left.0, self.left.1, self.right.0, self.right.1
        )
    }
}

impl std::error::Error for ShapeError {}

/// A value seen as one flat, contiguous slice (matrices in their column-major storage).
/// Used to hand values and their adjoints to the distributions' log densities.
pub trait Flat {
    /// The elements.
    fn flat(&self) -> &[f64];
    /// The elements, mutably (for adjoints).
    fn flat_mut(&mut self) -> &mut [f64];
}

impl Flat for f64 {
    fn flat(&self) -> &[f64] {
        std::slice::from_ref(self)
    }
    fn flat_mut(&mut self) -> &mut [f64] {
        std::slice::from_mut(self)
    }
}

impl Flat for DVector<f64> {
    fn flat(&self) -> &[f64] {
        self.as_slice()
    }
    fn flat_mut(&mut self) -> &mut [f64] {
        self.as_mut_slice()
    }
}

impl Flat for RowDVector<f64> {
    fn flat(&self) -> &[f64] {
        self.as_slice()
    }
    fn flat_mut(&mut self) -> &mut [f64] {
        self.as_mut_slice()
    }
}

impl Flat for DMatrix<f64> {
    fn flat(&self) -> &[f64] {
        self.as_slice()
    }
    fn flat_mut(&mut self) -> &mut [f64] {
        self.as_mut_slice()
    }
}

impl Flat for Vec<f64> {
    fn flat(&self) -> &[f64] {
        self
    }
    fn flat_mut(&mut self) -> &mut [f64] {
        self
    }
}

impl Flat for [f64] {
    fn flat(&self) -> &[f64] {
        self
    }
    fn flat_mut(&mut self) -> &mut [f64] {
        self
    }
}

impl<T: Flat + ?Sized> Flat for &T {
    fn flat(&self) -> &[f64] {
        (**self).flat()
    }
    fn flat_mut(&mut self) -> &mut [f64] {
        unreachable!("a shared reference is never an adjoint")
    }
}

/// Free-function form of [`Flat::flat`].
#[inline]
pub fn flat<T: Flat + ?Sized>(v: &T) -> &[f64] {
    v.flat()
}

/// Free-function form of [`Flat::flat_mut`].
#[inline]
pub fn flat_mut<T: Flat + ?Sized>(v: &mut T) -> &mut [f64] {
    v.flat_mut()
}

/// Data of any numeric element type as `f64`s: borrowed when it already is `f64`.
pub trait ToF64s {
    /// The elements as `f64` (matrices in column-major storage order).
    fn to_f64s(&self) -> Cow<'_, [f64]>;

    /// Where statistics of this data may be kept, when it never changes (the data operands
    /// of `model!`'s observation statements that depend only on the model's arguments); see
    /// [`dist::stats`](crate::dist::stats).
    #[inline(always)]
    fn stats_cell(&self) -> Option<&crate::dist::stats::StatsCell> {
        None
    }
}

macro_rules! to_f64s_scalar {
    ($($t:ty),*) => {$(
        impl ToF64s for $t {
            fn to_f64s(&self) -> Cow<'_, [f64]> {
                Cow::Owned(vec![*self as f64])
            }
        }
        impl ToF64s for [$t] {
            fn to_f64s(&self) -> Cow<'_, [f64]> {
                Cow::Owned(self.iter().map(|&v| v as f64).collect())
            }
        }
        impl ToF64s for Vec<$t> {
            fn to_f64s(&self) -> Cow<'_, [f64]> {
                self.as_slice().to_f64s()
            }
        }
        impl ToF64s for DVector<$t> {
            fn to_f64s(&self) -> Cow<'_, [f64]> {
                self.as_slice().to_f64s()
            }
        }
    )*};
}
to_f64s_scalar!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize, f32);

impl ToF64s for bool {
    fn to_f64s(&self) -> Cow<'_, [f64]> {
        Cow::Owned(vec![f64::from(u8::from(*self))])
    }
}

impl ToF64s for [bool] {
    fn to_f64s(&self) -> Cow<'_, [f64]> {
        Cow::Owned(self.iter().map(|&b| f64::from(u8::from(b))).collect())
    }
}

impl ToF64s for Vec<bool> {
    fn to_f64s(&self) -> Cow<'_, [f64]> {
        self.as_slice().to_f64s()
    }
}

impl ToF64s for f64 {
    fn to_f64s(&self) -> Cow<'_, [f64]> {
        Cow::Borrowed(std::slice::from_ref(self))
    }
}

impl ToF64s for [f64] {
    fn to_f64s(&self) -> Cow<'_, [f64]> {
        Cow::Borrowed(self)
    }
}

impl ToF64s for Vec<f64> {
    fn to_f64s(&self) -> Cow<'_, [f64]> {
        Cow::Borrowed(self)
    }
}

impl ToF64s for DVector<f64> {
    fn to_f64s(&self) -> Cow<'_, [f64]> {
        Cow::Borrowed(self.as_slice())
    }
}

impl ToF64s for RowDVector<f64> {
    fn to_f64s(&self) -> Cow<'_, [f64]> {
        Cow::Borrowed(self.as_slice())
    }
}

impl ToF64s for DMatrix<f64> {
    fn to_f64s(&self) -> Cow<'_, [f64]> {
        Cow::Borrowed(self.as_slice())
    }
}

impl<T: ToF64s + ?Sized> ToF64s for &T {
    fn to_f64s(&self) -> Cow<'_, [f64]> {
        (**self).to_f64s()
    }
    #[inline(always)]
    fn stats_cell(&self) -> Option<&crate::dist::stats::StatsCell> {
        (**self).stats_cell()
    }
}

/// Free-function form of [`ToF64s::to_f64s`].
#[inline]
pub fn to_f64s<T: ToF64s + ?Sized>(v: &T) -> Cow<'_, [f64]> {
    v.to_f64s()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_views_and_conversions() {
        let m = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 3.0, 4.0]);
        // nalgebra stores column-major.
        assert_eq!(flat(&m), &[1.0, 3.0, 2.0, 4.0]);
        assert_eq!(flat(&2.5), &[2.5]);
        assert_eq!(&*to_f64s(&vec![true, false]), &[1.0, 0.0]);
        assert_eq!(&*to_f64s(&[3i64, -1][..]), &[3.0, -1.0]);
        assert!(matches!(to_f64s(&vec![1.0]), Cow::Borrowed(_)));
    }
}
