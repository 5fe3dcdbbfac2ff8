//! The values of `#[keep]` statements, written into a draw's derived quantities.

use nalgebra::{DMatrix, DVector, RowDVector};

/// A value a model keeps for the posterior: its shape and its elements (row-major).
pub trait Keep {
    /// `[]` for a number, `[n]` for a vector, `[r, c]` for a matrix.
    fn shape(&self) -> Vec<usize>;
    /// Writes the elements at the start of `out` (row-major) and returns how many.
    fn write(&self, out: &mut [f64]) -> usize;
}

impl Keep for f64 {
    fn shape(&self) -> Vec<usize> {
        Vec::new()
    }
    fn write(&self, out: &mut [f64]) -> usize {
        out[0] = *self;
        1
    }
}

/// Columns and rows: their elements in order.
macro_rules! keep_vector {
    ($($t:ty),*) => {$(
        impl Keep for $t {
            fn shape(&self) -> Vec<usize> {
                vec![self.len()]
            }
            fn write(&self, out: &mut [f64]) -> usize {
                out[..self.len()].copy_from_slice(self.as_slice());
                self.len()
            }
        }
    )*};
}
keep_vector!(DVector<f64>, RowDVector<f64>);

impl Keep for DMatrix<f64> {
    fn shape(&self) -> Vec<usize> {
        vec![self.nrows(), self.ncols()]
    }
    fn write(&self, out: &mut [f64]) -> usize {
        let c = self.ncols();
        for (i, row) in self.row_iter().enumerate() {
            for (j, x) in row.iter().enumerate() {
                out[i * c + j] = *x;
            }
        }
        self.len()
    }
}
