//! Draws written as they are made: `Nuts::output(dir)` and `Vi::output(dir)` write CmdStan
//! CSV files draw by draw, `vi::read_csv` reads them back, and a sampling process killed
//! mid-run leaves files whose draws are a prefix of what the same seed gives in memory.
//!
//! Data: kidiq from posteriordb (see tests/data/posteriordb/NOTICE.md), N = 434, raw
//! predictors (mom_iq near 100, not centred), so the posterior is strongly correlated.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use vi::prelude::*;
use vi::Diagnostics;

model! {
    /// kid_score ~ mom_hs + mom_iq + mom_hs:mom_iq on the raw scale.
    fn kidiq(x: &DMatrix<f64>, y: &DVector<f64>) {
        let alpha ~ Normal(0.0, 100.0);
        let beta ~ Normal(0.0, 10.0).iid(x.ncols());
        let sigma ~ HalfNormal(50.0);
        y ~ Normal(x * beta + alpha, sigma);
    }
}

fn kidiq_model() -> impl Model {
    let v: serde_json::Value = serde_json::from_str(include_str!(
        "../data/posteriordb/kidiq-kidscore_interaction.json"
    ))
    .unwrap();
    let col = |name: &str| -> Vec<f64> {
        v[name]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    let (y, hs, iq) = (col("kid_score"), col("mom_hs"), col("mom_iq"));
    assert_eq!(y.len(), 434);
    let x = DMatrix::from_fn(y.len(), 3, |i, j| [hs[i], iq[i], hs[i] * iq[i]][j]);
    kidiq(&x, &DVector::from_vec(y)).unwrap()
}

/// The sampler of every test here: 2 chains, a short warmup, seeded.
fn sampler(draws: usize) -> Nuts {
    Nuts::default()
        .seed(11)
        .chains(2)
        .warmup(150)
        .draws(draws)
        .progress(false)
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vi-it-out-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn nuts_files(dir: &Path) -> [PathBuf; 2] {
    [dir.join("nuts-1.csv"), dir.join("nuts-2.csv")]
}

#[test]
fn nuts_output_reads_back_to_the_same_posterior() {
    let dir = temp_dir("nuts");
    let m = kidiq_model();
    let post = sampler(120).output(&dir).fit(&m).unwrap();
    let back = vi::read_csv(nuts_files(&dir)).unwrap();
    // Shortest round-trip decimals: every draw and lp__ comes back bit for bit.
    assert_eq!(back.chains(), post.chains());
    assert_eq!(back.layout().flat_names(), post.layout().flat_names());
    let (Diagnostics::Nuts(a), Diagnostics::Nuts(b)) = (post.diagnostics(), back.diagnostics())
    else {
        panic!("expected NUTS diagnostics")
    };
    // The adaptation comments: step size and inverse metric of each chain.
    for (c, (x, y)) in a.chains.iter().zip(&b.chains).enumerate() {
        assert_eq!(x.step_size, y.step_size, "chain {c}");
        assert_eq!(x.inv_metric, y.inv_metric, "chain {c}");
        assert_eq!(x.sampler, y.sampler, "chain {c}");
        assert_eq!(x.e_bfmi, y.e_bfmi, "chain {c}");
    }
    // R-hat and ESS are recomputed from the same draws, so they are the same numbers.
    for (p, q) in a.params.iter().zip(&b.params) {
        assert_eq!(p.name, q.name);
        assert_eq!(p.rhat, q.rhat, "{}", p.name);
        assert_eq!(p.ess_bulk, q.ess_bulk, "{}", p.name);
    }
    assert_eq!((b.seed, b.warmup, b.draws), (11, 150, 120));
    assert_eq!(back.mean("beta").unwrap(), post.mean("beta").unwrap());
    assert!(!back.summary().to_string().contains("NaN"));
    let text = std::fs::read_to_string(dir.join("nuts-2.csv")).unwrap();
    assert!(text.starts_with("# model = vi_model\n# method = sample\n# id = 2\n"));
    assert!(text.contains("\n# Adaptation terminated\n# Step size = "));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn vi_output_of_both_methods_reads_back_with_its_diagnostics() {
    let m = kidiq_model();
    for (name, vi) in [
        ("deterministic", Vi::default()),
        ("stochastic", Vi::stochastic()),
    ] {
        let dir = temp_dir(name);
        let post = vi
            .seed(5)
            .draws(400)
            .progress(false)
            .output(&dir)
            .fit(&m)
            .unwrap();
        let back = vi::read_csv([dir.join("vi-1.csv")]).unwrap();
        assert_eq!(back.method(), "VI", "{name}");
        assert_eq!(back.chains(), post.chains(), "{name}");
        let (Diagnostics::Vi(a), Diagnostics::Vi(b)) = (post.diagnostics(), back.diagnostics())
        else {
            panic!("expected VI diagnostics")
        };
        // k-hat from the file's log_p__ and log_g__ columns: the same draws, the same value.
        assert!(a.khat.is_finite(), "{name}");
        assert_eq!(a.khat, b.khat, "{name}");
        assert_eq!(a.reliability, b.reliability, "{name}");
        assert_eq!(a.method, b.method, "{name}");
        assert_eq!((a.elbo, a.iterations), (b.elbo, b.iterations), "{name}");
        assert_eq!((&a.mean, &a.sd), (&b.mean, &b.sd), "{name}");
        assert!(!b.to_string().contains("NaN"), "{name}: {b}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn laplace_output_reads_back_without_nan_diagnostics() {
    let dir = temp_dir("laplace");
    let m = kidiq_model();
    let post = Laplace::default()
        .seed(2)
        .draws(300)
        .output(&dir)
        .fit(&m)
        .unwrap();
    let back = vi::read_csv([dir.join("laplace-1.csv")]).unwrap();
    let (Diagnostics::Laplace(a), Diagnostics::Laplace(b)) =
        (post.diagnostics(), back.diagnostics())
    else {
        panic!("expected Laplace diagnostics")
    };
    assert_eq!(back.chains(), post.chains());
    assert!(a.khat.is_finite());
    assert_eq!(a.khat, b.khat);
    assert_eq!(a.reliability, b.reliability);
    assert_eq!(a.mode, b.mode);
    assert_eq!(
        (a.iterations, a.newton_steps, a.converged),
        (b.iterations, b.newton_steps, b.converged)
    );
    assert_eq!(
        (a.grad_norm, a.condition_number, a.log_evidence),
        (b.grad_norm, b.condition_number, b.log_evidence)
    );
    let text = b.to_string();
    assert!(!text.contains("NaN"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Run as a child process by the interruption tests: samples kidiq with `output(dir)` for
/// far longer than the parent waits.
#[test]
fn child_samples_until_killed() {
    let Some(dir) = std::env::var_os("VI_NUTS_OUTPUT_CHILD") else {
        return;
    };
    // A shell without job control starts its background jobs with SIGINT ignored, and a
    // child inherits that; the SIGINT test needs the default disposition (terminate).
    #[cfg(unix)]
    // SAFETY: `signal` with `SIG_DFL` only resets this process's disposition; no handler
    // runs and nothing else in this process is using SIGINT.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_DFL);
    }
    let m = kidiq_model();
    let _ = sampler(10_000_000).output(dir).fit(&m);
}

/// Draw lines (not comments, not the header) in a file as it is now.
fn draw_lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |t| {
        t.lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with("lp__"))
            .count()
    })
}

/// Starts a sampling child, waits until each chain's file has at least 30 draws, stops it
/// with `signal`, and checks what it left against the same seed in memory.
#[cfg(unix)]
fn interrupted_run_leaves_a_prefix(signal: &str) {
    let dir = temp_dir(&format!("killed-{signal}"));
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "draws_output::child_samples_until_killed",
            "--exact",
            "--test-threads=1",
        ])
        .env("VI_NUTS_OUTPUT_CHILD", &dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let files = nuts_files(&dir);
    let start = Instant::now();
    while files.iter().any(|f| draw_lines(f) < 30) {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the child wrote no draws in 2 minutes"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // Wait for the child, but not forever: if the signal did not stop it, say so.
    let waited = Instant::now();
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        if waited.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the child was still running 60 s after {signal}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        !exit.success(),
        "the child was stopped by {signal}: {exit:?}"
    );

    let back = vi::read_csv(&files).unwrap();
    let lines: Vec<usize> = files.iter().map(|f| draw_lines(f)).collect();
    // As many draws as complete lines were written (a line cut short is dropped).
    for (c, chain) in back.chains().iter().enumerate() {
        assert!(chain.lp.len() >= 30, "chain {c}: {}", chain.lp.len());
        assert!(chain.lp.len() + 1 >= lines[c] && chain.lp.len() <= lines[c]);
    }
    // The same seed in memory: the file's draws are its first ones, bit for bit.
    let n = back.chains().iter().map(|c| c.lp.len()).max().unwrap();
    let post = sampler(n).fit(&kidiq_model()).unwrap();
    for (c, (got, want)) in back.chains().iter().zip(post.chains()).enumerate() {
        let k = got.lp.len();
        assert_eq!(got.lp, want.lp[..k], "chain {c}");
        assert_eq!(got.draws, want.draws[..k * 5], "chain {c}");
    }
    // The posterior of what was drawn works as any other.
    assert!(back.mean("sigma").unwrap()[0] > 10.0);
    let summary = back.summary().to_string();
    assert!(
        summary.contains("beta.3") && summary.contains("r_hat"),
        "{summary}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(unix)]
#[test]
fn a_sampling_run_killed_by_sigkill_leaves_its_draws() {
    interrupted_run_leaves_a_prefix("-KILL");
}

#[cfg(unix)]
#[test]
fn a_sampling_run_stopped_by_sigterm_leaves_its_draws() {
    interrupted_run_leaves_a_prefix("-TERM");
}

#[cfg(unix)]
#[test]
fn a_sampling_run_stopped_by_sigint_leaves_its_draws() {
    interrupted_run_leaves_a_prefix("-INT");
}
