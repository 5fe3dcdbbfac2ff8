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

/// The `let`s anywhere in `stmts`, branches and loops included.
fn all_lets(stmts: &[Stmt], out: &mut Vec<String>) {
    for s in stmts {
        match s {
            Stmt::Let(l) => out.push(l.pat.to_token_stream().to_string()),
            Stmt::If(i) => {
                all_lets(&i.then.stmts, out);
                if let Some(e) = &i.els {
                    all_lets(&e.stmts, out);
                }
            }
            Stmt::For(f) => all_lets(&f.body.stmts, out),
            _ => {}
        }
    }
}

#[test]
fn a_match_is_an_if_chain_with_each_arms_call_inside_its_branch() {
    let pull = PULL();
    let (stmts, errors) = run(quote! {
        #pull
        fn m(y: &[f64], regime: &[usize]) {
            let mu ~ Normal(0.0, 1.0);
            let t = 1;
            let m = match regime[t] {
                0 => mu,
                1 | 2 => pull(y[t - 1], mu),
                k if pull(y[k], mu) > 0.0 => pull(y[t - k], mu),
                _ => mu,
            };
            y[0] ~ Normal(m, 1.0);
        }
    });
    assert_eq!(errors, Vec::<String>::new());
    // No body before the statement: each is inside the branch that calls it.
    let lets = top_lets(&stmts);
    assert!(!lets.iter().any(|l| l.starts_with("dev")), "{lets:?}");
    assert!(lets.iter().any(|l| l == "mut match_value1"), "{lets:?}");
    let Some(Stmt::If(first)) = stmts.iter().find(|s| matches!(s, Stmt::If(_))) else {
        panic!("an `if` chain");
    };
    assert_eq!(first.cond.to_token_stream().to_string(), "regime [t] == 0");
    // Second arm: `1 | 2`, its call inside its branch.
    let els = first.els.as_ref().expect("the other arms");
    let Some(Stmt::If(second)) = els.stmts.last() else {
        panic!("the second arm");
    };
    assert_eq!(
        second.cond.to_token_stream().to_string(),
        "(regime [t] == 1 || regime [t] == 2)"
    );
    assert!(top_lets(&second.then.stmts)
        .iter()
        .any(|l| l.starts_with("dev_pull")));
    // Third arm: the guard's call is in the second arm's `else`, before the guard's `if`.
    let els = second.els.as_ref().expect("the other arms");
    assert!(top_lets(&els.stmts)
        .iter()
        .any(|l| l.starts_with("dev_pull")));
    let Some(Stmt::If(third)) = els.stmts.last() else {
        panic!("the third arm");
    };
    // The bound name is the scrutinee inside the arm.
    assert!(top_lets(&third.then.stmts).iter().any(|l| l == "k"));
    // The last arm is the `else`.
    let last = third.els.as_ref().expect("the catch-all");
    assert!(matches!(last.stmts.as_slice(), [Stmt::Assign(_)]));
}

#[test]
fn a_match_without_a_catch_all_or_with_a_tuple_pattern_is_an_error() {
    let pull = PULL();
    let (_, errors) = run(quote! {
        #pull
        fn m(y: &[f64], regime: &[usize]) {
            let mu ~ Normal(0.0, 1.0);
            let a = match regime[0] { 0 => mu, 1 => pull(y[0], mu) };
            let b = match (regime[0], regime[1]) { (0, _) => mu, _ => pull(y[1], mu) };
            let c = match regime[0] > 1 { true => pull(y[0], mu), false => mu };
            target += a + b + c;
        }
    });
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].starts_with("a `match` that calls a user function in an arm ends with"));
    assert!(errors[1].contains("this pattern is not one of them"));
}

#[test]
fn a_value_chosen_among_integers_starts_at_an_integer_zero() {
    let (stmts, errors) = run(quote! {
        fn bucket(v: f64) -> usize {
            if v < 1.0 { 0 } else { 1 }
        }
        fn m(y: &[f64], t: usize) {
            let mu ~ Normal(0.0, 1.0);
            let b = if t > 0 { 2 } else { bucket(y[t]) };
            let c = match t { 0 => 1, _ => bucket(y[t - 1]) };
            target += mu * y[b + c];
        }
    });
    assert_eq!(errors, Vec::<String>::new());
    let inits: Vec<String> = stmts
        .iter()
        .filter_map(|s| match s {
            Stmt::Let(l) if l.pat.to_token_stream().to_string().starts_with("mut ") => {
                Some(l.init.to_token_stream().to_string())
            }
            _ => None,
        })
        .collect();
    assert_eq!(inits, vec!["(0 as usize)", "(0 as usize)"]);
    // `bucket`'s own value starts at `(0 as usize)` too.
    let mut lets = Vec::new();
    all_lets(&stmts, &mut lets);
    assert!(
        lets.iter().any(|l| l.starts_with("mut bucket_value")),
        "{lets:?}"
    );
}

#[test]
fn an_inlined_statement_is_reported_under_the_calling_statement() {
    let pull = PULL();
    let (stmts, errors) = run(quote! {
        #pull
        fn m(y: &[f64]) {
            let mu ~ Normal(0.0, 1.0);
            let p = pull(y[0] + 1.0, mu);
            target += p;
        }
    });
    assert_eq!(errors, Vec::<String>::new());
    let srcs: Vec<&str> = stmts
        .iter()
        .filter_map(|s| match s {
            Stmt::Let(l) => Some(l.src.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        srcs,
        vec![
            "let p = pull(y[0] + 1.0, mu) (inside pull: prev = y[0] + 1.0)",
            "let p = pull(y[0] + 1.0, mu) (inside pull: let dev = prev - mu)",
            "let p = pull(y[0] + 1.0, mu)",
        ]
    );
}
