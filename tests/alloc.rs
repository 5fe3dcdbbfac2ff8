//! After its first call, a compiled gradient allocates nothing: its values and adjoints come
//! from the per-thread pool (`vi_runtime::ad::pool`, crate-private) and go back to it.
//! Counted by a global allocator that tallies the allocations made on the calling thread (a
//! test binary of its own, so no other test shares the allocator).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use vi::prelude::*;

struct Counting;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made on this thread by `f`.
fn allocations(f: impl FnOnce()) -> usize {
    let before = ALLOCS.with(Cell::get);
    f();
    ALLOCS.with(Cell::get) - before
}

model! {
    fn network(x: &DMatrix<f64>, y: &DVector<f64>, h: usize) {
        let w1 ~ Normal(0.0, 1.0).iid((x.ncols(), h));
        let b1 ~ Normal(0.0, 1.0).iid(h);
        let w2 ~ Normal(0.0, 1.0).iid(h);
        let b2 ~ Normal(0.0, 1.0);
        let sigma ~ HalfNormal(1.0);
        let hidden = (x * w1 + b1.transpose()).tanh();
        y ~ Normal(hidden * w2 + b2, sigma);
    }
}

model! {
    fn regression(x: &DMatrix<f64>, y: &DVector<f64>) {
        let w ~ Normal(0.0, 1.0).iid(x.ncols());
        let b ~ Normal(0.0, 10.0);
        let sigma ~ HalfNormal(1.0);
        y ~ Normal(x * w + b, sigma);
        for i in 0..x.nrows() {
            let mut mu = b;
            for j in 0..x.ncols() {
                mu += x[(i, j)] * w[j];
            }
            y[i] ~ Normal(mu, sigma);
        }
    }
}

fn data(n: usize, d: usize) -> (DMatrix<f64>, DVector<f64>) {
    let x = DMatrix::from_fn(n, d, |i, j| ((i * 7 + j * 3) % 11) as f64 / 5.0 - 1.0);
    let y = DVector::from_fn(n, |i, _| (i as f64 * 0.3).sin());
    (x, y)
}

fn after_the_first_call_nothing_is_allocated(m: &impl Model) {
    let th: Vec<f64> = (0..m.dim()).map(|k| (k % 7) as f64 / 7.0 - 0.4).collect();
    let mut g = vec![0.0; th.len()];
    let first = allocations(|| {
        m.log_density_grad(&th, &mut g);
    });
    assert!(first > 0, "the counter counts");
    for _ in 0..3 {
        let n = allocations(|| {
            m.log_density_grad(&th, &mut g);
        });
        assert_eq!(n, 0, "allocations in a later gradient call");
        let n = allocations(|| {
            m.log_density(&th);
        });
        assert_eq!(n, 0, "allocations in a later log density call");
    }
}

#[test]
fn a_network_in_matrix_form() {
    let (x, y) = data(60, 4);
    after_the_first_call_nothing_is_allocated(&network(&x, &y, 16).unwrap());
}

#[test]
fn a_regression_vectorised_and_as_a_scalar_loop() {
    let (x, y) = data(50, 3);
    after_the_first_call_nothing_is_allocated(&regression(&x, &y).unwrap());
}

model! {
    fn assorted(x: &DMatrix<f64>, y: &DVector<f64>, k: &[i64]) {
        let w ~ Normal(0.0, 1.0).iid(x.ncols());
        let a ~ Gamma(2.0, 2.0);
        let m = w;
        let eta = x * m;
        let total = sum(eta) + dot(w, w) + mean(eta.exp());
        target += -0.01 * total * total;
        k ~ Poisson((eta * 0.1).exp());
        y ~ StudentT(a + 1.0, eta, a);
        let mut acc = 0.0;
        for i in 0..y.len() {
            acc = acc * 0.5 + (eta[i] - y[i]).powi(2);
        }
        target += -0.001 * acc;
    }
}

/// Copies (`let m = w`), reductions, a Poisson and a Student-t observation, and a loop that
/// carries a value it multiplies (so its sweep needs the value saved at each iteration):
/// after the first call, the one allocation of a gradient is that loop's saved values (of
/// the loop's length, reserved at once); the log density allocates nothing.
#[test]
fn assorted_rules_and_a_loop_that_saves_its_state() {
    let (x, y) = data(30, 3);
    let k: Vec<i64> = (0..30).map(|i| (i % 4) as i64).collect();
    let m = assorted(&x, &y, &k).unwrap();
    let th: Vec<f64> = (0..m.dim()).map(|k| (k % 7) as f64 / 7.0 - 0.4).collect();
    let mut g = vec![0.0; th.len()];
    m.log_density_grad(&th, &mut g);
    for _ in 0..3 {
        let n = allocations(|| {
            m.log_density_grad(&th, &mut g);
        });
        assert_eq!(n, 1, "allocations in a later gradient call");
        let n = allocations(|| {
            m.log_density(&th);
        });
        assert_eq!(n, 0, "allocations in a later log density call");
    }
}
