//! NUTS's adaptations (nutpie's, Stan's) and metrics (diagonal, dense, low-rank, auto):
//! exact posteriors with every combination, a strongly correlated Gaussian, a real
//! regression with correlation -0.99999, step-size jitter and E-BFMI.

use nalgebra::{DMatrix, DVector};

use crate::models::{CoinToss, Correlated, Funnel, GammaPoisson, LinRegKnownNoise, NormalMean};
use vi_runtime::infer::nuts::e_bfmi;
use vi_runtime::{
    Adaptation, Diagnostics, FitError, Metric, Model, Nuts, NutsDiagnostics, ParamLayout,
    Posterior, Transform,
};

fn nuts_diag(post: &Posterior) -> &NutsDiagnostics {
    match post.diagnostics() {
        Diagnostics::Nuts(d) => d,
        other => panic!("expected NUTS diagnostics, got {}", other.method()),
    }
}

/// Means within 4 MCSE, sds within 10% (as `nuts.rs`), no divergence.
fn check_exact(post: &Posterior, flat: &str, mean: f64, sd: f64, what: &str) {
    let s = post.summary();
    let row = s.row(flat).unwrap_or_else(|| panic!("no row {flat}"));
    let mcse = row.mcse_mean.expect("NUTS rows have an MCSE");
    assert!(
        (row.mean - mean).abs() < 4.0 * mcse,
        "{what} {flat}: mean {} vs exact {mean} (mcse {mcse})",
        row.mean
    );
    assert!(
        (row.sd - sd).abs() < 0.10 * sd,
        "{what} {flat}: sd {} vs exact {sd}",
        row.sd
    );
    assert_eq!(nuts_diag(post).total_divergences(), 0, "{what} {flat}");
}

fn mean_depth(post: &Posterior) -> f64 {
    let d = nuts_diag(post);
    let n: usize = d.chains.iter().map(|c| c.sampler.len()).sum();
    let s: usize = d
        .chains
        .iter()
        .flat_map(|c| c.sampler.iter().map(|s| s.tree_depth))
        .sum();
    s as f64 / n as f64
}

fn mean_step(post: &Posterior) -> f64 {
    let s = nuts_diag(post).step_sizes();
    s.iter().sum::<f64>() / s.len() as f64
}

const METRICS: [Metric; 4] = [
    Metric::Diag,
    Metric::Dense,
    Metric::LowRank(2),
    Metric::Auto,
];
const ADAPTATIONS: [Adaptation; 2] = [Adaptation::Nutpie, Adaptation::Stan];

fn every_setting() -> impl Iterator<Item = (String, Nuts)> {
    ADAPTATIONS.into_iter().flat_map(|a| {
        METRICS.into_iter().map(move |m| {
            (
                format!("{a}/{m}"),
                Nuts::default()
                    .seed(7)
                    .chains(4)
                    .warmup(500)
                    .draws(500)
                    .progress(false)
                    .adaptation(a)
                    .metric(m),
            )
        })
    })
}

/// Stan's adaptation with the diagonal metric gives, to the last bit, what the sampler
/// gave before nutpie's adaptation and the other metrics were added: the step sizes,
/// metrics, leapfrog counts and draws below were printed by main at `df2a279` (the
/// recursive tree that allocated at every node) for these seeds.
#[test]
fn stan_adaptation_is_unchanged() {
    let stan = Nuts::default()
        .adaptation(Adaptation::Stan)
        .metric(Metric::Diag)
        .progress(false);
    let post = stan
        .clone()
        .seed(5)
        .chains(2)
        .warmup(200)
        .draws(200)
        .fit(&LinRegKnownNoise::synthetic(50, 3, 0.5, 2))
        .unwrap();
    let want = [
        (
            0.8940696726094575,
            [
                0.0039046439316392915,
                0.005680808067099339,
                0.004901621330296628,
            ],
            954,
            [0.9812067972287987, -0.9392474586475459, 0.467824302169254],
            95.29185489369804,
        ),
        (
            0.7306991484860155,
            [
                0.004455843860481414,
                0.005023572657982877,
                0.007395212746199956,
            ],
            1016,
            [1.1134017336433852, -0.994638052401119, 0.34847278282837113],
            95.36470019235702,
        ),
    ];
    let d = nuts_diag(&post);
    for (c, (step, metric, n_leapfrog, last, sum)) in want.iter().enumerate() {
        let ch = &d.chains[c];
        assert_eq!(ch.step_size, *step);
        assert_eq!(ch.inv_metric, metric);
        assert_eq!(ch.metric, Metric::Diag);
        assert_eq!(
            ch.sampler.iter().map(|s| s.n_leapfrog).sum::<usize>(),
            *n_leapfrog
        );
        let draws = &post.chains()[c].draws;
        assert_eq!(&draws[draws.len() - 3..], last);
        assert_eq!(draws.iter().sum::<f64>(), *sum);
    }
    // Neal's funnel, where warmup diverges.
    let post = stan
        .seed(3)
        .chains(2)
        .warmup(150)
        .draws(100)
        .fit(&Funnel::new(3))
        .unwrap();
    let d = nuts_diag(&post);
    let want = [
        (0.13214075315685914, 1498, -113.91965456275788),
        (0.2470625749115319, 1682, 130.37900082667937),
    ];
    for (c, (step, n_leapfrog, sum)) in want.iter().enumerate() {
        assert_eq!(d.chains[c].step_size, *step);
        assert_eq!(
            d.chains[c]
                .sampler
                .iter()
                .map(|s| s.n_leapfrog)
                .sum::<usize>(),
            *n_leapfrog
        );
        assert_eq!(post.chains()[c].draws.iter().sum::<f64>(), *sum);
    }
    assert_eq!(
        d.chains[0].inv_metric,
        [
            1.1081196915113511,
            8.392516392785742,
            19.170086214160964,
            13.63015602850726
        ]
    );
}

#[test]
fn exact_posteriors_with_every_metric_and_adaptation() {
    let coin = CoinToss::new(2.0, 3.0, 7, 10);
    let (ca, cb) = coin.posterior();
    let gp = GammaPoisson::new(2.0, 1.0, vec![3, 1, 4, 1, 5]);
    let (shape, rate) = gp.posterior();
    let nm = NormalMean::new(vec![0.5, 1.5, -0.2, 2.1, 0.9], 1.3, 0.0, 2.0);
    let (nm_mean, nm_sd) = nm.posterior();
    let lr = LinRegKnownNoise::synthetic(50, 5, 0.5, 1);
    let (lr_mean, lr_cov) = lr.posterior();
    for (what, nuts) in every_setting() {
        let post = nuts.fit(&coin).unwrap();
        let mean = ca / (ca + cb);
        let sd = (ca * cb / ((ca + cb) * (ca + cb) * (ca + cb + 1.0))).sqrt();
        check_exact(&post, "p", mean, sd, &what);
        let post = nuts.fit(&gp).unwrap();
        check_exact(&post, "lambda", shape / rate, shape.sqrt() / rate, &what);
        let post = nuts.fit(&nm).unwrap();
        check_exact(&post, "mu", nm_mean, nm_sd, &what);
        let post = nuts.fit(&lr).unwrap();
        for i in 0..5 {
            let name = format!("w.{}", i + 1);
            check_exact(&post, &name, lr_mean[i], lr_cov[(i, i)].sqrt(), &what);
        }
        // The metric each chain used is the one asked for (auto: the weakly correlated
        // regression gets a diagonal one; low-rank keeps at most 2 directions).
        for c in &nuts_diag(&post).chains {
            match (nuts_what_metric(&what), c.metric) {
                (Metric::Diag | Metric::Auto, Metric::Diag) | (Metric::Dense, Metric::Dense) => {}
                (Metric::LowRank(_), Metric::LowRank(k)) => assert!(k <= 2, "{what}: {k}"),
                (want, got) => panic!("{what}: asked {want}, used {got}"),
            }
            assert_eq!(
                c.inv_metric_matrix.is_some(),
                c.metric != Metric::Diag,
                "{what}"
            );
        }
    }
}

fn nuts_what_metric(what: &str) -> Metric {
    let m = what.split('/').nth(1).unwrap();
    METRICS.into_iter().find(|x| x.to_string() == m).unwrap()
}

/// A zero-mean Gaussian in `d` dimensions with unit variances and every correlation `rho`.
struct Equicorrelated {
    prec: DMatrix<f64>,
    cov: DMatrix<f64>,
    layout: ParamLayout,
}

impl Equicorrelated {
    fn new(d: usize, rho: f64) -> Self {
        let cov = DMatrix::from_fn(d, d, |i, j| if i == j { 1.0 } else { rho });
        // Sherman-Morrison: ((1 - rho) I + rho 1 1')^-1
        //   = (I - rho / (1 + (d - 1) rho) 1 1') / (1 - rho).
        let c = rho / (1.0 + (d as f64 - 1.0) * rho);
        let prec = DMatrix::from_fn(d, d, |i, j| {
            (if i == j { 1.0 } else { 0.0 } - c) / (1.0 - rho)
        });
        let mut layout = ParamLayout::new();
        layout.push("x", vec![d], Transform::Identity);
        Equicorrelated { prec, cov, layout }
    }
}

impl Model for Equicorrelated {
    fn layout(&self) -> &ParamLayout {
        &self.layout
    }
    fn log_density_grad_jac(&self, theta: &[f64], grad: &mut [f64], _: bool) -> f64 {
        let x = DVector::from_column_slice(theta);
        let g = -&self.prec * &x;
        grad.copy_from_slice(g.as_slice());
        0.5 * x.dot(&g)
    }
}

/// Correlation 0.999 in 10 dimensions (condition number 1e4): the dense metric removes
/// it, so its trajectories are short; the diagonal one cannot.
#[test]
fn dense_metric_beats_diagonal_on_strong_correlation() {
    let m = Equicorrelated::new(10, 0.999);
    // The precision is the inverse of the covariance.
    let id = &m.prec * &m.cov;
    assert!((id - DMatrix::<f64>::identity(10, 10)).abs().max() < 1e-9);
    let base = Nuts::default()
        .seed(11)
        .chains(2)
        .warmup(1000)
        .draws(1000)
        .progress(false);
    let dense = base.clone().metric(Metric::Dense).fit(&m).unwrap();
    let diag = base.clone().metric(Metric::Diag).fit(&m).unwrap();
    let (dd, dg) = (mean_depth(&dense), mean_depth(&diag));
    let (sd, sg) = (mean_step(&dense), mean_step(&diag));
    // A well adapted dense metric turns this into a standard normal: depth 2 to 3 at step
    // size near 1. The diagonal one must resolve a direction 100 times narrower than the
    // widest, at a step size 5 times smaller or less; its trees stay shallow (mean depth
    // 3 to 4 here, with either adaptation) only because the U-turn criterion stops them
    // long before they cross the long direction, so its draws barely move along it: the
    // margin shows in the effective samples per gradient.
    assert!(dd < 3.0, "dense mean depth {dd}");
    assert!(dg > dd, "depths {dd} vs {dg}");
    assert!(sd > 5.0 * sg, "step sizes {sd} vs {sg}");
    let per_grad = |p: &Posterior| {
        let d = nuts_diag(p);
        let ess = d
            .params
            .iter()
            .map(|p| p.ess_bulk)
            .fold(f64::INFINITY, f64::min);
        let grads: usize = d
            .chains
            .iter()
            .flat_map(|c| c.sampler.iter().map(|s| s.n_leapfrog))
            .sum();
        ess / grads as f64
    };
    let (ed, eg) = (per_grad(&dense), per_grad(&diag));
    assert!(ed > 10.0 * eg, "ESS per gradient {ed} vs {eg}");
    assert_eq!(nuts_diag(&dense).total_divergences(), 0);
    // The dense draws have the exact covariance: variances within 10%, correlations
    // within 0.002 of 0.999 (with an ESS near 2000 the sd of a sample correlation this
    // close to 1 is about (1 - rho^2) / sqrt(ESS) = 5e-5).
    let draws = dense.draws("x").unwrap();
    let n = draws.len() as f64;
    let mean: Vec<f64> = (0..10)
        .map(|i| draws.iter().map(|d| d[i]).sum::<f64>() / n)
        .collect();
    let cov = DMatrix::from_fn(10, 10, |i, j| {
        draws
            .iter()
            .map(|d| (d[i] - mean[i]) * (d[j] - mean[j]))
            .sum::<f64>()
            / (n - 1.0)
    });
    for i in 0..10 {
        assert!((cov[(i, i)] - 1.0).abs() < 0.1, "var {i}: {}", cov[(i, i)]);
        for j in 0..i {
            let r = cov[(i, j)] / (cov[(i, i)] * cov[(j, j)]).sqrt();
            assert!((r - 0.999).abs() < 0.002, "corr {i},{j}: {r}");
        }
    }
    check_exact(&dense, "x.1", 0.0, 1.0, "dense");
    // The default (automatic) metric picks the dense one here, and the diagonal for a weak
    // correlation.
    assert_eq!(base.clone(), base.clone().metric(Metric::Auto));
    let auto = base.clone().fit(&m).unwrap();
    assert!(nuts_diag(&auto)
        .chains
        .iter()
        .all(|c| c.metric == Metric::Dense));
    assert!(mean_depth(&auto) < 3.5);
    let weak = base.clone().fit(&Correlated::new(0.3)).unwrap();
    assert!(nuts_diag(&weak)
        .chains
        .iter()
        .all(|c| c.metric == Metric::Diag));
    // Stan's adaptation estimates the dense metric from the draws alone: also short
    // trajectories once adapted.
    let stan = base
        .adaptation(Adaptation::Stan)
        .metric(Metric::Dense)
        .fit(&m)
        .unwrap();
    assert!(mean_depth(&stan) < 3.5, "{}", mean_depth(&stan));
    check_exact(&stan, "x.1", 0.0, 1.0, "Stan dense");
}

/// Above 50 parameters the automatic metric is diagonal, whatever the correlations.
#[test]
fn auto_metric_is_diagonal_for_many_parameters() {
    let m = Equicorrelated::new(60, 0.5);
    let post = Nuts::default()
        .metric(Metric::Auto)
        .seed(2)
        .chains(1)
        .warmup(150)
        .draws(50)
        .progress(false)
        .fit(&m)
        .unwrap();
    assert_eq!(nuts_diag(&post).chains[0].metric, Metric::Diag);
    let post = Nuts::default()
        .seed(2)
        .chains(1)
        .warmup(150)
        .draws(50)
        .progress(false)
        .metric(Metric::LowRank(4))
        .fit(&m)
        .unwrap();
    // One eigenvalue of the correlation matrix is 1 + 59 * 0.5 = 30.5 and the others 0.5:
    // the low-rank metric keeps at most the 4 asked for, and at least the big one.
    match nuts_diag(&post).chains[0].metric {
        Metric::LowRank(k) => assert!((1..=4).contains(&k), "{k}"),
        other => panic!("{other}"),
    }
}

/// Summer temperatures at Kilpisjärvi 1952-2013 (posteriordb `kilpisjarvi_mod-kilpisjarvi`,
/// x the year + 2000 as there): alpha ~ Normal(9.3129, 100), beta ~ Normal(0, 0.0333),
/// y ~ Normal(alpha + beta x, sigma), sigma > 0 with a flat prior. Unstandardised years
/// near 4000 give corr(alpha, beta) = -0.99999.
struct Kilpisjarvi {
    x: Vec<f64>,
    y: Vec<f64>,
    layout: ParamLayout,
}

const KILPIS_Y: [f64; 62] = [
    8.3, 10.9, 9.4, 8.1, 8.1, 7.7, 8.6, 9.1, 11.0, 10.1, 7.6, 8.8, 8.3, 7.2, 9.3, 8.8, 7.6, 10.5,
    11.0, 8.9, 11.3, 10.0, 10.1, 6.4, 8.2, 8.4, 9.5, 9.9, 10.6, 7.6, 7.7, 8.1, 8.4, 9.7, 9.5, 7.3,
    10.3, 9.6, 10.3, 9.8, 9.0, 9.1, 9.5, 8.7, 9.9, 10.5, 9.4, 9.0, 9.0, 9.7, 11.4, 10.7, 10.1,
    10.8, 10.4, 10.3, 8.8, 9.8, 8.8, 10.8, 8.6, 11.1,
];
const PMU_ALPHA: f64 = 9.31290322580645;
const PS_ALPHA: f64 = 100.0;
const PS_BETA: f64 = 0.0333333333333333;

/// sigma, the conditional mean and covariance of (alpha, beta), ln p(ln sigma | y) + const.
type GridPoint = (f64, DVector<f64>, DMatrix<f64>, f64);

impl Kilpisjarvi {
    fn new() -> Self {
        let mut layout = ParamLayout::new();
        layout.push("alpha", vec![], Transform::Identity);
        layout.push("beta", vec![], Transform::Identity);
        layout.push("sigma", vec![], Transform::POSITIVE);
        Kilpisjarvi {
            x: (3952..=4013).map(f64::from).collect(),
            y: KILPIS_Y.to_vec(),
            layout,
        }
    }

    /// `(alpha, beta) | sigma, y` is Gaussian: precision `P0 + X'X / s^2`. Returns its
    /// mean, covariance and `ln p(y | sigma)`.
    fn conditional(&self, sigma: f64) -> (DVector<f64>, DMatrix<f64>, f64) {
        let n = self.y.len() as f64;
        let s2 = sigma * sigma;
        let (sx, sxx, sy, sxy, syy) = self
            .x
            .iter()
            .zip(&self.y)
            .fold((0.0, 0.0, 0.0, 0.0, 0.0), |(a, b, c, d, e), (x, y)| {
                (a + x, b + x * x, c + y, d + x * y, e + y * y)
            });
        let p0 = DMatrix::from_diagonal(&DVector::from_vec(vec![
            PS_ALPHA.powi(-2),
            PS_BETA.powi(-2),
        ]));
        let mu0 = DVector::from_vec(vec![PMU_ALPHA, 0.0]);
        let xtx = DMatrix::from_row_slice(2, 2, &[n, sx, sx, sxx]);
        let xty = DVector::from_vec(vec![sy, sxy]);
        let prec = &p0 + xtx / s2;
        let cov = prec.clone().try_inverse().unwrap();
        let b = &p0 * &mu0 + xty / s2;
        let mean = &cov * &b;
        // ln N(y; X mu0, s2 I + X P0^-1 X') by completing the square.
        let log_ev = -0.5 * n * (2.0 * std::f64::consts::PI * s2).ln()
            - 0.5 * (PS_ALPHA * PS_BETA).powi(2).ln()
            - 0.5 * prec.determinant().ln()
            - 0.5 * (syy / s2 + mu0.dot(&(&p0 * &mu0)) - mean.dot(&b));
        (mean, cov, log_ev)
    }

    /// Posterior means and sds of (alpha, beta, sigma) by quadrature over log sigma.
    fn exact(&self) -> ([f64; 3], [f64; 3]) {
        let (lo, hi, k) = (-2.0f64, 1.5f64, 4000);
        let h = (hi - lo) / k as f64;
        let pts: Vec<GridPoint> = (0..=k)
            .map(|i| {
                let u = lo + h * i as f64;
                let sigma = u.exp();
                let (m, c, le) = self.conditional(sigma);
                // Flat prior on sigma: density in u = ln sigma has the Jacobian sigma.
                (sigma, m, c, le + u)
            })
            .collect();
        let top = pts.iter().map(|p| p.3).fold(f64::NEG_INFINITY, f64::max);
        let w: Vec<f64> = pts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let trap = if i == 0 || i == k { 0.5 } else { 1.0 };
                trap * (p.3 - top).exp()
            })
            .collect();
        // The grid covers the posterior of sigma (its ends carry no weight).
        assert!(w[0] < 1e-12 && w[k] < 1e-12);
        let z: f64 = w.iter().sum();
        let e = |f: &dyn Fn(&GridPoint) -> f64| {
            pts.iter().zip(&w).map(|(p, w)| w * f(p)).sum::<f64>() / z
        };
        let mut mean = [0.0; 3];
        let mut sd = [0.0; 3];
        for j in 0..2 {
            mean[j] = e(&|p| p.1[j]);
            sd[j] = (e(&|p| p.2[(j, j)] + p.1[j] * p.1[j]) - mean[j] * mean[j]).sqrt();
        }
        mean[2] = e(&|p| p.0);
        sd[2] = (e(&|p| p.0 * p.0) - mean[2] * mean[2]).sqrt();
        (mean, sd)
    }
}

impl Model for Kilpisjarvi {
    fn layout(&self) -> &ParamLayout {
        &self.layout
    }
    fn log_density_grad_jac(&self, th: &[f64], grad: &mut [f64], jacobian: bool) -> f64 {
        let (a, b, u) = (th[0], th[1], th[2]);
        let sigma = u.exp();
        let n = self.y.len() as f64;
        let (mut ss, mut ga, mut gb) = (0.0, 0.0, 0.0);
        for (x, y) in self.x.iter().zip(&self.y) {
            let r = y - a - b * x;
            ss += r * r;
            ga += r;
            gb += r * x;
        }
        let s2 = sigma * sigma;
        let za = (a - PMU_ALPHA) / PS_ALPHA;
        let zb = b / PS_BETA;
        let mut lp = -0.5 * za * za - 0.5 * zb * zb - 0.5 * ss / s2 - n * u;
        grad[0] = -za / PS_ALPHA + ga / s2;
        grad[1] = -zb / PS_BETA + gb / s2;
        grad[2] = ss / s2 - n;
        if jacobian {
            lp += u;
            grad[2] += 1.0;
        }
        lp
    }
}

#[test]
fn kilpisjarvi_gradient_matches_finite_differences() {
    let m = Kilpisjarvi::new();
    for th in [[9.0, 0.001, 0.1], [-20.0, 0.0075, -0.3]] {
        let mut g = [0.0; 3];
        m.log_density_grad(&th, &mut g);
        for i in 0..3 {
            let h = 1e-6 * (1.0 + th[i].abs());
            let (mut up, mut dn) = (th, th);
            up[i] += h;
            dn[i] -= h;
            let fd = (m.log_density(&up) - m.log_density(&dn)) / (2.0 * h);
            assert!(
                (fd - g[i]).abs() < 1e-5 * (1.0 + g[i].abs()),
                "{i}: {fd} vs {}",
                g[i]
            );
        }
    }
}

/// The real regression: the dense metric (chosen by the default, `Metric::Auto`) samples it with short
/// trajectories and matches the exact posterior; the diagonal metric needs trees deeper
/// by 4 or more.
#[test]
fn kilpisjarvi_regression_with_correlation_minus_0_99999() {
    let m = Kilpisjarvi::new();
    let (mean, sd) = m.exact();
    let base = Nuts::default()
        .seed(3)
        .chains(4)
        .warmup(500)
        .draws(500)
        .progress(false);
    // The default metric picks the dense one.
    let auto = base.clone().fit(&m).unwrap();
    let d = nuts_diag(&auto);
    assert!(d.chains.iter().all(|c| c.metric == Metric::Dense));
    for (j, name) in ["alpha", "beta", "sigma"].iter().enumerate() {
        check_exact(&auto, name, mean[j], sd[j], "auto");
    }
    // The adapted metric has the posterior correlation.
    let cov = d.chains[0].inv_metric_matrix.as_ref().unwrap();
    let r = cov[(0, 1)] / (cov[(0, 0)] * cov[(1, 1)]).sqrt();
    assert!(r < -0.9999, "{r}");
    let diag = base.chains(2).metric(Metric::Diag).fit(&m).unwrap();
    let (da, dd) = (mean_depth(&auto), mean_depth(&diag));
    assert!(da < 3.0, "dense depth {da}");
    // Three levels deeper: 8 times the gradients per draw.
    assert!(dd > da + 3.0, "diag depth {dd} vs dense {da}");
    assert!(mean_step(&auto) > 10.0 * mean_step(&diag));
}

#[test]
fn step_size_jitter_varies_the_step_and_stays_exact() {
    let m = NormalMean::new(vec![0.5, 1.5, -0.2, 2.1, 0.9], 1.3, 0.0, 2.0);
    let (mean, sd) = m.posterior();
    let post = Nuts::default()
        .seed(4)
        .chains(4)
        .warmup(500)
        .draws(500)
        .progress(false)
        .step_size_jitter(0.5)
        .fit(&m)
        .unwrap();
    check_exact(&post, "mu", mean, sd, "jitter");
    for c in &nuts_diag(&post).chains {
        let eps = c.step_size;
        let used: Vec<f64> = c.sampler.iter().map(|s| s.step_size).collect();
        assert!(used.iter().all(|e| *e > 0.5 * eps && *e < 1.5 * eps));
        // Uniform on (0.5, 1.5) eps: sd eps / sqrt(12) = 0.29 eps.
        let n = used.len() as f64;
        let m = used.iter().sum::<f64>() / n;
        let s = (used.iter().map(|e| (e - m).powi(2)).sum::<f64>() / n).sqrt();
        assert!((s / eps - 0.2887).abs() < 0.03, "{}", s / eps);
        assert!((m / eps - 1.0).abs() < 0.05, "{}", m / eps);
    }
    for bad in [-0.1, 1.0, f64::NAN] {
        assert!(matches!(
            Nuts::default().step_size_jitter(bad).fit(&m),
            Err(FitError::InvalidSettings { .. })
        ));
    }
    assert!(matches!(
        Nuts::default().metric(Metric::LowRank(0)).fit(&m),
        Err(FitError::InvalidSettings { .. })
    ));
}

#[test]
fn e_bfmi_is_reported_and_flagged_below_0_3() {
    // By hand: energies 1, 2, 3, 4: squared steps 3, squared deviations from 2.5 sum to 5.
    assert!((e_bfmi(&[1.0, 2.0, 3.0, 4.0]) - 0.6).abs() < 1e-15);
    assert!(e_bfmi(&[1.0]).is_nan());
    // A standard normal: energies are 1/2 chi-square(1) plus -log p, nearly independent
    // between draws: E-BFMI near 1 (well above 0.3), and no warning.
    let m = NormalMean::new(vec![0.5, 1.5], 1.0, 0.0, 1.0);
    let post = Nuts::default()
        .seed(1)
        .chains(2)
        .warmup(300)
        .draws(300)
        .progress(false)
        .fit(&m)
        .unwrap();
    let d = nuts_diag(&post);
    for c in &d.chains {
        let energies: Vec<f64> = c.sampler.iter().map(|s| s.energy).collect();
        assert_eq!(c.e_bfmi, e_bfmi(&energies));
        assert!(c.e_bfmi > 0.6, "{}", c.e_bfmi);
    }
    assert!(!d.warnings().iter().any(|w| w.contains("E-BFMI")));
    assert!(d.to_string().contains("E-BFMI"), "{d}");
    // Neal's funnel in 10 dimensions: the energy varies far more between levels of v than
    // one momentum draw can change it.
    let post = Nuts::default()
        .seed(7)
        .chains(4)
        .warmup(500)
        .draws(500)
        .progress(false)
        .fit(&Funnel::new(9))
        .unwrap();
    let d = nuts_diag(&post);
    assert!(d.e_bfmi().iter().any(|e| *e < 0.3), "{:?}", d.e_bfmi());
    let w = d.warnings();
    assert!(w.iter().any(|w| w.contains("E-BFMI below 0.3")), "{w:?}");
    assert!(post.summary().to_string().contains("E-BFMI below 0.3"));
}

/// A dense fit's CmdStan CSV says `dense_e` and carries the matrix, row by row, as
/// CmdStan writes it.
#[test]
fn csv_of_a_dense_fit_carries_the_matrix() {
    let post = Nuts::default()
        .seed(2)
        .chains(2)
        .warmup(200)
        .draws(20)
        .progress(false)
        .metric(Metric::Dense)
        .fit(&Correlated::new(0.95))
        .unwrap();
    let m = nuts_diag(&post).chains[1]
        .inv_metric_matrix
        .clone()
        .unwrap();
    let mut out = Vec::new();
    post.to_csv_chain(1, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("#       metric = dense_e"), "{text}");
    let mut lines = text
        .lines()
        .skip_while(|l| *l != "# Elements of inverse mass matrix:")
        .skip(1);
    for i in 0..2 {
        let row: Vec<f64> = lines.next().unwrap()[2..]
            .split(", ")
            .map(|x| x.parse().unwrap())
            .collect();
        assert_eq!(row, [m[(i, 0)], m[(i, 1)]]);
    }
    // The adapted matrix has the posterior's correlation.
    let r = m[(0, 1)] / (m[(0, 0)] * m[(1, 1)]).sqrt();
    assert!((r - 0.95).abs() < 0.02, "{r}");
}
