//! Slice kernels under the rules: reductions, axpy and the matrix products on column-major
//! slices, written so that LLVM vectorises them.
//!
//! A reduction written as one running sum (`s += x[i]`) cannot vectorise: floating-point
//! addition is not associative, so the compiler must keep the order, and every add waits
//! for the previous one. These kernels keep [`LANES`] independent partial sums (four
//! two-lane SSE2 registers, two four-lane AVX registers) and add them at the end, in a fixed
//! order, so results are deterministic. Loops run over slices re-sliced to one length so
//! that no bounds check stays in the loop.
//!
//! The matrix products work column by column on nalgebra's column-major storage:
//! `A b` as axpys of the columns of `A` (four to seven at a time, so the output is read and
//! written once per group), `A^T g` as dots of the columns of `A` with `g`.

use crate::threads;

/// The number of independent partial sums of a reduction.
pub const LANES: usize = 8;

/// `sum_i f(a_i, b_i)` over the common length of `a` and `b`, in [`LANES`] partial sums.
#[inline(always)]
fn reduce2(a: &[f64], b: &[f64], f: impl Fn(f64, f64) -> f64) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0; LANES];
    let (ac, bc) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ar, br) = (ac.remainder(), bc.remainder());
    for (x, y) in ac.map(lanes).zip(bc.map(lanes)) {
        for l in 0..LANES {
            acc[l] += f(x[l], y[l]);
        }
    }
    let mut tail = 0.0;
    for (&x, &y) in ar.iter().zip(br) {
        tail += f(x, y);
    }
    combine(acc) + tail
}

/// A chunk of `chunks_exact(LANES)` as an array, so the loops over it have no bounds
/// checks (the fallback is never taken).
#[inline(always)]
pub(crate) fn lanes(c: &[f64]) -> &[f64; LANES] {
    c.try_into().unwrap_or(&[0.0; LANES])
}

/// The partial sums added lane-wise first (as two-lane vectors would be), then across.
#[inline(always)]
pub(crate) fn combine(acc: [f64; LANES]) -> f64 {
    let even = (acc[0] + acc[2]) + (acc[4] + acc[6]);
    let odd = (acc[1] + acc[3]) + (acc[5] + acc[7]);
    even + odd
}

/// `sum_i a_i b_i` over the common length of `a` and `b`.
///
/// ```
/// use vi_runtime::ad::kernels::dot;
/// assert_eq!(dot(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]), 32.0);
/// ```
/// Runs at the [`simd::level`](crate::simd::level) chosen at start-up.
#[inline]
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    crate::simd::dispatch!([] [] (a: &[f64], b: &[f64]) -> f64 { dot_impl(a, b) })
}

/// The body of [`dot`], inlined into each compiled copy.
#[inline(always)]
fn dot_impl(a: &[f64], b: &[f64]) -> f64 {
    reduce2(a, b, |x, y| x * y)
}

/// `sum_i a_i`.
///
/// ```
/// use vi_runtime::ad::kernels::sum;
/// assert_eq!(sum(&[1.0, 2.0, 3.5]), 6.5);
/// assert_eq!(sum(&[]), 0.0);
/// ```
/// Runs at the [`simd::level`](crate::simd::level) chosen at start-up.
#[inline]
pub fn sum(a: &[f64]) -> f64 {
    crate::simd::dispatch!([] [] (a: &[f64]) -> f64 { sum_impl(a) })
}

/// The body of [`sum`], inlined into each compiled copy.
#[inline(always)]
pub(crate) fn sum_impl(a: &[f64]) -> f64 {
    reduce2(a, a, |x, _| x)
}

/// `sum_i f(a_i, b_i)` over the common length of `a` and `b` for an elementwise `f`, with
/// several partial sums (for reductions such as the adjoint of a broadcast scalar,
/// `sum_i g_i d_i`).
#[inline(always)]
pub fn sum_map2(a: &[f64], b: &[f64], f: impl Fn(f64, f64) -> f64) -> f64 {
    reduce2(a, b, f)
}

/// `y += alpha x` over the common length.
///
/// ```
/// use vi_runtime::ad::kernels::axpy;
/// let mut y = [1.0, 1.0];
/// axpy(2.0, &[3.0, 4.0], &mut y);
/// assert_eq!(y, [7.0, 9.0]);
/// ```
/// Runs at the [`simd::level`](crate::simd::level) chosen at start-up.
#[inline]
pub fn axpy(alpha: f64, x: &[f64], y: &mut [f64]) {
    crate::simd::dispatch!([] [] (alpha: f64, x: &[f64], y: &mut [f64]) -> () { axpy_impl(alpha, x, y) })
}

/// The body of [`axpy`], inlined into each compiled copy.
#[inline(always)]
fn axpy_impl(alpha: f64, x: &[f64], y: &mut [f64]) {
    let n = x.len().min(y.len());
    let (x, y) = (&x[..n], &mut y[..n]);
    for i in 0..n {
        y[i] += alpha * x[i];
    }
}

/// `out[i] += sum_c b[c] cols[c][i]` for `C` columns at once: one pass over `out` (read and
/// written once for all `C` columns), the columns' elements in registers.
#[inline(always)]
fn axpy_group<const C: usize>(cols: [&[f64]; C], b: [f64; C], out: &mut [f64]) {
    let n = out.len();
    let cols = cols.map(|c| &c[..n]);
    for i in 0..n {
        let mut s = 0.0;
        for c in 0..C {
            s += b[c] * cols[c][i];
        }
        out[i] += s;
    }
}

/// `out += A b` for `A` column-major `r x k` (`a.len() == r * k`), `b` of length `k`, `out`
/// of length `r`: columns in groups of four (the first group takes the remainder, so up to
/// seven columns make one pass over `out`). Does nothing when the lengths do not fit.
/// Runs at the [`simd::level`](crate::simd::level) chosen at start-up.
#[inline]
pub fn gemv(a: &[f64], r: usize, k: usize, b: &[f64], out: &mut [f64]) {
    if a.len() == r * k && b.len() == k && out.len() == r && k > 0 {
        if let Some(chunks) = threads::chunks(r) {
            // Each output row is its own sum: the rows split without changing any result.
            let jobs: Vec<_> = chunks.iter().zip(split_rows(out, &chunks)).collect();
            threads::run(jobs, |(range, o)| {
                gemv_ld(&a[range.start..], r, range.len(), k, b, o);
            });
            return;
        }
    }
    crate::simd::dispatch!([] [] (a: &[f64], r: usize, k: usize, b: &[f64], out: &mut [f64]) -> () { gemv_impl(a, r, k, b, out) })
}

/// The body of [`gemv`], inlined into each compiled copy.
#[inline(always)]
fn gemv_impl(a: &[f64], r: usize, k: usize, b: &[f64], out: &mut [f64]) {
    if a.len() != r * k {
        return;
    }
    gemv_ld_impl(a, r, r, k, b, out);
}

/// [`gemv`] on a block of `rows` rows of a column-major matrix whose columns start `ld`
/// elements apart (`a` starts at the block's first row).
fn gemv_ld(a: &[f64], ld: usize, rows: usize, k: usize, b: &[f64], out: &mut [f64]) {
    crate::simd::dispatch!([] [] (a: &[f64], ld: usize, rows: usize, k: usize, b: &[f64], out: &mut [f64]) -> () { gemv_ld_impl(a, ld, rows, k, b, out) })
}

/// The body of [`gemv_ld`]: `out += A b` over the block. Does nothing when the lengths do
/// not fit.
#[inline(always)]
pub(crate) fn gemv_ld_impl(a: &[f64], ld: usize, r: usize, k: usize, b: &[f64], out: &mut [f64]) {
    if k == 0 || r > ld || a.len() < (k - 1) * ld + r || b.len() != k || out.len() != r || r == 0 {
        return;
    }
    let out = &mut out[..r];
    let col = |j: usize| &a[j * ld..j * ld + r];
    let first = if k < 4 { k } else { 4 + k % 4 };
    match first {
        1 => axpy_group([col(0)], [b[0]], out),
        2 => axpy_group([col(0), col(1)], [b[0], b[1]], out),
        3 => axpy_group([col(0), col(1), col(2)], [b[0], b[1], b[2]], out),
        4 => axpy_group(
            std::array::from_fn::<_, 4, _>(col),
            [b[0], b[1], b[2], b[3]],
            out,
        ),
        5 => axpy_group(
            std::array::from_fn::<_, 5, _>(col),
            std::array::from_fn(|j| b[j]),
            out,
        ),
        6 => axpy_group(
            std::array::from_fn::<_, 6, _>(col),
            std::array::from_fn(|j| b[j]),
            out,
        ),
        7 => axpy_group(
            std::array::from_fn::<_, 7, _>(col),
            std::array::from_fn(|j| b[j]),
            out,
        ),
        _ => {}
    }
    let mut j = first;
    while j + 4 <= k {
        axpy_group(
            std::array::from_fn::<_, 4, _>(|c| col(j + c)),
            std::array::from_fn(|c| b[j + c]),
            out,
        );
        j += 4;
    }
}

/// Returns `$f::<R>(args)` when the column length `$r` is short (1 to 7), so each length
/// gets a loop unrolled to it.
macro_rules! short_columns {
    ($r:expr, $f:ident($($arg:expr),*)) => {
        match $r {
            1 => return $f::<1>($($arg),*),
            2 => return $f::<2>($($arg),*),
            3 => return $f::<3>($($arg),*),
            4 => return $f::<4>($($arg),*),
            5 => return $f::<5>($($arg),*),
            6 => return $f::<6>($($arg),*),
            7 => return $f::<7>($($arg),*),
            _ => {}
        }
    };
}

/// `out += A^T g` for `A` column-major `r x k`, `g` of length `r`, `out` of length `k`:
/// one dot per column of `A`. Does nothing when the lengths do not fit.
/// Runs at the [`simd::level`](crate::simd::level) chosen at start-up.
#[inline]
pub fn gemv_tr(a: &[f64], r: usize, k: usize, g: &[f64], out: &mut [f64]) {
    if a.len() == r * k && g.len() == r && out.len() == k && k > 0 {
        if let Some(chunks) = threads::chunks(r) {
            // Each chunk's dots, then added in chunk order.
            let parts = threads::run(chunks, |range| {
                let mut p = vec![0.0; k];
                gemv_tr_ld(&a[range.start..], r, range.len(), k, &g[range], &mut p);
                p
            });
            add_in_order(&parts, out);
            return;
        }
    }
    crate::simd::dispatch!([] [] (a: &[f64], r: usize, k: usize, g: &[f64], out: &mut [f64]) -> () { gemv_tr_impl(a, r, k, g, out) })
}

/// The body of [`gemv_tr`], inlined into each compiled copy.
#[inline(always)]
fn gemv_tr_impl(a: &[f64], r: usize, k: usize, g: &[f64], out: &mut [f64]) {
    if a.len() != r * k || g.len() != r || out.len() != k || r == 0 {
        return;
    }
    // Short columns (a row vector times a matrix with few rows, `x_i * w1` in a loop over
    // observations): one unrolled dot per column instead of a many-lane reduction.
    short_columns!(r, gemv_tr_short(a, g, out));
    for (o, c) in out.iter_mut().zip(a.chunks_exact(r)) {
        *o += dot_impl(c, g);
    }
}

/// [`gemv_tr`] on a block of `rows` rows of a column-major matrix whose columns start `ld`
/// elements apart (`a` starts at the block's first row).
fn gemv_tr_ld(a: &[f64], ld: usize, rows: usize, k: usize, g: &[f64], out: &mut [f64]) {
    crate::simd::dispatch!([] [] (a: &[f64], ld: usize, rows: usize, k: usize, g: &[f64], out: &mut [f64]) -> () { gemv_tr_ld_impl(a, ld, rows, k, g, out) })
}

/// The body of [`gemv_tr_ld`]. Does nothing when the lengths do not fit.
#[inline(always)]
pub(crate) fn gemv_tr_ld_impl(
    a: &[f64],
    ld: usize,
    r: usize,
    k: usize,
    g: &[f64],
    out: &mut [f64],
) {
    if k == 0 || r > ld || a.len() < (k - 1) * ld + r || g.len() != r || out.len() != k {
        return;
    }
    for (j, o) in out.iter_mut().enumerate() {
        *o += dot_impl(&a[j * ld..j * ld + r], g);
    }
}

/// `out[j] += sum_c parts[c][j]`, the chunks' partial results added in chunk order.
fn add_in_order(parts: &[Vec<f64>], out: &mut [f64]) {
    for (j, o) in out.iter_mut().enumerate() {
        let mut s = 0.0;
        for p in parts {
            s += p[j];
        }
        *o += s;
    }
}

/// `out` cut at the chunks' boundaries.
fn split_rows<'a>(out: &'a mut [f64], chunks: &[std::ops::Range<usize>]) -> Vec<&'a mut [f64]> {
    threads::split_cols(out, out.len(), chunks)
        .into_iter()
        .map(|mut c| c.pop().unwrap_or_default())
        .collect()
}

/// [`gemv_tr`] for columns of `R` elements.
#[inline(always)]
fn gemv_tr_short<const R: usize>(a: &[f64], g: &[f64], out: &mut [f64]) {
    let Ok(g) = <&[f64; R]>::try_from(g) else {
        return;
    };
    for (o, c) in out.iter_mut().zip(a.chunks_exact(R)) {
        let mut s = 0.0;
        for i in 0..R {
            s += c[i] * g[i];
        }
        *o += s;
    }
}

/// [`ger`] for columns of `R` elements.
#[inline(always)]
fn ger_short<const R: usize>(a: &mut [f64], x: &[f64], y: &[f64]) {
    let Ok(x) = <&[f64; R]>::try_from(x) else {
        return;
    };
    // Two columns (2R contiguous elements) at a time, as one elementwise product of `x`
    // twice and each column's factor repeated R times: loops the compiler vectorises
    // across the columns' boundary.
    let mut xx = [0.0; 16];
    xx[..R].copy_from_slice(x);
    xx[R..2 * R].copy_from_slice(x);
    let pairs = (a.len() / R).min(y.len()) / 2;
    let (a2, a1) = a.split_at_mut(2 * pairs * R);
    for (c, yy) in a2.chunks_exact_mut(2 * R).zip(y.chunks_exact(2)) {
        let mut f = [0.0; 16];
        f[..R].fill(yy[0]);
        f[R..2 * R].fill(yy[1]);
        for t in 0..2 * R {
            c[t] += f[t] * xx[t];
        }
    }
    for (c, &yj) in a1.chunks_exact_mut(R).zip(&y[2 * pairs..]) {
        for i in 0..R {
            c[i] += yj * x[i];
        }
    }
}

/// `A += alpha x y^T` for `A` column-major `r x k`, `x` of length `r`, `y` of length `k`:
/// one axpy per column. Does nothing when the lengths do not fit.
/// Runs at the [`simd::level`](crate::simd::level) chosen at start-up.
#[inline]
pub fn ger(a: &mut [f64], r: usize, k: usize, x: &[f64], y: &[f64]) {
    if a.len() == r * k && x.len() == r && y.len() == k && k > 0 {
        if let Some(chunks) = threads::chunks(r) {
            let jobs: Vec<_> = chunks
                .iter()
                .zip(threads::split_cols(a, r, &chunks))
                .collect();
            threads::run(jobs, |(range, mut cols)| {
                for (c, &yj) in cols.iter_mut().zip(y) {
                    axpy(yj, &x[range.clone()], c);
                }
            });
            return;
        }
    }
    crate::simd::dispatch!([] [] (a: &mut [f64], r: usize, k: usize, x: &[f64], y: &[f64]) -> () { ger_impl(a, r, k, x, y) })
}

/// The body of [`ger`], inlined into each compiled copy.
#[inline(always)]
fn ger_impl(a: &mut [f64], r: usize, k: usize, x: &[f64], y: &[f64]) {
    if a.len() != r * k || x.len() != r || y.len() != k || r == 0 {
        return;
    }
    short_columns!(r, ger_short(a, x, y));
    for (c, &yj) in a.chunks_exact_mut(r).zip(y) {
        axpy_impl(yj, x, c);
    }
}

/// `C += A B` for column-major `A` (`r x k`), `B` (`k x m`), `C` (`r x m`): one [`gemv`]
/// per column of `B`. Does nothing when the lengths do not fit.
/// Runs at the [`simd::level`](crate::simd::level) chosen at start-up.
#[inline]
pub fn gemm(a: &[f64], b: &[f64], c: &mut [f64], r: usize, k: usize, m: usize) {
    if a.len() == r * k && b.len() == k * m && c.len() == r * m && k > 0 && m > 0 {
        if let Some(chunks) = threads::chunks(r) {
            let jobs: Vec<_> = chunks
                .iter()
                .zip(threads::split_cols(c, r, &chunks))
                .collect();
            threads::run(jobs, |(range, mut cols)| {
                for (cc, bc) in cols.iter_mut().zip(b.chunks_exact(k)) {
                    gemv_ld(&a[range.start..], r, range.len(), k, bc, cc);
                }
            });
            return;
        }
    }
    crate::simd::dispatch!([] [] (a: &[f64], b: &[f64], c: &mut [f64], r: usize, k: usize, m: usize) -> () { gemm_impl(a, b, c, r, k, m) })
}

/// The body of [`gemm`], inlined into each compiled copy.
#[inline(always)]
fn gemm_impl(a: &[f64], b: &[f64], c: &mut [f64], r: usize, k: usize, m: usize) {
    if a.len() != r * k || b.len() != k * m || c.len() != r * m || r == 0 || k == 0 {
        return;
    }
    for (cc, bc) in c.chunks_exact_mut(r).zip(b.chunks_exact(k)) {
        gemv_impl(a, r, k, bc, cc);
    }
}

/// `C += A^T G` for column-major `A` (`r x k`), `G` (`r x m`), `C` (`k x m`): one
/// [`gemv_tr`] per column of `G`. Does nothing when the lengths do not fit.
/// Runs at the [`simd::level`](crate::simd::level) chosen at start-up.
#[inline]
pub fn gemm_tn(a: &[f64], g: &[f64], c: &mut [f64], r: usize, k: usize, m: usize) {
    if a.len() == r * k && g.len() == r * m && c.len() == k * m && k > 0 && m > 0 {
        if let Some(chunks) = threads::chunks(r) {
            let parts = threads::run(chunks, |range| {
                let mut p = vec![0.0; k * m];
                for (pc, gc) in p.chunks_exact_mut(k).zip(g.chunks_exact(r)) {
                    let (a, rows) = (&a[range.start..], range.len());
                    gemv_tr_ld(a, r, rows, k, &gc[range.clone()], pc);
                }
                p
            });
            add_in_order(&parts, c);
            return;
        }
    }
    crate::simd::dispatch!([] [] (a: &[f64], g: &[f64], c: &mut [f64], r: usize, k: usize, m: usize) -> () { gemm_tn_impl(a, g, c, r, k, m) })
}

/// The body of [`gemm_tn`], inlined into each compiled copy.
#[inline(always)]
fn gemm_tn_impl(a: &[f64], g: &[f64], c: &mut [f64], r: usize, k: usize, m: usize) {
    if a.len() != r * k || g.len() != r * m || c.len() != k * m || r == 0 || k == 0 {
        return;
    }
    for (cc, gc) in c.chunks_exact_mut(k).zip(g.chunks_exact(r)) {
        gemv_tr_impl(a, r, k, gc, cc);
    }
}

/// `C += G B^T` for column-major `G` (`r x m`), `B` (`k x m`), `C` (`r x k`): column `p` of
/// `C` gains `sum_c B[p, c] G[:, c]`, as axpys. Does nothing when the lengths do not fit.
/// Runs at the [`simd::level`](crate::simd::level) chosen at start-up.
#[inline]
pub fn gemm_nt(g: &[f64], b: &[f64], c: &mut [f64], r: usize, k: usize, m: usize) {
    if g.len() == r * m && b.len() == k * m && c.len() == r * k && k > 0 && m > 0 {
        if let Some(chunks) = threads::chunks(r) {
            let jobs: Vec<_> = chunks
                .iter()
                .zip(threads::split_cols(c, r, &chunks))
                .collect();
            threads::run(jobs, |(range, mut cols)| {
                for (gc, bc) in g.chunks_exact(r).zip(b.chunks_exact(k)) {
                    for (cp, &bpc) in cols.iter_mut().zip(bc) {
                        axpy(bpc, &gc[range.clone()], cp);
                    }
                }
            });
            return;
        }
    }
    crate::simd::dispatch!([] [] (g: &[f64], b: &[f64], c: &mut [f64], r: usize, k: usize, m: usize) -> () { gemm_nt_impl(g, b, c, r, k, m) })
}

/// The body of [`gemm_nt`], inlined into each compiled copy.
#[inline(always)]
fn gemm_nt_impl(g: &[f64], b: &[f64], c: &mut [f64], r: usize, k: usize, m: usize) {
    if g.len() != r * m || b.len() != k * m || c.len() != r * k || r == 0 || k == 0 {
        return;
    }
    for (gc, bc) in g.chunks_exact(r).zip(b.chunks_exact(k)) {
        for (cp, &bpc) in c.chunks_exact_mut(r).zip(bc) {
            axpy_impl(bpc, gc, cp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::{DMatrix, DVector};

    /// Deterministic test values in [-1, 1).
    fn vals(n: usize, seed: usize) -> Vec<f64> {
        (0..n)
            .map(|i| ((i * 37 + seed * 101) % 199) as f64 / 99.5 - 1.0)
            .collect()
    }

    fn close(a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() <= 1e-12 * (1.0 + y.abs()), "{x} vs {y}");
        }
    }

    #[test]
    fn reductions_match_plain_sums_at_every_remainder() {
        for n in 0..40 {
            let (a, b) = (vals(n, 1), vals(n, 2));
            let want: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - want).abs() < 1e-12, "dot, n = {n}");
            assert!(
                (sum(&a) - a.iter().sum::<f64>()).abs() < 1e-12,
                "sum, n = {n}"
            );
            let want: f64 = a.iter().zip(&b).map(|(x, y)| x - 2.0 * y).sum();
            assert!((sum_map2(&a, &b, |x, y| x - 2.0 * y) - want).abs() < 1e-12);
        }
    }

    #[test]
    fn products_match_nalgebra() {
        // Shapes covering every remainder of the four-column unrolling, every short column
        // length of `gemv_tr` and `ger` (1 to 7 rows) and the general one, and empty factors.
        for (r, k, m) in [
            (1, 1, 1),
            (1, 6, 2),
            (2, 6, 1),
            (4, 5, 2),
            (5, 50, 2),
            (6, 7, 1),
            (8, 3, 2),
            (7, 3, 2),
            (9, 4, 5),
            (13, 5, 3),
            (3, 9, 1),
            (6, 0, 2),
        ] {
            let a = DMatrix::from_vec(r, k, vals(r * k, 3));
            let b = DMatrix::from_vec(k, m, vals(k * m, 4));
            let g = DMatrix::from_vec(r, m, vals(r * m, 5));
            let c0 = DMatrix::from_vec(r, m, vals(r * m, 6));

            let mut c = c0.clone();
            gemm(a.as_slice(), b.as_slice(), c.as_mut_slice(), r, k, m);
            close(c.as_slice(), (&c0 + &a * &b).as_slice());

            let t0 = DMatrix::from_vec(k, m, vals(k * m, 7));
            let mut t = t0.clone();
            gemm_tn(a.as_slice(), g.as_slice(), t.as_mut_slice(), r, k, m);
            close(t.as_slice(), (&t0 + a.transpose() * &g).as_slice());

            let n0 = DMatrix::from_vec(r, k, vals(r * k, 8));
            let mut nt = n0.clone();
            gemm_nt(g.as_slice(), b.as_slice(), nt.as_mut_slice(), r, k, m);
            close(nt.as_slice(), (&n0 + &g * b.transpose()).as_slice());

            let x = DVector::from_vec(vals(k, 9));
            let o0 = DVector::from_vec(vals(r, 10));
            let mut o = o0.clone();
            gemv(a.as_slice(), r, k, x.as_slice(), o.as_mut_slice());
            close(o.as_slice(), (&o0 + &a * &x).as_slice());

            let gv = DVector::from_vec(vals(r, 11));
            let mut ot = x.clone();
            gemv_tr(a.as_slice(), r, k, gv.as_slice(), ot.as_mut_slice());
            close(ot.as_slice(), (&x + a.transpose() * &gv).as_slice());

            let mut ag = a.clone();
            ger(ag.as_mut_slice(), r, k, gv.as_slice(), x.as_slice());
            close(ag.as_slice(), (&a + &gv * x.transpose()).as_slice());
        }
    }

    /// Every product and reduction at every SIMD level this CPU has: the same bits on each
    /// (both copies compile the same code, and no level contracts `a * b + c`), and each
    /// against nalgebra.
    #[test]
    fn every_simd_level_gives_the_same_bits() {
        let (r, k, m) = (37, 9, 3);
        let a = DMatrix::from_vec(r, k, vals(r * k, 3));
        let b = DMatrix::from_vec(k, m, vals(k * m, 4));
        let g = DMatrix::from_vec(r, m, vals(r * m, 5));
        let x = vals(k, 9);
        let gv = vals(r, 11);
        let runs = crate::simd::tests::on_every_level(|| {
            let mut out = Vec::new();
            out.push(dot(a.as_slice(), g.as_slice()));
            out.push(sum(a.as_slice()));
            let mut c = vec![0.5; r * m];
            gemm(a.as_slice(), b.as_slice(), &mut c, r, k, m);
            close(&c, (DMatrix::from_element(r, m, 0.5) + &a * &b).as_slice());
            out.extend(c);
            let mut t = vec![0.0; k * m];
            gemm_tn(a.as_slice(), g.as_slice(), &mut t, r, k, m);
            out.extend(t);
            let mut nt = vec![0.0; r * k];
            gemm_nt(g.as_slice(), b.as_slice(), &mut nt, r, k, m);
            out.extend(nt);
            let mut o = vec![0.0; r];
            gemv(a.as_slice(), r, k, &x, &mut o);
            out.extend(o);
            let mut ot = vec![0.0; k];
            gemv_tr(a.as_slice(), r, k, &gv, &mut ot);
            out.extend(ot);
            let mut ag = a.as_slice().to_vec();
            ger(&mut ag, r, k, &gv, &x);
            axpy(0.25, &gv, &mut ag[..r]);
            out.extend(ag);
            out
        });
        let (first, rest) = runs.split_first().expect("the baseline level always runs");
        for (l, v) in rest {
            let same = v
                .iter()
                .zip(&first.1)
                .all(|(p, q)| p.to_bits() == q.to_bits());
            assert!(same, "{l:?} differs from {:?}", first.0);
        }
    }

    #[test]
    fn products_ignore_lengths_that_do_not_fit() {
        let mut out = [1.0; 2];
        gemv(&[1.0; 6], 2, 3, &[1.0; 2], &mut out);
        gemv_tr(&[1.0; 6], 2, 3, &[1.0; 2], &mut out);
        assert_eq!(out, [1.0; 2]);
    }
}
