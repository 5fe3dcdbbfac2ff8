//! Which `let mut` state is active (depends on a latent), found by one fixed point over the
//! parsed tree before the analyser runs.
//!
//! A `let mut` that starts as data becomes active when an assignment to it (or to one of
//! its elements) reads an active value, and such an assignment may come after the
//! variable's uses: later in the body, or in a later iteration of a loop that carries it.
//! So activity cannot be decided in one walk in program order. [`active_state`] walks the
//! statements with the analyser's scoping rules alone (no lowering, no error reporting)
//! and repeats the walk with the state found so far until no new variable becomes active.
//! The set only grows and is bounded by the number of declarations, so this terminates; it
//! is the least fixed point, the set the analyser (which then runs once) needs.
//!
//! A declaration is named by its number in the order the analyser makes them
//! (`Analyser::new_decl`): one per data argument, then one per `let`, latent and `for`, in
//! program order. [`Walk`] numbers them the same way; both must change together.

use std::collections::{HashMap, HashSet};

use syn::visit::Visit;
use syn::{Expr, Pat};

use super::exprs::calls_dsl;
use super::names::{pat_names, FreeVars};
use crate::ir::Arg;
use crate::parse;

/// The declarations (numbered as the analyser numbers them) of the `let mut` state that is
/// active: assigned, somewhere in its scope, a value that depends on a latent.
pub(super) fn active_state(args: &[Arg], stmts: &[parse::Stmt]) -> HashSet<usize> {
    let mut active = HashSet::new();
    loop {
        let mut w = Walk {
            frames: vec![HashMap::new()],
            next_decl: 0,
            active: &active,
            found: Vec::new(),
        };
        for arg in args {
            let decl = w.new_decl();
            w.declare(
                &arg.name.to_string(),
                Name::Data {
                    mutable: false,
                    decl,
                },
            );
        }
        w.block(stmts);
        let found = w.found;
        let before = active.len();
        active.extend(found);
        if active.len() == before {
            return active;
        }
    }
}

/// What a name in scope is, as far as activity goes.
#[derive(Clone, Copy)]
enum Name {
    Data { mutable: bool, decl: usize },
    Active,
}

/// One walk over the statements with the active state known so far.
struct Walk<'a> {
    frames: Vec<HashMap<String, Name>>,
    next_decl: usize,
    active: &'a HashSet<usize>,
    /// State found active in this walk (assigned an active value).
    found: Vec<usize>,
}

impl Walk<'_> {
    fn new_decl(&mut self) -> usize {
        self.next_decl += 1;
        self.next_decl
    }

    fn declare(&mut self, name: &str, n: Name) {
        if let Some(f) = self.frames.last_mut() {
            f.insert(name.to_string(), n);
        }
    }

    fn lookup(&self, name: &str) -> Option<Name> {
        self.frames.iter().rev().find_map(|f| f.get(name).copied())
    }

    /// Whether a free name of `e` is active (the analyser's `first_active`).
    fn uses_active(&self, e: &Expr) -> bool {
        let mut fv = FreeVars::default();
        fv.visit_expr(e);
        let mut all = fv.names.into_iter().map(|(n, _)| n).chain(fv.macro_names);
        all.any(|n| matches!(self.lookup(&n.to_string()), Some(Name::Active)))
    }

    fn block(&mut self, stmts: &[parse::Stmt]) {
        for s in stmts {
            self.stmt(s);
        }
    }

    fn stmt(&mut self, s: &parse::Stmt) {
        match s {
            parse::Stmt::Latent(l) => {
                self.new_decl();
                self.declare(&l.name.to_string(), Name::Active);
            }
            parse::Stmt::Let(l) => self.let_stmt(l),
            parse::Stmt::Assign(a) => self.assign(a),
            parse::Stmt::For(f) => {
                self.frames.push(HashMap::new());
                let decl = self.new_decl();
                let mut names = Vec::new();
                pat_names(&f.pat, &mut names);
                for n in &names {
                    self.declare(
                        &n.to_string(),
                        Name::Data {
                            mutable: false,
                            decl,
                        },
                    );
                }
                self.block(&f.body.stmts);
                self.frames.pop();
            }
            parse::Stmt::If(i) => {
                for b in std::iter::once(&i.then).chain(&i.els) {
                    self.frames.push(HashMap::new());
                    self.block(&b.stmts);
                    self.frames.pop();
                }
            }
            parse::Stmt::Observe(_)
            | parse::Stmt::Target(_)
            | parse::Stmt::Expr(_)
            | parse::Stmt::Error(_) => {}
        }
    }

    /// As `Analyser::let_stmt`: a plain name bound to an active value (or to one of the
    /// DSL's own functions, which the analyser lowers) is active, and so is a `let mut`
    /// already known to be; any other binding is data.
    fn let_stmt(&mut self, l: &parse::LetStmt) {
        let decl = self.new_decl();
        let active_init = self.uses_active(&l.init) || calls_dsl(&l.init);
        let simple = match &l.pat {
            Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => {
                Some((p.ident.to_string(), p.mutability.is_some()))
            }
            _ => None,
        };
        match (active_init, simple) {
            (true, Some((name, _))) => self.declare(&name, Name::Active),
            // An error in the analyser; the pattern binds nothing.
            (true, None) => {}
            (false, Some((name, true))) if self.active.contains(&decl) => {
                self.declare(&name, Name::Active)
            }
            (false, _) => {
                let mut names = Vec::new();
                pat_names(&l.pat, &mut names);
                let mutable = matches!(&l.pat, Pat::Ident(p) if p.mutability.is_some());
                for n in &names {
                    self.declare(&n.to_string(), Name::Data { mutable, decl });
                }
            }
        }
    }

    /// As `Analyser::assign`: data `let mut` state assigned an active value, whole or one
    /// element (or at an active index), is active.
    fn assign(&mut self, a: &parse::AssignStmt) {
        let (name, index) = match &a.lhs {
            Expr::Path(p) => (p.path.get_ident(), None),
            Expr::Index(ix) => match &*ix.expr {
                Expr::Path(p) => (p.path.get_ident(), Some(&*ix.index)),
                _ => (None, None),
            },
            _ => (None, None),
        };
        let Some(name) = name else { return };
        if let Some(Name::Data {
            mutable: true,
            decl,
        }) = self.lookup(&name.to_string())
        {
            if self.uses_active(&a.rhs) || index.is_some_and(|ix| self.uses_active(ix)) {
                self.found.push(decl);
            }
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

    /// The names of the active `let mut`s of a model (user functions inlined first, as
    /// `analyse` does), found by matching the declaration numbers against the model's
    /// `let`s, numbered here by hand in the analyser's order.
    fn active(ts: TokenStream, decls: &[(&str, usize)]) -> Vec<String> {
        let def: ModelDef = syn::parse2(ts).expect("parses");
        let cx = Ctxt::new();
        let inlined = super::super::functions::inline(&cx, &def);
        assert!(cx.check().is_ok());
        let stmts = inlined.as_ref().map_or(&def.body.stmts, |b| &b.stmts);
        let args: Vec<Arg> = def
            .args
            .iter()
            .map(|a| Arg {
                name: a.name.clone(),
                ty: a.ty.clone(),
                stored: crate::ir::Stored::Owned,
            })
            .collect();
        let set = active_state(&args, stmts);
        let mut names: Vec<String> = decls
            .iter()
            .filter(|(_, d)| set.contains(d))
            .map(|(n, _)| n.to_string())
            .collect();
        names.sort();
        assert_eq!(names.len(), set.len(), "{set:?}");
        names
    }

    #[test]
    fn state_becomes_active_through_a_later_loop_carried_assignment() {
        // Decls: n 1, mu 2, a 3, b 4, c 5, the loop 6.
        let got = active(
            quote! {
                fn m(n: usize) {
                    let mu ~ Normal(0.0, 1.0);
                    let mut a = 0.0;
                    let mut b = 0.0;
                    let mut c = 0.0;
                    for i in 0..n {
                        // `b` reads `a`, which becomes active only below, in the previous
                        // iteration: two walks beyond the first.
                        b = a * 2.0;
                        a = mu;
                        c += 1.0;
                    }
                    target += b;
                }
            },
            &[("a", 3), ("b", 4), ("c", 5)],
        );
        assert_eq!(got, ["a", "b"]);
    }

    #[test]
    fn an_element_write_or_an_active_index_makes_state_active() {
        // Decls: n 1, mu 2, v 3, w 4, u 5, the loop 6.
        let got = active(
            quote! {
                fn m(n: usize) {
                    let mu ~ Normal(0.0, 1.0);
                    let mut v = DVector::zeros(n);
                    let mut w = DVector::zeros(n);
                    let mut u = DVector::zeros(n);
                    for i in 0..n {
                        v[i] = mu * 2.0;
                        w[i] = v[i];
                        u[i] = 1.0;
                    }
                }
            },
            &[("v", 3), ("w", 4), ("u", 5)],
        );
        assert_eq!(got, ["v", "w"]);
    }

    #[test]
    fn a_user_functions_result_is_active_when_its_arguments_are() {
        // Decls: x 1, mu 2, s 3, t 4.
        let got = active(
            quote! {
                fn twice(z: f64) -> f64 {
                    let y = z + z;
                    y
                }
                fn m(x: f64) {
                    let mu ~ Normal(0.0, 1.0);
                    let mut s = 0.0;
                    let mut t = 0.0;
                    s = twice(mu);
                    t = twice(x);
                    target += s + t;
                }
            },
            &[("s", 3), ("t", 4)],
        );
        assert_eq!(got, ["s"]);
    }

    #[test]
    fn state_in_a_branch_and_shadowed_names_follow_the_scopes() {
        // Decls: x 1, mu 2, p 3, q 4, p (inner, data) 5.
        let got = active(
            quote! {
                fn m(x: f64) {
                    let mu ~ Normal(0.0, 1.0);
                    let mut p = 0.0;
                    let mut q = 0.0;
                    if x > 0.0 {
                        let mut p = 1.0;
                        p = mu;
                        q = p;
                    } else {
                        q = x;
                    }
                    target += q;
                }
            },
            &[("p", 3), ("q", 4), ("inner p", 5)],
        );
        assert_eq!(got, ["inner p", "q"]);
    }
}
