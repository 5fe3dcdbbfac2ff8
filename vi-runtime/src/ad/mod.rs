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

use nalgebra::{DMatrix, DVector, RowDVector};
use std::borrow::Cow;
use std::fmt;

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
