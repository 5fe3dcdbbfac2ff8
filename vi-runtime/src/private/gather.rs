//! The checks of a vectorised loop's gathers and shifts (the macro's `vectorise` stage) and of
//! slices, before the whole-vector rules (`ad::gather`, `ad::segment`) run.
//!
//! `theta[g[i]]` over the lanes `i` of `lo..hi` becomes one gather: [`gather_index`] checks
//! every lane's index against the vector's length first, so an index out of range is named
//! as the loop would have named it, "index 3 is out of range for `a` of length 3 at i = 2".
//! `h[t - k]` becomes one segment, checked by [`lane_segment`]; data read at `y[t - k]` is
//! [`lane_shift`], a slice of the data like `lanes`.

use std::ops::Range;

use crate::ad::Operand;

use super::{ArgError, DataCache, Fail, LaneSource};

/// "index -1 is out of range for `h` of length 5 at g = 1, t = 0": `loops` are the values
/// of the loops around the vectorised one, then the lane's own.
#[cold]
fn out_of_range(
    index: i64,
    what: &str,
    len: usize,
    loops: &[(&str, i64)],
    var: &str,
    at: i64,
) -> String {
    let mut m = format!("index {index} is out of range for `{what}` of length {len} at ");
    for (name, value) in loops {
        m.push_str(&format!("{name} = {value}, "));
    }
    m.push_str(&format!("{var} = {at}"));
    m
}

/// The indices `g[i] - sub` of a gather `v[g[i] - sub]` over the lanes `i` of `lanes`, each
/// checked against `v`'s length: `g`'s elements for the lanes (the slice itself; the gather
/// subtracts `sub`).
///
/// # Errors
/// [`Fail::Invalid`] of statement `stmt` naming the first lane whose index is out of range,
/// the vector `what` and its length, and the values of the loop variables (`loops` for the
/// loops around, `var` for the lane's).
///
/// # Panics
/// When `lanes` is not inside `g` (the loop would have indexed `g` out of bounds; see
/// `lanes`).
#[inline]
#[allow(clippy::too_many_arguments)]
pub fn gather_index<'a, V, G, const N: usize>(
    stmt: usize,
    v: &V,
    g: &'a G,
    lanes: &Range<usize>,
    sub: usize,
    what: &str,
    var: &str,
    loops: impl FnOnce() -> [(&'static str, i64); N],
) -> Result<&'a [usize], Fail>
where
    V: Operand + ?Sized,
    G: LaneSource<Elem = usize> + ?Sized,
{
    let idx = super::lanes(g, lanes);
    let (r, c) = v.dims();
    let len = r * c;
    // A reduction of subtractions and ors, which vectorises (a comparison per lane does
    // not, on the baseline instruction set): with `d = i - sub` (an index below `sub` wraps
    // to one with the top bit set), `d | (len - 1 - d)` has its top bit set exactly when
    // `d >= len` (lengths and in-range positions are below 2^63; `len = 0` wraps too).
    if any_out_of_range(idx, sub, len) {
        let k = idx
            .iter()
            .position(|&i| i < sub || i - sub >= len)
            .unwrap_or(0);
        let index = idx[k] as i64 - sub as i64;
        let at = (lanes.start + k) as i64;
        return Err(Fail::Invalid(
            stmt,
            out_of_range(index, what, len, &loops(), var, at),
        ));
    }
    Ok(idx)
}

/// What a gather's check passed with (see [`gather_index_kept`]): the codes of its lanes
/// (their address and number), the offset and the base's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct GatherChecked {
    codes: usize,
    n: usize,
    sub: usize,
    len: usize,
}

/// [`gather_index`] for a gather whose codes, offset and lanes are the same on every call
/// (the codes an argument of the model, which cannot change): the check that passed is
/// kept in slot `slot` of the model's `cache` (in the constructor's run, the first), and a
/// later call with the same codes (the same slice), offset and base length skips the pass
/// over the codes. Any other call is checked as by [`gather_index`].
///
/// # Errors
/// [`gather_index`]'s.
///
/// # Panics
/// [`gather_index`]'s.
#[inline]
#[allow(clippy::too_many_arguments)]
pub fn gather_index_kept<'a, V, G, const N: usize>(
    cache: &DataCache,
    slot: usize,
    stmt: usize,
    v: &V,
    g: &'a G,
    lanes: &Range<usize>,
    sub: usize,
    what: &str,
    var: &str,
    loops: impl FnOnce() -> [(&'static str, i64); N],
) -> Result<&'a [usize], Fail>
where
    V: Operand + ?Sized,
    G: LaneSource<Elem = usize> + ?Sized,
{
    let idx = super::lanes(g, lanes);
    let (r, c) = v.dims();
    let now = GatherChecked {
        codes: idx.as_ptr() as usize,
        n: idx.len(),
        sub,
        len: r * c,
    };
    if cache.kept::<GatherChecked>(slot) == Some(&now) {
        return Ok(idx);
    }
    let idx = gather_index(stmt, v, g, lanes, sub, what, var, loops)?;
    cache.keep(slot, now);
    Ok(idx)
}

/// Whether some `i - sub` of `idx` is outside `0..len`: the reduction of
/// [`gather_index`], in the runtime (not in each model's crate) so that it runs at the widest
/// vector level the CPU has (`simd::dispatch`), 8 codes at a time with AVX-512.
#[inline(never)]
fn any_out_of_range(idx: &[usize], sub: usize, len: usize) -> bool {
    crate::simd::dispatch!([] [] (idx: &[usize], sub: usize, len: usize) -> bool {
        let bad = idx.iter().fold(0usize, |b, &i| {
            let d = i.wrapping_sub(sub);
            b | d | len.wrapping_sub(1).wrapping_sub(d)
        });
        bad >> (usize::BITS - 1) != 0
    })
}

/// The start of the segment `v[t - back]` over the lanes `t` of `lanes` (its length is the
/// lanes'), checked against `v`'s length.
///
/// # Errors
/// [`Fail::Invalid`] of statement `stmt` naming the first lane whose index is out of range
/// (as [`gather_index`]).
#[inline]
pub fn lane_segment<V, const N: usize>(
    stmt: usize,
    v: &V,
    lanes: &Range<usize>,
    back: i64,
    what: &str,
    var: &str,
    loops: impl FnOnce() -> [(&'static str, i64); N],
) -> Result<usize, Fail>
where
    V: Operand + ?Sized,
{
    let (r, c) = v.dims();
    let len = r * c;
    if lanes.is_empty() {
        return Ok(0);
    }
    let (lo, hi) = (lanes.start as i64, lanes.end as i64);
    // The first lane whose index `t - back` is outside `0..len`.
    let bad = if lo - back < 0 {
        Some(lo)
    } else if hi - back > len as i64 {
        Some((len as i64 + back).max(lo))
    } else {
        None
    };
    match bad {
        None => Ok((lo - back) as usize),
        Some(t) => Err(Fail::Invalid(
            stmt,
            out_of_range(t - back, what, len, &loops(), var, t),
        )),
    }
}

/// `y[i - back]` for every `i` of `lanes`: the elements as one slice (data read at a
/// constant shift from the loop variable, as in an autoregression's `y[t - 1]`).
///
/// # Panics
/// When the shifted lanes are not inside `y` (the loop would have indexed out of bounds).
#[inline]
pub fn lane_shift<'a, T: LaneSource + ?Sized>(
    y: &'a T,
    lanes: &Range<usize>,
    back: i64,
) -> &'a [T::Elem] {
    let all = y.elements();
    let (lo, hi) = (lanes.start as i64 - back, lanes.end as i64 - back);
    if lanes.is_empty() {
        return &all[..0];
    }
    if lo < 0 || hi > all.len() as i64 {
        panic!(
            "a loop over {}..{} reads elements {lo}..{hi} of a vector of length {}",
            lanes.start,
            lanes.end,
            all.len()
        );
    }
    &all[lo as usize..hi as usize]
}

/// A lane index's constant shift `k` (`t - k`) as a signed number.
#[inline(always)]
pub fn shift_of(k: usize) -> i64 {
    k as i64
}

/// A distribution statement's check of a vectorised loop (see `dist::*::check`), with the
/// index of a bad element of a number-per-lane operand (`lanes[arg]`) made the loop's
/// (the lane's position plus the range's start).
///
/// # Errors
/// The check's error, so adjusted.
#[inline]
pub fn lane_check(
    checked: Result<(), ArgError>,
    range: &Range<usize>,
    lanes: &[bool],
) -> Result<(), ArgError> {
    checked.map_err(|mut e| {
        if lanes.get(e.arg).copied().unwrap_or(false) {
            e.index += range.start;
        }
        e
    })
}

/// The length of the slice `v[a..b]`.
///
/// # Panics
/// When `b < a`, as Rust's slicing does (the constructor's run reports it with its
/// statement).
#[inline]
pub fn range_len(a: usize, b: usize) -> usize {
    match b.checked_sub(a) {
        Some(n) => n,
        None => panic!("the range {a}..{b} ends before it starts"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::DVector;

    #[test]
    fn the_vectorised_range_reduction_finds_one_bad_code_anywhere() {
        // Every length up to 40 (the vector loop's body and its tail), one code out of range
        // (too large, or below the offset) at each position, against the comparison per code.
        for n in 1..40usize {
            let good: Vec<usize> = (0..n).map(|k| 3 + (k * 7) % 85).collect();
            assert!(!any_out_of_range(&good, 3, 85));
            for at in 0..n {
                for bad in [88, 2, usize::MAX] {
                    let mut idx = good.clone();
                    idx[at] = bad;
                    let direct = idx.iter().any(|&i| i < 3 || i - 3 >= 85);
                    assert!(direct && any_out_of_range(&idx, 3, 85), "{n} {at} {bad}");
                }
            }
        }
        assert!(any_out_of_range(&[0], 0, 0) && !any_out_of_range(&[], 0, 0));
    }

    fn message(r: Result<impl std::fmt::Debug, Fail>) -> String {
        match r {
            Err(Fail::Invalid(0, m)) => m,
            other => panic!("expected an index error, got {other:?}"),
        }
    }

    #[test]
    fn gathers_name_the_first_lane_out_of_range() {
        let v = DVector::from_vec(vec![1.0, 2.0, 3.0]);
        let g = vec![0usize, 2, 1, 3, 0, 3];
        assert_eq!(
            gather_index(0, &v, &g, &(0..3), 0, "a", "i", || []).ok(),
            Some(&[0usize, 2, 1][..])
        );
        let m = message(gather_index(0, &v, &g, &(1..6), 0, "a", "i", || [("g", 4)]));
        assert_eq!(
            m,
            "index 3 is out of range for `a` of length 3 at g = 4, i = 3"
        );
        // 1-based codes read with `g[i] - 1`: a 0 is index -1.
        let m = message(gather_index(0, &v, &g, &(0..6), 1, "a", "i", || []));
        assert_eq!(m, "index -1 is out of range for `a` of length 3 at i = 0");
        assert!(gather_index(0, &v, &g, &(1..4), 1, "a", "i", || []).is_ok());
        // An empty vector has no index in range; huge codes are out of range too.
        let empty = DVector::<f64>::zeros(0);
        let m = message(gather_index(0, &empty, &g, &(0..1), 0, "a", "i", || []));
        assert_eq!(m, "index 0 is out of range for `a` of length 0 at i = 0");
        assert!(gather_index(0, &empty, &g, &(2..2), 0, "a", "i", || []).is_ok());
        let huge = vec![1usize, usize::MAX, 1usize << 63];
        for k in 1..3 {
            assert!(gather_index(0, &v, &huge, &(k..k + 1), 0, "a", "i", || []).is_err());
        }
        // Every position of a long index vector is checked (the reduction runs in blocks).
        let mut long = vec![2usize; 1001];
        assert!(gather_index(0, &v, &long, &(0..1001), 0, "a", "i", || []).is_ok());
        long[997] = 3;
        let m = message(gather_index(0, &v, &long, &(0..1001), 0, "a", "i", || []));
        assert_eq!(m, "index 3 is out of range for `a` of length 3 at i = 997");
    }

    #[test]
    fn a_kept_check_is_skipped_only_for_the_same_codes_offset_and_length() {
        let cache = DataCache::new(1);
        let (v3, v2) = (DVector::from_element(3, 1.0), DVector::from_element(2, 1.0));
        let g = vec![0usize, 2, 1, 2];
        fn kept<'a>(
            cache: &DataCache,
            v: &DVector<f64>,
            g: &'a Vec<usize>,
            r: Range<usize>,
            sub: usize,
        ) -> Result<&'a [usize], Fail> {
            gather_index_kept(cache, 0, 0, v, g, &r, sub, "a", "i", || [("r", 1)])
        }
        // The first check passes and is kept; the same call again reads the same lanes.
        assert_eq!(
            kept(&cache, &v3, &g, 0..4, 0).ok(),
            Some(&[0usize, 2, 1, 2][..])
        );
        assert_eq!(
            kept(&cache, &v3, &g, 0..4, 0).ok(),
            Some(&[0usize, 2, 1, 2][..])
        );
        // A shorter base with the same codes is checked again, and named as the loop would.
        let m = message(kept(&cache, &v2, &g, 0..4, 0));
        assert_eq!(
            m,
            "index 2 is out of range for `a` of length 2 at r = 1, i = 1"
        );
        // So are other lanes, another offset and other codes (the first check stays kept).
        assert_eq!(kept(&cache, &v2, &g, 0..1, 0).ok(), Some(&[0usize][..]));
        let m = message(kept(&cache, &v3, &g, 0..4, 1));
        assert_eq!(
            m,
            "index -1 is out of range for `a` of length 3 at r = 1, i = 0"
        );
        let bad = vec![0usize, 2, 3, 2];
        let m = message(kept(&cache, &v3, &bad, 0..4, 0));
        assert_eq!(
            m,
            "index 3 is out of range for `a` of length 3 at r = 1, i = 2"
        );
        assert!(kept(&cache, &v3, &g, 0..4, 0).is_ok());
        // A slot past the cache's end keeps nothing and checks every time.
        let m = message(gather_index_kept(
            &cache,
            5,
            0,
            &v2,
            &g,
            &(0..4),
            0,
            "a",
            "i",
            || [],
        ));
        assert_eq!(m, "index 2 is out of range for `a` of length 2 at i = 1");
        assert!(gather_index_kept(&cache, 5, 0, &v3, &g, &(0..4), 0, "a", "i", || []).is_ok());
    }

    #[test]
    fn segments_name_the_first_lane_out_of_range() {
        let h = DVector::from_vec(vec![0.0; 5]);
        assert_eq!(
            lane_segment(0, &h, &(1..5), 1, "h", "t", || []).ok(),
            Some(0)
        );
        assert_eq!(
            lane_segment(0, &h, &(0..5), 0, "h", "t", || []).ok(),
            Some(0)
        );
        let m = message(lane_segment(0, &h, &(0..5), 1, "h", "t", || []));
        assert_eq!(m, "index -1 is out of range for `h` of length 5 at t = 0");
        let m = message(lane_segment(0, &h, &(2..7), 0, "h", "t", || []));
        assert_eq!(m, "index 5 is out of range for `h` of length 5 at t = 5");
        let m = message(lane_segment(0, &h, &(2..4), -3, "h", "t", || []));
        assert_eq!(m, "index 5 is out of range for `h` of length 5 at t = 2");
        assert_eq!(
            lane_segment(0, &h, &(9..9), 3, "h", "t", || []).ok(),
            Some(0)
        );
    }

    #[test]
    fn shifted_lanes_read_what_the_loop_would_have_read() {
        let y = vec![1.0, 2.0, 3.0, 4.0];
        assert_eq!(lane_shift(&y, &(2..4), 2), &[1.0, 2.0]);
        assert_eq!(lane_shift(&y, &(0..3), -1), &[2.0, 3.0, 4.0]);
        let e = std::panic::catch_unwind(|| lane_shift(&y, &(0..4), 1).len()).unwrap_err();
        let msg = e.downcast_ref::<String>().expect("a formatted message");
        assert_eq!(
            msg,
            "a loop over 0..4 reads elements -1..3 of a vector of length 4"
        );
        assert_eq!(range_len(2, 5), 3);
        assert!(std::panic::catch_unwind(|| range_len(3, 2)).is_err());
    }
}
