//! Matrix rules (Stan's names): `cholesky`, `dot_self`, `add_diag`, `log_determinant`,
//! `diag_pre_multiply`, `diag_post_multiply`, `quad_form`, `columns_dot_product`,
//! `rows_dot_product`, `mdivide_left_tri_low`, and the unit-scale exponentiated-quadratic
//! kernel under `gp_exp_quad_cov`. `quad_form` and `mdivide_left_tri_low` take a vector
//! or a matrix on the right ([`RightOperand`]), `add_diag` a number or a vector
//! ([`DiagOperand`]), `gp_exp_quad_cov` points of one or several coordinates
//! ([`GpPoints`]).
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

/// What [`add_diag`] adds to a square matrix's diagonal: a number `d` (`A + d I`) or a
/// vector `d` as long as its side (`A + diag(d)`), as Stan's two forms.
pub trait DiagOperand {
    /// `A + d I` or `A + diag(d)`.
    ///
    /// # Errors
    /// A matrix that is not square, or a vector not as long as its side.
    fn add_to_diag(&self, a: &DMatrix<f64>) -> Result<DMatrix<f64>, ShapeError>;
    /// Adds the adjoint of `d` given the adjoint `g` of the result.
    fn diag_back(&mut self, g: &DMatrix<f64>);
}

impl DiagOperand for f64 {
    fn add_to_diag(&self, a: &DMatrix<f64>) -> Result<DMatrix<f64>, ShapeError> {
        if !a.is_square() {
            return Err(not_square("add_diag", a));
        }
        let mut out = a.clone();
        for i in 0..a.nrows() {
            out[(i, i)] += self;
        }
        Ok(out)
    }
    fn diag_back(&mut self, g: &DMatrix<f64>) {
        *self += g.diagonal().sum();
    }
}

impl DiagOperand for DVector<f64> {
    fn add_to_diag(&self, a: &DMatrix<f64>) -> Result<DMatrix<f64>, ShapeError> {
        if !a.is_square() || self.len() != a.nrows() {
            return Err(ShapeError {
                op: "add_diag",
                left: (a.nrows(), a.ncols()),
                right: (self.len(), 1),
            });
        }
        let mut out = a.clone();
        for i in 0..a.nrows() {
            out[(i, i)] += self[i];
        }
        Ok(out)
    }
    fn diag_back(&mut self, g: &DMatrix<f64>) {
        if g.nrows() == self.len() && g.is_square() {
            *self += g.diagonal();
        }
    }
}

/// `A + d I` for a square matrix and a scalar `d`, or `A + diag(d)` for a vector `d` of its
/// side (Stan's `add_diag`).
///
/// ```
/// use nalgebra::{DMatrix, DVector};
/// use vi_runtime::ad;
/// let a = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 3.0, 4.0]);
/// assert_eq!(ad::add_diag(&a, &1.0)?, DMatrix::from_row_slice(2, 2, &[2.0, 2.0, 3.0, 5.0]));
/// let d = DVector::from_vec(vec![10.0, 20.0]);
/// assert_eq!(ad::add_diag(&a, &d)?, DMatrix::from_row_slice(2, 2, &[11.0, 2.0, 3.0, 24.0]));
/// # Ok::<(), vi_runtime::ad::ShapeError>(())
/// ```
pub fn add_diag<D: DiagOperand + ?Sized>(
    a: &DMatrix<f64>,
    d: &D,
) -> Result<DMatrix<f64>, ShapeError> {
    d.add_to_diag(a)
}

/// Backward rule of [`add_diag`]: `ga += g`, `gd += diag(g)` (summed for a scalar `d`).
pub fn add_diag_back<D: DiagOperand + ?Sized>(
    _a: &DMatrix<f64>,
    _d: &D,
    _out: &DMatrix<f64>,
    g: &DMatrix<f64>,
    ga: Option<&mut DMatrix<f64>>,
    gd: Option<&mut D>,
) {
    if let Some(ga) = ga {
        *ga += g;
    }
    if let Some(gd) = gd {
        gd.diag_back(g);
    }
}

/// `A + diag(d)` for a vector `d` as long as the square matrix's side ([`add_diag`] with a
/// vector).
pub fn add_diag_vec(a: &DMatrix<f64>, d: &DVector<f64>) -> Result<DMatrix<f64>, ShapeError> {
    add_diag(a, d)
}

/// Backward rule of [`add_diag_vec`].
pub fn add_diag_vec_back(
    a: &DMatrix<f64>,
    d: &DVector<f64>,
    out: &DMatrix<f64>,
    g: &DMatrix<f64>,
    ga: Option<&mut DMatrix<f64>>,
    gd: Option<&mut DVector<f64>>,
) {
    add_diag_back(a, d, out, g, ga, gd);
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

/// The right-hand operand of [`quad_form`] and [`mdivide_left_tri_low`]: a vector or a
/// matrix, as Stan's two forms of each.
pub trait RightOperand: Sized {
    /// What `quad_form(A, B)` gives: a number for a vector `b` (`b^T A b`), a matrix for a
    /// matrix `B` (`B^T A B`).
    type Quad;
    /// `b^T A b` or `B^T A B`.
    ///
    /// # Errors
    /// `A` not square, or not as many rows as `B`.
    fn quad_form(&self, a: &DMatrix<f64>) -> Result<Self::Quad, ShapeError>;
    /// Adds the adjoints of `A` and of `self` given the adjoint `g` of the result.
    fn quad_form_back(
        &self,
        a: &DMatrix<f64>,
        g: &Self::Quad,
        ga: Option<&mut DMatrix<f64>>,
        gb: Option<&mut Self>,
    );
    /// `L^-1 self` for the lower triangle of `L`.
    ///
    /// # Errors
    /// `L` not square or not as many rows as `self`; a zero on its diagonal.
    fn tri_low_solve(&self, l: &DMatrix<f64>) -> Result<Self, ShapeError>;
    /// Adds the adjoints of `L` and of `self` given the solution `x` and its adjoint `g`.
    fn tri_low_back(
        l: &DMatrix<f64>,
        x: &Self,
        g: &Self,
        gl: Option<&mut DMatrix<f64>>,
        gb: Option<&mut Self>,
    );
}

fn singular(l: &DMatrix<f64>) -> ShapeError {
    ShapeError {
        op: "mdivide_left_tri_low (singular)",
        left: l.shape(),
        right: (0, 0),
    }
}

impl RightOperand for DVector<f64> {
    type Quad = f64;

    fn quad_form(&self, a: &DMatrix<f64>) -> Result<f64, ShapeError> {
        if !a.is_square() || a.nrows() != self.len() {
            return Err(mismatch("quad_form", a.shape(), (self.len(), 1)));
        }
        Ok(self.dot(&(a * self)))
    }

    fn quad_form_back(
        &self,
        a: &DMatrix<f64>,
        g: &f64,
        ga: Option<&mut DMatrix<f64>>,
        gb: Option<&mut Self>,
    ) {
        // ga += g b b^T, gb += g (A + A^T) b.
        if let Some(ga) = ga {
            ga.ger(*g, self, self, 1.0);
        }
        if let Some(gb) = gb {
            gb.gemv(*g, a, self, 1.0);
            gb.gemv_tr(*g, a, self, 1.0);
        }
    }

    fn tri_low_solve(&self, l: &DMatrix<f64>) -> Result<Self, ShapeError> {
        if !l.is_square() || l.nrows() != self.len() {
            return Err(mismatch("mdivide_left_tri_low", l.shape(), (self.len(), 1)));
        }
        l.solve_lower_triangular(self).ok_or_else(|| singular(l))
    }

    fn tri_low_back(
        l: &DMatrix<f64>,
        x: &Self,
        g: &Self,
        gl: Option<&mut DMatrix<f64>>,
        gb: Option<&mut Self>,
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
}

impl RightOperand for DMatrix<f64> {
    type Quad = DMatrix<f64>;

    fn quad_form(&self, a: &DMatrix<f64>) -> Result<DMatrix<f64>, ShapeError> {
        if !a.is_square() || a.nrows() != self.nrows() {
            return Err(mismatch("quad_form", a.shape(), self.shape()));
        }
        Ok(self.tr_mul(&(a * self)))
    }

    fn quad_form_back(
        &self,
        a: &DMatrix<f64>,
        g: &DMatrix<f64>,
        ga: Option<&mut DMatrix<f64>>,
        gb: Option<&mut Self>,
    ) {
        let k = self.ncols();
        if g.shape() != (k, k) {
            return;
        }
        // Y = B^T A B: ga += B G B^T, gb += A B G^T + A^T B G.
        if let Some(ga) = ga {
            *ga += self * g * self.transpose();
        }
        if let Some(gb) = gb {
            *gb += a * self * g.transpose() + a.tr_mul(self) * g;
        }
    }

    fn tri_low_solve(&self, l: &DMatrix<f64>) -> Result<Self, ShapeError> {
        if !l.is_square() || l.nrows() != self.nrows() {
            return Err(mismatch("mdivide_left_tri_low", l.shape(), self.shape()));
        }
        l.solve_lower_triangular(self).ok_or_else(|| singular(l))
    }

    fn tri_low_back(
        l: &DMatrix<f64>,
        x: &Self,
        g: &Self,
        gl: Option<&mut DMatrix<f64>>,
        gb: Option<&mut Self>,
    ) {
        if g.shape() != x.shape() {
            return;
        }
        // W = L^-T G; gb += W, gL -= W X^T on the lower triangle.
        let lower = l.lower_triangle();
        let Some(w) = lower.tr_solve_lower_triangular(g) else {
            return;
        };
        if let Some(gl) = gl {
            let wx = &w * x.transpose();
            let n = l.nrows();
            for c in 0..n {
                for r in c..n {
                    gl[(r, c)] -= wx[(r, c)];
                }
            }
        }
        if let Some(gb) = gb {
            *gb += w;
        }
    }
}

/// `b^T A b` for a square `A` and a vector `b`, or `B^T A B` for a matrix `B` (Stan's
/// `quad_form`).
///
/// ```
/// use nalgebra::{DMatrix, DVector};
/// use vi_runtime::ad;
/// let a = DMatrix::from_row_slice(2, 2, &[2.0, 1.0, 0.0, 3.0]);
/// assert_eq!(ad::quad_form(&a, &DVector::from_vec(vec![1.0, 2.0]))?, 16.0);
/// let b = DMatrix::from_row_slice(2, 1, &[1.0, 2.0]);
/// assert_eq!(ad::quad_form(&a, &b)?, DMatrix::from_element(1, 1, 16.0));
/// # Ok::<(), vi_runtime::ad::ShapeError>(())
/// ```
pub fn quad_form<B: RightOperand>(a: &DMatrix<f64>, b: &B) -> Result<B::Quad, ShapeError> {
    b.quad_form(a)
}

/// Backward rule of [`quad_form`]: for a vector `ga += g b b^T`, `gb += g (A + A^T) b`; for
/// a matrix `ga += B G B^T`, `gb += A B G^T + A^T B G`.
pub fn quad_form_back<B: RightOperand>(
    a: &DMatrix<f64>,
    b: &B,
    _out: &B::Quad,
    g: &B::Quad,
    ga: Option<&mut DMatrix<f64>>,
    gb: Option<&mut B>,
) {
    b.quad_form_back(a, g, ga, gb);
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

/// `L^-1 b` for the lower triangle of a square `L` and a vector `b`, or `L^-1 B` for a
/// matrix `B`, by forward substitution (Stan's `mdivide_left_tri_low`). A zero on the
/// diagonal is a [`ShapeError`] with `right = (0, 0)`.
pub fn mdivide_left_tri_low<B: RightOperand>(l: &DMatrix<f64>, b: &B) -> Result<B, ShapeError> {
    b.tri_low_solve(l)
}

/// Backward rule of [`mdivide_left_tri_low`]: with `W = L^-T G`, `gb += W` and
/// `gL -= W X^T` on the lower triangle.
pub fn mdivide_left_tri_low_back<B: RightOperand>(
    l: &DMatrix<f64>,
    _b: &B,
    x: &B,
    g: &B,
    gl: Option<&mut DMatrix<f64>>,
    gb: Option<&mut B>,
) {
    B::tri_low_back(l, x, g, gl, gb);
}

/// The points of [`gp_exp_quad_unit`], row-major: `n` points of `dim` coordinates each.
#[derive(Debug)]
pub struct Points<'a> {
    x: std::borrow::Cow<'a, [f64]>,
    n: usize,
    dim: usize,
}

impl Points<'_> {
    /// The squared Euclidean distance between points `i` and `j`.
    #[inline]
    fn sq_dist(&self, i: usize, j: usize) -> f64 {
        let (a, b) = (
            &self.x[i * self.dim..(i + 1) * self.dim],
            &self.x[j * self.dim..(j + 1) * self.dim],
        );
        a.iter().zip(b).map(|(p, q)| (p - q) * (p - q)).sum()
    }
}

/// The data points of `gp_exp_quad_cov(x, alpha, rho)`, as Stan takes them: numbers
/// (one-dimensional points: a slice, `Vec` or vector of any number type), or points of
/// several coordinates (a slice or `Vec` of `DVector`s, `RowDVector`s, `Vec`s or arrays,
/// or the rows of a `DMatrix`).
pub trait GpPoints {
    /// The points, or `None` when they do not all have the same number of coordinates.
    fn points(&self) -> Option<Points<'_>>;
}

impl<T: GpPoints + ?Sized> GpPoints for &T {
    fn points(&self) -> Option<Points<'_>> {
        (**self).points()
    }
}

macro_rules! gp_points_1d {
    ($($t:ty),*) => {$(
        impl GpPoints for $t {
            fn points(&self) -> Option<Points<'_>> {
                let x = super::ToF64s::to_f64s(self);
                Some(Points { n: x.len(), x, dim: 1 })
            }
        }
    )*};
}
gp_points_1d!(f64, [f64], Vec<f64>, DVector<f64>, RowDVector<f64>);

macro_rules! gp_points_1d_num {
    ($($t:ty),*) => {$(
        gp_points_1d!([$t], Vec<$t>, DVector<$t>);
    )*};
}
gp_points_1d_num!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize, f32);

/// Points given one by one, each as a slice of its coordinates.
fn rows_of<'a, I: ExactSizeIterator<Item = &'a [f64]>>(rows: I) -> Option<Points<'static>> {
    let n = rows.len();
    let mut x = Vec::new();
    let mut dim = None;
    for r in rows {
        if *dim.get_or_insert(r.len()) != r.len() {
            return None;
        }
        x.extend_from_slice(r);
    }
    Some(Points {
        x: std::borrow::Cow::Owned(x),
        n,
        dim: dim.unwrap_or(0),
    })
}

impl GpPoints for [DVector<f64>] {
    fn points(&self) -> Option<Points<'_>> {
        rows_of(self.iter().map(|v| v.as_slice()))
    }
}

impl GpPoints for [RowDVector<f64>] {
    fn points(&self) -> Option<Points<'_>> {
        rows_of(self.iter().map(|v| v.as_slice()))
    }
}

impl GpPoints for [Vec<f64>] {
    fn points(&self) -> Option<Points<'_>> {
        rows_of(self.iter().map(Vec::as_slice))
    }
}

impl<const D: usize> GpPoints for [[f64; D]] {
    fn points(&self) -> Option<Points<'_>> {
        Some(Points {
            x: std::borrow::Cow::Borrowed(self.as_flattened()),
            n: self.len(),
            dim: D,
        })
    }
}

impl<T> GpPoints for Vec<T>
where
    [T]: GpPoints,
    T: GpPointsElem,
{
    fn points(&self) -> Option<Points<'_>> {
        self.as_slice().points()
    }
}

/// Marks the element types whose `Vec` is points of several coordinates (so `Vec<f64>` and
/// the other number vectors keep their one-dimensional impl).
pub trait GpPointsElem {}
impl GpPointsElem for DVector<f64> {}
impl GpPointsElem for RowDVector<f64> {}
impl GpPointsElem for Vec<f64> {}
impl<const D: usize> GpPointsElem for [f64; D] {}

impl GpPoints for DMatrix<f64> {
    /// Each row is a point.
    fn points(&self) -> Option<Points<'_>> {
        let (n, dim) = self.shape();
        let mut x = Vec::with_capacity(n * dim);
        for i in 0..n {
            x.extend(self.row(i).iter());
        }
        Some(Points {
            x: std::borrow::Cow::Owned(x),
            n,
            dim,
        })
    }
}

/// `exp(-|x_i - x_j|^2 / (2 rho^2))` for data points `x` of one or several coordinates
/// ([`GpPoints`]): the exponentiated-quadratic kernel of unit scale,
/// `gp_exp_quad_cov(x, 1, rho)`. The model's `gp_exp_quad_cov(x, alpha, rho)` is `alpha^2`
/// times this. Points of different lengths are a [`ShapeError`].
///
/// ```
/// use nalgebra::DVector;
/// use vi_runtime::ad;
/// let x = vec![DVector::from_vec(vec![0.0, 0.0]), DVector::from_vec(vec![3.0, 4.0])];
/// let k = ad::gp_exp_quad_unit(&5.0, &x)?;
/// assert_eq!(k[(0, 1)], (-0.5f64).exp()); // |x_0 - x_1|^2 = 25 = rho^2
/// # Ok::<(), vi_runtime::ad::ShapeError>(())
/// ```
pub fn gp_exp_quad_unit<T: GpPoints + ?Sized>(
    rho: &f64,
    x: &T,
) -> Result<DMatrix<f64>, ShapeError> {
    let Some(p) = x.points() else {
        return Err(ShapeError {
            op: "gp_exp_quad_cov (points of different lengths)",
            left: (0, 0),
            right: (0, 0),
        });
    };
    let c = -0.5 / (rho * rho);
    Ok(DMatrix::from_fn(p.n, p.n, |i, j| {
        (c * p.sq_dist(i, j)).exp()
    }))
}

/// Backward rule of [`gp_exp_quad_unit`]: `d k_ij / d rho = k_ij |x_i - x_j|^2 / rho^3`.
pub fn gp_exp_quad_unit_back<T: GpPoints + ?Sized>(
    rho: &f64,
    x: &T,
    k: &DMatrix<f64>,
    g: &DMatrix<f64>,
    grho: &mut f64,
) {
    let Some(p) = x.points() else {
        return;
    };
    let n = p.n;
    if k.shape() != (n, n) || g.shape() != (n, n) {
        return;
    }
    let r3 = rho * rho * rho;
    let mut s = 0.0;
    for j in 0..n {
        for i in 0..n {
            s += g[(i, j)] * k[(i, j)] * p.sq_dist(i, j);
        }
    }
    *grho += s / r3;
}
