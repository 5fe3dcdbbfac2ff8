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

// --- Elements of data, with the index errors of issue 13 item 5 -------------------------

/// A data value indexed in a model's expression (`x[i]`, `m[(i, j)]`), for method-call
/// dispatch: a slice, `Vec`, array or nalgebra value takes [`DataAtKnown`] (an index out of
/// range names the statement, the value, its length, the index and the loop variables);
/// any other type that Rust can index takes [`DataAtOther`], Rust's own indexing.
pub struct DataAt<'a, T: ?Sized>(pub &'a T);

/// Data whose elements [`DataAt`] reads with a checked index.
pub trait Elements<I> {
    /// The element type.
    type Elem: ?Sized;
    /// The element at `i`, if in range.
    fn element(&self, i: I) -> Option<&Self::Elem>;
    /// The shape (rows, columns) an index error reports; a slice is a column.
    fn extent(&self) -> (usize, usize);
    /// The index as (i, 0) or (i, j).
    fn pair(i: &I) -> (usize, usize);
}

/// A column of elements: slices, `Vec`s and arrays.
macro_rules! column_elements {
    ($([$($g:tt)*] $t:ty;)*) => {$(
        impl<$($g)*> Elements<usize> for $t {
            type Elem = E;
            #[inline(always)]
            fn element(&self, i: usize) -> Option<&E> {
                self.get(i)
            }
            fn extent(&self) -> (usize, usize) {
                (self.len(), 1)
            }
            fn pair(i: &usize) -> (usize, usize) {
                (*i, 0)
            }
        }
    )*};
}

column_elements! {
    [E] [E];
    [E] Vec<E>;
    [E, const N: usize] [E; N];
}

impl<E, R, C, S> Elements<usize> for nalgebra::Matrix<E, R, C, S>
where
    E: nalgebra::Scalar,
    R: nalgebra::Dim,
    C: nalgebra::Dim,
    S: nalgebra::RawStorage<E, R, C>,
{
    type Elem = E;
    #[inline(always)]
    fn element(&self, i: usize) -> Option<&E> {
        self.get(i)
    }
    fn extent(&self) -> (usize, usize) {
        self.shape()
    }
    fn pair(i: &usize) -> (usize, usize) {
        (*i, 0)
    }
}

impl<E, R, C, S> Elements<(usize, usize)> for nalgebra::Matrix<E, R, C, S>
where
    E: nalgebra::Scalar,
    R: nalgebra::Dim,
    C: nalgebra::Dim,
    S: nalgebra::RawStorage<E, R, C>,
{
    type Elem = E;
    #[inline(always)]
    fn element(&self, i: (usize, usize)) -> Option<&E> {
        self.get(i)
    }
    fn extent(&self) -> (usize, usize) {
        self.shape()
    }
    fn pair(i: &(usize, usize)) -> (usize, usize) {
        *i
    }
}

impl<T: Elements<I> + ?Sized, I> Elements<I> for &T {
    type Elem = T::Elem;
    #[inline(always)]
    fn element(&self, i: I) -> Option<&T::Elem> {
        (**self).element(i)
    }
    fn extent(&self) -> (usize, usize) {
        (**self).extent()
    }
    fn pair(i: &I) -> (usize, usize) {
        T::pair(i)
    }
}

/// [`DataAt`] of a type with [`Elements`]: the element, or the statement's index error.
pub trait DataAtKnown<'a, I> {
    /// The element type.
    type Elem: ?Sized;
    /// The element at `i` of the value called `what` in statement `stmt`; `loops` gives the
    /// loop variables' values for the message.
    fn at<const N: usize>(
        &self,
        i: I,
        stmt: usize,
        what: &str,
        loops: impl FnOnce() -> [(&'static str, i64); N],
    ) -> Result<&'a Self::Elem, super::Fail>;
}

impl<'a, T: Elements<I> + ?Sized, I> DataAtKnown<'a, I> for &DataAt<'a, T> {
    type Elem = T::Elem;
    #[inline(always)]
    fn at<const N: usize>(
        &self,
        i: I,
        stmt: usize,
        what: &str,
        loops: impl FnOnce() -> [(&'static str, i64); N],
    ) -> Result<&'a T::Elem, super::Fail> {
        let pair = T::pair(&i);
        match self.0.element(i) {
            Some(x) => Ok(x),
            None => {
                let e = super::ShapeError {
                    op: if pair.1 > 0 || self.0.extent().1 > 1 {
                        "index2"
                    } else {
                        "index"
                    },
                    left: self.0.extent(),
                    right: pair,
                };
                super::index_at(stmt, Err(e), what, loops)
            }
        }
    }
}

/// [`DataAt`] of any other type Rust can index: Rust's own indexing.
pub trait DataAtOther<'a, I> {
    /// The element type.
    type Elem: ?Sized;
    /// `&x[i]`.
    fn at<const N: usize>(
        &self,
        i: I,
        stmt: usize,
        what: &str,
        loops: impl FnOnce() -> [(&'static str, i64); N],
    ) -> Result<&'a Self::Elem, super::Fail>;
}

impl<'a, T: std::ops::Index<I> + ?Sized, I> DataAtOther<'a, I> for DataAt<'a, T> {
    type Elem = T::Output;
    #[inline(always)]
    fn at<const N: usize>(
        &self,
        i: I,
        _: usize,
        _: &str,
        _: impl FnOnce() -> [(&'static str, i64); N],
    ) -> Result<&'a T::Output, super::Fail> {
        Ok(&self.0[i])
    }
}

/// [`DataAt`] of a reference to a type Rust can index (a data argument `t: &Table`, whose
/// `t[i]` Rust reads through the reference): Rust's own indexing of the value behind it.
pub trait DataAtRef<'a, I> {
    /// The element type.
    type Elem: ?Sized;
    /// `&(*x)[i]`.
    fn at<const N: usize>(
        &self,
        i: I,
        stmt: usize,
        what: &str,
        loops: impl FnOnce() -> [(&'static str, i64); N],
    ) -> Result<&'a Self::Elem, super::Fail>;
}

impl<'a, 'b: 'a, T: std::ops::Index<I> + ?Sized, I> DataAtRef<'a, I> for DataAt<'a, &'b T> {
    type Elem = T::Output;
    #[inline(always)]
    fn at<const N: usize>(
        &self,
        i: I,
        _: usize,
        _: &str,
        _: impl FnOnce() -> [(&'static str, i64); N],
    ) -> Result<&'a T::Output, super::Fail> {
        let value: &'b T = self.0;
        Ok(&value[i])
    }
}
