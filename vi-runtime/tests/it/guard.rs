//! A panic inside a user's model during a fit is a rejected point, never an unwinding out of
//! `fit`, and nothing is printed.

use std::process::Command;

use vi_runtime::{Diagnostics, FitError, Laplace, Model, ParamLayout, Transform};

/// `x ~ Normal(0.5, 1); target += TABLE[i]` where `i` is 0 for `x <= limit` and past the
/// end of the table above it: the model's code indexes out of bounds there, as a loop longer
/// than its data does.
pub struct OutOfBounds {
    layout: ParamLayout,
    limit: f64,
    table: Vec<f64>,
}

impl OutOfBounds {
    pub fn new(limit: f64) -> Self {
        let mut layout = ParamLayout::new();
        layout.push("x", vec![], Transform::Identity);
        OutOfBounds {
            layout,
            limit,
            table: vec![0.0],
        }
    }
    fn index(&self, x: f64) -> usize {
        if x <= self.limit {
            0
        } else {
            3
        }
    }
}

impl Model for OutOfBounds {
    fn layout(&self) -> &ParamLayout {
        &self.layout
    }
    fn log_density_grad_jac(&self, t: &[f64], g: &mut [f64], _: bool) -> f64 {
        let extra = self.table[self.index(t[0])];
        g[0] = -(t[0] - 0.5);
        -0.5 * (t[0] - 0.5).powi(2) + extra
    }
    fn log_density_terms(&self, t: &[f64]) -> Vec<(String, f64)> {
        vec![
            ("x ~ Normal(0.5, 1)".into(), -0.5 * (t[0] - 0.5).powi(2)),
            (
                "target += table[i]".into(),
                self.table
                    .get(self.index(t[0]))
                    .copied()
                    .unwrap_or(f64::NAN),
            ),
        ]
    }
}

#[test]
fn panics_at_some_points_are_rejected_and_reported() {
    // Above x = 0.9 the code panics: a third of the draws from N(0.5, 1), and some starts.
    let m = OutOfBounds::new(0.9);
    let post = Laplace::default().seed(3).draws(200).fit(&m).unwrap();
    let Diagnostics::Laplace(d) = post.diagnostics() else {
        unreachable!()
    };
    assert!((d.mode[0] - 0.5).abs() < 1e-6, "{}", d.mode[0]);
    assert!((d.covariance[(0, 0)] - 1.0).abs() < 1e-6);
    // Every draw above the limit panicked in the log density (and nowhere else did).
    let above = post
        .draws("x")
        .unwrap()
        .iter()
        .filter(|v| v[0] > 0.9)
        .count();
    assert!(above > 30, "{above}");
    assert!(
        d.faults >= above,
        "{} faults, {above} draws above",
        d.faults
    );
    let fault = d.fault.as_deref().unwrap();
    assert!(fault.contains("index out of bounds"), "{fault}");
    assert!(fault.contains("in `target += table[i]`"), "{fault}");
    assert!(
        d.to_string().contains("Warning: the model panicked at"),
        "{d}"
    );
    // Those draws are outside the model: lp__ is -inf there, finite elsewhere.
    for (x, lp) in post.draws("x").unwrap().iter().zip(&post.chains()[0].lp) {
        assert_eq!(x[0] > 0.9, *lp == f64::NEG_INFINITY, "x = {}", x[0]);
    }
}

#[test]
fn a_model_that_panics_everywhere_is_an_error_naming_the_statement() {
    let m = OutOfBounds::new(-10.0);
    let e = Laplace::default().seed(1).fit(&m).unwrap_err();
    match &e {
        FitError::ModelPanicked {
            message,
            statement,
            faults,
        } => {
            assert!(message.contains("index out of bounds"), "{message}");
            assert!(message.contains("guard.rs"), "{message}");
            assert_eq!(statement.as_deref(), Some("target += table[i]"));
            // 100 initial points tried by each of the 4 starts.
            assert_eq!(*faults, 400);
        }
        other => panic!("expected ModelPanicked, got {other:?}"),
    }
    let text = e.to_string();
    assert!(
        text.starts_with("the model's code panicked at every point tried (400 evaluations)"),
        "{text}"
    );
    assert!(text.ends_with("; in `target += table[i]`"), "{text}");
}

/// Run as a child process by `guarded_panics_print_nothing`: a fit whose model panics, and
/// on another thread a panic outside any guard, which must still print.
#[test]
fn child_fit_with_panics() {
    if std::env::var_os("VI_GUARD_CHILD").is_none() {
        return;
    }
    let m = OutOfBounds::new(0.9);
    let post = Laplace::default().seed(3).draws(200).fit(&m).unwrap();
    let Diagnostics::Laplace(d) = post.diagnostics() else {
        unreachable!()
    };
    assert!(d.faults > 0);
    let r = std::thread::spawn(|| panic!("an unguarded panic")).join();
    assert!(r.is_err());
}

#[test]
fn guarded_panics_print_nothing() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "guard::child_fit_with_panics",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("VI_GUARD_CHILD", "1")
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "{stdout}");
    // The only panic printed is the one outside the guard.
    assert_eq!(stderr.matches("panicked at").count(), 1, "{stderr}");
    assert!(stderr.contains("an unguarded panic"), "{stderr}");
    assert!(!stderr.contains("index out of bounds"), "{stderr}");
}
