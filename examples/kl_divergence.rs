//! KL divergence between two Gaussians: the closed form against its Monte Carlo estimate
//! as the number of samples grows, and the asymmetry KL(q || p) != KL(p || q).
//!
//! ```text
//! cargo run --release --features plot --example kl_divergence          # full size
//! cargo run --release --features plot --example kl_divergence -- small # quick
//! ```
//! Figures go to `target/plots/kl_divergence/`.

mod common;

use vi::dist::Normal;
use vi::infer::rng_for;
use vi::lecture::{kl_diag_normal, kl_monte_carlo, kl_normal, DiagNormal, Estimate};

/// q = N(Q_MU, Q_SIGMA).
pub const Q: (f64, f64) = (0.0, 1.0);
/// p = N(P_MU, P_SIGMA).
pub const P: (f64, f64) = (1.5, 0.6);
const SEED: u64 = 1;

/// One Monte Carlo estimate of KL(q || p).
#[derive(Debug, Clone)]
pub struct McRow {
    /// Number of draws from q.
    pub n: usize,
    /// The estimate with its standard error.
    pub estimate: Estimate,
}

/// What the example printed.
#[derive(Debug, Clone)]
pub struct Report {
    /// KL(q || p), closed form.
    pub kl_qp: f64,
    /// KL(p || q), closed form.
    pub kl_pq: f64,
    /// Monte Carlo estimates of KL(q || p) for growing n.
    pub kl_qp_mc: Vec<McRow>,
    /// Monte Carlo estimate of KL(p || q) at the largest n.
    pub kl_pq_mc: Estimate,
    /// The 3-D diagonal example: closed form.
    pub diag_kl: f64,
    /// The 3-D diagonal example: Monte Carlo at the largest n.
    pub diag_kl_mc: Estimate,
}

/// The two Gaussians.
pub fn q_and_p() -> (Normal, Normal) {
    (
        Normal::new(Q.0, Q.1).expect("valid scale"),
        Normal::new(P.0, P.1).expect("valid scale"),
    )
}

/// Computes the closed forms and the Monte Carlo estimates (`small`: up to 10^4 draws;
/// otherwise up to 10^6).
///
/// # Errors
/// The lecture tools' errors (too few draws).
pub fn run(small: bool) -> Result<Report, Box<dyn std::error::Error>> {
    let (q, p) = q_and_p();
    let max_pow = if small { 4 } else { 6 };
    let mut rows = Vec::new();
    for (k, pow) in (1..=max_pow).enumerate() {
        let n = 10usize.pow(pow);
        let estimate = kl_monte_carlo(&q, &p, n, &mut rng_for(SEED, k as u64))?;
        rows.push(McRow { n, estimate });
    }
    let n_max = 10usize.pow(max_pow);
    let kl_pq_mc = kl_monte_carlo(&p, &q, n_max, &mut rng_for(SEED, 100))?;

    let qd = DiagNormal::new(vec![0.0, 1.0, -1.0], vec![1.0, 0.5, 2.0])?;
    let pd = DiagNormal::new(vec![0.5, 0.0, 0.0], vec![1.0, 1.0, 1.0])?;
    let diag_kl = kl_diag_normal(&qd, &pd)?;
    let diag_kl_mc = kl_monte_carlo(&qd, &pd, n_max, &mut rng_for(SEED, 200))?;
    Ok(Report {
        kl_qp: kl_normal(&q, &p),
        kl_pq: kl_normal(&p, &q),
        kl_qp_mc: rows,
        kl_pq_mc,
        diag_kl,
        diag_kl_mc,
    })
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "q = N({}, {}), p = N({}, {})", Q.0, Q.1, P.0, P.1)?;
        writeln!(f, "KL(q || p) closed form: {:.6}", self.kl_qp)?;
        writeln!(
            f,
            "KL(p || q) closed form: {:.6}   (KL is not symmetric)",
            self.kl_pq
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "Monte Carlo estimate of KL(q || p) = E_q[ln q(x) - ln p(x)]"
        )?;
        writeln!(
            f,
            "{:>9} {:>10} {:>10} {:>10}",
            "n", "estimate", "std err", "|error|"
        )?;
        for r in &self.kl_qp_mc {
            writeln!(
                f,
                "{:>9} {:>10.5} {:>10.5} {:>10.5}",
                r.n,
                r.estimate.mean,
                r.estimate.std_error(),
                (r.estimate.mean - self.kl_qp).abs()
            )?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "KL(p || q): Monte Carlo {:.5} +/- {:.5}, closed form {:.5}",
            self.kl_pq_mc.mean,
            self.kl_pq_mc.std_error(),
            self.kl_pq
        )?;
        writeln!(
            f,
            "3-D diagonal Gaussians: Monte Carlo {:.5} +/- {:.5}, closed form {:.5}",
            self.diag_kl_mc.mean,
            self.diag_kl_mc.std_error(),
            self.diag_kl
        )
    }
}

/// Writes the figures into `dir` and returns their paths.
#[cfg(feature = "plot")]
pub fn figures(
    report: &Report,
    dir: &std::path::Path,
) -> Result<Vec<std::path::PathBuf>, vi::plot::PlotError> {
    use vi::dist::LogDensity;
    let (q, p) = q_and_p();
    let x = vi::plot::linspace(-4.0, 4.0, 400);
    let dq: Vec<f64> = x.iter().map(|&v| q.ln_density(v).exp()).collect();
    let dp: Vec<f64> = x.iter().map(|&v| p.ln_density(v).exp()).collect();
    let densities = dir.join("densities.svg");
    vi::plot::Figure::new(format!(
        "KL(q || p) = {:.3}, KL(p || q) = {:.3}",
        report.kl_qp, report.kl_pq
    ))
    .x_label("x")
    .y_label("density")
    .line(&format!("q = N({}, {})", Q.0, Q.1), &x, &dq)
    .line(&format!("p = N({}, {})", P.0, P.1), &x, &dp)
    .save(&densities)?;

    let n: Vec<f64> = report.kl_qp_mc.iter().map(|r| r.n as f64).collect();
    let est: Vec<f64> = report.kl_qp_mc.iter().map(|r| r.estimate.mean).collect();
    let lo: Vec<f64> = report
        .kl_qp_mc
        .iter()
        .map(|r| r.estimate.mean - 2.0 * r.estimate.std_error())
        .collect();
    let hi: Vec<f64> = report
        .kl_qp_mc
        .iter()
        .map(|r| r.estimate.mean + 2.0 * r.estimate.std_error())
        .collect();
    let exact = vec![report.kl_qp; n.len()];
    let convergence = dir.join("estimate_vs_n.svg");
    vi::plot::Figure::new("Monte Carlo estimate of KL(q || p)")
        .x_label("number of draws n")
        .y_label("KL(q || p)")
        .log_x()
        .line_and_band("estimate", "+/- 2 std err", &n, &est, &lo, &hi)
        .reference("closed form", &n, &exact)
        .save(&convergence)?;
    Ok(vec![densities, convergence])
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let report = run(common::small_requested())?;
    println!("{report}");
    #[cfg(feature = "plot")]
    for path in figures(&report, &common::plot_dir("kl_divergence"))? {
        println!("wrote {}", path.display());
    }
    #[cfg(not(feature = "plot"))]
    println!("(no figures: run with `--features plot` to write them)");
    Ok(())
}
