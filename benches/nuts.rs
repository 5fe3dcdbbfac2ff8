//! The NUTS sampler's own cost against the gradient cost: `cargo bench --bench nuts -- overhead`.
//!
//! One linreg chain (the peers' data: N = 1000, D = 5, `w ~ Normal(0, 1)`, `b ~ Normal(0,
//! 10)`, `sigma ~ HalfNormal(1)`; `nuts_data/linreg.json`, a copy of
//! `../shared/bench/linreg.json`) of 20000 draws, in thread CPU time, against the same
//! gradients at the same points without the sampler (and once more through the engine's
//! panic guard, a separate line); the sampler alone on a 7-D standard normal; and the
//! sampler after a gradient that streams 48 KB through the L1 cache as linreg's does, on a
//! 7-D standard normal that reads 48 KB of data per gradient (the sampler's in-chain cost
//! with less noise than the linreg difference). Each round also splits one linreg chain's
//! own time into inside and outside the model by the time-stamp counter read around each
//! gradient: one run, no replay, so the machine's slow and fast moments fall on both parts
//! alike. The efficiency rows (ESS per second and per gradient by metric and
//! adaptation) are in `benches/methods.rs` (`cargo bench --bench methods -- nuts/`).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use vi::infer::guard::Guarded;
use vi::prelude::*;

model! {
    /// Bayesian linear regression, vectorised.
    fn linear_regression(x: &DMatrix<f64>, y: &DVector<f64>) {
        let w ~ Normal(0.0, 1.0).iid(x.ncols());
        let b ~ Normal(0.0, 10.0);
        let sigma ~ HalfNormal(1.0);
        y ~ Normal(x * w + b, sigma);
    }
}

/// The numbers of the JSON value at `key` (a number or nested arrays of numbers), in order.
fn numbers(json: &str, key: &str) -> Vec<f64> {
    let pat = format!("\"{key}\":");
    let start = json.find(&pat).unwrap_or_else(|| panic!("no {key}")) + pat.len();
    let rest = json[start..].trim_start();
    let end = if rest.starts_with('[') {
        let mut depth = 0;
        rest.char_indices()
            .find(|&(_, c)| {
                depth += match c {
                    '[' => 1,
                    ']' => -1,
                    _ => 0,
                };
                depth == 0
            })
            .map(|(i, _)| i + 1)
            .expect("closed array")
    } else {
        rest.find([',', '}']).expect("a number")
    };
    rest[..end]
        .split(|c: char| !(c.is_ascii_digit() || "+-.eE".contains(c)))
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().expect("a number"))
        .collect()
}

const LINREG: &str = include_str!("nuts_data/linreg.json");

/// A standard normal in `layout.dim()` dimensions, written by hand.
struct StdNormal(ParamLayout);

impl Model for StdNormal {
    fn layout(&self) -> &ParamLayout {
        &self.0
    }
    fn log_density_grad_jac(&self, theta: &[f64], grad: &mut [f64], _: bool) -> f64 {
        let mut lp = 0.0;
        for (g, t) in grad.iter_mut().zip(theta) {
            *g = -t;
            lp -= 0.5 * t * t;
        }
        lp
    }
}

/// A standard normal whose gradient also reads `data` (48 KB, as much as linreg's `x` and
/// `y`): like linreg's gradient it streams the L1 data cache, so the sampler fetches its
/// own lines back after every gradient, but it costs a fifth of linreg's and varies less,
/// so the sampler's time in a chain shows with less noise.
struct Streaming {
    layout: ParamLayout,
    data: Vec<f64>,
}

impl Model for Streaming {
    fn layout(&self) -> &ParamLayout {
        &self.layout
    }
    fn log_density_grad_jac(&self, theta: &[f64], grad: &mut [f64], _: bool) -> f64 {
        let mut lp = 0.0;
        for (g, t) in grad.iter_mut().zip(theta) {
            *g = -t;
            lp -= 0.5 * t * t;
        }
        std::hint::black_box(self.data.iter().sum::<f64>());
        lp
    }
}

/// The calling thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`): time slices lost to other
/// processes on a shared machine do not count.
fn thread_cpu_time() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant Linux defines.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    ts.tv_sec as f64 + 1e-9 * ts.tv_nsec as f64
}

/// The time-stamp counter: a cycle count at a constant rate, read in a few nanoseconds.
#[cfg(target_arch = "x86_64")]
fn tsc() -> u64 {
    // SAFETY: `rdtsc` reads a counter; every x86-64 processor has it.
    unsafe { std::arch::x86_64::_rdtsc() }
}

/// Elsewhere, nanoseconds of the monotonic clock (slower to read, so the bookkeeping line
/// reports a larger share).
#[cfg(not(target_arch = "x86_64"))]
fn tsc() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_nanos() as u64
}

/// A model that counts its gradient calls, optionally records their points, and reads the
/// thread's CPU clock just before call `from` and just before call `to`: the CPU time of
/// the work between, `to - from` gradients and whatever the caller did besides. It also
/// reads the time-stamp counter at those two calls and around each gradient between them,
/// so that one chain tells its time inside the model from its time outside.
struct Timed<'a> {
    model: &'a dyn Model,
    calls: AtomicUsize,
    window: (usize, usize),
    record: bool,
    split: bool,
    points: Mutex<Vec<f64>>,
    marks: Mutex<(f64, f64)>,
    /// Counter readings at calls `from` and `to`, and the counts spent inside the model's
    /// gradients `from..to`.
    tsc_marks: Mutex<(u64, u64)>,
    inside: AtomicU64,
}

impl<'a> Timed<'a> {
    fn new(model: &'a dyn Model, window: (usize, usize), record: bool) -> Self {
        Timed {
            model,
            calls: AtomicUsize::new(0),
            window,
            record,
            split: false,
            points: Mutex::new(Vec::new()),
            marks: Mutex::new((0.0, 0.0)),
            tsc_marks: Mutex::new((0, 0)),
            inside: AtomicU64::new(0),
        }
    }
    fn cpu(&self) -> f64 {
        let (a, b) = *self.marks.lock().expect("not poisoned");
        b - a
    }
    /// With the counter read around each gradient of the window.
    fn split(mut self) -> Self {
        self.split = true;
        self
    }
    /// The share of the window's time spent outside the model's gradients, and the
    /// window's counter ticks (split mode).
    fn outside(&self) -> (f64, f64) {
        let (a, b) = *self.tsc_marks.lock().expect("not poisoned");
        let total = (b - a) as f64;
        (
            1.0 - self.inside.load(Ordering::Relaxed) as f64 / total,
            total,
        )
    }
}

impl Model for Timed<'_> {
    fn layout(&self) -> &ParamLayout {
        self.model.layout()
    }
    fn log_density_grad_jac(&self, theta: &[f64], grad: &mut [f64], jac: bool) -> f64 {
        let k = self.calls.fetch_add(1, Ordering::Relaxed);
        if k == self.window.0 {
            self.marks.lock().expect("not poisoned").0 = thread_cpu_time();
            self.tsc_marks.lock().expect("not poisoned").0 = tsc();
        } else if k == self.window.1 {
            self.tsc_marks.lock().expect("not poisoned").1 = tsc();
            self.marks.lock().expect("not poisoned").1 = thread_cpu_time();
        }
        if self.record {
            self.points
                .lock()
                .expect("not poisoned")
                .extend_from_slice(theta);
        }
        if self.split && k >= self.window.0 && k < self.window.1 {
            let t0 = tsc();
            let lp = self.model.log_density_grad_jac(theta, grad, jac);
            self.inside.fetch_add(tsc() - t0, Ordering::Relaxed);
            lp
        } else {
            self.model.log_density_grad_jac(theta, grad, jac)
        }
    }
    fn constrain(&self, theta: &[f64], out: &mut [f64]) {
        self.model.constrain(theta, out)
    }
}

/// The sampling phase of one chain (20000 draws) on `model`, in thread CPU time: a first
/// fit records the points of every gradient the chain evaluates (the sampling phase's are
/// the last ones, one per leapfrog step); then, interleaved, `rounds` times: the same fit
/// timed from its first sampling gradient to its last, and the same gradients at the same
/// points, in the same order, through the same counting wrapper, without the sampler; and
/// those gradients once more through the engine's panic guard ([`Guarded`], which every
/// fit wraps the model in), so the guard's share of the difference shows apart.
/// With `split`, each round also runs the chain once more with the time-stamp counter read
/// around each of its sampling gradients ([`Timed::split`]): the share of that chain's time
/// spent outside the model, measured within one run, so that a slower or faster moment of
/// the machine moves both parts alike.
fn sampling_vs_gradients(model: &dyn Model, rounds: usize, split: bool) -> Rounds {
    let nuts = Nuts::default()
        .seed(1)
        .chains(1)
        .threads(1)
        .draws(20000)
        .progress(false);
    let dim = model.dim();
    let recorder = Timed::new(model, (usize::MAX, usize::MAX), true);
    let post = nuts.fit(&recorder).expect("the model fits");
    let Diagnostics::Nuts(d) = post.diagnostics() else {
        unreachable!("a NUTS fit")
    };
    let leapfrogs: usize = d.chains[0].sampler.iter().map(|s| s.n_leapfrog).sum();
    let calls = recorder.calls.load(Ordering::Relaxed);
    let points = recorder.points.into_inner().expect("not poisoned");
    let points = &points[(calls - leapfrogs) * dim..];
    let (mut samp, mut grad, mut guarded, mut outside) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        if split {
            let split = Timed::new(model, (calls - leapfrogs, calls - 1), false).split();
            nuts.fit(&split).expect("the model fits");
            outside.push(split.outside());
        }
        let timed = Timed::new(model, (calls - leapfrogs, calls - 1), false);
        nuts.fit(&timed).expect("the model fits");
        assert_eq!(
            timed.calls.load(Ordering::Relaxed),
            calls,
            "the same seed makes the same chain"
        );
        samp.push(timed.cpu());
        let alone = Timed::new(model, (0, leapfrogs - 1), false);
        let mut g = vec![0.0; dim];
        let mut sink = 0.0;
        for theta in points.chunks_exact(dim) {
            sink += alone.log_density_grad(theta, &mut g);
        }
        std::hint::black_box(sink);
        grad.push(alone.cpu());
        let inner = Timed::new(model, (0, leapfrogs - 1), false);
        let guard = Guarded::new(&inner);
        let mut sink = 0.0;
        for theta in points.chunks_exact(dim) {
            sink += guard.log_density_grad(theta, &mut g);
        }
        std::hint::black_box(sink);
        guarded.push(inner.cpu());
    }
    Rounds {
        leapfrogs,
        samp,
        grad,
        guarded,
        outside,
    }
}

/// What [`sampling_vs_gradients`] measured, one entry per round.
struct Rounds {
    /// Leapfrog steps of the sampling phase (one gradient each).
    leapfrogs: usize,
    /// CPU seconds of the sampling phase.
    samp: Vec<f64>,
    /// CPU seconds of the same gradients replayed alone.
    grad: Vec<f64>,
    /// The same, through the engine's panic guard.
    guarded: Vec<f64>,
    /// The share of a split chain's sampling time spent outside the model's gradients, and
    /// that chain's counter ticks (empty without `split`).
    outside: Vec<(f64, f64)>,
}

/// Counter ticks per gradient that [`Timed::split`]'s own bookkeeping adds outside the
/// model: two readings, the subtraction and the atomic addition, around a call that does
/// nothing (a minimum over 7 runs of 10^6).
fn split_cost() -> f64 {
    let inside = AtomicU64::new(0);
    (0..7)
        .map(|_| {
            let start = tsc();
            for _ in 0..1_000_000 {
                let t0 = tsc();
                std::hint::black_box(&inside);
                inside.fetch_add(tsc() - t0, Ordering::Relaxed);
            }
            (tsc() - start) as f64 / 1e6
        })
        .fold(f64::INFINITY, f64::min)
}

/// The sampler's own cost against a linreg chain's gradients (see [`sampling_vs_gradients`]),
/// and the sampler alone: the same settings on a 7-D standard normal, whose gradient costs
/// nanoseconds. Minima over 7 interleaved rounds (interference from other processes only
/// adds time; `VI_NUTS_ROUNDS` sets another number), medians beside them.
fn overhead(model: &dyn Model) {
    // `VI_NUTS_ROUNDS=1` for a run under callgrind (instruction counts do not vary).
    let rounds = std::env::var("VI_NUTS_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(7);
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let Rounds {
        leapfrogs,
        samp,
        grad,
        guarded,
        outside,
    } = sampling_vs_gradients(model, rounds, true);
    let mut layout = ParamLayout::new();
    layout.push("z", vec![model.dim()], Transform::Identity);
    let std_normal = StdNormal(layout);
    let own_rounds = sampling_vs_gradients(&std_normal, rounds, false);
    let (n_own, own) = (own_rounds.leapfrogs, own_rounds.samp);
    let streaming = Streaming {
        layout: std_normal.0.clone(),
        data: vec![1.0; 6144],
    };
    let st = sampling_vs_gradients(&streaming, rounds, false);
    let (n_st, st_samp, st_grad) = (st.leapfrogs, st.samp, st.grad);
    let own_each = min(&own) / (n_own - 1) as f64;
    let grad_each = min(&grad) / (leapfrogs - 1) as f64;
    println!(
        "sampler alone (7-D standard normal): {:.3} us per leapfrog step (median {:.3}), \
         {:.1}% of a step with the linreg gradient",
        1e6 * own_each,
        1e6 * median(&own) / (n_own - 1) as f64,
        100.0 * own_each / (own_each + grad_each)
    );
    println!(
        "sampler after a gradient that streams 48 KB (a 7-D standard normal reading 48 KB of \
         data): {:.3} us per leapfrog step (medians {:.3}; sampling minus the same gradients \
         alone)",
        1e6 * (min(&st_samp) - min(&st_grad)) / (n_st - 1) as f64,
        1e6 * (median(&st_samp) - median(&st_grad)) / (n_st - 1) as f64,
    );
    println!(
        "overhead linreg: {leapfrogs} leapfrogs, sampling {:.4} s CPU (median {:.4}) = {:.0} \
         leapfrogs/s; the same gradients alone {:.4} s (median {:.4}; {:.2} us each); sampler \
         overhead {:.1}% of the sampling time (medians: {:.1}%; {rounds} rounds, thread CPU \
         time)",
        min(&samp),
        median(&samp),
        leapfrogs as f64 / min(&samp),
        min(&grad),
        median(&grad),
        1e6 * grad_each,
        100.0 * (min(&samp) - min(&grad)) / min(&samp),
        100.0 * (median(&samp) - median(&grad)) / median(&samp),
    );
    println!(
        "overhead linreg beyond the guard: the same gradients through the engine's panic guard \
         {:.4} s (median {:.4}); sampler overhead beyond the guarded gradients {:.1}% (medians: \
         {:.1}%)",
        min(&guarded),
        median(&guarded),
        100.0 * (min(&samp) - min(&guarded)) / min(&samp),
        100.0 * (median(&samp) - median(&guarded)) / median(&samp),
    );
    let shares: Vec<f64> = outside.iter().map(|o| o.0).collect();
    let ticks: Vec<f64> = outside.iter().map(|o| o.1).collect();
    let cost = split_cost() * (leapfrogs - 1) as f64 / median(&ticks);
    println!(
        "overhead linreg within one chain (time-stamp counter read around each gradient): \
         outside the model {:.1}% of the sampling time (median; min {:.1}%, max {:.1}%; \
         {rounds} chains), of which the counter's own bookkeeping is {:.1}%",
        100.0 * median(&shares),
        100.0 * min(&shares),
        100.0 * shares.iter().copied().fold(0.0, f64::max),
        100.0 * cost,
    );
}

fn main() {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if !(filters.is_empty() || filters.iter().any(|f| "overhead".contains(f.as_str()))) {
        return;
    }
    let (n, dd) = (
        numbers(LINREG, "N")[0] as usize,
        numbers(LINREG, "D")[0] as usize,
    );
    let x = DMatrix::from_row_slice(n, dd, &numbers(LINREG, "X"));
    let y = DVector::from_vec(numbers(LINREG, "y"));
    let linreg = linear_regression(&x, &y).expect("valid data");
    overhead(&linreg);
}
