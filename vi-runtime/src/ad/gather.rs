//! Gathers and segments: the rules of a loop over observations that the macro runs as whole
//! vectors (its `vectorise` stage). A vector indexed by a data index vector, `theta[g[i]]`
//! for every lane `i`, is one [`gather`] whose backward rule adds each lane's adjoint into
//! the element it read (a scatter-add); a vector indexed by the loop variable, shifted by a
//! constant, `h[t - k]` for `t` in `lo..hi`, is one contiguous [`segment`] (also `h[a..b]`
//! and `segment(h, start, len)` written by the user).
//!
//! Indices are checked: out of bounds is a [`ShapeError`] (the generated code checks them
//! first and names the lane in its message, see `vi::__private::gather_index`).

use super::kind::VectorKind;
use super::{pool, Operand, ShapeError};
use nalgebra::DVector;

/// Element `idx[k] - sub` of `v` for every `k`: the gather `v[g[i] - sub]` over the lanes.
///
/// ```
/// use nalgebra::DVector;
/// use vi_runtime::ad;
/// let v = DVector::from_vec(vec![1.0, 2.0, 3.0]);
/// assert_eq!(ad::gather(&v, &[2, 0, 2], 0)?.as_slice(), &[3.0, 1.0, 3.0]);
/// // 1-based codes, `v[g[i] - 1]`.
/// assert_eq!(ad::gather(&v, &[1, 3], 1)?.as_slice(), &[1.0, 3.0]);
/// assert!(ad::gather(&v, &[3], 0).is_err());
/// assert!(ad::gather(&v, &[0], 1).is_err());
/// # Ok::<(), vi_runtime::ad::ShapeError>(())
/// ```
#[inline]
pub fn gather<V>(v: &V, idx: &[usize], sub: usize) -> Result<DVector<f64>, ShapeError>
where
    V: Operand + ?Sized,
    V::Kind: VectorKind,
{
    let x = v.flat();
    let mut out = pool::scratch(idx.len());
    for (o, &i) in out.iter_mut().zip(idx) {
        match i.checked_sub(sub).and_then(|j| x.get(j)) {
            Some(e) => *o = *e,
            None => {
                pool::give(out);
                return Err(ShapeError {
                    op: "index",
                    left: v.dims(),
                    right: (i.wrapping_sub(sub), 0),
                });
            }
        }
    }
    Ok(DVector::from_vec(out))
}

/// Backward rule of [`gather`]: `gv[idx[k] - sub] += g[k]` for every `k` (a scatter-add).
#[inline]
pub fn gather_back<V>(
    _v: &V,
    idx: &[usize],
    sub: usize,
    _out: &DVector<f64>,
    g: &DVector<f64>,
    gv: &mut V,
) where
    V: Operand + ?Sized,
    V::Kind: VectorKind,
{
    let gv = gv.flat_mut();
    for (&i, &gk) in idx.iter().zip(g.as_slice()) {
        if let Some(e) = i.checked_sub(sub).and_then(|j| gv.get_mut(j)) {
            *e += gk;
        }
    }
}

/// Elements `start..start + len` of `v`, as a column: `v[start..start + len]`, or `h[t - k]`
/// for every `t` of a loop's range.
///
/// ```
/// use nalgebra::DVector;
/// use vi_runtime::ad;
/// let v = DVector::from_vec(vec![1.0, 2.0, 3.0]);
/// assert_eq!(ad::segment(&v, 1, 2)?.as_slice(), &[2.0, 3.0]);
/// assert!(ad::segment(&v, 2, 2).is_err());
/// # Ok::<(), vi_runtime::ad::ShapeError>(())
/// ```
#[inline]
pub fn segment<V>(v: &V, start: usize, len: usize) -> Result<DVector<f64>, ShapeError>
where
    V: Operand + ?Sized,
    V::Kind: VectorKind,
{
    let x = v.flat();
    match start.checked_add(len).and_then(|end| x.get(start..end)) {
        Some(s) => Ok(DVector::from_vec(pool::copied(s))),
        None => Err(ShapeError {
            op: "index",
            left: v.dims(),
            right: (x.len().max(start), 0),
        }),
    }
}

/// Backward rule of [`segment`]: `gv[start..start + len] += g`.
#[inline]
pub fn segment_back<V>(
    _v: &V,
    start: usize,
    len: usize,
    _out: &DVector<f64>,
    g: &DVector<f64>,
    gv: &mut V,
) where
    V: Operand + ?Sized,
    V::Kind: VectorKind,
{
    let gv = gv.flat_mut();
    if let Some(s) = start
        .checked_add(len)
        .and_then(|end| gv.get_mut(start..end))
    {
        for (e, gk) in s.iter_mut().zip(g.as_slice()) {
            *e += gk;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::gradient_mismatch;

    /// `sum(w .* gather(v))` and `sum(w .* segment(v))`: gradients against finite
    /// differences, repeated indices included (their adjoints add).
    #[test]
    fn backward_rules_match_finite_differences() {
        let idx = [3usize, 1, 3, 4, 1, 1];
        let w: Vec<f64> = (0..idx.len()).map(|k| 0.5 + k as f64).collect();
        let v0: Vec<f64> = (0..5).map(|k| (k as f64 * 0.7).sin()).collect();
        let f = |t: &[f64]| {
            let v = DVector::from_column_slice(t);
            let out = gather(&v, &idx, 1).expect("in range");
            out.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>()
        };
        let v = DVector::from_column_slice(&v0);
        let out = gather(&v, &idx, 1).expect("in range");
        let mut gv = DVector::zeros(5);
        gather_back(&v, &idx, 1, &out, &DVector::from_column_slice(&w), &mut gv);
        assert_eq!(gradient_mismatch(f, gv.as_slice(), &v0, 1e-8), None);
        // Element 4 is never read (no code is 5); element 0 three times (code 1).
        assert_eq!(gv[4], 0.0);
        assert_eq!(gv[0], w[1] + w[4] + w[5]);

        let f = |t: &[f64]| {
            let v = DVector::from_column_slice(t);
            let out = segment(&v, 1, 3).expect("in range");
            out.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>()
        };
        let out = segment(&v, 1, 3).expect("in range");
        let mut gv = DVector::zeros(5);
        segment_back(
            &v,
            1,
            3,
            &out,
            &DVector::from_column_slice(&w[..3]),
            &mut gv,
        );
        assert_eq!(gradient_mismatch(f, gv.as_slice(), &v0, 1e-8), None);
    }

    #[test]
    fn indices_out_of_range_are_errors() {
        let v = DVector::from_vec(vec![1.0, 2.0]);
        let e = gather(&v, &[0, 2], 0).unwrap_err();
        assert_eq!((e.left, e.right), ((2, 1), (2, 0)));
        assert!(segment(&v, 1, 2).is_err());
        assert!(segment(&v, usize::MAX, 2).is_err());
        assert_eq!(segment(&v, 2, 0).map(|s| s.len()), Ok(0));
    }
}
