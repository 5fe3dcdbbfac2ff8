//! One arithmetic (issue 13 item 3): what generated code calls so that data-only parts of a
//! model's expressions follow the DSL's rules as latents do.
//!
//! A data operand reaches a rule as [`Val`](super::Val) converts it: a slice or `Vec` stays
//! a slice of `f64`s, which the arithmetic rules (`+ - * /`) take as a column. The rules of
//! one operand, of data parameters and of three operands take value types only, so
//! [`as_value`] makes a column of those (borrowing every value type as it is).

use std::borrow::Cow;

use nalgebra::{DMatrix, DVector, RowDVector};

/// A data operand's converted type as a value type of the rules.
pub trait AsValue: ToOwned {
    /// The value type.
    type Out: Clone;
    /// The value: borrowed when `x` already is one, a column for `f64` slices.
    fn as_value(x: Cow<'_, Self>) -> Cow<'_, Self::Out>;
}

macro_rules! as_value_borrowed {
    ($($t:ty),*) => {$(
        impl AsValue for $t {
            type Out = $t;
            #[inline(always)]
            fn as_value(x: Cow<'_, $t>) -> Cow<'_, $t> {
                x
            }
        }
    )*};
}
as_value_borrowed!(f64, DVector<f64>, RowDVector<f64>, DMatrix<f64>);

impl AsValue for [f64] {
    type Out = DVector<f64>;
    fn as_value(x: Cow<'_, [f64]>) -> Cow<'_, DVector<f64>> {
        Cow::Owned(DVector::from_column_slice(&x))
    }
}

impl AsValue for Vec<f64> {
    type Out = DVector<f64>;
    fn as_value(x: Cow<'_, Vec<f64>>) -> Cow<'_, DVector<f64>> {
        Cow::Owned(DVector::from_column_slice(&x))
    }
}

/// Free-function form of [`AsValue::as_value`].
#[inline(always)]
pub fn as_value<T: AsValue + ?Sized>(x: Cow<'_, T>) -> Cow<'_, T::Out> {
    T::as_value(x)
}
