//! Runtime CPU dispatch for the hot kernels.
//!
//! The library is built for the target's baseline (x86-64: SSE2, two `f64` lanes), so that
//! users need no `-C target-cpu`. The kernels that dominate a gradient (the elementwise
//! functions and their backward rules, the distributions' vectorised loops, dot, gemv, gemm,
//! ger) run their loops through the crate-internal `dispatch!` macro, which on x86-64 calls
//! a copy compiled with `#[target_feature(enable = "avx2,fma")]` when the CPU has AVX2 and
//! FMA, or one compiled for AVX-512 (F, VL, DQ, BW, eight lanes) when it has those too: the
//! same generic code (`#[inline(always)]` bodies), compiled three times. The choice is made
//! once, at the first call, with `is_x86_feature_detected!`, and kept in an atomic.
//!
//! Which level runs by default is [`preferred`]: the widest the CPU has. On the benchmark
//! machine the AVX-512 copy made the network's gradient 10-16% and linear regression's 7%
//! faster than the AVX2 copy (docs/PERFORMANCE.md, "AVX-512"), so it is taken where present.
//!
//! Both paths compute bit-identical results: Rust never contracts `a * b + c` into a fused
//! multiply-add on its own and the kernels' reductions keep a fixed number of partial sums
//! added in a fixed order, so the wider registers change the speed, not the rounding (the
//! tests assert equality of the bits on every path).
//!
//! The environment variable `VI_SIMD` (`baseline`, `avx2` or `avx512`), read at the first call, or
//! [`set_level`] force a path; other targets (aarch64: NEON is part of its baseline) always
//! run the portable code.
//!
//! ```
//! use vi_runtime::simd::{self, Level};
//! // The portable path is always available.
//! simd::set_level(Level::Baseline)?;
//! assert_eq!(simd::level(), Level::Baseline);
//! simd::set_level(simd::preferred())?;
//! # Ok::<(), vi_runtime::simd::Unsupported>(())
//! ```

use std::sync::atomic::{AtomicU8, Ordering};

/// An instruction-set level the kernels are compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    /// The target's baseline (x86-64: SSE2), the portable code.
    Baseline,
    /// x86-64 with AVX2 and FMA.
    Avx2,
    /// x86-64 with AVX-512 F, VL, DQ and BW (and AVX2, FMA).
    Avx512,
}

impl Level {
    /// The name `VI_SIMD` takes: `baseline`, `avx2` or `avx512`.
    pub fn name(self) -> &'static str {
        match self {
            Level::Baseline => "baseline",
            Level::Avx2 => "avx2",
            Level::Avx512 => "avx512",
        }
    }

    /// Every level, narrowest first.
    pub const ALL: [Level; 3] = [Level::Baseline, Level::Avx2, Level::Avx512];
}

/// A [`Level`] the CPU does not have, asked for by [`set_level`] or `VI_SIMD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(pub Level);

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "this CPU does not support the `{}` kernels (it supports `{}`)",
            self.0.name(),
            detected().name()
        )
    }
}

impl std::error::Error for Unsupported {}

/// 0: not chosen yet; 1: baseline; 2: AVX2; 3: AVX-512.
static LEVEL: AtomicU8 = AtomicU8::new(0);

/// Whether this CPU has `l`'s instructions.
pub fn supported(l: Level) -> bool {
    match l {
        Level::Baseline => true,
        #[cfg(target_arch = "x86_64")]
        Level::Avx2 => {
            std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
        }
        #[cfg(target_arch = "x86_64")]
        Level::Avx512 => {
            supported(Level::Avx2)
                && std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("avx512vl")
                && std::is_x86_feature_detected!("avx512dq")
                && std::is_x86_feature_detected!("avx512bw")
        }
        #[cfg(not(target_arch = "x86_64"))]
        _ => false,
    }
}

/// The widest level this CPU supports.
pub fn detected() -> Level {
    Level::ALL
        .into_iter()
        .rev()
        .find(|&l| supported(l))
        .unwrap_or(Level::Baseline)
}

/// The level the kernels run at unless `VI_SIMD` or [`set_level`] says otherwise: the
/// widest this CPU has ([`detected`]); AVX-512 paid on the benchmark machine
/// (docs/PERFORMANCE.md, "AVX-512").
pub fn preferred() -> Level {
    detected()
}

/// The level the kernels run at: `VI_SIMD` if set to a supported level, else [`preferred`]
/// (chosen at the first call, then kept), unless [`set_level`] changed it.
#[inline(always)]
pub fn level() -> Level {
    match LEVEL.load(Ordering::Relaxed) {
        1 => Level::Baseline,
        2 => Level::Avx2,
        3 => Level::Avx512,
        _ => init(),
    }
}

#[cold]
fn init() -> Level {
    let asked = std::env::var("VI_SIMD").ok();
    let l = Level::ALL
        .into_iter()
        .find(|l| asked.as_deref().map(str::trim) == Some(l.name()))
        // An unsupported or unknown request falls back to what the CPU has.
        .filter(|&l| supported(l))
        .unwrap_or_else(preferred);
    store(l);
    l
}

fn store(l: Level) {
    LEVEL.store(
        match l {
            Level::Baseline => 1,
            Level::Avx2 => 2,
            Level::Avx512 => 3,
        },
        Ordering::Relaxed,
    );
}

/// Makes the kernels run at `l` from now on, in every thread (for tests and comparisons;
/// every level gives the same results).
///
/// # Errors
/// [`Unsupported`] when the CPU lacks `l`'s instructions; the level is then unchanged.
pub fn set_level(l: Level) -> Result<(), Unsupported> {
    if !supported(l) {
        return Err(Unsupported(l));
    }
    store(l);
    Ok(())
}

/// Runs a body compiled for the current [`level`]: defines it three times, as a plain
/// function and as ones compiled with `#[target_feature(enable = "avx2,fma")]` and for
/// AVX-512 (x86-64 only), and calls the one the level asks for. The body should only call `#[inline(always)]` functions on
/// its hot path, so that they are compiled into each copy. Closures defined in the body
/// inherit the copy's target features.
///
/// `dispatch!([generic parameters] [generic arguments] (arg: Type, ..) -> Ret { body })`;
/// the inner functions cannot see the enclosing function's generics, so they are declared
/// again.
macro_rules! dispatch {
    ([$($gen:tt)*] [$($targ:tt)*] ($($arg:ident : $ty:ty),* $(,)?) -> $ret:ty $body:block) => {{
        #[inline(always)]
        #[allow(clippy::too_many_arguments)]
        fn __baseline<$($gen)*>($($arg: $ty),*) -> $ret $body
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx2,fma")]
            #[inline]
            #[allow(clippy::too_many_arguments)]
            unsafe fn __avx2<$($gen)*>($($arg: $ty),*) -> $ret $body
            #[target_feature(enable = "avx2,fma,avx512f,avx512vl,avx512dq,avx512bw")]
            #[inline]
            #[allow(clippy::too_many_arguments)]
            unsafe fn __avx512<$($gen)*>($($arg: $ty),*) -> $ret $body
            match $crate::simd::level() {
                // SAFETY: the level is `Avx2` only when the CPU has AVX2 and FMA
                // (`simd::supported`, checked by `simd::set_level` and at start-up).
                $crate::simd::Level::Avx2 => unsafe { __avx2::<$($targ)*>($($arg),*) },
                // SAFETY: likewise, `Avx512` only when the CPU has those AVX-512 subsets.
                $crate::simd::Level::Avx512 => unsafe { __avx512::<$($targ)*>($($arg),*) },
                $crate::simd::Level::Baseline => __baseline::<$($targ)*>($($arg),*),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            __baseline::<$($targ)*>($($arg),*)
        }
    }};
}
pub(crate) use dispatch;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Serialises the tests that switch the level.
    pub(crate) static LOCK: Mutex<()> = Mutex::new(());

    /// `f` run at every level this CPU has (and then the detected level restored).
    pub(crate) fn on_every_level<R>(mut f: impl FnMut() -> R) -> Vec<(Level, R)> {
        let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        for l in Level::ALL {
            if set_level(l).is_ok() {
                out.push((l, f()));
            }
        }
        store(preferred());
        out
    }

    #[test]
    fn levels_are_set_and_refused() {
        let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        assert!(set_level(Level::Baseline).is_ok());
        assert_eq!(level(), Level::Baseline);
        for l in [Level::Avx2, Level::Avx512] {
            assert!(set_level(Level::Baseline).is_ok());
            let r = set_level(l);
            if supported(l) {
                assert!(r.is_ok());
                assert_eq!(level(), l);
            } else {
                assert_eq!(r, Err(Unsupported(l)));
                assert_eq!(level(), Level::Baseline);
            }
        }
        store(preferred());
    }
}
