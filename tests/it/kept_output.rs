//! `#[keep]` values in the files the engines write as they go (`Nuts::output`,
//! `Vi::output`, `Laplace::output`): the kept columns follow the parameters, as in
//! `Posterior::to_csv`, a `# derived = ..` comment names them, and `vi::read_csv` gives
//! the same posterior back, kept values marked as derived.
//!
//! Data: eight schools (posteriordb eight_schools_noncentered); the kept effects are checked
//! against the formula `mu + tau * theta_tilde` applied to the same draw's latents.

use std::path::PathBuf;

use vi::prelude::*;

use crate::macro_models::data;

model! {
    /// Eight schools, non-centred, the schools' effects kept.
    fn schools_kept(y: &[f64], sigma: &[f64]) {
        let mu ~ Normal(0.0, 5.0);
        let tau ~ HalfCauchy(5.0);
        let theta_tilde ~ Normal(0.0, 1.0).iid(y.len());
        #[keep]
        let theta = mu + tau * theta_tilde;
        y ~ Normal(theta, sigma);
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vi-it-kept-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// The file's posterior equals the fit's, kept values included and marked derived, and
/// every kept value in the file equals the formula at that draw's latents.
fn check_round_trip(post: &Posterior, files: &[PathBuf]) {
    let back = vi::read_csv(files).unwrap();
    assert_eq!(back.layout().flat_names(), post.layout().flat_names());
    assert_eq!(back.chains(), post.chains());
    assert!(back.layout().is_derived("theta") && !back.layout().is_derived("tau"));
    assert_eq!(back.layout().latent_dim(), 10);
    let (mu, tau) = (back.draws("mu").unwrap(), back.draws("tau").unwrap());
    let (tt, theta) = (
        back.draws("theta_tilde").unwrap(),
        back.draws("theta").unwrap(),
    );
    assert!(!theta.is_empty());
    for d in 0..theta.len() {
        for j in 0..8 {
            let want = mu[d][0] + tau[d][0] * tt[d][j];
            assert!(
                (theta[d][j] - want).abs() <= 1e-12 * (1.0 + want.abs()),
                "draw {d}, school {j}: {} vs {want}",
                theta[d][j]
            );
        }
    }
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(text.contains("\n# derived = theta\n"), "{text:.400}");
    let header = text.lines().find(|l| l.starts_with("lp__")).unwrap();
    assert!(header.ends_with(",theta.1,theta.2,theta.3,theta.4,theta.5,theta.6,theta.7,theta.8"));
}

#[test]
fn kept_values_are_in_the_streamed_files_and_read_back() {
    let m = schools_kept(&data::EIGHT_SCHOOLS_Y, &data::EIGHT_SCHOOLS_SIGMA).unwrap();

    let dir = temp_dir("nuts");
    let nuts = Nuts::default()
        .seed(4)
        .chains(2)
        .warmup(150)
        .draws(100)
        .progress(false)
        .output(&dir)
        .fit(&m)
        .unwrap();
    check_round_trip(&nuts, &[dir.join("nuts-1.csv"), dir.join("nuts-2.csv")]);
    std::fs::remove_dir_all(&dir).unwrap();

    let dir = temp_dir("vi");
    let vi = Vi::default()
        .seed(4)
        .draws(200)
        .progress(false)
        .output(&dir)
        .fit(&m)
        .unwrap();
    check_round_trip(&vi, &[dir.join("vi-1.csv")]);
    std::fs::remove_dir_all(&dir).unwrap();

    let dir = temp_dir("laplace");
    let laplace = Laplace::default().seed(4).output(&dir).fit(&m).unwrap();
    check_round_trip(&laplace, &[dir.join("laplace-1.csv")]);
    std::fs::remove_dir_all(&dir).unwrap();

    // The in-memory writer names them too, and its file reads back the same way.
    let dir = temp_dir("memory");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("chain-1.csv");
    let mut out = Vec::new();
    nuts.to_csv_chain(0, &mut out).unwrap();
    std::fs::write(&path, out).unwrap();
    let back = vi::read_csv([&path]).unwrap();
    assert!(back.layout().is_derived("theta"));
    assert_eq!(back.chains()[0], nuts.chains()[0]);
    std::fs::remove_dir_all(&dir).unwrap();
}
