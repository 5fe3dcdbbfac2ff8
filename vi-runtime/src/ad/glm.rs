// Longer than 800 lines: one kernel with its two paths (rows in registers, blocks in cache)
// and the chunking around them; the unit tests (against the row-by-row formula, finite
// differences, every thread count and SIMD level) are a third of it.
//! The Gaussian linear regression's likelihood and its partials in one pass over the design
//! matrix: `sum_i ln Normal(y_i | (X w)_i + b_i, sigma_i)` (Stan's `normal_id_glm_lpdf`),
//! what `model!` calls for an observation `y ~ Normal(x * w + b, sigma)` with a data matrix
//! `x`.
//!
//! Written as rules, the statement reads `X` twice: the forward `X w` and the backward
//! `X^T r` (with `r_i = (y_i - mu_i) / sigma^2` the adjoint of the location), and it writes
//! and reads two `N`-vectors (the locations and their adjoints) between them. Here every row
//! is read once: its location, residual, log-density term and partials are computed while
//! its `x` values are in registers, and `r_i x_i` is added to `w`'s adjoint at once. Nothing
//! of length `N` is allocated.
//!
//! `X` is column-major (nalgebra's layout, what users pass): a block of rows is `D` column
//! segments, read side by side. With `D` of 1 to [`FIXED_COLS`] and one intercept and one
//! scale (the usual regression), each row is done in registers; otherwise (more columns, a
//! per-row intercept or scale) blocks of [`BLOCK`] rows run `X_b w`, the residuals and
//! `X_b^T r` back to back, the block still in the L1/L2 cache for the second read.
//!
//! Above [`threads::MIN_ROWS`] rows, the rows are cut into the
//! fixed chunks of [`threads`](mod@crate::threads) and spread over the calling thread's budget;
//! each chunk keeps its own partial sums, added in chunk order, so the value and the
//! gradient are bit-identical on any number of threads. The loops run at the
//! [`simd::level`](crate::simd::level) chosen at start-up, with the same results on every
//! level (no fused multiply-adds, fixed partial sums).
//!
//! ```
//! use vi_runtime::ad::glm::normal_id_glm;
//! // Two rows, one column: y = (1, 3), x = (1, 2), w = 1, b = 0.5, sigma = 2.
//! let (x, y) = ([1.0, 2.0], [1.0, 3.0]);
//! let (mut gw, mut gb, mut gs) = ([0.0], [0.0], [0.0]);
//! let lp = normal_id_glm(
//!     &x, 2, 1, &y, &[1.0], &[0.5], &[2.0],
//!     Some(&mut gw), Some(&mut gb), Some(&mut gs),
//! )?;
//! // Residuals (y - mu) are -0.5 and 0.5.
//! let z: [f64; 2] = [-0.25, 0.25];
//! let want: f64 = z.iter().map(|z| -0.5 * z * z - 2f64.ln() - vi_runtime::math::LN_SQRT_2PI).sum();
//! assert!((lp - want).abs() < 1e-15);
//! // d/dw = sum x_i (y_i - mu_i) / sigma^2 = (-0.5 + 1.0) / 4.
//! assert!((gw[0] - 0.125).abs() < 1e-15);
//! assert!((gb[0] - 0.0).abs() < 1e-15);
//! # Ok::<(), vi_runtime::ad::glm::GlmShape>(())
//! ```

use std::ops::Range;

use crate::ad::kernels::{combine, lanes, LANES};
use crate::math::LN_SQRT_2PI;
use crate::threads;

/// Rows per block of the general path: `BLOCK * D` values of `X` are read twice (forward and
/// backward) while they stay in the cache (8 KB per column).
pub const BLOCK: usize = 1024;

/// The widest design handled row by row in registers (one code path per width).
pub const FIXED_COLS: usize = 8;

/// Operands of [`normal_id_glm`] whose lengths do not fit `X`'s shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlmShape {
    /// Which operand: `"x"`, `"y"`, `"w"`, `"b"`, `"sigma"`, or the adjoint of one
    /// (`"dw"`, `"db"`, `"dsigma"`).
    pub operand: &'static str,
    /// Its length.
    pub len: usize,
    /// `X`'s rows.
    pub rows: usize,
    /// `X`'s columns.
    pub cols: usize,
}

impl GlmShape {
    /// The message with the operands named as the user wrote them: `names` are the texts of
    /// `x`, `y`, `w`, `b` and `sigma`.
    pub fn describe(&self, names: [&str; 5]) -> String {
        let [x, y, w, b, s] = names;
        let (len, rows, cols) = (self.len, self.rows, self.cols);
        match self.operand {
            "x" => format!("`{x}` has {len} elements, not {rows} x {cols}"),
            "y" => format!("`{y}` has {len} elements where `{x}` has {rows} rows"),
            "w" => format!("`{w}` has {len} elements where `{x}` has {cols} columns"),
            "b" | "sigma" => {
                let v = if self.operand == "b" { b } else { s };
                format!(
                    "`{v}` has {len} elements where 1 or {rows} (one per row of `{x}`) are needed"
                )
            }
            g => format!("the adjoint `{g}` has {len} elements, not its value's number"),
        }
    }
}

impl std::fmt::Display for GlmShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe(["x", "y", "w", "b", "sigma"]))
    }
}

impl std::error::Error for GlmShape {}

/// `sum_i ln Normal(y_i | (X w)_i + b_i, sigma_i)` for `X` column-major `rows x cols`
/// (`x.len() == rows * cols`), `y` of length `rows`, `w` of length `cols`, `b` of length 0
/// (no intercept), 1 or `rows`, `sigma` of length 1 or `rows`; adds the partials into the
/// adjoints given (each the length of its value). NaN when a `sigma` is not positive (as
/// [`dist::normal::lpdf`](crate::dist::normal::lpdf)).
///
/// # Errors
/// [`GlmShape`] when a length does not fit `X`'s shape (nothing is added then).
#[allow(clippy::too_many_arguments)]
pub fn normal_id_glm(
    x: &[f64],
    rows: usize,
    cols: usize,
    y: &[f64],
    w: &[f64],
    b: &[f64],
    sigma: &[f64],
    gw: Option<&mut [f64]>,
    gb: Option<&mut [f64]>,
    gsigma: Option<&mut [f64]>,
) -> Result<f64, GlmShape> {
    check_shapes(x, rows, cols, y, w, b, sigma, &gw, &gb, &gsigma)?;
    let op = Glm {
        x,
        ld: rows,
        cols,
        y,
        w,
        b,
        sigma,
        want_w: gw.is_some(),
    };
    if sigma.len() == 1 && (sigma[0] <= 0.0 || sigma[0].is_nan()) {
        return Ok(f64::NAN);
    }
    let (vec_b, vec_s) = (
        b.len() == rows && rows != 1,
        sigma.len() == rows && rows != 1,
    );
    let mut gw = gw;
    let mut gb = gb;
    let mut gsigma = gsigma;
    let total = match threads::chunks(rows) {
        None => {
            let mut rest = Rest {
                gb: if vec_b { gb.as_deref_mut() } else { None },
                gs: if vec_s { gsigma.as_deref_mut() } else { None },
            };
            let mut scratch = [0.0; FIXED_COLS];
            let gwp: &mut [f64] = match gw.as_deref_mut() {
                Some(g) => g,
                None => &mut scratch[..cols.min(FIXED_COLS)],
            };
            op.chunk(0..rows, gwp, &mut rest)
        }
        Some(chunks) => {
            let gb_blocks = split(if vec_b { gb.as_deref_mut() } else { None }, &chunks);
            let gs_blocks = split(if vec_s { gsigma.as_deref_mut() } else { None }, &chunks);
            let jobs: Vec<_> = chunks
                .iter()
                .cloned()
                .zip(gb_blocks.into_iter().zip(gs_blocks))
                .collect();
            let op = &op;
            let parts = threads::run(jobs, |(range, (gb, gs))| {
                let mut p = vec![
                    0.0;
                    if op.want_w {
                        cols
                    } else {
                        cols.min(FIXED_COLS)
                    }
                ];
                let s = op.chunk(range, &mut p, &mut Rest { gb, gs });
                (s, p)
            });
            let mut total = Sums::default();
            for (s, _) in &parts {
                total.add(s);
            }
            if let Some(g) = &mut gw {
                for (j, o) in g.iter_mut().enumerate() {
                    let mut s = 0.0;
                    for (_, p) in &parts {
                        s += p[j];
                    }
                    *o += s;
                }
            }
            total
        }
    };
    if total.bad {
        return Ok(f64::NAN);
    }
    let n = rows as f64;
    if let (Some(g), false) = (gb, vec_b) {
        if let Some(g0) = g.first_mut() {
            *g0 += total.r;
        }
    }
    if vec_s {
        // Per-row scales: the chunks summed `-z^2 / 2 - ln sigma_i` and wrote their partials.
        return Ok(total.lp - n * LN_SQRT_2PI);
    }
    let s = sigma[0];
    let inv = 1.0 / s;
    if let Some(g) = gsigma {
        g[0] += (total.lp - n) * inv;
    }
    Ok(-0.5 * total.lp - n * (s.ln() + LN_SQRT_2PI))
}

/// The lengths [`normal_id_glm`] needs.
#[allow(clippy::too_many_arguments)]
fn check_shapes(
    x: &[f64],
    rows: usize,
    cols: usize,
    y: &[f64],
    w: &[f64],
    b: &[f64],
    sigma: &[f64],
    gw: &Option<&mut [f64]>,
    gb: &Option<&mut [f64]>,
    gsigma: &Option<&mut [f64]>,
) -> Result<(), GlmShape> {
    let fail = |operand, len| {
        Err(GlmShape {
            operand,
            len,
            rows,
            cols,
        })
    };
    if rows.checked_mul(cols) != Some(x.len()) {
        return fail("x", x.len());
    }
    if y.len() != rows {
        return fail("y", y.len());
    }
    if w.len() != cols {
        return fail("w", w.len());
    }
    if !(b.len() <= 1 || b.len() == rows) {
        return fail("b", b.len());
    }
    if !(sigma.len() == 1 || sigma.len() == rows) {
        return fail("sigma", sigma.len());
    }
    let adj = [
        ("dw", gw, w.len()),
        ("db", gb, b.len()),
        ("dsigma", gsigma, sigma.len()),
    ];
    for (name, g, want) in adj {
        if let Some(g) = g {
            if g.len() != want {
                return fail(name, g.len());
            }
        }
    }
    Ok(())
}

/// `g` cut at the chunks' boundaries (`None` for every chunk without one).
fn split<'a>(g: Option<&'a mut [f64]>, chunks: &[Range<usize>]) -> Vec<Option<&'a mut [f64]>> {
    match g {
        None => chunks.iter().map(|_| None).collect(),
        Some(g) => {
            let mut out = Vec::with_capacity(chunks.len());
            let mut rest = g;
            for c in chunks {
                let (head, tail) = rest.split_at_mut(c.len());
                out.push(Some(head));
                rest = tail;
            }
            out
        }
    }
}

/// The operands, shared by the chunks.
struct Glm<'a> {
    x: &'a [f64],
    /// The distance between columns of `x` (its number of rows).
    ld: usize,
    cols: usize,
    y: &'a [f64],
    w: &'a [f64],
    b: &'a [f64],
    sigma: &'a [f64],
    /// Whether `w`'s adjoint is wanted (else the backward products are skipped where they
    /// cost a pass).
    want_w: bool,
}

/// A chunk's per-row adjoints (per-row intercepts and scales), cut to its rows.
struct Rest<'a> {
    gb: Option<&'a mut [f64]>,
    gs: Option<&'a mut [f64]>,
}

/// A chunk's sums: with one scale, `sum z_i^2` (`lp`) and `sum r_i`; with a scale per row,
/// `sum -z_i^2 / 2 - ln sigma_i`; `bad` when a scale is not positive.
#[derive(Clone, Copy, Default)]
struct Sums {
    lp: f64,
    r: f64,
    bad: bool,
}

impl Sums {
    fn add(&mut self, o: &Sums) {
        self.lp += o.lp;
        self.r += o.r;
        self.bad |= o.bad;
    }
}

impl Glm<'_> {
    /// Rows `range`: the sums, `w`'s partials added into `gw` (of `cols` elements, or a
    /// scratch buffer when they are not wanted), the per-row partials into `rest`.
    fn chunk(&self, range: Range<usize>, gw: &mut [f64], rest: &mut Rest<'_>) -> Sums {
        let rows = self.ld;
        let fixed = self.cols <= FIXED_COLS
            && self.cols > 0
            && !(self.b.len() == rows && rows != 1)
            && self.sigma.len() == 1;
        if fixed {
            let b = self.b.first().copied().unwrap_or(0.0);
            let inv = 1.0 / self.sigma[0];
            let (ss, sr) = match self.cols {
                1 => self.fixed::<1>(range, b, inv, gw),
                2 => self.fixed::<2>(range, b, inv, gw),
                3 => self.fixed::<3>(range, b, inv, gw),
                4 => self.fixed::<4>(range, b, inv, gw),
                5 => self.fixed::<5>(range, b, inv, gw),
                6 => self.fixed::<6>(range, b, inv, gw),
                7 => self.fixed::<7>(range, b, inv, gw),
                _ => self.fixed::<8>(range, b, inv, gw),
            };
            return Sums {
                lp: ss,
                r: sr,
                bad: false,
            };
        }
        self.blocked(range, gw, rest)
    }

    /// One pass over rows `range` for `D` columns, one intercept `b` and one scale `1 / inv`:
    /// returns `(sum z^2, sum r)` and adds `sum_i r_i x_ij` into `gw[j]`.
    fn fixed<const D: usize>(
        &self,
        range: Range<usize>,
        b: f64,
        inv: f64,
        gw: &mut [f64],
    ) -> (f64, f64) {
        let (x, ld, y) = (self.x, self.ld, self.y);
        let Ok(w) = <&[f64; D]>::try_from(self.w) else {
            return (f64::NAN, f64::NAN);
        };
        let Some(gw) = gw.get_mut(..D) else {
            return (f64::NAN, f64::NAN);
        };
        crate::simd::dispatch!([const D: usize] [D] (
            x: &[f64],
            ld: usize,
            range: Range<usize>,
            y: &[f64],
            w: &[f64; D],
            b: f64,
            inv: f64,
            gw: &mut [f64],
        ) -> (f64, f64) { fixed_impl::<D>(x, ld, range, y, w, b, inv, gw) })
    }

    /// Rows `range` in blocks of [`BLOCK`]: `mu = X_b w` (the general product), then the
    /// residuals with a per-row or single intercept and scale, then `X_b^T r`.
    fn blocked(&self, range: Range<usize>, gw: &mut [f64], rest: &mut Rest<'_>) -> Sums {
        let (x, ld, cols, y, w, b, sigma) = (
            self.x, self.ld, self.cols, self.y, self.w, self.b, self.sigma,
        );
        let want_w = self.want_w;
        let (gb, gs) = (rest.gb.as_deref_mut(), rest.gs.as_deref_mut());
        crate::simd::dispatch!([] [] (
            x: &[f64],
            ld: usize,
            cols: usize,
            range: Range<usize>,
            y: &[f64],
            w: &[f64],
            b: &[f64],
            sigma: &[f64],
            want_w: bool,
            gw: &mut [f64],
            gb: Option<&mut [f64]>,
            gs: Option<&mut [f64]>,
        ) -> Sums { blocked_impl(x, ld, cols, range, y, w, b, sigma, want_w, gw, gb, gs) })
    }
}

/// The body of [`Glm::fixed`], inlined into each compiled copy: [`LANES`] rows at a time,
/// each row's `D` values read once, with [`LANES`] partial sums of every total.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn fixed_impl<const D: usize>(
    x: &[f64],
    ld: usize,
    range: Range<usize>,
    y: &[f64],
    w: &[f64; D],
    b: f64,
    inv: f64,
    gw: &mut [f64],
) -> (f64, f64) {
    let (r0, len) = (range.start, range.len());
    let mut cols: [&[f64]; D] = [&[]; D];
    for (j, c) in cols.iter_mut().enumerate() {
        let Some(s) = x.get(j * ld + r0..j * ld + r0 + len) else {
            return (f64::NAN, f64::NAN);
        };
        *c = s;
    }
    let Some(y) = y.get(r0..r0 + len) else {
        return (f64::NAN, f64::NAN);
    };
    let whole = len - len % LANES;
    let mut ss = [0.0; LANES];
    let mut sr = [0.0; LANES];
    let mut gacc = [[0.0; LANES]; D];
    let mut i = 0;
    while i < whole {
        let yy = lanes(&y[i..i + LANES]);
        let mut xs: [&[f64; LANES]; D] = [&[0.0; LANES]; D];
        for j in 0..D {
            xs[j] = lanes(&cols[j][i..i + LANES]);
        }
        let mut mu = [b; LANES];
        for j in 0..D {
            for l in 0..LANES {
                mu[l] += w[j] * xs[j][l];
            }
        }
        let mut r = [0.0; LANES];
        for l in 0..LANES {
            let z = (yy[l] - mu[l]) * inv;
            ss[l] += z * z;
            r[l] = z * inv;
            sr[l] += r[l];
        }
        for j in 0..D {
            for l in 0..LANES {
                gacc[j][l] += xs[j][l] * r[l];
            }
        }
        i += LANES;
    }
    let (mut tss, mut tsr) = (0.0, 0.0);
    let mut tg = [0.0; D];
    for i in whole..len {
        let mut mu = b;
        for j in 0..D {
            mu += w[j] * cols[j][i];
        }
        let z = (y[i] - mu) * inv;
        tss += z * z;
        let r = z * inv;
        tsr += r;
        for j in 0..D {
            tg[j] += cols[j][i] * r;
        }
    }
    for j in 0..D {
        gw[j] += combine(gacc[j]) + tg[j];
    }
    (combine(ss) + tss, combine(sr) + tsr)
}

/// The body of [`Glm::blocked`], inlined into each compiled copy.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn blocked_impl(
    x: &[f64],
    ld: usize,
    cols: usize,
    range: Range<usize>,
    y: &[f64],
    w: &[f64],
    b: &[f64],
    sigma: &[f64],
    want_w: bool,
    gw: &mut [f64],
    mut gb: Option<&mut [f64]>,
    mut gs: Option<&mut [f64]>,
) -> Sums {
    let r0 = range.start;
    let per_row = |v: &[f64]| v.len() == ld && ld != 1;
    let (vb, vs) = (per_row(b), per_row(sigma));
    let b0 = b.first().copied().unwrap_or(0.0);
    let mut sums = Sums::default();
    let mut mu = [0.0; BLOCK];
    let mut lo = r0;
    while lo < range.end {
        let hi = (lo + BLOCK).min(range.end);
        let n = hi - lo;
        let m = &mut mu[..n];
        m.fill(0.0);
        crate::ad::kernels::gemv_ld_impl(&x[lo..], ld, n, cols, w, m);
        for (k, mk) in m.iter_mut().enumerate() {
            let i = lo + k;
            let s = if vs { sigma[i] } else { sigma[0] };
            if s <= 0.0 || s.is_nan() {
                sums.bad = true;
            }
            let inv = 1.0 / s;
            let z = (y[i] - (*mk + if vb { b[i] } else { b0 })) * inv;
            let r = z * inv;
            if vs {
                sums.lp += -0.5 * z * z - s.ln();
                if let Some(g) = gs.as_deref_mut() {
                    g[i - r0] += (z * z - 1.0) * inv;
                }
            } else {
                sums.lp += z * z;
            }
            if vb {
                if let Some(g) = gb.as_deref_mut() {
                    g[i - r0] += r;
                }
            } else {
                sums.r += r;
            }
            *mk = r;
        }
        if want_w {
            crate::ad::kernels::gemv_tr_ld_impl(&x[lo..], ld, n, cols, m, gw);
        }
        lo = hi;
    }
    sums
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A design near 100 (unstandardised), `n x d` column-major, and outcomes.
    fn data(n: usize, d: usize) -> (Vec<f64>, Vec<f64>) {
        let x: Vec<f64> = (0..n * d)
            .map(|k| 100.0 + ((k * 37 + 11) % 101) as f64 / 7.0 - 7.0)
            .collect();
        let y: Vec<f64> = (0..n).map(|i| 3.0 + ((i * 13) % 29) as f64 / 3.0).collect();
        (x, y)
    }

    /// The same density and partials written out row by row; the density in a compensated
    /// (Neumaier) sum, so it is exact to rounding at a million rows.
    #[allow(clippy::too_many_arguments)]
    fn naive(
        x: &[f64],
        n: usize,
        d: usize,
        y: &[f64],
        w: &[f64],
        b: &[f64],
        s: &[f64],
    ) -> (f64, Vec<f64>, Vec<f64>, Vec<f64>) {
        let (mut gw, mut gb, mut gs) = (vec![0.0; d], vec![0.0; b.len()], vec![0.0; s.len()]);
        let (mut lp, mut comp) = (0.0f64, 0.0f64);
        let at = |v: &[f64], i: usize| if v.len() == 1 { v[0] } else { v[i] };
        for i in 0..n {
            let mut mu = if b.is_empty() { 0.0 } else { at(b, i) };
            for j in 0..d {
                mu += x[j * n + i] * w[j];
            }
            let si = at(s, i);
            let z = (y[i] - mu) / si;
            let term = -0.5 * z * z - si.ln() - LN_SQRT_2PI;
            let t = lp + term;
            comp += if lp.abs() >= term.abs() {
                (lp - t) + term
            } else {
                (term - t) + lp
            };
            lp = t;
            for j in 0..d {
                gw[j] += x[j * n + i] * z / si;
            }
            if !b.is_empty() {
                gb[if b.len() == 1 { 0 } else { i }] += z / si;
            }
            gs[if s.len() == 1 { 0 } else { i }] += (z * z - 1.0) / si;
        }
        (lp + comp, gw, gb, gs)
    }

    fn close(a: f64, b: f64, scale: f64) -> bool {
        (a - b).abs() <= 1e-12 * scale.max(b.abs()).max(1.0)
    }

    /// Runs the kernel with every adjoint: (lp, gw, gb, gs).
    fn run(
        x: &[f64],
        n: usize,
        d: usize,
        y: &[f64],
        w: &[f64],
        b: &[f64],
        s: &[f64],
    ) -> (f64, Vec<f64>, Vec<f64>, Vec<f64>) {
        let (mut gw, mut gb, mut gs) = (vec![0.0; d], vec![0.0; b.len()], vec![0.0; s.len()]);
        let lp = normal_id_glm(
            x,
            n,
            d,
            y,
            w,
            b,
            s,
            Some(&mut gw),
            (!b.is_empty()).then_some(&mut gb[..]),
            Some(&mut gs),
        )
        .expect("shapes fit");
        (lp, gw, gb, gs)
    }

    #[test]
    fn every_path_matches_the_row_by_row_formula() {
        // The fixed path (d = 5, one intercept and scale), the blocked path (d = 11; d = 5
        // with per-row intercepts and scales), no intercept, a tail of rows past the lanes.
        let n = 3001;
        for (d, vb, vs, nob) in [
            (5, false, false, false),
            (5, false, false, true),
            (1, false, false, false),
            (8, false, false, false),
            (11, false, false, false),
            (5, true, false, false),
            (5, false, true, false),
            (3, true, true, false),
        ] {
            let (x, y) = data(n, d);
            let w: Vec<f64> = (0..d).map(|j| 0.01 * (j as f64 - 2.0)).collect();
            let b: Vec<f64> = match (nob, vb) {
                (true, _) => vec![],
                (false, false) => vec![-3.0],
                (false, true) => (0..n).map(|i| -3.0 + (i % 7) as f64 * 0.1).collect(),
            };
            let s: Vec<f64> = if vs {
                (0..n).map(|i| 2.0 + (i % 5) as f64 * 0.3).collect()
            } else {
                vec![2.5]
            };
            let (lp, gw, gb, gs) = run(&x, n, d, &y, &w, &b, &s);
            let (lp0, gw0, gb0, gs0) = naive(&x, n, d, &y, &w, &b, &s);
            let case = format!("d = {d}, vector b {vb}, vector sigma {vs}, no b {nob}");
            assert!(close(lp, lp0, 0.0), "{case}: {lp} vs {lp0}");
            // Sums of terms of both signs: compared relative to the sum of magnitudes.
            let scale = gw0.iter().map(|g| g.abs()).sum::<f64>() * 100.0;
            for (a, e) in gw
                .iter()
                .zip(&gw0)
                .chain(gb.iter().zip(&gb0))
                .chain(gs.iter().zip(&gs0))
            {
                assert!(close(*a, *e, scale), "{case}: {a} vs {e}");
            }
        }
    }

    #[test]
    fn gradient_matches_finite_differences() {
        // theta = (w_0..w_4, b, ln sigma), rows near 100.
        let (n, d) = (2000, 5);
        let (x, y) = data(n, d);
        let f = |t: &[f64]| {
            normal_id_glm(
                &x,
                n,
                d,
                &y,
                &t[..d],
                &t[d..d + 1],
                &[t[d + 1].exp()],
                None,
                None,
                None,
            )
            .expect("shapes fit")
        };
        let t = [0.02, -0.01, 0.015, 0.0, 0.01, -1.5, 0.9];
        let (mut gw, mut gb, mut gs) = (vec![0.0; d], [0.0], [0.0]);
        let lp = normal_id_glm(
            &x,
            n,
            d,
            &y,
            &t[..d],
            &t[d..d + 1],
            &[t[d + 1].exp()],
            Some(&mut gw),
            Some(&mut gb),
            Some(&mut gs),
        )
        .expect("shapes fit");
        assert_eq!(lp.to_bits(), f(&t).to_bits(), "the value without adjoints");
        let mut g = gw.clone();
        g.push(gb[0]);
        g.push(gs[0] * t[d + 1].exp());
        let fd = crate::check::finite_diff_grad(f, &t, 1e-7);
        for (a, e) in g.iter().zip(&fd) {
            assert!((a - e).abs() <= 1e-5 * e.abs().max(1.0), "{g:?} vs {fd:?}");
        }
    }

    #[test]
    fn bit_identical_on_any_thread_count_and_simd_level() {
        // Above the threshold: ten chunks, the last one short.
        let n = threads::MIN_ROWS + 3 * threads::CHUNK + 123;
        for (d, vs) in [(5, false), (9, false), (2, true)] {
            let (x, y) = data(n, d);
            let w: Vec<f64> = (0..d).map(|j| 0.01 * (j as f64 - 2.0)).collect();
            let s: Vec<f64> = if vs {
                (0..n).map(|i| 2.0 + (i % 5) as f64 * 0.3).collect()
            } else {
                vec![2.5]
            };
            let runs = crate::simd::tests::on_every_level(|| {
                (1..=4)
                    .map(|t| threads::with_budget(t, || run(&x, n, d, &y, &w, &[-3.0], &s)))
                    .collect::<Vec<_>>()
            });
            let bits = |r: &(f64, Vec<f64>, Vec<f64>, Vec<f64>)| {
                let mut v = vec![r.0.to_bits()];
                v.extend(r.1.iter().chain(&r.2).chain(&r.3).map(|g| g.to_bits()));
                v
            };
            let first = bits(&runs[0].1[0]);
            for (level, per_t) in &runs {
                for (t, r) in per_t.iter().enumerate() {
                    assert_eq!(bits(r), first, "d = {d}: {level:?}, {} threads", t + 1);
                }
            }
            let (lp0, ..) = naive(&x, n, d, &y, &w, &[-3.0], &s);
            assert!(close(runs[0].1[0].0, lp0, 0.0));
        }
    }

    #[test]
    fn no_rows_give_zero_and_add_nothing() {
        // A model with no observations yet: `x` is 0 x 2, a per-row intercept has no element.
        let (mut gw, mut gb, mut gs) = ([0.5, 0.25], [0.0; 0], [0.0]);
        let lp = normal_id_glm(
            &[],
            0,
            2,
            &[],
            &[1.0, 2.0],
            &[],
            &[1.5],
            Some(&mut gw),
            Some(&mut gb),
            Some(&mut gs),
        );
        assert_eq!(lp, Ok(0.0));
        assert_eq!((gw, gs), ([0.5, 0.25], [0.0]));
    }

    #[test]
    fn shapes_that_do_not_fit_are_named_and_scales_not_positive_give_nan() {
        let (x, y) = data(10, 2);
        let e = normal_id_glm(
            &x,
            10,
            2,
            &y[..9],
            &[0.0; 2],
            &[0.0],
            &[1.0],
            None,
            None,
            None,
        )
        .expect_err("y is short");
        assert_eq!(e.operand, "y");
        assert_eq!(e.to_string(), "`y` has 9 elements where `x` has 10 rows");
        let e = normal_id_glm(&x, 10, 2, &y, &[0.0; 3], &[0.0], &[1.0], None, None, None)
            .expect_err("w is long");
        assert_eq!(e.operand, "w");
        let e = normal_id_glm(
            &x,
            10,
            2,
            &y,
            &[0.0; 2],
            &[0.0; 3],
            &[1.0],
            None,
            None,
            None,
        )
        .expect_err("b has 3");
        assert_eq!(e.operand, "b");
        assert_eq!(
            e.describe(["xs", "ys", "beta", "alpha", "s"]),
            "`alpha` has 3 elements where 1 or 10 (one per row of `xs`) are needed"
        );
        let e = normal_id_glm(
            &x,
            10,
            2,
            &y,
            &[0.0; 2],
            &[0.0],
            &[1.0; 4],
            None,
            None,
            None,
        )
        .expect_err("sigma has 4");
        assert_eq!(e.operand, "sigma");
        let mut g = [0.0; 3];
        let e = normal_id_glm(
            &x,
            10,
            2,
            &y,
            &[0.0; 2],
            &[0.0],
            &[1.0],
            Some(&mut g),
            None,
            None,
        )
        .expect_err("adjoint of w");
        assert_eq!(e.operand, "dw");
        for s in [0.0, -1.0, f64::NAN] {
            let lp = normal_id_glm(&x, 10, 2, &y, &[0.0; 2], &[0.0], &[s], None, None, None);
            assert!(lp.expect("shapes fit").is_nan());
        }
        let mut s = vec![1.0; 10];
        s[7] = -1.0;
        let lp = normal_id_glm(&x, 10, 2, &y, &[0.0; 2], &[0.0], &s, None, None, None);
        assert!(lp.expect("shapes fit").is_nan());
    }
}
