//! Storage reused across gradient evaluations.
//!
//! The rules allocate their outputs and the generated code its adjoints; a model evaluated
//! thousands of times (every leapfrog step of NUTS, every ELBO step) asks for the same
//! buffers on every call. Freed straight back to `malloc`, large buffers at the top of the
//! heap are returned to the kernel (glibc trims a free top above 128 KiB) and every call
//! faults their pages in again: for a network with 200 x 50 hidden units, that is most of
//! the gradient's time. So the rules take their storage from a per-thread pool
//! ([`zeroed`], [`copied`], [`mapped`]) and generated code hands every temporary back
//! ([`Recycle`]) when its statement's sweep is done.
//!
//! The pool is per thread (chains on several threads never share a buffer nor a lock),
//! holds at most [`MAX_BUFFERS`] buffers and [`MAX_ELEMENTS`] elements in all (beyond that
//! a returned buffer is freed), and never changes a value: a buffer taken is always filled
//! (zeros, a copy, or a map) before it is returned to the caller.

use nalgebra::{DMatrix, DVector, RowDVector};
use std::cell::RefCell;

/// The most buffers one thread keeps.
pub const MAX_BUFFERS: usize = 64;
/// The most `f64`s one thread keeps, over all its buffers (64 MiB).
pub const MAX_ELEMENTS: usize = 8 << 20;

/// Kept buffers by size class: class `k` holds the buffers whose capacity is in
/// `[2^k, 2^(k+1))`. Taking one looks at the top of the request's own class, then takes the
/// first buffer of a larger class; giving one back is a push. No search, no sorting.
struct Pool {
    classes: [Vec<Vec<f64>>; CLASSES],
    buffers: usize,
    elements: usize,
}

/// One class per bit of a capacity.
const CLASSES: usize = usize::BITS as usize;

/// The class of a capacity (`floor(log2(c))`, for `c > 0`).
#[inline]
fn class(c: usize) -> usize {
    (usize::BITS - 1 - c.leading_zeros()) as usize
}

thread_local! {
    static POOL: RefCell<Pool> = const {
        RefCell::new(Pool {
            classes: [const { Vec::new() }; CLASSES],
            buffers: 0,
            elements: 0,
        })
    };
}

/// An empty buffer with room for at least `n` elements: a kept one (of `n`'s size class when
/// one fits, else of the smallest larger class), or a new one.
fn take(n: usize) -> Vec<f64> {
    let mut v = take_kept(n);
    v.clear();
    v
}

/// A buffer with room for at least `n` elements, as it was given back (its elements those of
/// the value it held), or a new empty one.
fn take_kept(n: usize) -> Vec<f64> {
    if n == 0 {
        return Vec::new();
    }
    let kept = POOL
        .try_with(|p| {
            let mut p = p.try_borrow_mut().ok()?;
            let k = class(n);
            let own = p.classes[k].last().is_some_and(|v| v.capacity() >= n);
            let v = if own {
                p.classes[k].pop()?
            } else {
                p.classes[k + 1..].iter_mut().find_map(|c| c.pop())?
            };
            p.buffers -= 1;
            p.elements -= v.capacity();
            Some(v)
        })
        .ok()
        .flatten();
    kept.unwrap_or_else(|| Vec::with_capacity(n))
}

/// Gives a buffer back to this thread's pool (or frees it when the pool is full).
pub fn give(v: Vec<f64>) {
    let c = v.capacity();
    if c == 0 {
        return;
    }
    let _ = POOL.try_with(|p| {
        if let Ok(mut p) = p.try_borrow_mut() {
            if p.buffers < MAX_BUFFERS && p.elements + c <= MAX_ELEMENTS {
                p.buffers += 1;
                p.elements += c;
                p.classes[class(c)].push(v);
            }
        }
    });
}

/// What this thread's pool holds: (buffers, elements over all of them).
pub fn kept() -> (usize, usize) {
    POOL.try_with(|p| {
        p.try_borrow()
            .map(|p| (p.buffers, p.elements))
            .unwrap_or((0, 0))
    })
    .unwrap_or((0, 0))
}

/// `n` zeros, in storage from the pool.
#[inline]
pub fn zeroed(n: usize) -> Vec<f64> {
    let mut v = take(n);
    v.resize(n, 0.0);
    v
}

/// `n` elements to be overwritten, in storage from the pool: whatever a kept buffer held
/// (zeros in a new one). For outputs whose every element is then written, in a loop over a
/// slice (which vectorises where filling through an iterator does not).
#[inline]
pub fn scratch(n: usize) -> Vec<f64> {
    let mut v = take_kept(n);
    if v.len() >= n {
        v.truncate(n);
    } else {
        v.resize(n, 0.0);
    }
    v
}

/// A copy of `x`, in storage from the pool.
#[inline]
pub fn copied(x: &[f64]) -> Vec<f64> {
    let mut v = take(x.len());
    v.extend_from_slice(x);
    v
}

/// `f` of every element of `x`, in storage from the pool (each element written once, in a
/// loop that vectorises when `f` does).
#[inline(always)]
pub fn mapped(x: &[f64], f: impl Fn(f64) -> f64) -> Vec<f64> {
    let mut v = scratch(x.len());
    for (o, &e) in v.iter_mut().zip(x) {
        *o = f(e);
    }
    v
}

/// A value whose storage can go back to the pool.
pub trait Recycle {
    /// Gives the storage back (see [`give`]).
    fn recycle(self);
}

impl Recycle for f64 {
    #[inline]
    fn recycle(self) {}
}

impl Recycle for Vec<f64> {
    #[inline]
    fn recycle(self) {
        give(self)
    }
}

impl Recycle for DVector<f64> {
    #[inline]
    fn recycle(self) {
        give(self.data.into())
    }
}

impl Recycle for RowDVector<f64> {
    #[inline]
    fn recycle(self) {
        give(self.data.into())
    }
}

impl Recycle for DMatrix<f64> {
    #[inline]
    fn recycle(self) {
        give(self.data.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Empties this thread's pool (tests may share a thread).
    fn drain() {
        POOL.with(|p| {
            let mut p = p.borrow_mut();
            p.classes.iter_mut().for_each(Vec::clear);
            p.buffers = 0;
            p.elements = 0;
        });
    }

    /// The examples that were this module's doc tests while it was public.
    #[test]
    fn kept_counts_what_is_given_and_recycled_storage_comes_back_zeroed() {
        let before = kept();
        give(Vec::with_capacity(1000));
        assert_eq!(kept().0, before.0 + 1);
        let v = zeroed(3);
        assert_eq!(v, vec![0.0; 3]);
        give(v);
        let m = nalgebra::DMatrix::<f64>::from_vec(20, 20, zeroed(400));
        m.recycle();
        // The next request of at most 400 elements reuses that storage, zeroed.
        assert_eq!(zeroed(300), vec![0.0; 300]);
    }

    #[test]
    fn a_returned_buffer_is_reused_and_refilled() {
        drain();
        let mut v = zeroed(1000);
        v.iter_mut().for_each(|x| *x = 7.0);
        let p = v.as_ptr();
        give(v);
        let w = zeroed(600);
        assert_eq!(w.as_ptr(), p, "the kept buffer is reused");
        assert_eq!(w, vec![0.0; 600], "and zeroed");
        give(w);
        let c = copied(&[1.0, 2.0]);
        assert_eq!(c, vec![1.0, 2.0]);
        let m = mapped(&[1.0, 2.0, 3.0], |x| x * x);
        assert_eq!(m, vec![1.0, 4.0, 9.0]);
        give(m);
        let mut s = scratch(200);
        assert_eq!(s.len(), 200);
        s.fill(3.0);
        give(s);
        assert_eq!(
            zeroed(300),
            vec![0.0; 300],
            "a kept buffer's old elements are not seen"
        );
    }

    #[test]
    fn the_smallest_fitting_buffer_is_taken() {
        drain();
        let big = zeroed(5000);
        let small = zeroed(1000);
        let (pb, ps) = (big.as_ptr(), small.as_ptr());
        give(big);
        give(small);
        let a = zeroed(500);
        assert_eq!(a.as_ptr(), ps);
        let b = zeroed(500);
        assert_eq!(b.as_ptr(), pb);
        give(a);
        give(b);
    }

    #[test]
    fn the_pool_is_bounded() {
        drain();
        let bufs: Vec<Vec<f64>> = (0..MAX_BUFFERS + 10).map(|_| zeroed(1)).collect();
        for b in bufs {
            give(b);
        }
        assert_eq!(kept().0, MAX_BUFFERS);
        drain();
        give(zeroed(MAX_ELEMENTS / 2));
        give(zeroed(MAX_ELEMENTS / 2 + 1));
        let (buffers, elements) = kept();
        assert_eq!(buffers, 1, "the second buffer would pass the element bound");
        assert!(elements <= MAX_ELEMENTS);
        drain();
    }
}
