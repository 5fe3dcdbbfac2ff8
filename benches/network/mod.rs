//! Issue 15's network as NUTS sees it: the peers' model (`shared/bench/bnn.json`: one input in
//! (-3, 3), 50 tanh units, N = 200, noise sd fixed at 0.1, 151 parameters, every weight
//! `Normal(0, 1)`), the gradient compiled from `model!` against the hand-written limit, one
//! fused pass over rows and hidden units (`vi::ad::tanh_layer::normal_tanh_layer`, AVX-512
//! or AVX2 through the runtime dispatch, `vi::math::tanh`) plus the priors, checked to 1e-8
//! against the compiled model before timing. `compiled, rules` is the same model with the
//! location in a `let` (`let mu = h * w2 + b2; y ~ Normal(mu, sigma)`), which keeps the
//! rules' form: the `N x H` layer, its adjoint and four products.

use criterion::black_box;
use vi::prelude::*;

use crate::common::{check, theta};
use crate::Variant;

const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

model! {
    /// The peers' network (as in `benches/methods.rs`).
    pub fn bnn_peers(x: &DMatrix<f64>, y: &DVector<f64>, hidden: usize, sigma: f64) {
        let w1 ~ Normal(0.0, 1.0).iid((x.ncols(), hidden));
        let b1 ~ Normal(0.0, 1.0).iid(hidden);
        let w2 ~ Normal(0.0, 1.0).iid(hidden);
        let b2 ~ Normal(0.0, 1.0);
        let h = (x * w1 + b1.transpose()).tanh();
        y ~ Normal(h * w2 + b2, sigma);
    }
}

model! {
    /// The same with the location in a `let`: the rules' form.
    pub fn bnn_peers_rules(x: &DMatrix<f64>, y: &DVector<f64>, hidden: usize, sigma: f64) {
        let w1 ~ Normal(0.0, 1.0).iid((x.ncols(), hidden));
        let b1 ~ Normal(0.0, 1.0).iid(hidden);
        let w2 ~ Normal(0.0, 1.0).iid(hidden);
        let b2 ~ Normal(0.0, 1.0);
        let h = (x * w1 + b1.transpose()).tanh();
        let mu = h * w2 + b2;
        y ~ Normal(mu, sigma);
    }
}

/// The peers' data and the models, built once.
pub struct Setup {
    x: DMatrix<f64>,
    y: DVector<f64>,
    fused: BnnPeers,
    rules: BnnPeersRules,
}

const H: usize = 50;
const SIGMA: f64 = 0.1;

impl Setup {
    pub fn new() -> Self {
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../data/bnn.json")).expect("benchmark data");
        let floats = |k: &str| -> Vec<f64> {
            v[k].as_array()
                .expect("an array")
                .iter()
                .map(|x| x.as_f64().expect("a number"))
                .collect()
        };
        let x = DMatrix::from_vec(200, 1, floats("x"));
        let y = DVector::from_vec(floats("y"));
        let fused = bnn_peers(&x, &y, H, SIGMA).expect("valid data");
        let rules = bnn_peers_rules(&x, &y, H, SIGMA).expect("valid data");
        Setup { x, y, fused, rules }
    }
}

/// Hand-written: the fused kernel for the likelihood, the `Normal(0, 1)` priors of all the
/// parameters (`W1`, `b1`, `w2`, `b2` in that order) by hand.
fn hand(x: &DMatrix<f64>, y: &DVector<f64>, th: &[f64], g: &mut [f64]) -> f64 {
    let h = H;
    g.fill(0.0);
    let (gw1, rest) = g.split_at_mut(h);
    let (gb1, rest) = rest.split_at_mut(h);
    let (gw2, gb2) = rest.split_at_mut(h);
    let lp = vi::ad::tanh_layer::normal_tanh_layer(
        x.as_slice(),
        x.nrows(),
        1,
        y.as_slice(),
        &th[..h],
        &th[h..2 * h],
        &th[2 * h..3 * h],
        &th[3 * h..3 * h + 1],
        &[SIGMA],
        vi::ad::tanh_layer::LayerGrads {
            w1: Some(gw1),
            b1: Some(gb1),
            w2: Some(gw2),
            b2: Some(gb2),
            sigma: None,
        },
    )
    .unwrap_or(f64::NAN);
    let mut prior = 0.0;
    for (gi, t) in g.iter_mut().zip(th) {
        prior += t * t;
        *gi -= t;
    }
    lp - 0.5 * prior - th.len() as f64 * LN_SQRT_2PI
}

/// The network's variants, after checking the hand-written gradient against both compiled
/// forms (and the peers' log density at their test point).
pub fn variants(s: &Setup) -> Vec<Variant<'_>> {
    const NET: &str = "bnn peers N=200 D=1 H=50 sigma=0.1";
    let (x, y) = (&s.x, &s.y);
    let peers: Vec<f64> = (0..s.fused.dim())
        .map(|i| 0.1 * ((i % 7) as f64 - 3.0) + 0.05)
        .collect();
    let want = -17044.16855;
    for lp in [
        s.fused.log_density(&peers),
        s.rules.log_density(&peers),
        hand(x, y, &peers, &mut vec![0.0; peers.len()]),
    ] {
        assert!((lp - want).abs() < 1e-6 * want.abs(), "{lp} against {want}");
    }
    check("bnn peers, fused kernel", &s.fused, |t, g| hand(x, y, t, g));
    check("bnn peers, rules", &s.rules, |t, g| hand(x, y, t, g));
    let th = theta(s.fused.dim());
    let g = vec![0.0; th.len()];
    vec![
        (
            NET,
            "hand-written fused pass (tanh_layer kernel + priors)",
            {
                let (th, mut g) = (th.clone(), g.clone());
                Box::new(move || hand(x, y, black_box(&th), &mut g))
            },
        ),
        (NET, "compiled matrix form", {
            let (th, mut g) = (th.clone(), g.clone());
            Box::new(move || s.fused.log_density_grad(black_box(&th), &mut g))
        }),
        (NET, "compiled, rules (`let mu`)", {
            let (th, mut g) = (th.clone(), g);
            Box::new(move || s.rules.log_density_grad(black_box(&th), &mut g))
        }),
    ]
}
