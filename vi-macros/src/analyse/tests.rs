//! The analyser's tests.

use super::*;
use proc_macro2::TokenStream;
use quote::quote;

fn run(ts: TokenStream) -> (Model, Vec<String>) {
    let def: ModelDef = syn::parse2(ts).expect("parses");
    let cx = Ctxt::new();
    let m = analyse(&cx, &def);
    let errors = match cx.check() {
        Ok(()) => Vec::new(),
        Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
    };
    (m, errors)
}

fn errors(ts: TokenStream) -> Vec<String> {
    run(ts).1
}

fn one_error(ts: TokenStream) -> String {
    let e = errors(ts);
    assert_eq!(e.len(), 1, "{e:?}");
    e[0].clone()
}

#[test]
fn a_correct_model_has_latents_constraints_and_terms() {
    let (m, e) = run(quote! {
        fn m(x: &DMatrix<f64>, y: &DVector<f64>, lo: f64) {
            let w ~ Normal(0.0, 1.0).iid(x.ncols());
            let s ~ HalfNormal(1.0);
            let p ~ Beta(2.0, 2.0);
            let u ~ Uniform(lo, lo + 1.0);
            let z ~ Normal(0.0, 1.0).iid((2, 3));
            let mu = x * w;
            y ~ Normal(mu, s);
            target += p.ln() + u;
        }
    });
    assert!(e.is_empty(), "{e:?}");
    let names: Vec<String> = m
        .latents
        .iter()
        .map(|l| l.binding.name.to_string())
        .collect();
    assert_eq!(names, ["w", "s", "p", "u", "z"]);
    assert!(matches!(m.latents[0].shape, Shape::Vector(_)));
    assert!(matches!(m.latents[4].shape, Shape::Matrix(..)));
    assert!(matches!(m.latents[0].constraint, Constraint::Identity));
    assert!(matches!(m.latents[1].constraint, Constraint::Positive));
    assert!(matches!(m.latents[2].constraint, Constraint::Unit));
    assert!(matches!(m.latents[3].constraint, Constraint::Interval(..)));
    // Terms: five priors, one observation, one target.
    assert_eq!(m.terms.len(), 7);
    assert_eq!(m.observed, ["y"]);
    // `mu` is active: it becomes a Let with a rule call.
    assert!(m
        .body
        .iter()
        .any(|s| matches!(s, Stmt::Let { binding, .. } if binding.name == "mu")));
}

#[test]
fn state_assigned_in_a_loop_is_carried_and_active() {
    let (m, e) = run(quote! {
        fn m(y: &[f64]) {
            let phi ~ Normal(0.0, 1.0);
            let mut s = 0.0;
            let mut count = 0;
            for t in 1..y.len() {
                s = phi * s + y[t - 1];
                count += 1;
                y[t] ~ Normal(s, 1.0);
            }
        }
    });
    assert!(e.is_empty(), "{e:?}");
    let Some(Stmt::For {
        carried,
        data_carried,
        ..
    }) = m.body.iter().find(|s| matches!(s, Stmt::For { .. }))
    else {
        panic!("no loop")
    };
    assert_eq!(carried.len(), 1);
    assert_eq!(carried[0].outer.name, "s");
    assert_eq!(data_carried.len(), 1);
    assert_eq!(data_carried[0], "count");
    // `let mut s = 0.0` became active (its first version holds the data value).
    assert!(m.body.iter().any(
        |s| matches!(s, Stmt::Let { binding, init: AExpr::Data(_), .. } if binding.name == "s")
    ));
}

#[test]
fn unknown_distribution_suggests() {
    let e = one_error(quote! { fn m(y: f64) { y ~ Nomral(0.0, 1.0); } });
    assert_eq!(e, "unknown distribution `Nomral`, did you mean `Normal`?");
    let e = one_error(quote! { fn m(y: f64) { y ~ halfnormal(1.0); } });
    assert_eq!(
        e,
        "unknown distribution `halfnormal`, did you mean `HalfNormal`?"
    );
    let e = one_error(quote! { fn m(y: f64) { y ~ Zzyzx(1.0); } });
    assert!(
        e.starts_with("unknown distribution `Zzyzx`; known: Normal"),
        "{e}"
    );
    // The multivariate rows are listed and suggested too.
    assert!(e.ends_with("LkjCholesky, Wishart, InvWishart"), "{e}");
    let e = one_error(quote! { fn m(y: f64) { let s ~ InvWishrt(3.0, y); } });
    assert_eq!(
        e,
        "unknown distribution `InvWishrt`, did you mean `InvWishart`?"
    );
}

#[test]
fn wrong_arity() {
    let e = one_error(quote! { fn m(y: f64) { y ~ Normal(0.0); } });
    assert_eq!(e, "`Normal` takes 2 arguments (mu, sigma), found 1");
    let e = one_error(quote! { fn m() { let s ~ HalfNormal(1.0, 2.0); } });
    assert_eq!(e, "`HalfNormal` takes 1 argument (sigma), found 2");
}

#[test]
fn names() {
    let e = one_error(quote! { fn m() { let a ~ Normal(0.0, 1.0); let a ~ Normal(0.0, 1.0); } });
    assert_eq!(e, "latent `a` is declared twice");
    let e = one_error(quote! { fn m(y: f64) { y ~ Normal(muu, 1.0); } });
    assert_eq!(e, "cannot find `muu` in this model");
    let e = one_error(quote! { fn m(y: f64) { y ~ Normal(mu, 1.0); let mu ~ Normal(0.0, 1.0); } });
    assert_eq!(e, "latent `mu` is used before it is declared");
    let e = one_error(quote! { fn m(y: f64) { let y ~ Normal(0.0, 1.0); } });
    assert_eq!(e, "`y` is data and cannot be a latent variable");
    // Upper-case names may be constants from outside the model.
    assert!(errors(quote! { fn m(y: f64) { y ~ Normal(0.0, SCALE); } }).is_empty());
}

#[test]
fn tilde_on_a_latent_expression_adds_its_density() {
    // Linear left sides: no warning.
    for lhs in [
        quote!(h),
        quote!(h[1]),
        quote!(h[1] - mu),
        quote!(2.0 * (h[0] + h[1]) / 3.0),
        quote!(d),
        quote!(h.sum()),
    ] {
        let (m, e) = run(quote! {
            fn m(n: usize) {
                let mu ~ Normal(0.0, 1.0);
                let h ~ Flat.iid(n);
                let d = h[0] - mu;
                #lhs ~ Normal(0.0, 1.0);
            }
        });
        assert!(e.is_empty(), "{e:?}");
        assert!(m.warnings.is_empty(), "{lhs}: {:?}", m.warnings);
        assert!(matches!(m.body.last(), Some(Stmt::Density { .. })));
    }
    // Nonlinear ones: one warning naming the missing Jacobian.
    for lhs in [
        quote!(h.exp()),
        quote!(h[0] * mu),
        quote!(h[0] / mu),
        quote!(e),
    ] {
        let (m, e) = run(quote! {
            fn m(n: usize) {
                let mu ~ Normal(0.0, 1.0);
                let h ~ Flat.iid(n);
                let e = h.exp();
                #lhs ~ Normal(0.0, 1.0);
            }
        });
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(m.warnings.len(), 1, "{lhs}");
        assert!(
            m.warnings[0].1.contains("no Jacobian"),
            "{}",
            m.warnings[0].1
        );
    }
}

#[test]
fn flat_is_only_a_latents_prior() {
    let (m, e) = run(quote! { fn m(n: usize) { let h ~ Flat.iid(n); let g ~ Flat; } });
    assert!(e.is_empty(), "{e:?}");
    assert_eq!(m.latents.len(), 2);
    let e = one_error(quote! { fn m(y: f64) { y ~ Flat; } });
    assert!(
        e.starts_with("`Flat` is an improper prior with no density"),
        "{e}"
    );
    let e = one_error(quote! { fn m() { let h ~ Flat; h ~ Flat(); } });
    assert!(
        e.starts_with("`Flat` is an improper prior with no density"),
        "{e}"
    );
    let e = one_error(quote! { fn m() { let h ~ Flat(1.0); } });
    assert!(e.starts_with("`Flat` takes 0 arguments"), "{e}");
    let e = one_error(quote! { fn m() { let h ~ Flat; h ~ Poisson(3.0); } });
    assert!(e.starts_with("`Poisson` is discrete"), "{e}");
}

#[test]
fn non_differentiable_calls() {
    let e = one_error(
        quote! { fn m(y: f64) { let mu ~ Normal(0.0, 1.0); y ~ Normal(mu.floor(), 1.0); } },
    );
    assert!(e.starts_with("`floor` has no derivative"), "{e}");
    let e = one_error(
        quote! { fn m(y: f64) { let mu ~ Normal(0.0, 1.0); y ~ Normal(my_fn(mu), 1.0); } },
    );
    assert!(e.starts_with("`my_fn` has no derivative"), "{e}");
    // The same call on data is fine.
    assert!(errors(
        quote! { fn m(y: f64) { let mu ~ Normal(0.0, 1.0); y ~ Normal(mu + y.floor(), 1.0); } }
    )
    .is_empty());
}

#[test]
fn branching_and_shapes_on_latents() {
    let e = one_error(
        quote! { fn m(y: f64) { let mu ~ Normal(0.0, 1.0); if mu > 0.0 { y ~ Normal(mu, 1.0); } } },
    );
    assert!(
        e.starts_with("cannot branch on the latent variable `mu`"),
        "{e}"
    );
    let e =
        one_error(quote! { fn m() { let k ~ HalfNormal(3.0); let w ~ Normal(0.0, 1.0).iid(k); } });
    assert!(
        e.starts_with("a shape must be data, but this depends on the latent variable `k`"),
        "{e}"
    );
    let e = one_error(
        quote! { fn m(y: &[f64]) { let k ~ HalfNormal(3.0); for i in 0..k { y[i] ~ Normal(0.0, 1.0); } } },
    );
    assert!(
        e.starts_with("a loop range is a shape and must be data"),
        "{e}"
    );
}

#[test]
fn discrete_latent_and_latent_in_loop() {
    let e = one_error(quote! { fn m() { let k ~ Poisson(3.0); } });
    assert!(
        e.starts_with("`Poisson` is discrete: the latent `k` must be marginalised out"),
        "{e}"
    );
    let e = one_error(quote! { fn m(n: usize) { for i in 0..n { let z ~ Normal(0.0, 1.0); } } });
    assert!(e.starts_with("latent `z` is declared inside a loop"), "{e}");
}

#[test]
fn assignments() {
    let e = one_error(quote! { fn m(y: f64) { y = 1.0; } });
    assert_eq!(e, "`y` is data and cannot be assigned to");
    let e = one_error(quote! { fn m() { let a ~ Normal(0.0, 1.0); a += 1.0; } });
    assert_eq!(e, "`a` is a latent variable and cannot be assigned to");
    let e = one_error(quote! { fn m() { let a ~ Normal(0.0, 1.0); let b = a; b = 2.0; } });
    assert_eq!(e, "cannot assign twice to `b`: declare it with `let mut b`");
}

/// The `Let`s of `stmts` (nested blocks included) that write an element of `name`: the
/// binding written and the binding written into.
fn element_writes(stmts: &[Stmt], name: &str, out: &mut Vec<(BindingId, BindingId)>) {
    for s in stmts {
        match s {
            Stmt::Let {
                binding,
                init: AExpr::Set(v, ..),
                ..
            } if binding.name == name => {
                if let AExpr::Var(b) = &**v {
                    out.push((binding.id, b.id));
                }
            }
            Stmt::For { body, .. } => element_writes(body, name, out),
            Stmt::If { then, els, .. } => {
                element_writes(then, name, out);
                element_writes(els, name, out);
            }
            _ => {}
        }
    }
}

#[test]
fn state_written_only_by_elements_is_one_binding() {
    let (m, e) = run(quote! {
        fn m(y: &[f64], flag: &[bool]) {
            let s ~ HalfNormal(1.0);
            let mut z = DVector::zeros(y.len());
            let mut w = DVector::zeros(y.len());
            for t in 1..y.len() {
                z[t] = z[t - 1] + s;
                if flag[t] {
                    z[t] *= 2.0;
                }
                w[t] = s;
                w = w * 0.5;
            }
            y ~ Normal(z + w, s);
        }
    });
    assert!(e.is_empty(), "{e:?}");
    let root = m
        .body
        .iter()
        .find_map(|s| match s {
            Stmt::Let { binding, .. } if binding.name == "z" => Some(binding.id),
            _ => None,
        })
        .expect("z declared");
    // Every write of `z` writes into its first version and makes no new one.
    let mut writes = Vec::new();
    element_writes(&m.body, "z", &mut writes);
    assert_eq!(writes, [(root, root), (root, root)]);
    let Some(Stmt::For { carried, body, .. }) =
        m.body.iter().find(|s| matches!(s, Stmt::For { .. }))
    else {
        panic!("no loop")
    };
    let cz = carried
        .iter()
        .find(|c| c.outer.name == "z")
        .expect("z carried");
    assert_eq!(
        [cz.entry.id, cz.last.id, cz.exit.id],
        [root, root, root],
        "{carried:?}"
    );
    let Some(Stmt::If { joined, .. }) = body.iter().find(|s| matches!(s, Stmt::If { .. })) else {
        panic!("no if")
    };
    assert_eq!(joined[0].exit.id, root);
    // `w` is also assigned as a whole in the loop that writes its elements: it keeps one
    // version per assignment.
    let mut writes = Vec::new();
    element_writes(&m.body, "w", &mut writes);
    assert_eq!(writes.len(), 1);
    assert_ne!(writes[0].0, writes[0].1);
}

#[test]
fn a_whole_assignment_starts_a_new_vector_written_in_place() {
    let (m, e) = run(quote! {
        fn m(y: &[f64], flag: bool) {
            let s ~ HalfNormal(1.0);
            let mut z = DVector::zeros(y.len());
            for t in 0..y.len() {
                z[t] = s;
            }
            z = z - mean(z);
            z[0] = s;
            let mut u = DVector::zeros(2);
            u[0] = s;
            if flag {
                u = u * 2.0;
            }
            u[1] = s;
            y ~ Normal(z + sum(u), s);
        }
    });
    assert!(e.is_empty(), "{e:?}");
    let lets: Vec<(String, BindingId)> = m
        .body
        .iter()
        .filter_map(|s| match s {
            Stmt::Let { binding, .. } => Some((binding.name.to_string(), binding.id)),
            _ => None,
        })
        .collect();
    // z: the `let mut`, the loop's exit, the whole assignment, the write after it.
    let mut writes = Vec::new();
    element_writes(&m.body, "z", &mut writes);
    let (z0, z1) = (lets[0].1, lets[1].1);
    assert_eq!(writes, [(z0, z0), (z1, z1)], "{lets:?}");
    // u: the `if` joins a whole value and an element-written one: copied, not in place.
    let mut writes = Vec::new();
    element_writes(&m.body, "u", &mut writes);
    assert_eq!(writes.len(), 2);
    assert!(writes.iter().all(|(a, b)| a != b), "{writes:?}");
}

#[test]
fn every_mistake_is_reported() {
    let e = errors(quote! {
        fn m(y: &[f64]) {
            let mu ~ Nomral(0.0, 1.0);
            let k ~ Poisson(2.0);
            y ~ Normal(mu, 1.0, 2.0);
            y = 3.0;
        }
    });
    assert_eq!(e.len(), 4, "{e:?}");
}

#[test]
fn data_depending_only_on_arguments_is_cached() {
    let (m, errors) = run(quote! {
        fn m(ks: &[i64], x: &DMatrix<f64>, n: usize) {
            let w ~ Normal(0.0, 1.0).iid(x.ncols());
            ks ~ PoissonLog(x.column(0) * w[0] + ks.len() as f64);
            for i in 0..n {
                ks[i] ~ PoissonLog(dot(x.row(i), w));
            }
            target += sum(w * f(ks)) + sum(w * (2.0 * MEAN));
            let x = x * 2.0;
            target += dot(x.column(1), w);
        }
    });
    assert!(errors.is_empty(), "{errors:?}");
    let key = |src: usize, e: TokenStream| (src, e.to_string());
    // Statements: 0 the latent, 1 the first observation, 2 the loop, 3 its observation,
    // 4 and 6 the targets, 5 the data `let`.
    for cached in [
        key(1, quote!(ks)),
        key(1, quote!(x.column(0))),
        key(1, quote!(ks.len() as f64)),
    ] {
        assert!(m.cached.contains(&cached), "{cached:?} in {:?}", m.cached);
    }
    for not in [
        // The loop's variable, a function's result, a constant alone, a shadowed argument.
        key(3, quote!(ks[i])),
        key(3, quote!(x.row(i))),
        key(4, quote!(f(ks))),
        key(4, quote!((2.0 * MEAN))),
        key(6, quote!(x.column(1))),
    ] {
        assert!(!m.cached.contains(&not), "{not:?} in {:?}", m.cached);
    }
}

#[test]
fn modifiers_set_constraints_and_misplaced_ones_are_errors() {
    let (m, e) = run(quote! {
        fn m(k: usize, a: f64, alpha: &[f64]) {
            let c ~ Normal(0.0, 1.0).iid(k).ordered();
            let p ~ Gamma(2.0, 1.0).iid(k).positive_ordered();
            let lo ~ Normal(0.0, 1.0).lower(a);
            let b ~ Normal(0.0, 1.0).bounds(a, 2.0);
            let theta ~ Dirichlet(alpha);
            let l ~ LkjCholesky(k, 2.0);
        }
    });
    assert!(e.is_empty(), "{e:?}");
    let c: Vec<_> = m.latents.iter().map(|l| &l.constraint).collect();
    assert!(matches!(c[0], Constraint::Blocks(Blocks::Ordered)));
    assert!(matches!(c[1], Constraint::Blocks(Blocks::PositiveOrdered)));
    assert!(matches!(c[2], Constraint::Bounded(Some(_), None)));
    assert!(matches!(c[3], Constraint::Bounded(Some(_), Some(_))));
    assert!(matches!(c[4], Constraint::Blocks(Blocks::Simplex)));
    assert!(matches!(c[5], Constraint::Blocks(Blocks::CholeskyCorr)));
    assert!(matches!(
        m.latents[5].shape,
        Shape::Multi {
            rows: None,
            matrix: true
        }
    ));

    let e = one_error(quote! { fn m(a: f64) { let b ~ Beta(1.0, 1.0).lower(a); } });
    assert!(
        e.starts_with("`.lower()` constrains a prior on all reals"),
        "{e}"
    );
    let e = one_error(quote! { fn m() { let c ~ Normal(0.0, 1.0).ordered(); } });
    assert!(e.starts_with("`.ordered()` needs a vector"), "{e}");
    let e = one_error(quote! { fn m(k: usize) { let c ~ Normal(0.0, 1.0).iid(k).ordred(); } });
    assert!(e.contains("did you mean `ordered`?"), "{e}");
    let e = one_error(quote! { fn m(k: usize) { let c ~ Normal(0.0, 1.0).iid(k).lower(); } });
    assert_eq!(e, "`.lower` takes one argument, found 0");
    let e = one_error(
        quote! { fn m(k: usize) { let c ~ Normal(0.0, 1.0).iid(k).lower(0.0).upper(1.0); } },
    );
    assert!(e.contains("already has the constraint `.lower()`"), "{e}");
}
