//! Element writes of vector state in place, with an undo log for the reverse sweep.
//!
//! `v[i] = x` on `let mut` state that is only ever written element by element does not make
//! a new vector: the generated code writes into the one vector the state lives in. The
//! gradient's reverse sweep needs, at each statement, the values that statement's backward
//! rule read, so a write first pushes the element's old value onto the state's [`Undo`] log,
//! and the write's backward rule pops it back. The log also keeps the element's adjoint as
//! it was before the write: in the forward pass, the adjoints that distributions and
//! `target +=` terms add at once belong to the value that was overwritten, not to the new
//! one, and go back to it when the write is undone. One entry per write: a loop that
//! writes one element per iteration keeps a log linear in its length, where a copy of the
//! vector per write would be quadratic.
//!
//! A loop or `if` swept backwards is first run forwards again (each iteration, from its
//! entry state) to recompute its temporaries: [`Undo::mark`] notes where an iteration's
//! entries begin, [`Undo::rewind`] restores the vector to that point without dropping the
//! entries, and [`Undo::redo`] replays a write the log already holds.

use crate::ad::{Flat, ShapeError};
use nalgebra::{DMatrix, DVector, RowDVector};

/// Where element `i` of a value sits in its flat storage ([`Flat`]: matrices column-major).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot have an element written with a value that depends on a latent",
    label = "state written element by element must be a `DVector<f64>`, `RowDVector<f64>` or `Vec<f64>` (`v[i] = ..`), or a `DMatrix<f64>` (`m[(i, j)] = ..`)"
)]
pub trait ElemAt<I>: Flat {
    /// The flat position of element `i`, or a [`ShapeError`] when it is out of bounds.
    fn elem_at(&self, i: I) -> Result<usize, ShapeError>;
}

fn out_of_bounds(dims: (usize, usize), at: (usize, usize)) -> ShapeError {
    ShapeError {
        op: "index",
        left: dims,
        right: at,
    }
}

/// Element `i` of a vector of `len` elements whose shape is `(len, 1)` for a column or
/// `(1, len)` for a row.
#[inline]
fn vector_elem(i: usize, len: usize, row: bool) -> Result<usize, ShapeError> {
    if i < len {
        Ok(i)
    } else {
        let dims = if row { (1, len) } else { (len, 1) };
        Err(out_of_bounds(dims, (i, 0)))
    }
}

impl ElemAt<usize> for DVector<f64> {
    #[inline]
    fn elem_at(&self, i: usize) -> Result<usize, ShapeError> {
        vector_elem(i, self.len(), false)
    }
}

impl ElemAt<usize> for RowDVector<f64> {
    #[inline]
    fn elem_at(&self, i: usize) -> Result<usize, ShapeError> {
        vector_elem(i, self.len(), true)
    }
}

impl ElemAt<usize> for Vec<f64> {
    #[inline]
    fn elem_at(&self, i: usize) -> Result<usize, ShapeError> {
        vector_elem(i, self.len(), false)
    }
}

impl ElemAt<(usize, usize)> for DMatrix<f64> {
    #[inline]
    fn elem_at(&self, (i, j): (usize, usize)) -> Result<usize, ShapeError> {
        if i < self.nrows() && j < self.ncols() {
            Ok(i + j * self.nrows())
        } else {
            Err(out_of_bounds((self.nrows(), self.ncols()), (i, j)))
        }
    }
}

/// `v[i] = x` in place, keeping nothing (a run without a reverse sweep).
///
/// ```
/// use nalgebra::DVector;
/// let mut v = DVector::zeros(2);
/// vi_runtime::private::write_elem(&mut v, 1, &3.0)?;
/// assert_eq!(v[1], 3.0);
/// assert!(vi_runtime::private::write_elem(&mut v, 2, &1.0).is_err());
/// # Ok::<(), vi_runtime::private::ShapeError>(())
/// ```
#[inline]
pub fn write_elem<T: ElemAt<I>, I>(v: &mut T, i: I, x: &f64) -> Result<(), ShapeError> {
    let k = v.elem_at(i)?;
    v.flat_mut()[k] = *x;
    Ok(())
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    /// Flat position of the element written.
    at: usize,
    /// Its value before the write.
    value: f64,
    /// Its adjoint before the write (what the forward pass had added to the old value).
    adjoint: f64,
}

/// The undo log of one vector state: one entry per element write, popped by the write's
/// backward rule. `pos` counts the writes applied to the vector; it equals the log's length
/// except while a loop iteration is replayed ([`Undo::rewind`], [`Undo::redo`]).
///
/// ```
/// use nalgebra::DVector;
/// use vi_runtime::private::Undo;
/// // v = [1, 2]; v[0] = 5 (the forward pass had added 0.5 to the adjoint of the old v[0]).
/// let (mut v, mut g) = (DVector::from_vec(vec![1.0, 2.0]), DVector::from_vec(vec![0.5, 0.0]));
/// let mut u = Undo::new();
/// u.write(&mut v, 0, &5.0, &mut g)?;
/// assert_eq!((v[0], g[0]), (5.0, 0.0));
/// // The sweep: the new v[0] got adjoint 3; it goes to the value written.
/// g[0] += 3.0;
/// let mut gx = 0.0;
/// u.back(&mut v, &mut g, Some(&mut gx));
/// assert_eq!((v[0], g[0], gx), (1.0, 0.5, 3.0));
/// # Ok::<(), vi_runtime::private::ShapeError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Undo {
    log: Vec<Entry>,
    pos: usize,
}

thread_local! {
    /// Logs' storage kept for the next gradient call on this thread (as `ad::pool` keeps
    /// values'): a log grows to the number of writes once, not on every call.
    static LOGS: std::cell::RefCell<Vec<Vec<Entry>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The most logs' storages one thread keeps.
const MAX_LOGS: usize = 16;

impl Undo {
    /// An empty log, in storage kept from an earlier call when there is one.
    #[inline]
    pub fn new() -> Self {
        let log = LOGS
            .try_with(|l| l.try_borrow_mut().ok().and_then(|mut l| l.pop()))
            .ok()
            .flatten()
            .unwrap_or_default();
        Undo { log, pos: 0 }
    }

    /// `v[i] = x` in the forward pass: logs the old value and the old adjoint `g[i]`, which
    /// it zeroes (the new element has received no adjoint yet).
    #[inline]
    pub fn write<T: ElemAt<I>, I>(
        &mut self,
        v: &mut T,
        i: I,
        x: &f64,
        g: &mut T,
    ) -> Result<(), ShapeError> {
        let at = v.elem_at(i)?;
        debug_assert_eq!(self.pos, self.log.len(), "a write while replaying");
        let value = std::mem::replace(&mut v.flat_mut()[at], *x);
        let adjoint = g.flat_mut().get_mut(at).map_or(0.0, std::mem::take);
        self.log.push(Entry { at, value, adjoint });
        self.pos += 1;
        Ok(())
    }

    /// `v[i] = x` again while an iteration is recomputed: the log already holds the entry.
    #[inline]
    pub fn redo<T: ElemAt<I>, I>(&mut self, v: &mut T, i: I, x: &f64) -> Result<(), ShapeError> {
        let at = v.elem_at(i)?;
        v.flat_mut()[at] = *x;
        self.pos += 1;
        Ok(())
    }

    /// The backward rule of the last write: the adjoint of the element written goes to the
    /// value written (`gx`), and the element's old value and old adjoint come back.
    #[inline]
    pub fn back<T: Flat + ?Sized>(&mut self, v: &mut T, g: &mut T, gx: Option<&mut f64>) {
        let Some(e) = self.log.pop() else {
            return;
        };
        self.pos = self.log.len();
        if let Some(gi) = g.flat_mut().get_mut(e.at) {
            if let Some(gx) = gx {
                *gx += *gi;
            }
            *gi = e.adjoint;
        }
        if let Some(vi) = v.flat_mut().get_mut(e.at) {
            *vi = e.value;
        }
    }

    /// The number of writes applied so far: where the next iteration's entries begin.
    #[inline]
    pub fn mark(&self) -> usize {
        self.pos
    }

    /// Restores `v` to what it was at `mark`, keeping the entries (they are replayed by
    /// [`Undo::redo`] and popped by [`Undo::back`]).
    #[inline]
    pub fn rewind<T: Flat + ?Sized>(&mut self, v: &mut T, mark: usize) {
        let end = self.pos.min(self.log.len());
        let start = mark.min(end);
        let flat = v.flat_mut();
        for e in self.log[start..end].iter().rev() {
            if let Some(vi) = flat.get_mut(e.at) {
                *vi = e.value;
            }
        }
        self.pos = start;
    }
}

impl Drop for Undo {
    /// Keeps the log's storage for the next call on this thread.
    fn drop(&mut self) {
        let mut log = std::mem::take(&mut self.log);
        if log.capacity() == 0 {
            return;
        }
        log.clear();
        let _ = LOGS.try_with(|l| {
            if let Ok(mut l) = l.try_borrow_mut() {
                if l.len() < MAX_LOGS {
                    l.push(log);
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_elements_are_column_major() {
        let m = DMatrix::<f64>::zeros(2, 3);
        assert_eq!(m.elem_at((1, 2)).unwrap(), 5);
        assert!(m.elem_at((2, 0)).is_err());
        assert!(m.elem_at((0, 3)).is_err());
    }

    #[test]
    fn writes_rewind_redo_and_back_restore_values_and_adjoints() {
        let mut v = vec![1.0, 2.0, 3.0];
        let mut g = vec![0.1, 0.2, 0.3];
        let mut u = Undo::new();
        // Iteration 0 writes v[0] twice, iteration 1 writes v[2].
        let m0 = u.mark();
        u.write(&mut v, 0, &10.0, &mut g).unwrap();
        u.write(&mut v, 0, &20.0, &mut g).unwrap();
        let m1 = u.mark();
        u.write(&mut v, 2, &30.0, &mut g).unwrap();
        assert_eq!(v, [20.0, 2.0, 30.0]);
        assert_eq!(g, [0.0, 0.2, 0.0]);
        // Sweep iteration 1: rewind to its entry state, redo, back.
        u.rewind(&mut v, m1);
        assert_eq!(v, [20.0, 2.0, 3.0]);
        u.redo(&mut v, 2, &30.0).unwrap();
        g[2] = 4.0;
        let mut gx = 0.0;
        u.back(&mut v, &mut g, Some(&mut gx));
        assert_eq!(
            (v.clone(), g.clone(), gx),
            (vec![20.0, 2.0, 3.0], vec![0.0, 0.2, 0.3], 4.0)
        );
        // Sweep iteration 0.
        u.rewind(&mut v, m0);
        assert_eq!(v, [1.0, 2.0, 3.0]);
        u.redo(&mut v, 0, &10.0).unwrap();
        u.redo(&mut v, 0, &20.0).unwrap();
        g[0] = 5.0;
        let (mut g1, mut g0) = (0.0, 0.0);
        u.back(&mut v, &mut g, Some(&mut g1));
        assert_eq!((v[0], g[0], g1), (10.0, 0.0, 5.0));
        u.back(&mut v, &mut g, Some(&mut g0));
        assert_eq!((v[0], g[0], g0), (1.0, 0.1, 0.0));
        assert_eq!(u.mark(), 0);
        // Out of bounds is an error, and nothing is logged.
        assert!(u.write(&mut v, 3, &1.0, &mut g).is_err());
        assert!(u.redo(&mut v, 3, &1.0).is_err());
        assert_eq!(u.mark(), 0);
    }
}
