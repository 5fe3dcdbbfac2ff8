//! Reductions and structure: `sum`, `mean`, `dot`, `transpose`.

use super::kind::VectorKind;
use super::{kernels, Operand, ShapeError, Value};
use nalgebra::{DMatrix, DVector, RowDVector};

/// The sum of all elements (of a value or of data).
///
/// ```
/// use vi_runtime::ad;
/// let m = nalgebra::DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 3.0, 4.0]);
/// assert_eq!(ad::sum(&m)?, 10.0);
/// assert_eq!(ad::mean(&m)?, 2.5);
/// # Ok::<(), vi_runtime::ad::ShapeError>(())
/// ```
#[inline]
pub fn sum<X: Operand + ?Sized>(x: &X) -> Result<f64, ShapeError> {
    Ok(kernels::sum(x.flat()))
}

/// Backward rule of [`sum`]: every element's adjoint gets `g`.
#[inline]
pub fn sum_back<X: Operand + ?Sized>(_x: &X, _out: &f64, g: &f64, gx: &mut X) {
    let g = *g;
    for v in gx.flat_mut() {
        *v += g;
    }
}

/// The mean of all elements; a `ShapeError` for an empty operand.
#[inline]
pub fn mean<X: Operand + ?Sized>(x: &X) -> Result<f64, ShapeError> {
    let d = x.flat();
    if d.is_empty() {
        return Err(ShapeError {
            op: "mean",
            left: x.dims(),
            right: (0, 0),
        });
    }
    Ok(kernels::sum(d) / d.len() as f64)
}

/// Backward rule of [`mean`]: every element's adjoint gets `g / n`.
#[inline]
pub fn mean_back<X: Operand + ?Sized>(_x: &X, _out: &f64, g: &f64, gx: &mut X) {
    let gx = gx.flat_mut();
    let g = *g / gx.len() as f64;
    for v in gx {
        *v += g;
    }
}

/// The inner product of two vectors of one length: columns, rows or data columns
/// (`Vec<f64>`, `[f64]`), in any pairing.
///
/// ```
/// use nalgebra::{DVector, RowDVector};
/// use vi_runtime::ad;
/// let a = DVector::from_vec(vec![1.0, 2.0]);
/// let b = RowDVector::from_vec(vec![3.0, 4.0]);
/// assert_eq!(ad::dot(&a, &b)?, 11.0);
/// assert!(ad::dot(&a, &vec![1.0]).is_err());
/// # Ok::<(), vi_runtime::ad::ShapeError>(())
/// ```
#[inline]
pub fn dot<A, B>(a: &A, b: &B) -> Result<f64, ShapeError>
where
    A: Operand + ?Sized,
    B: Operand + ?Sized,
    A::Kind: VectorKind,
    B::Kind: VectorKind,
{
    let (x, y) = (a.flat(), b.flat());
    if x.len() != y.len() {
        return Err(ShapeError {
            op: "dot",
            left: a.dims(),
            right: b.dims(),
        });
    }
    Ok(kernels::dot(x, y))
}

/// Backward rule of [`dot`]: `ga += g b`, `gb += g a` (those given).
#[inline]
pub fn dot_back<A, B>(a: &A, b: &B, _out: &f64, g: &f64, ga: Option<&mut A>, gb: Option<&mut B>)
where
    A: Operand + ?Sized,
    B: Operand + ?Sized,
    A::Kind: VectorKind,
    B::Kind: VectorKind,
{
    let (x, y, g) = (a.flat(), b.flat(), *g);
    if x.len() != y.len() {
        return;
    }
    if let Some(ga) = ga {
        axpy(ga.flat_mut(), g, y);
    }
    if let Some(gb) = gb {
        axpy(gb.flat_mut(), g, x);
    }
}

/// `acc += alpha * x`.
#[inline(always)]
#[allow(clippy::needless_range_loop)]
fn axpy(acc: &mut [f64], alpha: f64, x: &[f64]) {
    let n = acc.len();
    let x = &x[..n];
    for i in 0..n {
        acc[i] += alpha * x[i];
    }
}

/// Transposition: `DVector <-> RowDVector`, `DMatrix -> DMatrix`, `f64 -> f64`.
pub trait Transpose: Value {
    /// The transpose's type.
    type Output: Value;
    /// The transpose.
    fn transposed(&self) -> Self::Output;
    /// Adds the transpose of `g` (an adjoint of the transpose) into `gx`.
    fn add_transposed(g: &Self::Output, gx: &mut Self);
}

impl Transpose for f64 {
    type Output = f64;
    #[inline]
    fn transposed(&self) -> f64 {
        *self
    }
    #[inline]
    fn add_transposed(g: &f64, gx: &mut f64) {
        *gx += *g;
    }
}

impl Transpose for DVector<f64> {
    type Output = RowDVector<f64>;
    #[inline]
    fn transposed(&self) -> RowDVector<f64> {
        RowDVector::from_vec(super::pool::copied(self.as_slice()))
    }
    #[inline]
    fn add_transposed(g: &RowDVector<f64>, gx: &mut Self) {
        if g.len() == gx.len() {
            axpy(gx.as_mut_slice(), 1.0, g.as_slice());
        }
    }
}

impl Transpose for RowDVector<f64> {
    type Output = DVector<f64>;
    #[inline]
    fn transposed(&self) -> DVector<f64> {
        DVector::from_vec(super::pool::copied(self.as_slice()))
    }
    #[inline]
    fn add_transposed(g: &DVector<f64>, gx: &mut Self) {
        if g.len() == gx.len() {
            axpy(gx.as_mut_slice(), 1.0, g.as_slice());
        }
    }
}

impl Transpose for DMatrix<f64> {
    type Output = DMatrix<f64>;
    #[inline]
    fn transposed(&self) -> DMatrix<f64> {
        self.transpose()
    }
    #[inline]
    fn add_transposed(g: &DMatrix<f64>, gx: &mut Self) {
        if g.nrows() == gx.ncols() && g.ncols() == gx.nrows() {
            *gx += g.transpose();
        }
    }
}

/// The transpose (`x.transpose()` in a model).
///
/// ```
/// use nalgebra::{DVector, RowDVector};
/// use vi_runtime::ad;
/// let b = DVector::from_vec(vec![1.0, 2.0]);
/// assert_eq!(ad::transpose(&b)?, RowDVector::from_vec(vec![1.0, 2.0]));
/// # Ok::<(), vi_runtime::ad::ShapeError>(())
/// ```
#[inline]
pub fn transpose<X: Transpose>(x: &X) -> Result<X::Output, ShapeError> {
    Ok(x.transposed())
}

/// Backward rule of [`transpose`]: `gx += g^T`.
#[inline]
pub fn transpose_back<X: Transpose>(_x: &X, _out: &X::Output, g: &X::Output, gx: &mut X) {
    X::add_transposed(g, gx);
}
