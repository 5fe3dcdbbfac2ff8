//! NUTS efficiency by metric and adaptation: min bulk ESS per second and per gradient
//! evaluation, and the sampler's own overhead over the gradient cost.
//!
//! `cargo bench --bench nuts -- [filter...]`
//!
//! Models, on the peers' data (`nuts_data/`, copies of `../shared/bench/*.json` and of
//! posteriordb's `kilpisjarvi_mod-kilpisjarvi.json`):
//! - `coin`: Beta(1, 1) - Bernoulli, N = 100, 71 heads;
//! - `linreg`: N = 1000, D = 5, `w ~ Normal(0, 1)`, `b ~ Normal(0, 10)`, `sigma ~ HalfNormal(1)`;
//! - `kilpisjarvi`: a regression on unstandardised years (corr(alpha, beta) = -0.99999),
//!   `alpha ~ Normal(9.31, 100)`, `beta ~ Normal(0, 0.0333)`, `sigma ~ HalfNormal(10)`;
//! - `bnn`: one hidden layer of 50 tanh units, N = 200, sigma 0.1 fixed (151 parameters).
//!
//! Each (model, adaptation, metric) row runs 4 chains of 1000 + 1000 iterations (seed 1,
//! depth 10, target 0.8) and prints wall time, min bulk ESS, ESS/s, ESS per gradient of
//! the sampling phase, mean tree depth, step size and max R-hat. A filter keeps the rows
//! whose name contains it (`coin`, `nutpie/dense`, ...). The network is slow (minutes per
//! fit): by default only `bnn/nutpie/diag` runs; `VI_BENCH_NET=all` runs every metric.
//! `overhead` times the linreg gradient alone and compares it with the sampling phase of
//! one chain: the rest is the sampler's own cost.

use std::time::Instant;

use vi::prelude::*;
use vi::{Adaptation, Metric, NutsDiagnostics};

model! {
    /// Beta-Bernoulli coin toss.
    fn coin_toss(y: &[bool]) {
        let p ~ Beta(1.0, 1.0);
        y ~ Bernoulli(p);
    }
}

model! {
    /// Bayesian linear regression, vectorised.
    fn linear_regression(x: &DMatrix<f64>, y: &DVector<f64>) {
        let w ~ Normal(0.0, 1.0).iid(x.ncols());
        let b ~ Normal(0.0, 10.0);
        let sigma ~ HalfNormal(1.0);
        y ~ Normal(x * w + b, sigma);
    }
}

model! {
    /// Kilpisjärvi summer temperatures against the year.
    fn kilpisjarvi(x: &DVector<f64>, y: &DVector<f64>) {
        let alpha ~ Normal(9.31290322580645, 100.0);
        let beta ~ Normal(0.0, 0.0333333333333333);
        let sigma ~ HalfNormal(10.0);
        y ~ Normal(alpha + beta * x, sigma);
    }
}

model! {
    /// One hidden layer of tanh units, noise fixed at 0.1.
    fn bnn(x: &DMatrix<f64>, y: &DVector<f64>, hidden: usize) {
        let w1 ~ Normal(0.0, 1.0).iid((x.ncols(), hidden));
        let b1 ~ Normal(0.0, 1.0).iid(hidden);
        let w2 ~ Normal(0.0, 1.0).iid(hidden);
        let b2 ~ Normal(0.0, 1.0);
        let h = (x * w1 + b1.transpose()).tanh();
        y ~ Normal(h * w2 + b2, 0.1);
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

const COIN: &str = include_str!("nuts_data/coin.json");
const LINREG: &str = include_str!("nuts_data/linreg.json");
const BNN: &str = include_str!("nuts_data/bnn.json");
const KILPISJARVI: &str = include_str!("nuts_data/kilpisjarvi.json");

fn min_ess(d: &NutsDiagnostics) -> f64 {
    d.params
        .iter()
        .map(|p| p.ess_bulk)
        .fold(f64::INFINITY, f64::min)
}

fn sampling_gradients(d: &NutsDiagnostics) -> usize {
    d.chains
        .iter()
        .flat_map(|c| c.sampler.iter().map(|s| s.n_leapfrog))
        .sum()
}

fn row(name: &str, model: &dyn Model, nuts: &Nuts) {
    let t = Instant::now();
    let post = match nuts.fit(model) {
        Ok(p) => p,
        Err(e) => {
            println!("{name:<28} failed: {e}");
            return;
        }
    };
    let secs = t.elapsed().as_secs_f64();
    let Diagnostics::Nuts(d) = post.diagnostics() else {
        unreachable!("a NUTS fit")
    };
    let ess = min_ess(d);
    let grads = sampling_gradients(d);
    let draws: usize = d.chains.iter().map(|c| c.sampler.len()).sum();
    let depth = d
        .chains
        .iter()
        .flat_map(|c| c.sampler.iter().map(|s| s.tree_depth as f64))
        .sum::<f64>()
        / draws as f64;
    let step = d.step_sizes().iter().sum::<f64>() / d.chains.len() as f64;
    let rhat = d.params.iter().map(|p| p.rhat).fold(0.0, f64::max);
    let used: Vec<String> = d.chains.iter().map(|c| c.metric.to_string()).collect();
    println!(
        "{name:<28} {secs:>8.2} s  ESS {ess:>6.0}  {:>9.1}/s  {:>9.2e}/grad  depth {depth:>4.2}  \
         step {step:>7.4}  R-hat {rhat:.3}  div {}  metric {}",
        ess / secs,
        ess / grads as f64,
        d.total_divergences(),
        used.join(",")
    );
}

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

/// The sampling phase of one linreg chain (20000 draws) against the cost of its gradients
/// alone, evaluated at the chain's draws in the order the chain made them; five rounds,
/// interleaved, medians.
fn overhead(model: &dyn Model) {
    let nuts = Nuts::default()
        .seed(1)
        .chains(1)
        .draws(20000)
        .progress(false);
    let dim = model.dim();
    let (mut samp, mut grad) = (Vec::new(), Vec::new());
    let mut per_leapfrog = 0;
    for _ in 0..5 {
        let post = nuts.fit(model).expect("linreg fits");
        let Diagnostics::Nuts(d) = post.diagnostics() else {
            unreachable!("a NUTS fit")
        };
        let c = &d.chains[0];
        let leapfrogs: usize = c.sampler.iter().map(|s| s.n_leapfrog).sum();
        per_leapfrog = leapfrogs;
        samp.push(c.sampling_time.as_secs_f64());
        let mut thetas = Vec::new();
        let mut u = vec![0.0; dim];
        for x in post.chains()[0].draws.chunks(dim) {
            model
                .unconstrain(x, &mut u)
                .expect("a draw is in the support");
            thetas.push(u.clone());
        }
        // As many gradients as the chain evaluated, spread over its draws.
        let mut g = vec![0.0; dim];
        let mut sink = 0.0;
        let t = Instant::now();
        for (i, s) in c.sampler.iter().enumerate() {
            for _ in 0..s.n_leapfrog {
                sink += model.log_density_grad(&thetas[i], &mut g);
            }
        }
        grad.push(t.elapsed().as_secs_f64());
        std::hint::black_box(sink);
    }
    // The sampler alone: the same chain settings on a 7-D standard normal, whose gradient
    // costs a few nanoseconds, so its time per leapfrog is the sampler's own cost.
    let mut layout = ParamLayout::new();
    layout.push("z", vec![dim], Transform::Identity);
    let std_normal = StdNormal(layout);
    let mut own = Vec::new();
    for _ in 0..5 {
        let post = nuts.fit(&std_normal).expect("a normal fits");
        let Diagnostics::Nuts(d) = post.diagnostics() else {
            unreachable!("a NUTS fit")
        };
        let c = &d.chains[0];
        let n: usize = c.sampler.iter().map(|s| s.n_leapfrog).sum();
        own.push(c.sampling_time.as_secs_f64() / n as f64);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (sampling, grad_time) = (median(&mut samp), median(&mut grad));
    let leapfrogs = per_leapfrog;
    let own = median(&mut own);
    let grad_each = grad_time / leapfrogs as f64;
    println!(
        "sampler alone (7-D standard normal): {:.3} us per leapfrog step, {:.1}% of a step \
         with the linreg gradient",
        1e6 * own,
        100.0 * own / (own + grad_each)
    );
    println!(
        "overhead linreg: {leapfrogs} leapfrogs in {sampling:.3} s sampling = {:.0} leapfrogs/s; \
         the same gradients alone {grad_time:.3} s ({:.2} us each); sampler overhead {:.1}% \
         (medians of 5)",
        leapfrogs as f64 / sampling,
        1e6 * grad_time / leapfrogs as f64,
        100.0 * (sampling - grad_time) / sampling
    );
}

fn main() {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted = |name: &str| filters.is_empty() || filters.iter().any(|f| name.contains(f));

    let y_coin: Vec<bool> = numbers(COIN, "y").iter().map(|v| *v == 1.0).collect();
    let coin = coin_toss(&y_coin).expect("valid data");
    let (n, dd) = (
        numbers(LINREG, "N")[0] as usize,
        numbers(LINREG, "D")[0] as usize,
    );
    let x = DMatrix::from_row_slice(n, dd, &numbers(LINREG, "X"));
    let y = DVector::from_vec(numbers(LINREG, "y"));
    let linreg = linear_regression(&x, &y).expect("valid data");
    let kx = DVector::from_vec(numbers(KILPISJARVI, "x"));
    let ky = DVector::from_vec(numbers(KILPISJARVI, "y"));
    let kilpis = kilpisjarvi(&kx, &ky).expect("valid data");
    let bx = numbers(BNN, "x");
    let bx = DMatrix::from_column_slice(bx.len(), 1, &bx);
    let by = DVector::from_vec(numbers(BNN, "y"));
    let net = bnn(&bx, &by, numbers(BNN, "H")[0] as usize).expect("valid data");

    let metrics = [
        ("diag", Metric::Diag),
        ("dense", Metric::Dense),
        ("lowrank4", Metric::LowRank(4)),
        ("auto", Metric::Auto),
    ];
    let adaptations = [("nutpie", Adaptation::Nutpie), ("stan", Adaptation::Stan)];
    let base = Nuts::default().seed(1).progress(false);
    let models: [(&str, &dyn Model); 3] = [
        ("coin", &coin),
        ("linreg", &linreg),
        ("kilpisjarvi", &kilpis),
    ];
    println!(
        "4 chains x (1000 + 1000), seed 1; ESS = min bulk ESS; /grad = per leapfrog step of \
         the sampling phase"
    );
    for (mname, model) in models {
        for (aname, a) in adaptations {
            for (kname, k) in metrics {
                let name = format!("{mname}/{aname}/{kname}");
                if wanted(&name) {
                    row(&name, model, &base.clone().adaptation(a).metric(k));
                }
            }
        }
    }
    let all_net = std::env::var("VI_BENCH_NET").is_ok_and(|v| v == "all");
    let net_rows: Vec<(&str, Adaptation, Metric)> = if all_net {
        adaptations
            .iter()
            .flat_map(|&(a, ad)| {
                [("diag", Metric::Diag), ("lowrank10", Metric::LowRank(10))]
                    .map(|(k, m)| (if a == "nutpie" { k } else { "stan-diag" }, ad, m))
            })
            .collect()
    } else {
        vec![("diag", Adaptation::Nutpie, Metric::Diag)]
    };
    for (kname, a, k) in net_rows {
        let name = format!(
            "bnn/{}/{kname}",
            if a == Adaptation::Nutpie {
                "nutpie"
            } else {
                "stan"
            }
        );
        if wanted(&name) {
            row(&name, &net, &base.clone().adaptation(a).metric(k));
        }
    }
    if wanted("overhead") {
        overhead(&linreg);
    }
}
