//! Fused distribution statements of vectorised loops (`vi-macros/src/codegen/fused.rs`): a
//! statement whose only output is its term of the log density knows the adjoint of that
//! term (1) while it runs forward, so one loop over the lanes reads each lane's operands
//! (gathers, shifted slices, data, scalars), computes the distribution's one-element density
//! and partials ([`Kernel::elem`], the same formula the vectorised kernels loop over) and
//! adds each operand's adjoint into its buffer, instead of a pass per rule, a pass for the
//! kernel and a pass per backward rule. These are the helpers that loop calls.

use crate::ad::Flat;
use crate::dist::scalar::Kernel;

/// Whether a fused statement over `n` lanes runs as one loop in this thread: below
/// [`threads::MIN_ROWS`](crate::threads::MIN_ROWS) lanes (above, the vectorised kernels
/// split the rows over several threads, as before).
#[inline]
pub fn fused_serial(n: usize) -> bool {
    n < crate::threads::MIN_ROWS
}

/// A value that is one number in every lane (a scalar latent, a `let` of scalars, a data
/// scalar): its first element.
#[inline(always)]
pub fn fused_scalar<T: Flat + ?Sized>(v: &T) -> f64 {
    v.flat()[0]
}

/// The elements of a value or data that has one number per lane, the first `n`.
#[inline(always)]
pub fn fused_lanes<T: Flat + ?Sized>(v: &T, n: usize) -> &[f64] {
    &v.flat()[..n]
}

/// The elements `start..start + n` of a vector (a segment `h[t - k]`, checked by
/// [`lane_segment`](super::lane_segment)).
#[inline(always)]
pub fn fused_segment<T: Flat + ?Sized>(v: &T, start: usize, n: usize) -> &[f64] {
    &v.flat()[start..start + n]
}

/// The adjoint of a value with one number per lane, the first `n` elements.
#[inline(always)]
pub fn fused_lanes_mut<T: Flat + ?Sized>(g: &mut T, n: usize) -> &mut [f64] {
    &mut g.flat_mut()[..n]
}

/// The adjoint of a segment's elements `start..start + n`.
#[inline(always)]
pub fn fused_segment_mut<T: Flat + ?Sized>(g: &mut T, start: usize, n: usize) -> &mut [f64] {
    &mut g.flat_mut()[start..start + n]
}

/// Adds the sum `s` of a scalar's adjoints over the lanes into its adjoint.
#[inline(always)]
pub fn fused_add_scalar<T: Flat + ?Sized>(g: &mut T, s: f64) {
    g.flat_mut()[0] += s;
}

/// A gather's or segment's base and its adjoint, both cut to the shorter length (they have
/// the same, the adjoint being made like the value): with the lengths equal, the compiler
/// checks a lane's position once for both.
#[inline(always)]
pub fn fused_same_len<'a, 'b>(v: &'a [f64], g: &'b mut [f64]) -> (&'a [f64], &'b mut [f64]) {
    let n = v.len().min(g.len());
    (&v[..n], &mut g[..n])
}

/// Runs `f`, a fused statement's lane loop, as a function of its own: its operands (the
/// slices and numbers it captures by value) are then kept in registers, where inside the
/// gradient, one large function, the compiler keeps some of them on the stack.
#[inline(never)]
pub fn fused_outlined<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// One lane's density and partials: [`Kernel::elem`] (`want[k]`: whether operand `k` is
/// active).
#[inline(always)]
pub fn fused_elem<K: Kernel<N>, const N: usize>(
    k: &mut K,
    x: [f64; N],
    want: [bool; N],
) -> (f64, [f64; N]) {
    k.elem(x, want)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::DVector;

    #[test]
    fn reads_and_adjoints_address_the_lanes() {
        let v = DVector::from_vec(vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(fused_scalar(&2.5), 2.5);
        assert_eq!(fused_lanes(&v, 3), &[1.0, 2.0, 3.0]);
        assert_eq!(fused_segment(&v, 1, 2), &[2.0, 3.0]);
        let mut g = DVector::zeros(4);
        fused_segment_mut(&mut g, 2, 2)[1] += 1.5;
        fused_lanes_mut(&mut g, 4)[0] += 0.5;
        assert_eq!(g.as_slice(), &[0.5, 0.0, 0.0, 1.5]);
        let mut s = 1.0;
        fused_add_scalar(&mut s, 2.0);
        assert_eq!(s, 3.0);
        let (v, mut g) = ([1.0, 2.0, 3.0], [0.0; 2]);
        let (v, g) = fused_same_len(&v, &mut g);
        assert_eq!((v, g.len()), (&[1.0, 2.0][..], 2));
    }

    #[test]
    fn one_lane_is_the_distribution_formula() {
        // ln N(0 | 1, 2) = -ln(2) - ln(sqrt(2 pi)) - 1/8 = -1.737085713764618 (scipy);
        // d/dmu = (y - mu) / sigma^2 = -0.25, d/dsigma = ((y - mu)^2 / sigma^2 - 1) / sigma.
        let mut k = crate::dist::normal::Scalar::default();
        let (lp, [dy, dmu, ds]) = fused_elem(&mut k, [0.0, 1.0, 2.0], [false, true, true]);
        assert!((lp + 1.737_085_713_764_618).abs() < 1e-12);
        assert!((dmu + 0.25).abs() < 1e-15 && (dy - 0.25).abs() < 1e-15);
        assert!((ds + 0.375).abs() < 1e-15);
        assert!(!fused_serial(usize::MAX) && fused_serial(900));
    }
}
