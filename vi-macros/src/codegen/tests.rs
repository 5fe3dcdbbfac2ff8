//! Tests of the generated code's shape.

/// The gradient function of a model's expansion, as text.
fn grad_fn(src: &str) -> String {
    let out = crate::run(src.parse().expect("tokens")).to_string();
    assert!(!out.contains("compile_error"), "{out}");
    let start = out.find("fn __grad").expect("a gradient function");
    let end = out[start..]
        .find("fn __sim")
        .expect("the function after it");
    out[start..start + end].to_string()
}

#[test]
fn a_statement_in_a_loop_keeps_one_memo_declared_before_the_loop() {
    let g = grad_fn(
        "fn m(x: &DMatrix<f64>, y: &DVector<f64>) {
            let b ~ Normal(0.0, 1.0);
            let sigma ~ HalfNormal(1.0);
            let t ~ Normal(0.0, 1.0).iid(x.nrows());
            for i in 0..x.nrows() {
                let mut mu = b;
                for j in 0..x.ncols() {
                    mu += x[(i, j)] * b;
                }
                // A data statement in the body: the loop stays a loop (not vectorised).
                let _k = i;
                y[i] ~ Normal(mu + t[i], sigma);
            }
        }",
    );
    // One memo per distribution statement, all declared before the first loop.
    let decls: Vec<usize> = g.match_indices("let mut __k").map(|(i, _)| i).collect();
    assert_eq!(decls.len(), 4, "{g}");
    let first_loop = g.find("for i in").expect("the loop");
    assert!(decls.iter().all(|&d| d < first_loop), "{g}");
    // The observation's kernel call goes through operand dispatch with that memo.
    let call = g.rfind("Ops3").expect("a kernel call by dispatch");
    assert!(call > first_loop, "{g}");
    assert!(g[call..].contains("lpdf (& mut __k"), "{g}");
    assert!(!g.contains("dist :: normal :: lpdf"), "{g}");
}

#[test]
fn data_arithmetic_on_arguments_only_is_kept_for_the_model() {
    let out = crate::run(
        "fn m(y: &[f64], exposure: &[f64], x: &[f64], i: usize) {
            let alpha ~ Normal(0.0, 5.0);
            let beta ~ Normal(0.0, 1.0);
            y ~ PoissonLog(exposure.ln() + alpha + x * beta);
            target += beta * (x[i] - 100.0);
            for j in 0..x.len() {
                // A data statement in the body: the loop stays a loop (not vectorised).
                let _k = j;
                target += alpha * (x[j] - 100.0);
            }
        }"
        .parse()
        .expect("tokens"),
    )
    .to_string();
    assert!(!out.contains("compile_error"), "{out}");
    // `exposure.ln()` and `x[i] - 100.0` (`i` is an argument) are computed in cache slots
    // after the data operands', in every body that has their statement (the constructor's
    // run, density, terms, gradient, and simulate for the observation); `x[j] - 100.0` reads
    // an element at a loop variable, so it is computed at every evaluation.
    let kept: Vec<&str> = out
        .match_indices("__cache . value (")
        .map(|(k, _)| &out[k + 17..k + 23])
        .collect();
    let mut slots = kept.clone();
    slots.sort();
    slots.dedup();
    assert_eq!(slots, ["4usize", "5usize"], "{out}");
    assert_eq!(kept.iter().filter(|k| **k == "4usize").count(), 5, "{out}");
    assert_eq!(kept.iter().filter(|k| **k == "5usize").count(), 4, "{out}");
    // Four data operands' slots, then the two values'.
    assert!(out.contains("DataCache :: new (6usize)"), "{out}");
    assert_eq!(out.matches("__private :: ad :: ln (").count(), 5, "{out}");
    assert_eq!(out.matches("sub_fwd").count(), 4 + 4, "{out}");
}

#[test]
fn a_gather_through_argument_codes_is_checked_once_per_model() {
    let src = "fn m(county: &[usize], region: &[usize], y: &[f64], j: usize, off: usize) {
            let a ~ Normal(0.0, 1.0).iid(j);
            let b ~ Normal(0.0, 1.0).iid(j);
            for i in 0..y.len() {
                y[i] ~ Normal(a[county[i] - 1] + b[county[i] - off], 1.0);
            }
            for r in 0..2 {
                for i in region[r]..region[r + 1] {
                    y[i] ~ Normal(a[county[i]], 1.0);
                }
            }
        }";
    let out = crate::run(src.parse().expect("tokens")).to_string();
    assert!(!out.contains("compile_error"), "{out}");
    // The two gathers of the first loop (codes, offset and lanes built from the arguments)
    // keep their checks in the two slots after the cached data's; the loop whose lanes
    // depend on `r` checks on every call.
    assert!(out.contains("const __GATHERS : usize ="), "{out}");
    assert!(out.contains("Self :: __GATHERS + 0usize"), "{out}");
    assert!(out.contains("Self :: __GATHERS + 1usize"), "{out}");
    assert!(!out.contains("Self :: __GATHERS + 2usize"), "{out}");
    assert!(
        out.contains(":: vi :: __private :: gather_index ("),
        "{out}"
    );
    // The fused loop subtracts a literal offset as written, an argument's through a local.
    let grad = grad_fn(src);
    assert!(grad.contains("[__fk] - 1usize"), "{grad}");
    assert!(grad.contains("let __fs"), "{grad}");
}
