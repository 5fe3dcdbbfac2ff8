//! Shape and length errors found while running the model's code name the statement and the
//! lengths involved, and print nothing.

use std::process::Command;

use nalgebra::DMatrix;
use vi::prelude::*;

model! {
    /// A regression written as a loop over the rows of `x`.
    fn loop_regression(x: &DMatrix<f64>, y: &[f64]) {
        let w ~ Normal(0.0, 1.0).iid(x.ncols());
        let sigma ~ HalfNormal(10.0);
        for i in 0..x.nrows() {
            y[i] ~ Normal(x[(i, 0)] * w[0] + x[(i, 1)] * w[1], sigma);
        }
    }
}

fn data(rows: usize, ys: usize) -> (DMatrix<f64>, Vec<f64>) {
    let x = DMatrix::from_fn(rows, 2, |i, j| if j == 0 { 1.0 } else { 90.0 + i as f64 });
    let y = (0..ys).map(|i| 20.0 + 0.5 * i as f64).collect();
    (x, y)
}

#[test]
fn a_loop_longer_than_its_data_names_the_statement_and_lengths() {
    let (x, y) = data(100, 99);
    let e = loop_regression(&x, &y).err().unwrap();
    assert_eq!(
        e.to_string(),
        "in `y[i] ~ Normal(x[(i, 0)] * w[0] + x[(i, 1)] * w[1], sigma)`: a loop over 0..100 \
         reads a vector of length 99"
    );
    let (x, y) = data(100, 100);
    assert!(loop_regression(&x, &y).is_ok());
}

/// Run as a child process by `a_loop_longer_than_its_data_prints_nothing`.
#[test]
fn child_builds_a_model_with_short_data() {
    if std::env::var_os("VI_LOOP_CHILD").is_none() {
        return;
    }
    let (x, y) = data(100, 99);
    assert!(loop_regression(&x, &y).is_err());
}

#[test]
fn a_loop_longer_than_its_data_prints_nothing() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "loop_lengths::child_builds_a_model_with_short_data",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("VI_LOOP_CHILD", "1")
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "{stdout}");
    assert_eq!(stderr, "", "the constructor printed to stderr");
}
