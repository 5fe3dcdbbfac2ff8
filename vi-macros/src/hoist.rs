//! Loop-invariant code motion on the analysed model: what a loop body computes from values
//! defined before the loop (`b1.transpose()`, `sigma * sigma`, `w * 2.0`) is computed once,
//! before the loop, instead of at every iteration; its adjoint is summed over the iterations
//! and swept once, after the loop's sweep.
//!
//! Moved, from the statements directly in a loop's body (not from inside an `if` in it, which
//! may not run):
//! * a `let` whose whole value is invariant and whose name no other binding in the body
//!   has (a variable the body never reassigns or writes into);
//! * the largest invariant parts of the other statements' expressions, each as a new `let`
//!   (named `inv`) before the loop.
//!
//! An expression is invariant when it reads no binding made inside the loop (its own `let`s,
//! the versions of the state it carries) and no data other than literals (data may read the
//! loop variable). Element writes and rules with data parameters are never moved. Inner loops
//! are treated first, so what is invariant in two nested loops moves out of both. A moved part
//! gets a statement index of its own with its statement's source text, so an error names the
//! statement the user wrote.
//!
//! A loop that runs no iteration still evaluates what was moved out of it: an expression
//! whose shapes cannot agree is then reported even though the loop is empty.

use std::collections::HashSet;

use crate::ir::{AExpr, Binding, BindingId, Ids, Model, Operand, Stmt};

/// Moves the loop invariants of every loop of the model out of it.
pub fn hoist(mut m: Model) -> Model {
    let mut next = Next {
        first: m.ids.peek(),
        ids: std::mem::take(&mut m.ids),
        srcs: std::mem::take(&mut m.srcs),
        cached: std::mem::take(&mut m.cached),
        shapes: std::mem::take(&mut m.shapes),
    };
    let body = std::mem::take(&mut m.body);
    m.body = block(body, &mut next);
    m.srcs = next.srcs;
    m.cached = next.cached;
    m.ids = next.ids;
    m.shapes = next.shapes;
    m
}

/// The bindings this pass makes (ids from `first` on), and the statements' sources.
struct Next {
    first: BindingId,
    /// [`Model::ids`].
    ids: Ids,
    /// [`Model::srcs`].
    srcs: Vec<String>,
    /// [`Model::cached`].
    cached: Vec<(usize, String)>,
    /// [`Model::shapes`], with those of the `let`s this pass makes.
    shapes: crate::shape::Shapes,
}

impl Next {
    /// A new statement index with the source text of statement `src`, for a `let` moved
    /// out of it: the generated names of a statement's operands and temporaries are numbered
    /// by its index, and the moved `let`s end up in one scope with each other and with what
    /// is left of the statement, so each needs an index of its own. The data operands kept
    /// with the model are kept for the new index too.
    fn src_from(&mut self, src: usize) -> usize {
        let k = self.srcs.len();
        let text = self.srcs.get(src).cloned().unwrap_or_default();
        self.srcs.push(text);
        let keys: Vec<String> = self
            .cached
            .iter()
            .filter(|(s, _)| *s == src)
            .map(|(_, t)| t.clone())
            .collect();
        self.cached.extend(keys.into_iter().map(|t| (k, t)));
        k
    }

    fn binding(&mut self) -> Binding {
        self.ids.binding(&proc_macro2::Ident::new(
            "inv",
            proc_macro2::Span::call_site(),
        ))
    }

    /// Whether `b` was made by this pass (made once, never reassigned).
    fn made_here(&self, b: &Binding) -> bool {
        b.id >= self.first
    }
}

/// The block with the invariants of each of its loops (at any depth) moved before the loop.
fn block(stmts: Vec<Stmt>, next: &mut Next) -> Vec<Stmt> {
    let mut out = Vec::with_capacity(stmts.len());
    for s in stmts {
        match s {
            Stmt::For {
                pat,
                iter,
                body,
                carried,
                data_carried,
                src,
            } => {
                let body = block(body, next);
                let (moved, body) = out_of_loop(body, &carried, next);
                out.extend(moved);
                out.push(Stmt::For {
                    pat,
                    iter,
                    body,
                    carried,
                    data_carried,
                    src,
                });
            }
            Stmt::If {
                cond,
                then,
                els,
                joined,
                src,
            } => out.push(Stmt::If {
                cond,
                then: block(then, next),
                els: block(els, next),
                joined,
                src,
            }),
            s => out.push(s),
        }
    }
    out
}

/// Splits a loop body (its inner loops already treated) into the `let`s to run before the
/// loop and the body that stays.
fn out_of_loop(
    body: Vec<Stmt>,
    carried: &[crate::ir::Carried],
    next: &mut Next,
) -> (Vec<Stmt>, Vec<Stmt>) {
    let mut inside = HashSet::new();
    let mut names: Vec<String> = Vec::new();
    for c in carried {
        for b in [&c.entry, &c.last, &c.exit] {
            inside.insert(b.id);
            names.push(b.name.to_string());
        }
    }
    made_in(&body, &mut inside, &mut names);
    let mut moved = Vec::new();
    let mut kept = Vec::with_capacity(body.len());
    for mut s in body {
        match &mut s {
            Stmt::Let {
                binding, init, src, ..
            } => {
                let name = binding.name.to_string();
                let once =
                    next.made_here(binding) || names.iter().filter(|n| **n == name).count() == 1;
                if once && invariant(init, &inside) && !matches!(init, AExpr::Var(_)) {
                    // The whole `let` moves: its binding is no longer made in the loop.
                    inside.remove(&binding.id);
                    moved.push(s);
                    continue;
                }
                parts(init, *src, &inside, &mut moved, next);
            }
            Stmt::Observe { args, src, .. } => {
                for a in args.iter_mut() {
                    if let Operand::Active(e) = a {
                        parts(e, *src, &inside, &mut moved, next);
                    }
                }
            }
            Stmt::Target {
                value: Operand::Active(e),
                src,
            } => parts(e, *src, &inside, &mut moved, next),
            _ => {}
        }
        kept.push(s);
    }
    (moved, kept)
}

/// Replaces the largest invariant parts of `e` (each with at least one rule) by new
/// bindings, whose `let`s go to `moved`.
fn parts(
    e: &mut AExpr,
    src: usize,
    inside: &HashSet<BindingId>,
    moved: &mut Vec<Stmt>,
    next: &mut Next,
) {
    if !matches!(e, AExpr::Var(_) | AExpr::Data(_)) && invariant(e, inside) {
        let binding = next.binding();
        let init = std::mem::replace(e, AExpr::Var(binding.clone()));
        next.shapes.note_let(&binding, &init);
        moved.push(Stmt::Let {
            binding,
            ty: None,
            init,
            src: next.src_from(src),
        });
        return;
    }
    match e {
        AExpr::Var(_) | AExpr::Data(_) => {}
        AExpr::Unary(_, x, _) | AExpr::WithData(_, x, _, _) => parts(x, src, inside, moved, next),
        AExpr::Binary(_, a, b, _) => {
            parts(a, src, inside, moved, next);
            parts(b, src, inside, moved, next);
        }
        // The written vector is state; only the written value may hold invariant parts.
        AExpr::Set(_, _, x, _) => parts(x, src, inside, moved, next),
        AExpr::Nary(_, xs, _) => xs
            .iter_mut()
            .for_each(|x| parts(x, src, inside, moved, next)),
    }
}

/// Whether `e` reads nothing made inside the loop: no binding of `inside`, no data but
/// literals, no element write, no rule with data parameters.
fn invariant(e: &AExpr, inside: &HashSet<BindingId>) -> bool {
    match e {
        AExpr::Var(b) => !inside.contains(&b.id),
        AExpr::Data(d) => matches!(d, syn::Expr::Lit(_)),
        AExpr::Unary(_, x, _) => invariant(x, inside),
        AExpr::Binary(_, a, b, _) => invariant(a, inside) && invariant(b, inside),
        AExpr::Nary(_, xs, _) => xs.iter().all(|x| invariant(x, inside)),
        AExpr::WithData(..) | AExpr::Set(..) => false,
    }
}

/// The ids and names of the bindings made in `stmts` (at any depth).
fn made_in(stmts: &[Stmt], ids: &mut HashSet<BindingId>, names: &mut Vec<String>) {
    let add = |b: &Binding, ids: &mut HashSet<BindingId>, names: &mut Vec<String>| {
        ids.insert(b.id);
        names.push(b.name.to_string());
    };
    for s in stmts {
        match s {
            Stmt::Let { binding, .. } => add(binding, ids, names),
            Stmt::For { body, carried, .. } => {
                for c in carried {
                    for b in [&c.entry, &c.last, &c.exit] {
                        add(b, ids, names);
                    }
                }
                made_in(body, ids, names);
            }
            Stmt::If {
                then, els, joined, ..
            } => {
                for j in joined {
                    for b in [&j.then_last, &j.else_last, &j.exit] {
                        add(b, ids, names);
                    }
                }
                made_in(then, ids, names);
                made_in(els, ids, names);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctxt::Ctxt;
    use crate::parse::ModelDef;
    use proc_macro2::TokenStream;
    use quote::quote;

    fn hoisted(ts: TokenStream) -> Model {
        let def: ModelDef = syn::parse2(ts).expect("parses");
        let cx = Ctxt::new();
        let m = crate::analyse::analyse(&cx, &def);
        assert!(cx.check().is_ok(), "the model analyses");
        hoist(m)
    }

    /// The shape of a block: `let name`, `for [..]`, `if [..] [..]`, `~`, `target`, `data`.
    fn outline(stmts: &[Stmt]) -> Vec<String> {
        stmts
            .iter()
            .filter(|s| !matches!(s, Stmt::At(_)))
            .map(|s| match s {
                Stmt::Let { binding, .. } => format!("let {}", binding.name),
                Stmt::For { body, .. } => format!("for {:?}", outline(body)),
                Stmt::If { then, els, .. } => {
                    format!("if {:?} {:?}", outline(then), outline(els))
                }
                Stmt::Latent { .. } => "latent".into(),
                Stmt::Observe { .. } => "~".into(),
                Stmt::Density { .. } => "~ latent".into(),
                Stmt::Target { .. } => "target".into(),
                Stmt::Data(_) => "data".into(),
                Stmt::At(_) => unreachable!("filtered out"),
            })
            .collect()
    }

    #[test]
    fn an_expression_of_values_made_before_the_loop_moves_out_of_it() {
        let m = hoisted(quote! {
            fn m(x: &DMatrix<f64>, y: &DVector<f64>) {
                let w ~ Normal(0.0, 1.0).iid((x.ncols(), 3));
                let b ~ Normal(0.0, 1.0).iid(3);
                let sigma ~ HalfNormal(1.0);
                for i in 0..x.nrows() {
                    let xi = x.row(i).clone_owned();
                    let h = tanh(xi * w + b.transpose());
                    y[i] ~ Normal(sum(h), sigma * 2.0);
                }
            }
        });
        assert_eq!(
            outline(&m.body),
            [
                "latent",
                "latent",
                "latent",
                "let inv",
                "let inv",
                "for [\"data\", \"let h\", \"~\"]"
            ]
        );
    }

    #[test]
    fn what_reads_the_loop_or_its_state_stays() {
        let m = hoisted(quote! {
            fn m(x: &[f64], y: &[f64]) {
                let a ~ Normal(0.0, 1.0);
                let s ~ HalfNormal(1.0);
                let mut acc = 0.0;
                for i in 0..x.len() {
                    // Reads data indexed by the loop: stays.
                    let t = a * x[i];
                    // Reassigned state: stays, though its first value is invariant.
                    acc = acc + a * a;
                    y[i] ~ Normal(t + acc, s);
                }
            }
        });
        let body = outline(&m.body);
        // `a * a` alone moves; `acc` and `t` stay in the loop.
        assert_eq!(
            body[..4],
            ["latent", "latent", "let acc", "let inv"],
            "{body:?}"
        );
        assert!(
            body[4].starts_with("for [\"let t\", \"let acc\""),
            "{body:?}"
        );
    }

    #[test]
    fn invariants_of_nested_loops_move_out_of_both_and_not_out_of_an_if() {
        let m = hoisted(quote! {
            fn m(x: &DMatrix<f64>, y: &DMatrix<f64>, on: &[bool]) {
                let mu ~ Normal(0.0, 1.0);
                let s ~ HalfNormal(1.0);
                for i in 0..x.nrows() {
                    for j in 0..x.ncols() {
                        let scale = s * s;
                        if on[j] {
                            y[(i, j)] ~ Normal(mu * 2.0 + x[(i, j)], scale);
                        }
                    }
                }
            }
        });
        let body = outline(&m.body);
        assert_eq!(body[..3], ["latent", "latent", "let scale"], "{body:?}");
        // `mu * 2.0` sits in an `if`: it stays there.
        assert_eq!(
            body[3], "for [\"for [\\\"if [\\\\\\\"~\\\\\\\"] []\\\"]\"]",
            "{body:?}"
        );
    }
}
