//! Matrix rules (Stan's names): `cholesky`, `dot_self`, `add_diag`, `log_determinant`.
//!
//! The same contract as the other rules: forward `op(&x..) -> Result<_, ShapeError>`,
//! backward `op_back(&x.., &out, &g, gx..)` adding into the adjoints. A symmetric input's
//! adjoint is returned symmetric (each entry's share of a change to it and its mirror).

use super::ShapeError;
use nalgebra::{DMatrix, DVector};

fn not_square(op: &'static str, m: &DMatrix<f64>) -> ShapeError {
    ShapeError {
        op,
        left: (m.nrows(), m.ncols()),
        right: (m.nrows(), m.nrows()),
    }
}

/// The lower Cholesky factor `L` of a symmetric positive definite matrix (`L L^T = A`).
/// A matrix that is not square, or not positive definite, is a [`ShapeError`] (with
/// `right = (0, 0)` for the latter).
///
/// ```
/// use nalgebra::DMatrix;
/// use vi_runtime::ad;
/// let a = DMatrix::from_row_slice(2, 2, &[4.0, 2.0, 2.0, 2.0]);
/// let l = ad::cholesky(&a)?;
/// assert_eq!(l, DMatrix::from_row_slice(2, 2, &[2.0, 0.0, 1.0, 1.0]));
/// # Ok::<(), vi_runtime::ad::ShapeError>(())
/// ```
pub fn cholesky(a: &DMatrix<f64>) -> Result<DMatrix<f64>, ShapeError> {
    if !a.is_square() {
        return Err(not_square("cholesky", a));
    }
    match nalgebra::Cholesky::new(a.clone()) {
        Some(ch) => Ok(ch.l()),
        None => Err(ShapeError {
            op: "cholesky (not positive definite)",
            left: (a.nrows(), a.ncols()),
            right: (0, 0),
        }),
    }
}

/// Backward rule of [`cholesky`] (Murray 2016): with `P = Phi(L^T G)` (the lower triangle,
/// diagonal halved), `S = L^-T P L^-1`, adds the symmetric `(S + S^T) / 2` into `ga`.
pub fn cholesky_back(_a: &DMatrix<f64>, l: &DMatrix<f64>, g: &DMatrix<f64>, ga: &mut DMatrix<f64>) {
    let n = l.nrows();
    if g.shape() != (n, n) || ga.shape() != (n, n) {
        return;
    }
    let mut p = l.transpose() * g.lower_triangle();
    for c in 0..n {
        for r in 0..n {
            if r < c {
                p[(r, c)] = 0.0;
            } else if r == c {
                p[(r, c)] *= 0.5;
            }
        }
    }
    // S = L^-T P L^-1: solve L^T X = P, then S L = X, i.e. L^T S^T = X^T.
    let Some(x) = l.transpose().solve_upper_triangular(&p) else {
        return;
    };
    let Some(st) = l.transpose().solve_upper_triangular(&x.transpose()) else {
        return;
    };
    let s = st.transpose();
    *ga += (&s + s.transpose()) * 0.5;
}

/// `x . x`, the sum of squares of a vector (Stan's `dot_self`).
#[inline]
pub fn dot_self(x: &DVector<f64>) -> Result<f64, ShapeError> {
    Ok(x.norm_squared())
}

/// Backward rule of [`dot_self`]: `gx += 2 g x`.
#[inline]
pub fn dot_self_back(x: &DVector<f64>, _out: &f64, g: &f64, gx: &mut DVector<f64>) {
    gx.axpy(2.0 * g, x, 1.0);
}

/// `A + d I` for a square matrix and a scalar `d`, or `A + diag(d)` for a vector `d` of its
/// side (Stan's `add_diag`); the vector form is [`add_diag_vec`].
pub fn add_diag(a: &DMatrix<f64>, d: &f64) -> Result<DMatrix<f64>, ShapeError> {
    if !a.is_square() {
        return Err(not_square("add_diag", a));
    }
    let mut out = a.clone();
    for i in 0..a.nrows() {
        out[(i, i)] += d;
    }
    Ok(out)
}

/// Backward rule of [`add_diag`].
pub fn add_diag_back(
    _a: &DMatrix<f64>,
    _d: &f64,
    _out: &DMatrix<f64>,
    g: &DMatrix<f64>,
    ga: Option<&mut DMatrix<f64>>,
    gd: Option<&mut f64>,
) {
    if let Some(ga) = ga {
        *ga += g;
    }
    if let Some(gd) = gd {
        *gd += g.diagonal().sum();
    }
}

/// `A + diag(d)` for a vector `d` as long as the square matrix's side.
pub fn add_diag_vec(a: &DMatrix<f64>, d: &DVector<f64>) -> Result<DMatrix<f64>, ShapeError> {
    if !a.is_square() || d.len() != a.nrows() {
        return Err(ShapeError {
            op: "add_diag",
            left: (a.nrows(), a.ncols()),
            right: (d.len(), 1),
        });
    }
    let mut out = a.clone();
    for i in 0..a.nrows() {
        out[(i, i)] += d[i];
    }
    Ok(out)
}

/// Backward rule of [`add_diag_vec`].
pub fn add_diag_vec_back(
    _a: &DMatrix<f64>,
    _d: &DVector<f64>,
    _out: &DMatrix<f64>,
    g: &DMatrix<f64>,
    ga: Option<&mut DMatrix<f64>>,
    gd: Option<&mut DVector<f64>>,
) {
    if let Some(ga) = ga {
        *ga += g;
    }
    if let Some(gd) = gd {
        *gd += g.diagonal();
    }
}

/// `ln |det A|` of a square matrix (Stan's `log_determinant`), by LU; `-inf` for a
/// singular one.
pub fn log_determinant(a: &DMatrix<f64>) -> Result<f64, ShapeError> {
    if !a.is_square() {
        return Err(not_square("log_determinant", a));
    }
    Ok(a.clone().lu().determinant().abs().ln())
}

/// Backward rule of [`log_determinant`]: `ga += g A^-T` (nothing for a singular `A`).
pub fn log_determinant_back(a: &DMatrix<f64>, _out: &f64, g: &f64, ga: &mut DMatrix<f64>) {
    if let Some(inv) = a.clone().try_inverse() {
        *ga += inv.transpose() * *g;
    }
}
