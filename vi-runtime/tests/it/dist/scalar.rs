//! The one-element kernels (`dist::<name>::Scalar`, what `model!` calls when every operand of
//! a statement is a number): values against scipy's reference points and the vectorised
//! kernel, partials against central finite differences, and the memo of parameter-only
//! pieces against a fresh kernel whenever the parameters change.

use super::{eval, random_args, rel_close, spec, specs, tol, LPDF_REF};
use vi_runtime::check::gradient_mismatch;
use vi_runtime::dist::scalar::{scalar, Kernel};
use vi_runtime::dist::*;
use vi_runtime::infer::rng_for;

/// A distribution's one-element kernel behind one signature: `(ln p, partials)` at
/// `x = [y, params..]`, with `want[k]` choosing which partials are asked for, through the
/// given memo (`None`: a fresh one).
type ScalarFn = fn(&mut Memos, &[f64], &[bool]) -> (f64, Vec<f64>);

/// One kernel through [`scalar`], the entry point the generated code uses.
fn through<K: Kernel<N>, const N: usize>(k: &mut K, x: &[f64], want: &[bool]) -> (f64, Vec<f64>) {
    let x: [f64; N] = x.try_into().expect("one value per argument");
    let mut g = [0.0; N];
    let mut w = want.iter().copied();
    let slots = g.each_mut().map(|r| w.next().unwrap_or(false).then_some(r));
    let lp = scalar(k, x, slots);
    (lp, g.to_vec())
}

/// One memo of every kernel, as the generated code keeps one per statement.
#[derive(Default)]
struct Memos {
    normal: normal::Scalar,
    half_normal: half_normal::Scalar,
    log_normal: log_normal::Scalar,
    student_t: student_t::Scalar,
    half_student_t: half_student_t::Scalar,
    cauchy: cauchy::Scalar,
    half_cauchy: half_cauchy::Scalar,
    laplace: laplace::Scalar,
    exponential: exponential::Scalar,
    gamma: gamma::Scalar,
    inverse_gamma: inverse_gamma::Scalar,
    beta: beta::Scalar,
    uniform: uniform::Scalar,
    bernoulli: bernoulli::Scalar,
    bernoulli_logit: bernoulli_logit::Scalar,
    binomial: binomial::Scalar,
    binomial_logit: binomial_logit::Scalar,
    poisson: poisson::Scalar,
    poisson_log: poisson_log::Scalar,
}

fn scalar_fn(name: &str) -> ScalarFn {
    match name {
        "Normal" => |m, x, w| through(&mut m.normal, x, w),
        "HalfNormal" => |m, x, w| through(&mut m.half_normal, x, w),
        "LogNormal" => |m, x, w| through(&mut m.log_normal, x, w),
        "StudentT" => |m, x, w| through(&mut m.student_t, x, w),
        "HalfStudentT" => |m, x, w| through(&mut m.half_student_t, x, w),
        "Cauchy" => |m, x, w| through(&mut m.cauchy, x, w),
        "HalfCauchy" => |m, x, w| through(&mut m.half_cauchy, x, w),
        "Laplace" => |m, x, w| through(&mut m.laplace, x, w),
        "Exponential" => |m, x, w| through(&mut m.exponential, x, w),
        "Gamma" => |m, x, w| through(&mut m.gamma, x, w),
        "InverseGamma" => |m, x, w| through(&mut m.inverse_gamma, x, w),
        "Beta" => |m, x, w| through(&mut m.beta, x, w),
        "Uniform" => |m, x, w| through(&mut m.uniform, x, w),
        "Bernoulli" => |m, x, w| through(&mut m.bernoulli, x, w),
        "BernoulliLogit" => |m, x, w| through(&mut m.bernoulli_logit, x, w),
        "Binomial" => |m, x, w| through(&mut m.binomial, x, w),
        "BinomialLogit" => |m, x, w| through(&mut m.binomial_logit, x, w),
        "Poisson" => |m, x, w| through(&mut m.poisson, x, w),
        "PoissonLog" => |m, x, w| through(&mut m.poisson_log, x, w),
        other => panic!("no scalar kernel for {other}"),
    }
}

/// `[y, params..]` of a reference point.
fn point(params: &[f64], y: f64) -> Vec<f64> {
    let mut x = vec![y];
    x.extend_from_slice(params);
    x
}

#[test]
fn scalar_kernels_match_scipy() {
    for &(name, params, y, expected) in LPDF_REF {
        let x = point(params, y);
        let k = x.len();
        for want in [vec![false; k], vec![true; k]] {
            let (lp, _) = scalar_fn(name)(&mut Memos::default(), &x, &want);
            assert!(
                rel_close(lp, expected, tol::LPDF),
                "{name}{params:?} at {y}: scalar kernel {lp} vs scipy {expected}"
            );
        }
    }
}

#[test]
fn scalar_kernels_match_the_vectorised_kernel_and_finite_differences() {
    for (si, s) in specs().into_iter().enumerate() {
        let k = s.real.len();
        let f = scalar_fn(s.name);
        let mut rng = rng_for(23, si as u64);
        // Every argument a broadcast scalar: one element.
        let all_scalar = (1u32 << k) - 1;
        for _rep in 0..20 {
            let args = random_args(&s, &mut rng, 1, all_scalar);
            let x: Vec<f64> = args.iter().map(|a| a[0]).collect();
            let ctx = format!("{} at {x:?}", s.name);
            let (lp, g) = f(&mut Memos::default(), &x, &vec![true; k]);
            let (lp_v, g_v) = eval(s.kernel, &args, &vec![true; k]);
            assert!(
                (lp - lp_v).abs() <= tol::SUM * lp_v.abs().max(1.0),
                "{ctx}: scalar {lp} vs vectorised {lp_v}"
            );
            for j in 0..k {
                assert!(
                    (g[j] - g_v[j][0]).abs() <= tol::SUM * g_v[j][0].abs().max(1.0),
                    "{ctx}: partial {j}: scalar {} vs vectorised {}",
                    g[j],
                    g_v[j][0]
                );
            }
            // Integer arguments have no partial.
            for j in (0..k).filter(|&j| !s.real[j]) {
                assert_eq!(g[j], 0.0, "{ctx}: arg {j}");
            }
            // The real arguments' partials against finite differences of the scalar kernel.
            let real: Vec<usize> = (0..k).filter(|&j| s.real[j]).collect();
            let xr: Vec<f64> = real.iter().map(|&j| x[j]).collect();
            let gr: Vec<f64> = real.iter().map(|&j| g[j]).collect();
            let lp_at = |xr: &[f64]| {
                let mut y = x.clone();
                for (&j, &v) in real.iter().zip(xr) {
                    y[j] = v;
                }
                f(&mut Memos::default(), &y, &vec![false; k]).0
            };
            if let Some((i, an, fd)) = gradient_mismatch(lp_at, &gr, &xr, tol::GRAD) {
                panic!("{ctx}: partial {i} is {an}, finite difference {fd}");
            }
            // Asking for one partial gives that partial and the same value.
            for &j in &real {
                let mut want = vec![false; k];
                want[j] = true;
                let (lp_j, g_j) = f(&mut Memos::default(), &x, &want);
                assert_eq!(lp_j, lp, "{ctx}: value with only partial {j}");
                assert_eq!(g_j[j], g[j], "{ctx}: partial {j} alone");
            }
        }
    }
}

#[test]
fn a_kept_memo_gives_what_a_fresh_one_gives() {
    for (si, s) in specs().into_iter().enumerate() {
        let k = s.real.len();
        let f = scalar_fn(s.name);
        let mut rng = rng_for(29, si as u64);
        let mut kept = Memos::default();
        // Runs of elements sharing their parameters (what a loop over observations with one
        // scale looks like), then new parameters, with the wanted partials changing too.
        for run in 0..6 {
            let args = random_args(&s, &mut rng, 1, (1u32 << k) - 1);
            let shared: Vec<f64> = args[1..].iter().map(|a| a[0]).collect();
            for i in 0..4 {
                // The observation varies within a run; the parameters do not.
                let mut x = vec![(s.obs)(&mut rng, &shared)];
                x.extend_from_slice(&shared);
                let want: Vec<bool> = (0..k).map(|j| (run + i + j) % 3 != 0).collect();
                let got = f(&mut kept, &x, &want);
                let fresh = f(&mut Memos::default(), &x, &want);
                assert_eq!(got, fresh, "{} run {run} element {i} at {x:?}", s.name);
            }
        }
    }
}

#[test]
fn scalar_kernels_outside_the_support_and_with_invalid_parameters() {
    // (distribution, [y, params..], expected ln p: -inf outside the support, NaN for an
    // invalid parameter).
    let cases: &[(&str, &[f64], f64)] = &[
        ("Normal", &[0.0, 0.0, -1.0], f64::NAN),
        ("Normal", &[0.0, 0.0, 0.0], f64::NAN),
        ("HalfNormal", &[-0.5, 1.0], f64::NEG_INFINITY),
        ("LogNormal", &[0.0, 0.0, 1.0], f64::NEG_INFINITY),
        ("StudentT", &[0.0, -1.0, 0.0, 1.0], f64::NAN),
        ("HalfStudentT", &[-1.0, 3.0, 1.0], f64::NEG_INFINITY),
        ("Cauchy", &[0.0, 0.0, -2.0], f64::NAN),
        ("HalfCauchy", &[-1.0, 1.0], f64::NEG_INFINITY),
        ("Laplace", &[0.0, 0.0, 0.0], f64::NAN),
        ("Exponential", &[-1.0, 2.0], f64::NEG_INFINITY),
        ("Gamma", &[0.0, 2.0, 1.0], f64::NEG_INFINITY),
        ("Gamma", &[1.0, 0.0, 1.0], f64::NAN),
        ("InverseGamma", &[-1.0, 2.0, 1.0], f64::NEG_INFINITY),
        ("Beta", &[1.0, 2.0, 2.0], f64::NEG_INFINITY),
        ("Beta", &[0.5, 2.0, -2.0], f64::NAN),
        ("Uniform", &[3.0, 0.0, 2.0], f64::NEG_INFINITY),
        ("Uniform", &[1.0, 2.0, 0.0], f64::NAN),
        ("Bernoulli", &[2.0, 0.5], f64::NEG_INFINITY),
        ("Bernoulli", &[1.0, 1.5], f64::NAN),
        ("BernoulliLogit", &[0.5, 0.0], f64::NEG_INFINITY),
        ("Binomial", &[4.0, 3.0, 0.5], f64::NEG_INFINITY),
        ("Binomial", &[1.0, 2.5, 0.5], f64::NAN),
        ("BinomialLogit", &[-1.0, 3.0, 0.0], f64::NEG_INFINITY),
        ("Poisson", &[1.5, 2.0], f64::NEG_INFINITY),
        ("Poisson", &[1.0, -2.0], f64::NAN),
        ("PoissonLog", &[-1.0, 0.0], f64::NEG_INFINITY),
    ];
    for &(name, x, expected) in cases {
        let k = x.len();
        let (lp, g) = scalar_fn(name)(&mut Memos::default(), x, &vec![true; k]);
        let ctx = format!("{name} at {x:?}");
        if expected.is_nan() {
            assert!(lp.is_nan(), "{ctx}: {lp}");
        } else {
            assert_eq!(lp, expected, "{ctx}");
        }
        assert!(g.iter().all(|&v| v == 0.0), "{ctx}: partials {g:?}");
        // The vectorised kernel agrees.
        let args: Vec<Vec<f64>> = x.iter().map(|&v| vec![v]).collect();
        let (lp_v, _) = eval(spec(name).kernel, &args, &vec![true; k]);
        assert!(
            lp_v.is_nan() == lp.is_nan() && (lp.is_nan() || lp_v == lp),
            "{ctx}"
        );
    }
}
