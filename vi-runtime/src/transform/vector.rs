//! Constraint transforms of whole vectors and matrices (Stan's): simplex (stick-breaking),
//! ordered and positive-ordered vectors, Cholesky factors of correlation matrices,
//! correlation matrices and covariance matrices.
//!
//! A [`VectorTransform`] maps an unconstrained vector `y` of
//! [`unconstrained_len`](VectorTransform::unconstrained_len) reals to a constrained value `x`
//! of [`constrained_len`](VectorTransform::constrained_len) numbers (matrices as `K x K`,
//! column-major, every entry written), and returns `ln |J|`, the log absolute determinant of
//! the Jacobian of `y` against `x`'s free entries (the first `K - 1` of a simplex, every entry
//! of an ordered vector, the strict lower triangle of a correlation matrix or its Cholesky
//! factor, the lower triangle of a covariance matrix). [`grad_back`](VectorTransform::grad_back)
//! is the chain rule back through the map, with the log-Jacobian's gradient when asked.
//!
//! The unconstrained coordinates follow Stan's order, so a draw converts to and from CmdStan's:
//!
//! * `Simplex(K)`: `K - 1` reals, `z_i = sigmoid(y_i - ln(K - 1 - i))`, `x_i = z_i (1 -
//!   x_0 - ... - x_(i-1))`, the last element what remains of the stick;
//! * `Ordered(K)`: `x_0 = y_0`, `x_i = x_(i-1) + e^(y_i)`; `PositiveOrdered(K)` the same with
//!   `x_0 = e^(y_0)`;
//! * `CholeskyCorr(K)`: `K (K - 1) / 2` reals, row by row over the strict lower triangle,
//!   canonical partial correlations `z = tanh(y)`, `L_ij = z_ij sqrt(1 - sum_(l<j) L_il^2)`,
//!   `L_ii = sqrt(1 - sum_(l<i) L_il^2)`;
//! * `CorrMatrix(K)`: `L L^T` for that `L`, with the Jacobian of the correlations against the
//!   partial correlations (Lewandowski, Kurowicka and Joe 2009);
//! * `CovMatrix(K)`: `K + K (K - 1) / 2` reals, row by row over the lower triangle of a
//!   Cholesky factor whose diagonal is `e^y`; `x = L L^T`.

use std::fmt;

/// A transform of a whole vector or matrix between its constrained set and `R^n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VectorTransform {
    /// A `K`-simplex: non-negative, summing to 1 (`K - 1` free coordinates).
    Simplex(usize),
    /// A strictly increasing vector of length `K`.
    Ordered(usize),
    /// A strictly increasing vector of `K` positive numbers.
    PositiveOrdered(usize),
    /// The Cholesky factor of a `K x K` correlation matrix: lower triangular, positive
    /// diagonal, rows of unit length.
    CholeskyCorr(usize),
    /// A `K x K` correlation matrix: symmetric positive definite with unit diagonal.
    CorrMatrix(usize),
    /// A `K x K` covariance matrix: symmetric positive definite.
    CovMatrix(usize),
}

/// A constrained value outside a vector transform's set.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorOutsideSupport {
    /// The transform.
    pub transform: VectorTransform,
    /// The flat (column-major) index of the offending element.
    pub index: usize,
    /// What is wrong, in words.
    pub message: &'static str,
}

impl fmt::Display for VectorOutsideSupport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "not a {}: element {} {}",
            self.transform, self.index, self.message
        )
    }
}

impl std::error::Error for VectorOutsideSupport {}

impl fmt::Display for VectorTransform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            VectorTransform::Simplex(k) => write!(f, "simplex of length {k}"),
            VectorTransform::Ordered(k) => write!(f, "ordered vector of length {k}"),
            VectorTransform::PositiveOrdered(k) => {
                write!(f, "positive ordered vector of length {k}")
            }
            VectorTransform::CholeskyCorr(k) => {
                write!(f, "Cholesky factor of a {k}x{k} correlation matrix")
            }
            VectorTransform::CorrMatrix(k) => write!(f, "{k}x{k} correlation matrix"),
            VectorTransform::CovMatrix(k) => write!(f, "{k}x{k} covariance matrix"),
        }
    }
}

/// How far a constrained value may be from its constraint (a simplex's sum, a correlation
/// matrix's unit diagonal and symmetry) and still be taken as in the set.
const TOL: f64 = 1e-8;

/// `ln(1 - z^2)` for `z = tanh(y)`, without cancellation: `2 (ln 2 - |y| - softplus(-2|y|))`.
#[inline]
fn log1m_tanh_sq(y: f64) -> f64 {
    let a = y.abs();
    2.0 * (std::f64::consts::LN_2 - a - crate::math::softplus(-2.0 * a))
}

impl VectorTransform {
    /// The number of unconstrained coordinates.
    pub fn unconstrained_len(&self) -> usize {
        match *self {
            VectorTransform::Simplex(k) => k.saturating_sub(1),
            VectorTransform::Ordered(k) | VectorTransform::PositiveOrdered(k) => k,
            VectorTransform::CholeskyCorr(k) | VectorTransform::CorrMatrix(k) => {
                k * k.saturating_sub(1) / 2
            }
            VectorTransform::CovMatrix(k) => k + k * k.saturating_sub(1) / 2,
        }
    }

    /// The number of constrained numbers (`K` for the vectors, `K * K` for the matrices,
    /// column-major).
    pub fn constrained_len(&self) -> usize {
        match *self {
            VectorTransform::Simplex(k)
            | VectorTransform::Ordered(k)
            | VectorTransform::PositiveOrdered(k) => k,
            VectorTransform::CholeskyCorr(k)
            | VectorTransform::CorrMatrix(k)
            | VectorTransform::CovMatrix(k) => k * k,
        }
    }

    /// Writes `x = constrain(y)` into `x` and returns `ln |J|`. `y` must have
    /// [`unconstrained_len`](Self::unconstrained_len) elements and `x`
    /// [`constrained_len`](Self::constrained_len); otherwise NaN is returned and `x` is
    /// left as it is.
    ///
    /// ```
    /// use vi_runtime::VectorTransform;
    /// let t = VectorTransform::Simplex(3);
    /// let mut x = [0.0; 3];
    /// t.constrain(&[0.0, 0.0], &mut x);
    /// // Stan's centring: y = 0 is the uniform simplex.
    /// assert!(x.iter().all(|v| (v - 1.0 / 3.0).abs() < 1e-15));
    /// ```
    pub fn constrain(&self, y: &[f64], x: &mut [f64]) -> f64 {
        if y.len() != self.unconstrained_len() || x.len() != self.constrained_len() {
            return f64::NAN;
        }
        match *self {
            VectorTransform::Simplex(k) => {
                if k == 0 {
                    return 0.0;
                }
                let mut stick: f64 = 1.0;
                let mut lj = 0.0;
                for i in 0..k - 1 {
                    let adj = y[i] - ((k - 1 - i) as f64).ln();
                    let z = crate::math::sigmoid(adj);
                    lj +=
                        stick.ln() + crate::math::log_sigmoid(adj) + crate::math::log_sigmoid(-adj);
                    x[i] = stick * z;
                    stick -= x[i];
                }
                x[k - 1] = stick;
                lj
            }
            VectorTransform::Ordered(k) | VectorTransform::PositiveOrdered(k) => {
                let positive = matches!(self, VectorTransform::PositiveOrdered(_));
                let mut lj = 0.0;
                for i in 0..k {
                    if i == 0 {
                        x[0] = if positive { y[0].exp() } else { y[0] };
                        if positive {
                            lj += y[0];
                        }
                    } else {
                        x[i] = x[i - 1] + y[i].exp();
                        lj += y[i];
                    }
                }
                lj
            }
            VectorTransform::CholeskyCorr(k) => cholesky_corr(k, y, x, |_| 0.5),
            VectorTransform::CorrMatrix(k) => {
                let mut l = vec![0.0; k * k];
                cholesky_corr(k, y, &mut l, |_| 0.0);
                outer_lower(k, &l, x);
                // The Jacobian of the correlations in the partial correlations:
                // prod (1 - z_ij^2)^((K - j - 2) / 2), and the tanh's prod (1 - z^2).
                let mut lj = 0.0;
                let mut p = 0;
                for i in 1..k {
                    for j in 0..i {
                        lj += (1.0 + 0.5 * (k as f64 - j as f64 - 2.0)) * log1m_tanh_sq(y[p]);
                        p += 1;
                    }
                }
                lj
            }
            VectorTransform::CovMatrix(k) => {
                let mut l = vec![0.0; k * k];
                let mut lj = k as f64 * std::f64::consts::LN_2;
                let mut p = 0;
                for m in 0..k {
                    for n in 0..m {
                        l[m + n * k] = y[p];
                        p += 1;
                    }
                    l[m + m * k] = y[p].exp();
                    lj += (k - m + 1) as f64 * y[p];
                    p += 1;
                }
                outer_lower(k, &l, x);
                lj
            }
        }
    }

    /// The unconstrained coordinates of a constrained value (the inverse of
    /// [`constrain`](Self::constrain)).
    ///
    /// # Errors
    /// [`VectorOutsideSupport`] naming the first element that breaks the constraint (a
    /// negative simplex element, a sum that is not 1, a cutpoint that does not increase, a
    /// matrix that is not symmetric, positive definite or of unit diagonal), or a length that
    /// is not `constrained_len()` (index = that length).
    pub fn unconstrain(&self, x: &[f64]) -> Result<Vec<f64>, VectorOutsideSupport> {
        let err = |index, message| VectorOutsideSupport {
            transform: *self,
            index,
            message,
        };
        if x.len() != self.constrained_len() {
            return Err(err(x.len(), "makes the length wrong"));
        }
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            return Err(err(i, "is not finite"));
        }
        let mut y = Vec::with_capacity(self.unconstrained_len());
        match *self {
            VectorTransform::Simplex(k) => {
                if let Some(i) = x.iter().position(|&v| v <= 0.0) {
                    return Err(err(i, "is not positive"));
                }
                if (x.iter().sum::<f64>() - 1.0).abs() > TOL {
                    return Err(err(k.saturating_sub(1), "makes the sum differ from 1"));
                }
                let mut stick: f64 = 1.0;
                for (i, &xi) in x.iter().enumerate().take(k.saturating_sub(1)) {
                    let z = xi / stick;
                    y.push(crate::math::logit(z) + ((k - 1 - i) as f64).ln());
                    stick -= xi;
                }
            }
            VectorTransform::Ordered(k) | VectorTransform::PositiveOrdered(k) => {
                let positive = matches!(self, VectorTransform::PositiveOrdered(_));
                for i in 0..k {
                    if i == 0 {
                        if positive && x[0] <= 0.0 {
                            return Err(err(0, "is not positive"));
                        }
                        y.push(if positive { x[0].ln() } else { x[0] });
                    } else {
                        if x[i] <= x[i - 1] {
                            return Err(err(i, "is not above the one before it"));
                        }
                        y.push((x[i] - x[i - 1]).ln());
                    }
                }
            }
            VectorTransform::CholeskyCorr(k) => {
                for c in 0..k {
                    for r in 0..c {
                        if x[r + c * k] != 0.0 {
                            return Err(err(r + c * k, "is above the diagonal but not 0"));
                        }
                    }
                }
                unconstrain_cholesky_corr(k, x, &mut y).map_err(|(i, m)| err(i, m))?;
            }
            VectorTransform::CorrMatrix(k) => {
                let l = cholesky_of(k, x).map_err(|(i, m)| err(i, m))?;
                for i in 0..k {
                    if (x[i + i * k] - 1.0).abs() > TOL {
                        return Err(err(i + i * k, "is on the diagonal but not 1"));
                    }
                }
                // The factor's rows have unit length up to rounding; renormalise them.
                let mut l = l;
                for i in 0..k {
                    let s: f64 = (0..=i).map(|j| l[i + j * k].powi(2)).sum::<f64>().sqrt();
                    for j in 0..=i {
                        l[i + j * k] /= s;
                    }
                }
                unconstrain_cholesky_corr(k, &l, &mut y).map_err(|(i, m)| err(i, m))?;
            }
            VectorTransform::CovMatrix(k) => {
                let l = cholesky_of(k, x).map_err(|(i, m)| err(i, m))?;
                for m in 0..k {
                    for n in 0..m {
                        y.push(l[m + n * k]);
                    }
                    y.push(l[m + m * k].ln());
                }
            }
        }
        Ok(y)
    }

    /// The chain rule back through [`constrain`](Self::constrain) at `y`: given the
    /// gradient `gx` of a function of `x` (every entry of `x`, matrices column-major), *adds*
    /// its gradient in `y` into `gy`, plus the gradient of `ln |J|` when `jacobian` is set.
    /// Nothing is added when the lengths do not fit.
    pub fn grad_back(&self, y: &[f64], gx: &[f64], jacobian: bool, gy: &mut [f64]) {
        let n = self.unconstrained_len();
        if y.len() != n || gy.len() != n || gx.len() != self.constrained_len() {
            return;
        }
        let jw = if jacobian { 1.0 } else { 0.0 };
        match *self {
            VectorTransform::Simplex(k) => {
                if k == 0 {
                    return;
                }
                // Forward again, keeping the stick before each break and each z.
                let mut sticks = vec![0.0; k - 1];
                let mut zs = vec![0.0; k - 1];
                let mut stick: f64 = 1.0;
                for i in 0..k - 1 {
                    let z = crate::math::sigmoid(y[i] - ((k - 1 - i) as f64).ln());
                    sticks[i] = stick;
                    zs[i] = z;
                    stick -= stick * z;
                }
                // The adjoint of the stick after break i, from the last element back.
                let mut g_stick = gx[k - 1];
                for i in (0..k - 1).rev() {
                    let (s, z) = (sticks[i], zs[i]);
                    // x_i = s z, stick' = s (1 - z), ln J += ln s + ln z + ln(1 - z).
                    gy[i] += (gx[i] - g_stick) * s * z * (1.0 - z) + jw * (1.0 - 2.0 * z);
                    g_stick = gx[i] * z + g_stick * (1.0 - z) + jw / s;
                }
            }
            VectorTransform::Ordered(k) | VectorTransform::PositiveOrdered(k) => {
                let positive = matches!(self, VectorTransform::PositiveOrdered(_));
                // x_i depends on y_0..=y_i: the adjoint of y_i is the suffix sum of gx.
                let mut suffix = 0.0;
                for i in (0..k).rev() {
                    suffix += gx[i];
                    if i == 0 && !positive {
                        gy[0] += suffix;
                    } else {
                        gy[i] += suffix * y[i].exp() + jw;
                    }
                }
            }
            VectorTransform::CholeskyCorr(k) => {
                cholesky_corr_back(k, y, gx, gy, |_| 0.5 * jw, jw);
            }
            VectorTransform::CorrMatrix(k) => {
                let mut l = vec![0.0; k * k];
                cholesky_corr(k, y, &mut l, |_| 0.0);
                let gl = outer_back(k, &l, gx);
                cholesky_corr_back(k, y, &gl, gy, |_| 0.0, 0.0);
                if jacobian {
                    let mut p = 0;
                    for i in 1..k {
                        for j in 0..i {
                            let w = 1.0 + 0.5 * (k as f64 - j as f64 - 2.0);
                            gy[p] += -2.0 * w * y[p].tanh();
                            p += 1;
                        }
                    }
                }
            }
            VectorTransform::CovMatrix(k) => {
                let mut l = vec![0.0; k * k];
                let mut p = 0;
                for m in 0..k {
                    for n in 0..m {
                        l[m + n * k] = y[p];
                        p += 1;
                    }
                    l[m + m * k] = y[p].exp();
                    p += 1;
                }
                let gl = outer_back(k, &l, gx);
                let mut p = 0;
                for m in 0..k {
                    for n in 0..m {
                        gy[p] += gl[m + n * k];
                        p += 1;
                    }
                    gy[p] += gl[m + m * k] * l[m + m * k] + jw * (k - m + 1) as f64;
                    p += 1;
                }
            }
        }
    }
}

/// The Cholesky factor of a correlation matrix from `y` (row by row over the strict lower
/// triangle) into `l` (`k x k`, column-major); returns the log-Jacobian
/// `sum ln(1 - z^2) + w(j) ln(1 - S_ij)` (the Cholesky factor's is `w = 1/2`).
fn cholesky_corr(k: usize, y: &[f64], l: &mut [f64], w: impl Fn(usize) -> f64) -> f64 {
    l.fill(0.0);
    if k == 0 {
        return 0.0;
    }
    l[0] = 1.0;
    let mut lj = 0.0;
    let mut p = 0;
    for i in 1..k {
        let mut s: f64 = 0.0;
        for j in 0..i {
            let z = y[p].tanh();
            let r = 1.0 - s;
            let v = z * r.sqrt();
            lj += log1m_tanh_sq(y[p]) + w(j) * r.ln();
            l[i + j * k] = v;
            s += v * v;
            p += 1;
        }
        l[i + i * k] = (1.0 - s).max(0.0).sqrt();
    }
    lj
}

/// Back through [`cholesky_corr`]: adds into `gy` the gradient from the adjoint `gl` of
/// every entry of `l` (diagonal included), with `wj(j)` the weight of `ln(1 - S_ij)` and
/// `jt` that of the `ln(1 - z^2)` terms in the log-Jacobian.
fn cholesky_corr_back(
    k: usize,
    y: &[f64],
    gl: &[f64],
    gy: &mut [f64],
    wj: impl Fn(usize) -> f64,
    jt: f64,
) {
    let mut p0 = 0;
    for i in 1..k {
        // Forward for this row: z, S before each entry, the entries.
        let mut zs = vec![0.0; i];
        let mut ss: Vec<f64> = vec![0.0; i + 1];
        let mut vs = vec![0.0; i];
        for j in 0..i {
            let z = y[p0 + j].tanh();
            let v = z * (1.0 - ss[j]).sqrt();
            zs[j] = z;
            vs[j] = v;
            ss[j + 1] = ss[j] + v * v;
        }
        let lii = (1.0 - ss[i]).max(0.0).sqrt();
        // The adjoint of S after the row, from L_ii = sqrt(1 - S).
        let mut g_s = if lii > 0.0 {
            -gl[i + i * k] / (2.0 * lii)
        } else {
            0.0
        };
        for j in (0..i).rev() {
            let (z, v, r) = (zs[j], vs[j], 1.0 - ss[j]);
            let g_v = gl[i + j * k] + g_s * 2.0 * v;
            let sq = r.sqrt();
            gy[p0 + j] += g_v * sq * (1.0 - z * z) - 2.0 * jt * z;
            // S_j enters through v = z sqrt(1 - S_j) and the log-Jacobian's w ln(1 - S_j).
            g_s += g_v * z * (-0.5 / sq) - wj(j) / r;
        }
        p0 += i;
    }
}

/// `x = L L^T` for a lower-triangular `l` (`k x k`, column-major).
fn outer_lower(k: usize, l: &[f64], x: &mut [f64]) {
    for c in 0..k {
        for r in 0..k {
            let m = r.min(c);
            x[r + c * k] = (0..=m).map(|j| l[r + j * k] * l[c + j * k]).sum();
        }
    }
}

/// The adjoint of `l` from that of `x = L L^T`: `(G + G^T) L`, on the lower triangle.
fn outer_back(k: usize, l: &[f64], gx: &[f64]) -> Vec<f64> {
    let mut gl = vec![0.0; k * k];
    for i in 0..k {
        for j in 0..=i {
            gl[i + j * k] = (0..k)
                .map(|c| (gx[i + c * k] + gx[c + i * k]) * l[c + j * k])
                .sum();
        }
    }
    gl
}

/// The lower Cholesky factor of a symmetric positive definite `k x k` matrix, or the index
/// of the element that shows it is not one.
fn cholesky_of(k: usize, x: &[f64]) -> Result<Vec<f64>, (usize, &'static str)> {
    for c in 0..k {
        for r in 0..c {
            let (a, b) = (x[r + c * k], x[c + r * k]);
            if (a - b).abs() > TOL * a.abs().max(b.abs()).max(1.0) {
                return Err((r + c * k, "breaks the symmetry"));
            }
        }
    }
    let m = nalgebra::DMatrix::from_column_slice(k, k, x);
    match nalgebra::Cholesky::new(m) {
        Some(ch) => Ok(ch.l().as_slice().to_vec()),
        None => Err((0, "belongs to a matrix that is not positive definite")),
    }
}

/// The partial correlations' `atanh` from a Cholesky factor of a correlation matrix.
fn unconstrain_cholesky_corr(
    k: usize,
    l: &[f64],
    y: &mut Vec<f64>,
) -> Result<(), (usize, &'static str)> {
    for i in 0..k {
        if l[i + i * k].is_nan() || l[i + i * k] <= 0.0 {
            return Err((i + i * k, "is on the diagonal but not positive"));
        }
        let row: f64 = (0..=i).map(|j| l[i + j * k].powi(2)).sum();
        if (row - 1.0).abs() > TOL {
            return Err((i + i * k, "ends a row whose length is not 1"));
        }
    }
    for i in 1..k {
        let mut s: f64 = 0.0;
        for j in 0..i {
            let v = l[i + j * k];
            let z = v / (1.0 - s).sqrt();
            y.push(z.clamp(-1.0, 1.0).atanh());
            s += v * v;
        }
    }
    Ok(())
}
