//! Adjoints and element writes of state: [`Acc`] adds an adjoint into another, [`seed`]
//! moves a loop's carried adjoint in, [`set_elem`] writes `v[i] = x` as a new value (in-place
//! writes with an undo log are in `inplace.rs`).

use crate::ad::ShapeError;
use nalgebra::{DMatrix, DVector, RowDVector};

/// Adds an adjoint into another of the same type.
pub trait Acc {
    /// `self += other`.
    fn acc(&mut self, other: &Self);
}

impl Acc for f64 {
    #[inline(always)]
    fn acc(&mut self, other: &f64) {
        *self += *other;
    }
}

macro_rules! acc_mat {
    ($($t:ty),*) => {$(
        impl Acc for $t {
            #[inline]
            fn acc(&mut self, other: &Self) {
                for (a, b) in self.as_mut_slice().iter_mut().zip(other.as_slice()) {
                    *a += *b;
                }
            }
        }
    )*};
}
acc_mat!(DVector<f64>, RowDVector<f64>, DMatrix<f64>);

/// The adjoint a loop carries back into an iteration becomes the adjoint of the body's last
/// version of the state, which the iteration's recomputation has left at zero: `carried` is
/// moved in (what `acc` would have added to zeros) and the zeros go back to the pool.
#[inline]
pub fn seed<T: crate::ad::pool::Recycle>(g: &mut T, carried: T) {
    std::mem::replace(g, carried).recycle();
}

/// Free-function form of [`Acc::acc`].
#[inline(always)]
pub fn acc<T: Acc + ?Sized>(a: &mut T, b: &T) {
    a.acc(b)
}

/// Elements that can be replaced: `v[i] = x` as a new value.
pub trait SetElem<I> {
    /// A copy of `self` with element `i` set to `x`.
    fn set_elem(&self, i: I, x: f64) -> Result<Self, ShapeError>
    where
        Self: Sized;
    /// Element `i` of an adjoint, taken out (zeroed) of it.
    fn take_elem(&mut self, i: I) -> f64;
}

macro_rules! set_vec {
    ($($t:ty),*) => {$(
        impl SetElem<usize> for $t {
            fn set_elem(&self, i: usize, x: f64) -> Result<Self, ShapeError> {
                if i >= self.len() {
                    return Err(ShapeError { op: "index", left: (self.nrows(), self.ncols()), right: (i, 0) });
                }
                let mut out = self.clone();
                out[i] = x;
                Ok(out)
            }
            fn take_elem(&mut self, i: usize) -> f64 {
                std::mem::take(&mut self[i])
            }
        }
    )*};
}
set_vec!(DVector<f64>, RowDVector<f64>);

impl SetElem<(usize, usize)> for DMatrix<f64> {
    fn set_elem(&self, (i, j): (usize, usize), x: f64) -> Result<Self, ShapeError> {
        if i >= self.nrows() || j >= self.ncols() {
            return Err(ShapeError {
                op: "index",
                left: (self.nrows(), self.ncols()),
                right: (i, j),
            });
        }
        let mut out = self.clone();
        out[(i, j)] = x;
        Ok(out)
    }
    fn take_elem(&mut self, (i, j): (usize, usize)) -> f64 {
        std::mem::take(&mut self[(i, j)])
    }
}

impl SetElem<usize> for Vec<f64> {
    fn set_elem(&self, i: usize, x: f64) -> Result<Self, ShapeError> {
        if i >= self.len() {
            return Err(ShapeError {
                op: "index",
                left: (self.len(), 1),
                right: (i, 0),
            });
        }
        let mut out = self.clone();
        out[i] = x;
        Ok(out)
    }
    fn take_elem(&mut self, i: usize) -> f64 {
        std::mem::take(&mut self[i])
    }
}

/// `v` with element `i` replaced by `x`.
#[inline]
pub fn set_elem<T: SetElem<I>, I>(v: &T, i: I, x: &f64) -> Result<T, ShapeError> {
    v.set_elem(i, *x)
}

/// Backward of [`set_elem`]: the adjoint of the new value goes to the old value except at
/// `i`, where it goes to `x`.
#[inline]
pub fn set_elem_back<T: SetElem<I> + Acc + Clone, I: Copy>(
    _v: &T,
    i: I,
    _x: &f64,
    g_out: &T,
    gv: Option<&mut T>,
    gx: Option<&mut f64>,
) {
    let mut g = g_out.clone();
    let gi = g.take_elem(i);
    if let Some(gx) = gx {
        *gx += gi;
    }
    if let Some(gv) = gv {
        gv.acc(&g);
    }
}
