//! The inliner's tests: where a conditional call's body goes, and the shapes of `let`s.

use proc_macro2::TokenStream;
use quote::quote;

use super::*;

/// The model's statements after inlining, and the errors.
fn run(ts: TokenStream) -> (Vec<Stmt>, Vec<String>) {
    let def: ModelDef = syn::parse2(ts).expect("parses");
    let cx = Ctxt::new();
    let body = inline(&cx, &def).expect("the model has functions");
    let errors = match cx.check() {
        Ok(()) => Vec::new(),
        Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
    };
    (body.stmts, errors)
}

/// Names bound by the `let`s of `stmts`, not looking inside loops and branches.
fn top_lets(stmts: &[Stmt]) -> Vec<String> {
    stmts
        .iter()
        .filter_map(|s| match s {
            Stmt::Let(l) => Some(l.pat.to_token_stream().to_string()),
            _ => None,
        })
        .collect()
}

const PULL: fn() -> TokenStream = || {
    quote! {
        fn pull(prev: f64, mu: f64) -> f64 {
            let dev = prev - mu;
            0.5 * dev
        }
    }
};

#[test]
fn a_call_in_a_branch_is_inlined_inside_that_branch() {
    let pull = PULL();
    let (stmts, errors) = run(quote! {
        #pull
        fn m(y: &[f64]) {
            let mu ~ Normal(0.0, 1.0);
            let t = 0;
            let m = if t > 0 { pull(y[t - 1], mu) } else { mu };
            y[0] ~ Normal(m, 1.0);
        }
    });
    assert_eq!(errors, Vec::<String>::new());
    // The body's `let dev` is not before the statement but inside the `if`'s `then`.
    let lets = top_lets(&stmts);
    assert!(!lets.iter().any(|l| l.starts_with("dev")), "{lets:?}");
    let branch = stmts
        .iter()
        .find_map(|s| match s {
            Stmt::If(i) => Some(i),
            _ => None,
        })
        .expect("an `if` statement sets the value");
    assert!(top_lets(&branch.then.stmts)
        .iter()
        .any(|l| l == "dev_pull2"));
    assert!(matches!(branch.then.stmts.last(), Some(Stmt::Assign(_))));
    let els = branch.els.as_ref().expect("an else");
    assert!(matches!(els.stmts.as_slice(), [Stmt::Assign(_)]));
    // The `let` reads the value the branches set.
    let Some(Stmt::Let(l)) = stmts
        .iter()
        .find(|s| matches!(s, Stmt::Let(l) if l.pat.to_token_stream().to_string() == "m"))
    else {
        panic!("`let m` is kept");
    };
    assert_eq!(l.init.to_token_stream().to_string(), "if_value1");
}

#[test]
fn a_call_after_and_or_runs_only_when_the_left_side_asks() {
    let pull = PULL();
    let (stmts, errors) = run(quote! {
        #pull
        fn m(y: &[f64], t: usize) {
            let mu ~ Normal(0.0, 1.0);
            let a = t > 0 && pull(y[t - 1], 1.0) > 0.0;
            let b = t == 0 || pull(y[t - 1], 1.0) > 0.0;
            let c = pull(y[t], 1.0) > 0.0 && t > 0;
            let d = if t > 0 { pull(y[t - 1], 1.0) > 0.0 } else { false };
            target += mu;
        }
    });
    assert_eq!(errors, Vec::<String>::new());
    let lets = top_lets(&stmts);
    // Only the unconditional call (`c`'s left side) has its body before its statement.
    let devs: Vec<&String> = lets.iter().filter(|l| l.starts_with("dev")).collect();
    assert_eq!(devs.len(), 1, "{lets:?}");
    let ifs = stmts.iter().filter(|s| matches!(s, Stmt::If(_))).count();
    assert_eq!(ifs, 3);
}

#[test]
fn an_if_whose_value_has_no_known_shape_is_an_error_at_the_if() {
    let pull = PULL();
    let (_, errors) = run(quote! {
        #pull
        fn m(y: &[f64], w: &Foo) {
            let mu ~ Normal(0.0, 1.0);
            target += if mu > 0.0 { w.thing() } else { w.other() + pull(1.0, mu) };
        }
    });
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("this `if` calls a user function in a branch"));
}

#[test]
fn a_let_holding_a_functions_value_has_its_shape() {
    let (_, errors) = run(quote! {
        fn level(x: &[f64]) -> f64 {
            let s = sum(x);
            s / 2.0
        }
        fn scale(v: DVector<f64>, k: f64) -> DVector<f64> {
            v * k
        }
        fn m(x: &[f64], y: &[f64]) {
            let mu ~ Normal(0.0, 1.0);
            let a = level(x);
            let b = scale(a, mu);
            let c: DVector<f64> = level(x);
            target += a[0] + sum(b);
            for i in 0..3 {
                // Shadowed by the loop: no longer `level`'s value.
                let a = x[i];
                target += a;
            }
        }
    });
    assert_eq!(
        errors,
        vec![
            "`scale`'s parameter `v` is `DVector<f64>`, a vector, but this argument is a scalar"
                .to_string(),
            "`c` is declared `DVector<f64>`, a vector, but its value is a scalar".to_string(),
            "`a` is a scalar (`level` returns `f64`), so it cannot be indexed".to_string(),
        ]
    );
}

#[test]
fn a_name_shadowed_by_a_let_takes_the_lets_shape() {
    let (_, errors) = run(quote! {
        fn scale(v: DVector<f64>, k: f64) -> DVector<f64> {
            v * k
        }
        fn m(x: f64, z: &[f64]) {
            let mu ~ Normal(0.0, 1.0);
            // `x` is a scalar argument, then a vector.
            let x = DVector::from_column_slice(z);
            target += sum(scale(x, mu));
        }
    });
    assert_eq!(errors, Vec::<String>::new());
}
