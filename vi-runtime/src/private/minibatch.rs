//! What the generated `__subsample` of a model calls (data subsampling,
//! `Vi::stochastic().minibatch(b)`): the rows of an argument gathered into a new value, by
//! autoref specialisation so that an argument of a type without rows is kept whole.

use nalgebra::{DMatrix, DVector, Scalar};

/// An argument of the model and its name, for the methods below.
pub struct RowsOf<'a, T: ?Sized>(pub &'a T, pub &'static str);

/// Values with rows: a vector's elements, a matrix's rows, a `Vec`'s elements.
pub trait Rows: Sized {
    /// The number of rows, `None` for a scalar.
    fn leading(&self) -> Option<usize>;
    /// A new value made of rows `rows` (each below `leading`), in that order.
    fn take_rows(&self, rows: &[usize]) -> Self;
}

impl<T: Scalar> Rows for DMatrix<T> {
    fn leading(&self) -> Option<usize> {
        Some(self.nrows())
    }
    fn take_rows(&self, rows: &[usize]) -> Self {
        self.select_rows(rows)
    }
}

impl<T: Scalar> Rows for DVector<T> {
    fn leading(&self) -> Option<usize> {
        Some(self.nrows())
    }
    fn take_rows(&self, rows: &[usize]) -> Self {
        DVector::from_iterator(rows.len(), rows.iter().map(|&r| self[r].clone()))
    }
}

impl<T: Clone> Rows for Vec<T> {
    fn leading(&self) -> Option<usize> {
        Some(self.len())
    }
    fn take_rows(&self, rows: &[usize]) -> Self {
        rows.iter().map(|&r| self[r].clone()).collect()
    }
}

macro_rules! scalar_rows {
    ($($t:ty),*) => {$(
        impl Rows for $t {
            fn leading(&self) -> Option<usize> {
                None
            }
            fn take_rows(&self, _: &[usize]) -> Self {
                *self
            }
        }
    )*};
}
scalar_rows!(f64, f32, i8, i16, i32, i64, isize, u8, u16, u32, u64, usize, bool);

/// The rows of an argument whose type has them (chosen first by method resolution).
pub trait GatherRows<T> {
    /// The argument's rows `rows` when its leading dimension is `n`, else `None` (kept whole).
    ///
    /// # Errors
    /// Never for these types (the signature is the fallback's).
    fn gather_rows(&self, rows: &[usize], n: usize) -> Result<Option<T>, String>;
    /// The argument's number of rows.
    ///
    /// # Errors
    /// When it is a scalar.
    fn n_rows(&self) -> Result<usize, String>;
}

impl<T: Rows> GatherRows<T> for RowsOf<'_, T> {
    fn gather_rows(&self, rows: &[usize], n: usize) -> Result<Option<T>, String> {
        Ok((self.0.leading() == Some(n)).then(|| self.0.take_rows(rows)))
    }
    fn n_rows(&self) -> Result<usize, String> {
        self.0.leading().ok_or_else(|| {
            format!(
                "the observed `{}` is a single value, not rows of observations",
                self.1
            )
        })
    }
}

/// The fallback of [`GatherRows`] for types without rows: kept whole.
pub trait GatherNone<T> {
    /// Always `None`: the argument is kept whole.
    ///
    /// # Errors
    /// Never.
    fn gather_rows(&self, rows: &[usize], n: usize) -> Result<Option<T>, String>;
    /// The number of rows cannot be told.
    ///
    /// # Errors
    /// Always.
    fn n_rows(&self) -> Result<usize, String>;
}

impl<T> GatherNone<T> for &RowsOf<'_, T> {
    fn gather_rows(&self, _: &[usize], _: usize) -> Result<Option<T>, String> {
        Ok(None)
    }
    fn n_rows(&self) -> Result<usize, String> {
        Err(format!(
            "the observed `{}` has a type whose rows the minibatch cannot take (a vector, \
             matrix, `Vec` or slice can be subsampled)",
            self.1
        ))
    }
}

/// A copy of an argument that is kept whole.
pub trait CloneArg<T> {
    /// The copy.
    ///
    /// # Errors
    /// Never for these types (the signature is the fallback's).
    fn clone_arg(&self) -> Result<T, String>;
}

impl<T: Clone> CloneArg<T> for RowsOf<'_, T> {
    fn clone_arg(&self) -> Result<T, String> {
        Ok(self.0.clone())
    }
}

/// The fallback of [`CloneArg`] for types that cannot be copied.
pub trait CloneNone<T> {
    /// An error naming the argument.
    ///
    /// # Errors
    /// Always.
    fn clone_arg(&self) -> Result<T, String>;
}

impl<T> CloneNone<T> for &RowsOf<'_, T> {
    fn clone_arg(&self) -> Result<T, String> {
        Err(format!(
            "the argument `{}` is taken by value and its type is not `Clone`, so a batch \
             cannot be built beside it",
            self.1
        ))
    }
}
