//! Shapes shared by the multivariate kernels.
//!
//! A multivariate observation of dimension K is a flat slice of length `N * K`: `N`
//! independent draws, one per row of an `N x K` matrix in column-major order (element
//! `(n, k)` at `n + k * N`), which for `N = 1` is just the vector. A matrix parameter
//! (`K x K`) is column-major too.

/// `N`, the number of draws in a flat `N x K` slice of length `len`, when it divides.
#[inline]
pub(crate) fn rows(len: usize, k: usize) -> Option<usize> {
    if k == 0 || len % k != 0 {
        None
    } else {
        Some(len / k)
    }
}

/// The side `K` of a flat `K x K` matrix of `len` elements.
#[inline]
pub(crate) fn side(len: usize) -> Option<usize> {
    let k = (len as f64).sqrt().round() as usize;
    (k * k == len).then_some(k)
}

/// Row `n` of a flat `N x K` column-major slice (or the one row of a length-K slice, for
/// every `n`).
#[inline]
pub(crate) fn row(xs: &[f64], n: usize, n_rows: usize, k: usize) -> nalgebra::DVector<f64> {
    if xs.len() == k {
        nalgebra::DVector::from_column_slice(xs)
    } else {
        nalgebra::DVector::from_fn(k, |j, _| xs[n + j * n_rows])
    }
}

/// Adds `v` into row `n` of a flat adjoint buffer shaped as its argument (a length-K one
/// accumulates every row).
#[inline]
pub(crate) fn add_row(g: &mut [f64], n: usize, n_rows: usize, v: &nalgebra::DVector<f64>, s: f64) {
    let k = v.len();
    if g.len() == k {
        for j in 0..k {
            g[j] += s * v[j];
        }
    } else {
        for j in 0..k {
            g[n + j * n_rows] += s * v[j];
        }
    }
}
