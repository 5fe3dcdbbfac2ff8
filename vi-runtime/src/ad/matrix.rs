//! Matrix rules (Stan's names): `cholesky`, `dot_self`, `add_diag`, `log_determinant`,
//! `diag_pre_multiply`, `diag_post_multiply`, `quad_form`, `columns_dot_product`,
//! `rows_dot_product`, `mdivide_left_tri_low`, and the unit-scale exponentiated-quadratic
//! kernel under `gp_exp_quad_cov`.
//!
//! The same contract as the other rules: forward `op(&x..) -> Result<_, ShapeError>`,
//! backward `op_back(&x.., &out, &g, gx..)` adding into the adjoints. A symmetric input's
//! adjoint is returned symmetric (each entry's share of a change to it and its mirror).

use super::ShapeError;
use nalgebra::{DMatrix, DVector, RowDVector};

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

fn mismatch(op: &'static str, a: (usize, usize), b: (usize, usize)) -> ShapeError {
    ShapeError {
        op,
        left: a,
        right: b,
    }
}

/// `diag(v) M`: row `i` of `M` times `v_i` (Stan's `diag_pre_multiply`).
pub fn diag_pre_multiply(v: &DVector<f64>, m: &DMatrix<f64>) -> Result<DMatrix<f64>, ShapeError> {
    if v.len() != m.nrows() {
        return Err(mismatch("diag_pre_multiply", (v.len(), 1), m.shape()));
    }
    let mut out = m.clone();
    for mut col in out.column_iter_mut() {
        col.component_mul_assign(v);
    }
    Ok(out)
}

/// Backward rule of [`diag_pre_multiply`].
pub fn diag_pre_multiply_back(
    v: &DVector<f64>,
    m: &DMatrix<f64>,
    _out: &DMatrix<f64>,
    g: &DMatrix<f64>,
    gv: Option<&mut DVector<f64>>,
    gm: Option<&mut DMatrix<f64>>,
) {
    if let Some(gv) = gv {
        for i in 0..m.nrows() {
            gv[i] += (0..m.ncols()).map(|j| g[(i, j)] * m[(i, j)]).sum::<f64>();
        }
    }
    if let Some(gm) = gm {
        for j in 0..m.ncols() {
            for i in 0..m.nrows() {
                gm[(i, j)] += v[i] * g[(i, j)];
            }
        }
    }
}

/// `M diag(v)`: column `j` of `M` times `v_j` (Stan's `diag_post_multiply`).
pub fn diag_post_multiply(m: &DMatrix<f64>, v: &DVector<f64>) -> Result<DMatrix<f64>, ShapeError> {
    if v.len() != m.ncols() {
        return Err(mismatch("diag_post_multiply", m.shape(), (v.len(), 1)));
    }
    let mut out = m.clone();
    for (j, mut col) in out.column_iter_mut().enumerate() {
        col *= v[j];
    }
    Ok(out)
}

/// Backward rule of [`diag_post_multiply`].
pub fn diag_post_multiply_back(
    m: &DMatrix<f64>,
    v: &DVector<f64>,
    _out: &DMatrix<f64>,
    g: &DMatrix<f64>,
    gm: Option<&mut DMatrix<f64>>,
    gv: Option<&mut DVector<f64>>,
) {
    if let Some(gm) = gm {
        for j in 0..m.ncols() {
            for i in 0..m.nrows() {
                gm[(i, j)] += g[(i, j)] * v[j];
            }
        }
    }
    if let Some(gv) = gv {
        for j in 0..m.ncols() {
            gv[j] += g.column(j).dot(&m.column(j));
        }
    }
}

/// `b^T A b` for a square `A` and a vector `b` (Stan's `quad_form` of a vector).
pub fn quad_form(a: &DMatrix<f64>, b: &DVector<f64>) -> Result<f64, ShapeError> {
    if !a.is_square() || a.nrows() != b.len() {
        return Err(mismatch("quad_form", a.shape(), (b.len(), 1)));
    }
    Ok(b.dot(&(a * b)))
}

/// Backward rule of [`quad_form`]: `ga += g b b^T`, `gb += g (A + A^T) b`.
pub fn quad_form_back(
    a: &DMatrix<f64>,
    b: &DVector<f64>,
    _out: &f64,
    g: &f64,
    ga: Option<&mut DMatrix<f64>>,
    gb: Option<&mut DVector<f64>>,
) {
    if let Some(ga) = ga {
        ga.ger(*g, b, b, 1.0);
    }
    if let Some(gb) = gb {
        gb.gemv(*g, a, b, 1.0);
        gb.gemv_tr(*g, a, b, 1.0);
    }
}

fn same_shape(op: &'static str, a: &DMatrix<f64>, b: &DMatrix<f64>) -> Result<(), ShapeError> {
    if a.shape() == b.shape() {
        Ok(())
    } else {
        Err(mismatch(op, a.shape(), b.shape()))
    }
}

/// The dot product of each pair of columns, as a row (Stan's `columns_dot_product`).
pub fn columns_dot_product(
    a: &DMatrix<f64>,
    b: &DMatrix<f64>,
) -> Result<RowDVector<f64>, ShapeError> {
    same_shape("columns_dot_product", a, b)?;
    Ok(RowDVector::from_fn(a.ncols(), |_, j| {
        a.column(j).dot(&b.column(j))
    }))
}

/// Backward rule of [`columns_dot_product`].
pub fn columns_dot_product_back(
    a: &DMatrix<f64>,
    b: &DMatrix<f64>,
    _out: &RowDVector<f64>,
    g: &RowDVector<f64>,
    ga: Option<&mut DMatrix<f64>>,
    gb: Option<&mut DMatrix<f64>>,
) {
    if let Some(ga) = ga {
        for j in 0..a.ncols() {
            for i in 0..a.nrows() {
                ga[(i, j)] += g[j] * b[(i, j)];
            }
        }
    }
    if let Some(gb) = gb {
        for j in 0..a.ncols() {
            for i in 0..a.nrows() {
                gb[(i, j)] += g[j] * a[(i, j)];
            }
        }
    }
}

/// The dot product of each pair of rows, as a column (Stan's `rows_dot_product`).
pub fn rows_dot_product(a: &DMatrix<f64>, b: &DMatrix<f64>) -> Result<DVector<f64>, ShapeError> {
    same_shape("rows_dot_product", a, b)?;
    Ok(DVector::from_fn(a.nrows(), |i, _| {
        (0..a.ncols()).map(|j| a[(i, j)] * b[(i, j)]).sum()
    }))
}

/// Backward rule of [`rows_dot_product`].
pub fn rows_dot_product_back(
    a: &DMatrix<f64>,
    b: &DMatrix<f64>,
    _out: &DVector<f64>,
    g: &DVector<f64>,
    ga: Option<&mut DMatrix<f64>>,
    gb: Option<&mut DMatrix<f64>>,
) {
    if let Some(ga) = ga {
        for j in 0..a.ncols() {
            for i in 0..a.nrows() {
                ga[(i, j)] += g[i] * b[(i, j)];
            }
        }
    }
    if let Some(gb) = gb {
        for j in 0..a.ncols() {
            for i in 0..a.nrows() {
                gb[(i, j)] += g[i] * a[(i, j)];
            }
        }
    }
}

/// `L^-1 b` for the lower triangle of a square `L` and a vector `b`, by forward
/// substitution (Stan's `mdivide_left_tri_low`). A zero on the diagonal is a
/// [`ShapeError`] with `right = (0, 0)`.
pub fn mdivide_left_tri_low(
    l: &DMatrix<f64>,
    b: &DVector<f64>,
) -> Result<DVector<f64>, ShapeError> {
    if !l.is_square() || l.nrows() != b.len() {
        return Err(mismatch("mdivide_left_tri_low", l.shape(), (b.len(), 1)));
    }
    l.solve_lower_triangular(b).ok_or(ShapeError {
        op: "mdivide_left_tri_low (singular)",
        left: l.shape(),
        right: (0, 0),
    })
}

/// Backward rule of [`mdivide_left_tri_low`]: with `w = L^-T g`, `gb += w` and
/// `gL -= w x^T` on the lower triangle.
pub fn mdivide_left_tri_low_back(
    l: &DMatrix<f64>,
    _b: &DVector<f64>,
    x: &DVector<f64>,
    g: &DVector<f64>,
    gl: Option<&mut DMatrix<f64>>,
    gb: Option<&mut DVector<f64>>,
) {
    let lower = l.lower_triangle();
    let Some(w) = lower.tr_solve_lower_triangular(g) else {
        return;
    };
    if let Some(gl) = gl {
        let n = l.nrows();
        for c in 0..n {
            for r in c..n {
                gl[(r, c)] -= w[r] * x[c];
            }
        }
    }
    if let Some(gb) = gb {
        *gb += w;
    }
}

/// `exp(-(x_i - x_j)^2 / (2 rho^2))` for one-dimensional data points `x`: the
/// exponentiated-quadratic kernel of unit scale, `gp_exp_quad_cov(x, 1, rho)`. The model's
/// `gp_exp_quad_cov(x, alpha, rho)` is `alpha^2` times this.
pub fn gp_exp_quad_unit<T: super::ToF64s + ?Sized>(
    rho: &f64,
    x: &T,
) -> Result<DMatrix<f64>, ShapeError> {
    let x = x.to_f64s();
    let n = x.len();
    let c = -0.5 / (rho * rho);
    Ok(DMatrix::from_fn(n, n, |i, j| {
        let d = x[i] - x[j];
        (c * d * d).exp()
    }))
}

/// Backward rule of [`gp_exp_quad_unit`]: `d k_ij / d rho = k_ij (x_i - x_j)^2 / rho^3`.
pub fn gp_exp_quad_unit_back<T: super::ToF64s + ?Sized>(
    rho: &f64,
    x: &T,
    k: &DMatrix<f64>,
    g: &DMatrix<f64>,
    grho: &mut f64,
) {
    let x = x.to_f64s();
    let n = x.len();
    if k.shape() != (n, n) || g.shape() != (n, n) {
        return;
    }
    let r3 = rho * rho * rho;
    let mut s = 0.0;
    for j in 0..n {
        for i in 0..n {
            let d = x[i] - x[j];
            s += g[(i, j)] * k[(i, j)] * d * d;
        }
    }
    *grho += s / r3;
}
