//! Multi-core kernels for big data: how many threads, and how the rows are split.
//!
//! Above [`MIN_ROWS`] rows, the large products of [`ad::kernels`](crate::ad::kernels)
//! (`gemv`, `gemv_tr`, `gemm`, `gemm_tn`, `gemm_nt`, `ger`) and the observation kernels
//! (`dist::normal::lpdf` and the per-element loop every other distribution's vectorised
//! kernel runs) split their rows into chunks of [`CHUNK`] rows. The chunk boundaries depend
//! on the number of rows only, never on the number of threads, and the per-chunk partial
//! sums are added in chunk order, so the value and the gradient are bit-identical on any
//! number of threads (one thread runs the same chunks one after the other). Each chunk runs
//! the kernels compiled for the [`simd::level`](crate::simd::level).
//!
//! The number of threads is bounded by one global setting: [`set_threads`], else the
//! environment variable `VI_THREADS` (read at the first use), else the machine's available
//! parallelism. Engines that already run in threads (NUTS's chains) give each of their
//! threads a share of it ([`with_budget`]), so the total stays within the setting.
//!
//! ```
//! use vi_runtime::threads;
//! threads::set_threads(2);
//! assert_eq!(threads::threads(), 2);
//! // Inside a budget of one thread, the kernels run their chunks in this thread.
//! threads::with_budget(1, || assert_eq!(threads::budget(), 1));
//! ```

use std::cell::Cell;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The rows in one chunk (a multiple of the kernels' lane count, so that every chunk but
/// the last has no remainder loop).
pub const CHUNK: usize = 1 << 16;

/// The number of rows from which the kernels split their rows into chunks. Below it they
/// run in one piece, as before. The threads are started per call (`std::thread::scope`):
/// about 20 µs each on a quiet machine, up to 200 µs on a loaded one, against several
/// milliseconds for a regression's gradient at this size (three kernel calls: `x * w`, the
/// likelihood, `x^T g`), so starting them costs a few percent at most.
pub const MIN_ROWS: usize = 1 << 19;

/// 0: not chosen yet.
static THREADS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's share of the threads, when an engine (or a chunk's worker) set one.
    static BUDGET: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Sets the total number of threads the kernels (and engines that follow the setting) may
/// use, from now on, in every thread; `0` is taken as 1.
pub fn set_threads(n: usize) {
    THREADS.store(n.max(1), Ordering::Relaxed);
}

/// The total number of threads: as [`set_threads`] set it, else `VI_THREADS` (a positive
/// integer; other values are ignored), else the machine's available parallelism.
pub fn threads() -> usize {
    match THREADS.load(Ordering::Relaxed) {
        0 => {
            let n = std::env::var("VI_THREADS")
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .filter(|&n| n > 0)
                .unwrap_or_else(|| {
                    std::thread::available_parallelism()
                        .map(usize::from)
                        .unwrap_or(1)
                });
            // Another thread may have stored a choice meanwhile: keep the first.
            match THREADS.compare_exchange(0, n, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => n,
                Err(m) => m,
            }
        }
        n => n,
    }
}

/// The number of threads a kernel called from this thread may use: this thread's budget
/// inside [`with_budget`], else [`threads`].
pub fn budget() -> usize {
    BUDGET.with(Cell::get).unwrap_or_else(threads).max(1)
}

/// Runs `f` with this thread's [`budget`] set to `n` (at least 1), restoring the previous
/// budget afterwards. NUTS runs each of its chains' threads under `threads() / chains`.
pub fn with_budget<R>(n: usize, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<usize>);
    impl Drop for Restore {
        fn drop(&mut self) {
            BUDGET.with(|b| b.set(self.0));
        }
    }
    let _restore = Restore(BUDGET.with(|b| b.replace(Some(n.max(1)))));
    f()
}

/// The chunks of `0..n`: `None` below [`MIN_ROWS`], else consecutive ranges of [`CHUNK`]
/// rows (the last one shorter).
pub(crate) fn chunks(n: usize) -> Option<Vec<Range<usize>>> {
    (n >= MIN_ROWS).then(|| {
        (0..n)
            .step_by(CHUNK)
            .map(|lo| lo..(lo + CHUNK).min(n))
            .collect()
    })
}

/// `f` applied to every job, the results in the jobs' order: on up to [`budget`] threads
/// (the jobs split into that many consecutive groups, the first group run in this thread),
/// each worker running under a budget of one thread.
pub(crate) fn run<J: Send, R: Send>(jobs: Vec<J>, f: impl Fn(J) -> R + Sync) -> Vec<R> {
    let t = budget().min(jobs.len());
    if t <= 1 {
        return jobs.into_iter().map(f).collect();
    }
    let per = jobs.len().div_ceil(t);
    let mut groups: Vec<Vec<J>> = Vec::with_capacity(t);
    let mut rest = jobs;
    while !rest.is_empty() {
        let tail = rest.split_off(per.min(rest.len()));
        groups.push(rest);
        rest = tail;
    }
    let f = &f;
    std::thread::scope(|s| {
        let mut groups = groups.into_iter();
        let first = groups.next().unwrap_or_default();
        let handles: Vec<_> = groups
            .map(|g| s.spawn(move || with_budget(1, || g.into_iter().map(f).collect::<Vec<_>>())))
            .collect();
        let mut out: Vec<R> = with_budget(1, || first.into_iter().map(f).collect());
        for h in handles {
            match h.join() {
                Ok(r) => out.extend(r),
                Err(payload) => std::panic::resume_unwind(payload),
            }
        }
        out
    })
}

/// The columns of a column-major `r x k` buffer, each cut at the chunks' boundaries: one
/// list of `k` row blocks per chunk.
pub(crate) fn split_cols<'a>(
    a: &'a mut [f64],
    r: usize,
    chunks: &[Range<usize>],
) -> Vec<Vec<&'a mut [f64]>> {
    let mut per: Vec<Vec<&'a mut [f64]>> = chunks.iter().map(|_| Vec::new()).collect();
    for col in a.chunks_exact_mut(r) {
        let mut rest = col;
        for (c, range) in chunks.iter().enumerate() {
            let (head, tail) = rest.split_at_mut(range.len());
            per[c].push(head);
            rest = tail;
        }
    }
    per
}

/// A slice of length 1 or `n` cut to `range` (a length-1 slice broadcasts: kept whole).
fn cut<'a>(x: &'a [f64], range: &Range<usize>) -> &'a [f64] {
    if x.len() == 1 {
        x
    } else {
        &x[range.clone()]
    }
}

/// An observation kernel over broadcast slices (each of length 1 or `n`), run chunk by
/// chunk when `n` is at least [`MIN_ROWS`]: `f` gets each chunk's slices (length-1 slices
/// whole) and partial buffers; a length-1 partial (a broadcast parameter) is gathered per
/// chunk and added in chunk order. The sum of the chunks' values in chunk order, or the
/// first chunk's NaN or `-inf`. `None` below the threshold or when the lengths do not
/// broadcast (the caller then runs `f` once, as before).
pub(crate) fn observe<'g, const N: usize>(
    x: [&[f64]; N],
    g: [Option<&'g mut [f64]>; N],
    f: impl Fn([&[f64]; N], [Option<&mut [f64]>; N]) -> f64 + Sync,
) -> Result<f64, [Option<&'g mut [f64]>; N]> {
    let Some(n) = super::dist::broadcast_len(&x.map(<[f64]>::len)) else {
        return Err(g);
    };
    let Some(chunks) = chunks(n) else {
        return Err(g);
    };
    if g.iter().flatten().any(|b| b.len() != 1 && b.len() != n) {
        return Err(g);
    }
    let nc = chunks.len();
    // The broadcast partials' per-chunk sums, and each chunk's blocks of the others.
    let mut scalars = vec![[0.0; N]; nc];
    let mut blocks: Vec<[Option<&mut [f64]>; N]> =
        (0..nc).map(|_| std::array::from_fn(|_| None)).collect();
    let mut whole: [Option<&mut [f64]>; N] = std::array::from_fn(|_| None);
    for (k, gk) in g.into_iter().enumerate() {
        match gk {
            Some(b) if b.len() == 1 && n != 1 => whole[k] = Some(b),
            Some(b) => {
                let mut rest = b;
                for (c, range) in chunks.iter().enumerate() {
                    let (head, tail) = rest.split_at_mut(range.len());
                    blocks[c][k] = Some(head);
                    rest = tail;
                }
            }
            None => {}
        }
    }
    let want_scalar = whole.each_ref().map(Option::is_some);
    let jobs: Vec<_> = chunks.iter().zip(blocks).zip(scalars.iter_mut()).collect();
    let f = &f;
    let lps = run(jobs, |((range, mut bl), sc)| {
        for (k, s) in sc.iter_mut().enumerate() {
            if want_scalar[k] {
                bl[k] = Some(std::slice::from_mut(s));
            }
        }
        f(x.map(|a| cut(a, range)), bl)
    });
    let mut lp = 0.0;
    for l in lps {
        if l.is_nan() || l == f64::NEG_INFINITY {
            return Ok(l);
        }
        lp += l;
    }
    for (k, w) in whole.iter_mut().enumerate() {
        if let Some(w) = w {
            let mut s = 0.0;
            for sc in &scalars {
                s += sc[k];
            }
            w[0] += s;
        }
    }
    Ok(lp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_rows_in_order() {
        assert!(chunks(MIN_ROWS - 1).is_none());
        let c = chunks(MIN_ROWS + 5).unwrap();
        assert_eq!(c.first(), Some(&(0..CHUNK)));
        assert_eq!(c.last(), Some(&(MIN_ROWS..MIN_ROWS + 5)));
        assert!(c.windows(2).all(|w| w[0].end == w[1].start));
    }

    #[test]
    fn run_keeps_the_jobs_order_on_any_budget() {
        for t in 1..=5 {
            let out = with_budget(t, || run((0..11).collect(), |j: usize| j * j));
            assert_eq!(out, (0..11).map(|j| j * j).collect::<Vec<_>>());
        }
        with_budget(3, || assert_eq!(budget(), 3));
    }
}
