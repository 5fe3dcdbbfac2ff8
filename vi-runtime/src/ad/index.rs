//! Indexing, checked: an index out of bounds is a [`ShapeError`], never a panic.

use super::kind::VectorKind;
use super::{Operand, ShapeError};
use nalgebra::{DMatrix, DVector, RowDVector};

#[inline]
fn oob<V: Operand + ?Sized>(op: &'static str, v: &V, i: usize, j: usize) -> ShapeError {
    ShapeError {
        op,
        left: v.dims(),
        right: (i, j),
    }
}

/// Element `i` of a vector (`v[i]`): a column, a row or a data column.
///
/// ```
/// use nalgebra::DVector;
/// use vi_runtime::ad;
/// let v = DVector::from_vec(vec![1.0, 2.0]);
/// assert_eq!(ad::index(&v, 1)?, 2.0);
/// assert!(ad::index(&v, 2).is_err());
/// # Ok::<(), vi_runtime::ad::ShapeError>(())
/// ```
#[inline]
pub fn index<V>(v: &V, i: usize) -> Result<f64, ShapeError>
where
    V: Operand + ?Sized,
    V::Kind: VectorKind,
{
    v.flat()
        .get(i)
        .copied()
        .ok_or_else(|| oob("index", v, i, 0))
}

/// Backward rule of [`index`]: `gv[i] += g`.
#[inline]
pub fn index_back<V>(_v: &V, i: usize, _out: &f64, g: &f64, gv: &mut V)
where
    V: Operand + ?Sized,
    V::Kind: VectorKind,
{
    if let Some(e) = gv.flat_mut().get_mut(i) {
        *e += *g;
    }
}

/// Element `(i, j)` of a matrix (`m[(i, j)]`).
#[inline]
pub fn index2(m: &DMatrix<f64>, i: usize, j: usize) -> Result<f64, ShapeError> {
    m.get((i, j)).copied().ok_or_else(|| oob("index", m, i, j))
}

/// Backward rule of [`index2`]: `gm[(i, j)] += g`.
#[inline]
pub fn index2_back(
    _m: &DMatrix<f64>,
    i: usize,
    j: usize,
    _out: &f64,
    g: &f64,
    gm: &mut DMatrix<f64>,
) {
    if let Some(e) = gm.get_mut((i, j)) {
        *e += *g;
    }
}

/// Row `i` of a matrix (`m.row(i)`), as an owned row vector.
///
/// ```
/// use nalgebra::{DMatrix, RowDVector};
/// use vi_runtime::ad;
/// let m = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 3.0, 4.0]);
/// assert_eq!(ad::row(&m, 1)?, RowDVector::from_vec(vec![3.0, 4.0]));
/// assert!(ad::row(&m, 2).is_err());
/// # Ok::<(), vi_runtime::ad::ShapeError>(())
/// ```
#[inline]
pub fn row(m: &DMatrix<f64>, i: usize) -> Result<RowDVector<f64>, ShapeError> {
    if i >= m.nrows() {
        return Err(oob("row", m, i, 0));
    }
    Ok(m.row(i).into_owned())
}

/// Backward rule of [`row`]: row `i` of `gm` gets `g`.
#[inline]
pub fn row_back(
    _m: &DMatrix<f64>,
    i: usize,
    _out: &RowDVector<f64>,
    g: &RowDVector<f64>,
    gm: &mut DMatrix<f64>,
) {
    if i < gm.nrows() && g.len() == gm.ncols() {
        let mut r = gm.row_mut(i);
        r += g;
    }
}

/// Column `j` of a matrix (`m.column(j)`), as an owned column vector.
#[inline]
pub fn col(m: &DMatrix<f64>, j: usize) -> Result<DVector<f64>, ShapeError> {
    if j >= m.ncols() {
        return Err(oob("column", m, 0, j));
    }
    Ok(m.column(j).into_owned())
}

/// Backward rule of [`col`]: column `j` of `gm` gets `g`.
#[inline]
pub fn col_back(
    _m: &DMatrix<f64>,
    j: usize,
    _out: &DVector<f64>,
    g: &DVector<f64>,
    gm: &mut DMatrix<f64>,
) {
    if j < gm.ncols() && g.len() == gm.nrows() {
        let mut c = gm.column_mut(j);
        c += g;
    }
}

/// Writes `v[i] = x` (a vector element written in a loop).
///
/// In the reverse sweep the generated code restores the overwritten value itself and calls
/// [`set_back`], which moves the element's adjoint into `x`'s.
///
/// ```
/// use nalgebra::DVector;
/// use vi_runtime::ad;
/// let mut v = DVector::zeros(2);
/// ad::set(&mut v, 1, 3.0)?;
/// assert_eq!(v[1], 3.0);
/// assert!(ad::set(&mut v, 2, 1.0).is_err());
/// let (mut gv, mut gx) = (DVector::from_vec(vec![0.5, 2.0]), 0.0);
/// ad::set_back(&mut gv, 1, &mut gx);
/// assert_eq!((gv[1], gx), (0.0, 2.0));
/// # Ok::<(), vi_runtime::ad::ShapeError>(())
/// ```
#[inline]
pub fn set<V>(v: &mut V, i: usize, x: f64) -> Result<(), ShapeError>
where
    V: Operand + ?Sized,
    V::Kind: VectorKind,
{
    match v.flat_mut().get_mut(i) {
        Some(e) => {
            *e = x;
            Ok(())
        }
        None => Err(oob("set", v, i, 0)),
    }
}

/// Backward rule of [`set`]: `gx += gv[i]; gv[i] = 0` (the overwritten element no longer
/// reaches the density through `v`).
#[inline]
pub fn set_back<V>(gv: &mut V, i: usize, gx: &mut f64)
where
    V: Operand + ?Sized,
    V::Kind: VectorKind,
{
    if let Some(e) = gv.flat_mut().get_mut(i) {
        *gx += *e;
        *e = 0.0;
    }
}
