//! Data for a loop over observations that the macro has vectorised (its `vectorise` stage):
//! the iterations become lanes, and data the loop read one element or one row at a time
//! (`y[i]`, `x[(i, j)]`, `x.row(i)`) is read for all the lanes at once.
//!
//! A lane range outside the data panics, with the loop's own words; the constructor's run
//! turns that into a [`ModelError`](crate::ModelError), as it does for the `y[i]` out of
//! bounds the loop would have hit.

use std::borrow::Cow;
use std::ops::Range;

use nalgebra::{DMatrix, DVector, Scalar};

use crate::data::Numeric as Val;

/// A data vector the lanes read element by element (`y[i]`): a slice, a `Vec` or a
/// `DVector` of any element type.
pub trait LaneSource {
    /// The element type.
    type Elem;
    /// All the elements, in order.
    fn elements(&self) -> &[Self::Elem];
}

impl<E> LaneSource for [E] {
    type Elem = E;
    #[inline(always)]
    fn elements(&self) -> &[E] {
        self
    }
}

impl<E> LaneSource for Vec<E> {
    type Elem = E;
    #[inline(always)]
    fn elements(&self) -> &[E] {
        self
    }
}

impl<E: Scalar> LaneSource for DVector<E> {
    type Elem = E;
    #[inline(always)]
    fn elements(&self) -> &[E] {
        self.as_slice()
    }
}

impl<T: LaneSource + ?Sized> LaneSource for &T {
    type Elem = T::Elem;
    #[inline(always)]
    fn elements(&self) -> &[T::Elem] {
        (**self).elements()
    }
}

fn check_range(what: &str, len: usize, lanes: &Range<usize>) {
    if lanes.start > lanes.end || lanes.end > len {
        panic!(
            "a loop over {}..{} reads {what} of length {len}",
            lanes.start, lanes.end
        );
    }
}

/// `y[i]` for every `i` of `lanes`: the elements as one slice.
///
/// # Panics
/// When `lanes` is not inside `y` (the loop would have indexed out of bounds).
#[inline]
pub fn lanes<'a, T: LaneSource + ?Sized>(y: &'a T, lanes: &Range<usize>) -> &'a [T::Elem] {
    let all = y.elements();
    check_range("a vector", all.len(), lanes);
    &all[lanes.clone()]
}

/// `x[(i, j)]` for every `i` of `lanes`: rows `lanes` of column `j`, one contiguous slice
/// of the column-major storage.
///
/// # Panics
/// When `lanes` is not inside `x`'s rows or `j` not among its columns.
#[inline]
pub fn lane_col<'a, E: Scalar>(x: &'a DMatrix<E>, lanes: &Range<usize>, j: usize) -> &'a [E] {
    let (r, c) = x.shape();
    check_range("the rows of a matrix", r, lanes);
    if j >= c {
        panic!("column {j} of a matrix with {c} columns");
    }
    &x.as_slice()[j * r + lanes.start..j * r + lanes.end]
}

/// `x.row(i)` for every `i` of `lanes`: the matrix of those rows, one per lane.
///
/// # Panics
/// When `lanes` is not inside `x`'s rows.
#[inline]
pub fn lane_rows<'a, E: Scalar>(x: &'a DMatrix<E>, lanes: &Range<usize>) -> LaneRows<'a, E> {
    check_range("the rows of a matrix", x.nrows(), lanes);
    LaneRows {
        x,
        lanes: lanes.clone(),
    }
}

/// Rows `lanes` of a data matrix (see [`lane_rows`]). As a value for the rules it is a
/// `DMatrix<f64>`: the matrix itself when the lanes are all its rows and it holds `f64`s,
/// a converted copy otherwise (made once per model when the lanes do not change).
pub struct LaneRows<'a, E: Scalar> {
    x: &'a DMatrix<E>,
    lanes: Range<usize>,
}

macro_rules! lane_rows_val {
    ($($t:ty),*) => {$(
        impl Val for LaneRows<'_, $t> {
            type V = DMatrix<f64>;
            const CONVERTS: bool = true;
            fn val(&self) -> Cow<'_, DMatrix<f64>> {
                let n = self.lanes.end - self.lanes.start;
                Cow::Owned(
                    self.x
                        .rows(self.lanes.start, n)
                        .map(|v| v as f64),
                )
            }
        }
    )*};
}
lane_rows_val!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

impl Val for LaneRows<'_, f64> {
    type V = DMatrix<f64>;
    const CONVERTS: bool = true;
    fn val(&self) -> Cow<'_, DMatrix<f64>> {
        if self.lanes.start == 0 && self.lanes.end == self.x.nrows() {
            Cow::Borrowed(self.x)
        } else {
            Cow::Owned(
                self.x
                    .rows(self.lanes.start, self.lanes.end - self.lanes.start)
                    .into_owned(),
            )
        }
    }
}

/// A column of zeros, one per lane: the start of state that a vectorised loop carries from
/// one number to one number per lane (`let mut mu = b; for j .. { mu += x[(i, j)] * w[j]; }`).
pub struct LaneZeros(usize);

/// [`LaneZeros`] for `lanes`.
#[inline]
pub fn lane_zeros(lanes: &Range<usize>) -> LaneZeros {
    LaneZeros(lanes.end.saturating_sub(lanes.start))
}

impl Val for LaneZeros {
    type V = DVector<f64>;
    const CONVERTS: bool = true;
    fn val(&self) -> Cow<'_, DVector<f64>> {
        Cow::Owned(DVector::zeros(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_read_what_the_loop_would_have_read() {
        let x = DMatrix::from_fn(4, 3, |i, j| (10 * i + j) as i64);
        let y = DVector::from_fn(4, |i, _| i as f64);
        let r = 1..3;
        assert_eq!(lanes(&y, &r), &[1.0, 2.0]);
        assert_eq!(lanes(&vec![5u8, 6, 7], &(0..3)), &[5, 6, 7]);
        for j in 0..3 {
            let col: Vec<i64> = r.clone().map(|i| x[(i, j)]).collect();
            assert_eq!(lane_col(&x, &r, j), col.as_slice());
        }
        let rows = lane_rows(&x, &r).val().into_owned();
        assert_eq!(rows.shape(), (2, 3));
        for (k, i) in r.clone().enumerate() {
            for j in 0..3 {
                assert_eq!(rows[(k, j)], x[(i, j)] as f64);
            }
        }
        let xf = x.map(|v| v as f64);
        assert!(matches!(lane_rows(&xf, &(0..4)).val(), Cow::Borrowed(_)));
        assert_eq!(*lane_rows(&xf, &(2..4)).val(), xf.rows(2, 2));
        assert_eq!(*lane_zeros(&(3..7)).val(), DVector::zeros(4));
    }

    #[test]
    fn lanes_outside_the_data_panic_with_the_range() {
        let y = vec![1.0, 2.0];
        let e = std::panic::catch_unwind(|| lanes(&y, &(0..3)).len()).unwrap_err();
        let msg = e.downcast_ref::<String>().expect("a formatted message");
        assert_eq!(msg, "a loop over 0..3 reads a vector of length 2");
        let x = DMatrix::<f64>::zeros(2, 2);
        assert!(std::panic::catch_unwind(|| lane_col(&x, &(0..2), 2).len()).is_err());
        assert!(std::panic::catch_unwind(|| lane_rows(&x, &(1..3)).lanes.len()).is_err());
    }
}
