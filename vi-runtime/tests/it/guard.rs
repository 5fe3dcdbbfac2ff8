//! A panic inside a user's model during a fit is a rejected point, never an unwinding out of
//! `fit`, and nothing is printed.

use std::process::Command;

use vi_runtime::{Diagnostics, FitError, Laplace, Model, Nuts, ParamLayout, Transform};

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
    let post = nuts().fit(&m).unwrap();
    let Diagnostics::Nuts(d) = post.diagnostics() else {
        unreachable!()
    };
    assert!(d.model_faults > 0);
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

fn nuts() -> Nuts {
    Nuts::default()
        .seed(5)
        .chains(2)
        .warmup(300)
        .draws(400)
        .progress(false)
}

#[test]
fn nuts_rejects_points_where_the_model_panics_as_divergences() {
    // Above x = 1.5 the code panics: the posterior is N(0.5, 1) cut at 1.5, where the
    // trajectories that cross the limit end as divergences.
    let m = OutOfBounds::new(1.5);
    let post = nuts().fit(&m).unwrap();
    let Diagnostics::Nuts(d) = post.diagnostics() else {
        unreachable!()
    };
    let draws = post.draws("x").unwrap();
    assert!(draws.iter().all(|x| x[0] <= 1.5));
    assert!(d.model_faults > 0);
    // Every rejected point after warmup made its transition divergent.
    assert!(d.total_divergences() > 0, "{d}");
    let warnings = d.warnings().join("\n");
    assert!(warnings.contains("the model panicked at"), "{warnings}");
    assert!(warnings.contains("index out of bounds"), "{warnings}");
    assert!(warnings.contains("in `target += table[i]`"), "{warnings}");
    // The draws are those of N(0.5, 1) truncated at 1.5: mean 0.5 - phi(1) / Phi(1)
    // = 0.5 - 0.241971 / 0.841345 = 0.21240 (closed form, computed with python3 math.erf).
    let mean = post.mean("x").unwrap()[0];
    assert!((mean - 0.2124).abs() < 0.1, "{mean}");
}

#[test]
fn nuts_on_a_model_that_panics_everywhere_is_an_error_naming_the_statement() {
    let m = OutOfBounds::new(-10.0);
    match nuts().fit(&m).unwrap_err() {
        FitError::ModelPanicked {
            message,
            statement,
            faults,
        } => {
            assert!(message.contains("index out of bounds"), "{message}");
            assert_eq!(statement.as_deref(), Some("target += table[i]"));
            assert!(faults >= 100, "{faults}");
        }
        other => panic!("expected ModelPanicked, got {other:?}"),
    }
}

/// `x ~ Normal(0, 1)` whose code returns NaN for x > 1 (a non-finite value, no panic).
struct NanAbove(ParamLayout);

impl Model for NanAbove {
    fn layout(&self) -> &ParamLayout {
        &self.0
    }
    fn log_density_grad_jac(&self, t: &[f64], g: &mut [f64], _: bool) -> f64 {
        g[0] = -t[0];
        if t[0] > 1.0 {
            f64::NAN
        } else {
            -0.5 * t[0] * t[0]
        }
    }
}

#[test]
fn nuts_rejects_points_where_the_model_is_not_finite() {
    let mut layout = ParamLayout::new();
    layout.push("x", vec![], Transform::Identity);
    let post = nuts().fit(&NanAbove(layout)).unwrap();
    let Diagnostics::Nuts(d) = post.diagnostics() else {
        unreachable!()
    };
    assert!(post.draws("x").unwrap().iter().all(|x| x[0] <= 1.0));
    assert!(d.total_divergences() > 0, "{d}");
    assert_eq!(d.model_faults, 0);
    // N(0, 1) truncated at 1: mean -phi(1) / Phi(1) = -0.28760 (closed form, python3 math.erf).
    let mean = post.mean("x").unwrap()[0];
    assert!((mean + 0.2876).abs() < 0.1, "{mean}");
}
