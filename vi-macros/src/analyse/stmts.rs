//! `let`s, assignments, `for` loops and `if`s: the statements that make new versions of
//! state (see the parent module).

use syn::{Expr, Ident, Pat};

use super::exprs::{assign_op_tokens, compound_value, index_of, index_params};
use super::names::{assigned_names, pat_names};
use super::{Analyser, Entry, Frame};
use crate::ir::*;
use crate::parse;

impl Analyser {
    pub(super) fn let_stmt(&mut self, l: &parse::LetStmt, out: &mut Vec<Stmt>) {
        let src = self.src(&l.src);
        let decl = self.new_decl();
        let init = if l.inlined {
            self.operand(&l.init)
        } else {
            self.rust_operand(&l.init)
        };
        let simple = match &l.pat {
            Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => {
                Some((p.ident.clone(), p.mutability.is_some()))
            }
            _ => None,
        };
        let frame = self.frames.len() - 1;
        match (init, simple) {
            (Operand::Active(init), Some((name, mutable))) => {
                let b = self.binding(&name);
                if mutable {
                    self.state.root(&b);
                } else if self.linear(&init) {
                    self.linear.insert(b.id);
                }
                self.declare(
                    &name,
                    Entry::Active {
                        b: b.clone(),
                        mutable,
                        decl,
                        latent: false,
                        decl_frame: frame,
                    },
                );
                out.push(Stmt::Let {
                    binding: b,
                    ty: l.ty.clone(),
                    init,
                    src,
                });
            }
            (Operand::Active(_), None) => {
                self.err_spanned(
                    &l.pat,
                    "a value that depends on a latent variable must be bound to a plain name",
                );
            }
            (Operand::Data(init), Some((name, mutable)))
                if mutable && self.active_decls.contains(&decl) =>
            {
                // State that becomes active later: its first version holds the data value.
                let b = self.binding(&name);
                self.state.root(&b);
                self.declare(
                    &name,
                    Entry::Active {
                        b: b.clone(),
                        mutable,
                        decl,
                        latent: false,
                        decl_frame: frame,
                    },
                );
                out.push(Stmt::Let {
                    binding: b,
                    ty: l.ty.clone(),
                    init: AExpr::Data(init),
                    src,
                });
            }
            (Operand::Data(init), _) => {
                let mut names = Vec::new();
                pat_names(&l.pat, &mut names);
                let mutable = matches!(&l.pat, Pat::Ident(p) if p.mutability.is_some());
                for n in &names {
                    self.declare(
                        n,
                        Entry::Data {
                            mutable,
                            decl,
                            arg: false,
                        },
                    );
                    if let Some(f) = self.frames.last_mut() {
                        f.data_decl_frame.insert(n.to_string(), frame);
                    }
                }
                let pat = &l.pat;
                let ty = l.ty.as_ref().map(|t| quote::quote!(: #t));
                out.push(Stmt::At(src));
                out.push(Stmt::Data(quote::quote!(let #pat #ty = #init;)));
            }
        }
    }

    pub(super) fn assign(&mut self, a: &parse::AssignStmt, out: &mut Vec<Stmt>) {
        let src = self.src(&a.src);
        // The target: a name, or an element `v[i]` / `m[(i, j)]`.
        let (name_ident, index) = match &a.lhs {
            Expr::Path(p) if p.path.get_ident().is_some() => (p.path.get_ident().cloned(), None),
            Expr::Index(ix) => match &*ix.expr {
                Expr::Path(p) if p.path.get_ident().is_some() => {
                    (p.path.get_ident().cloned(), Some(ix))
                }
                _ => (None, Some(ix)),
            },
            _ => (None, None),
        };
        let Some(name_ident) = name_ident else {
            // A data place such as `v[i][j]` or a field: any Rust, provided it is data.
            if let Some(n) = self
                .first_active(&a.rhs)
                .or_else(|| self.first_active(&a.lhs))
            {
                self.err_spanned(
                    &a.lhs,
                    format!("only a variable or one element `v[i]` can be assigned a value depending on `{n}`"),
                );
            } else {
                self.check_names(&a.lhs);
                self.check_names(&a.rhs);
                let (l, r) = (&a.lhs, &a.rhs);
                let op = assign_op_tokens(a.op, a.op_span);
                out.push(Stmt::At(src));
                out.push(Stmt::Data(quote::quote!(#l #op #r;)));
            }
            return;
        };
        let name = name_ident.to_string();
        let entry = self.lookup(&name).cloned();
        match entry {
            None => {
                if self.all_latents.contains(&name) {
                    self.err(
                        name_ident.span(),
                        format!("`{name}` is a latent variable and cannot be assigned to"),
                    );
                } else {
                    self.err(
                        name_ident.span(),
                        format!("cannot find `{name}` in this model"),
                    );
                }
            }
            Some(Entry::Data { arg: true, .. }) => {
                self.err(
                    name_ident.span(),
                    format!("`{name}` is data and cannot be assigned to"),
                );
            }
            Some(Entry::Active { latent: true, .. }) => {
                self.err(
                    name_ident.span(),
                    format!("`{name}` is a latent variable and cannot be assigned to"),
                );
            }
            Some(Entry::Data { mutable: false, .. })
            | Some(Entry::Active { mutable: false, .. }) => {
                self.err(
                    name_ident.span(),
                    format!("cannot assign twice to `{name}`: declare it with `let mut {name}`"),
                );
            }
            Some(Entry::Data {
                mutable: true,
                decl,
                ..
            }) => {
                let rhs_active = self.first_active(&a.rhs).is_some()
                    || index.is_some_and(|ix| self.first_active(&ix.index).is_some());
                if rhs_active {
                    // Every data `let mut` assigned an active value is active state
                    // (`activity.rs`); it is still data here only when its pattern is not a
                    // plain name (`let ref mut x`), which cannot hold an active value, and
                    // nothing is written. Report the problem with the index if there is one.
                    if !self.active_decls.contains(&decl) {
                        // `activity.rs` and the analyser disagree on what is active: a bug
                        // in the macro, reported rather than compiled wrong.
                        self.err(
                            name_ident.span(),
                            format!(
                                "internal error of `model!`: `{name}` is assigned a value that \
                                 depends on a latent variable but was not found active \
                                 beforehand; please report this model"
                            ),
                        );
                    }
                    if let Some(ix) = index {
                        self.data_expr(&ix.index, "an index");
                    }
                    return;
                }
                self.check_names(&a.lhs);
                self.check_names(&a.rhs);
                let cur = self.frames.len() - 1;
                let decl_frame = self
                    .frames
                    .iter()
                    .rposition(|f| f.data_decl_frame.contains_key(&name))
                    .unwrap_or(0);
                if decl_frame < cur {
                    let f = &mut self.frames[cur];
                    if !f.data_assigned.iter().any(|i| *i == name) {
                        f.data_assigned.push(name_ident.clone());
                    }
                }
                let (l, r) = (&a.lhs, &a.rhs);
                let op = assign_op_tokens(a.op, a.op_span);
                out.push(Stmt::At(src));
                out.push(Stmt::Data(quote::quote!(#l #op #r;)));
            }
            Some(Entry::Active {
                b,
                mutable: true,
                decl,
                decl_frame,
                ..
            }) => {
                let rhs = self.sub(&a.rhs);
                let init = match index {
                    None => compound_value(a.op, AExpr::Var(b.clone()), rhs, a.op_span),
                    Some(ix) => {
                        // `v[i] op= e`: a new version of `v` with one element replaced.
                        self.data_expr(&ix.index, "an index");
                        let span = ix.bracket_token.span.join();
                        let old = index_of(AExpr::Var(b.clone()), &ix.index, span);
                        let value = compound_value(a.op, old, rhs, a.op_span);
                        let params = index_params(&ix.index);
                        AExpr::Set(
                            Box::new(AExpr::Var(b.clone())),
                            params,
                            Box::new(value),
                            span,
                        )
                    }
                };
                let nb = self.binding(&name_ident);
                if index.is_some() {
                    self.state.element(&nb, &b);
                } else {
                    self.state.root(&nb);
                }
                let cur = self.frames.len() - 1;
                if decl_frame < cur {
                    let f = &mut self.frames[cur];
                    if !f.assigned.iter().any(|(n, d)| *n == name && *d == decl) {
                        f.assigned.push((name.clone(), decl));
                    }
                }
                self.declare(
                    &name_ident,
                    Entry::Active {
                        b: nb.clone(),
                        mutable: true,
                        decl,
                        latent: false,
                        decl_frame,
                    },
                );
                out.push(Stmt::Let {
                    binding: nb,
                    ty: None,
                    init,
                    src,
                });
            }
        }
    }

    pub(super) fn for_stmt(&mut self, f: &parse::ForStmt, out: &mut Vec<Stmt>) {
        let src = self.src(&f.src);
        if let Some(name) = self.first_active(&f.iter) {
            self.err_spanned(
                &f.iter,
                format!("a loop range is a shape and must be data, but this depends on the latent variable `{name}`"),
            );
        } else {
            self.check_names(&f.iter);
        }
        self.depth += 1;
        self.frames.push(Frame::default());
        // Numbered as `activity.rs` numbers them.
        let decl = self.new_decl();
        let mut names = Vec::new();
        pat_names(&f.pat, &mut names);
        for n in &names {
            self.declare(
                n,
                Entry::Data {
                    mutable: false,
                    decl,
                    arg: false,
                },
            );
        }
        // State assigned in the body gets a fresh version at the start of each iteration.
        let mut assigned = Vec::new();
        assigned_names(&f.body.stmts, &mut assigned);
        let mut entries: Vec<(Binding, Binding, usize, usize)> = Vec::new();
        for name in assigned {
            if let Some(Entry::Active {
                b,
                mutable: true,
                decl,
                decl_frame,
                latent: false,
            }) = self.lookup(&name).cloned()
            {
                let entry_b = self.binding(&b.name);
                entries.push((b.clone(), entry_b.clone(), decl, decl_frame));
                self.declare(
                    &b.name,
                    Entry::Active {
                        b: entry_b,
                        mutable: true,
                        decl,
                        latent: false,
                        decl_frame,
                    },
                );
            }
        }
        let body = self.block(&f.body.stmts);
        let frame = self.frames.pop().unwrap_or_default();
        self.depth -= 1;
        let mut carried = Vec::new();
        for (outer, entry_b, decl, decl_frame) in entries {
            let last = match frame.names.get(&outer.name.to_string()) {
                Some(Entry::Active { b, decl: d, .. }) if *d == decl => b.clone(),
                _ => entry_b.clone(),
            };
            let exit = self.binding(&outer.name);
            self.state.alias(&[&outer, &entry_b, &last, &exit]);
            self.reassign(&outer.name, decl, decl_frame, exit.clone());
            carried.push(Carried {
                outer,
                entry: entry_b,
                last,
                exit,
            });
        }
        let data_carried = frame
            .data_assigned
            .iter()
            .filter(|n| self.lookup(&n.to_string()).is_some())
            .cloned()
            .collect::<Vec<_>>();
        for n in &data_carried {
            let cur = self.frames.len() - 1;
            let decl_frame = self
                .frames
                .iter()
                .rposition(|f| f.data_decl_frame.contains_key(&n.to_string()))
                .unwrap_or(0);
            if decl_frame < cur {
                let f = &mut self.frames[cur];
                if !f.data_assigned.iter().any(|i| i == n) {
                    f.data_assigned.push(n.clone());
                }
            }
        }
        out.push(Stmt::For {
            pat: f.pat.clone(),
            iter: f.iter.clone(),
            body,
            carried,
            data_carried,
            src,
        });
    }

    /// Makes `b` the current version of state `decl` in the current frame.
    pub(super) fn reassign(&mut self, name: &Ident, decl: usize, decl_frame: usize, b: Binding) {
        let cur = self.frames.len() - 1;
        if decl_frame < cur {
            let f = &mut self.frames[cur];
            let key = name.to_string();
            if !f.assigned.iter().any(|(n, d)| *n == key && *d == decl) {
                f.assigned.push((key, decl));
            }
        }
        self.declare(
            name,
            Entry::Active {
                b,
                mutable: true,
                decl,
                latent: false,
                decl_frame,
            },
        );
    }

    pub(super) fn if_stmt(&mut self, i: &parse::IfStmt, out: &mut Vec<Stmt>) {
        let src = self.src(&i.src);
        if let Some(name) = self.first_active(&i.cond) {
            self.err_spanned(
                &i.cond,
                format!(
                    "cannot branch on the latent variable `{name}`: an `if` condition must be data \
                     (a density must be smooth in the latents)"
                ),
            );
        } else {
            self.check_names(&i.cond);
        }
        self.depth += 1;
        self.frames.push(Frame::default());
        let then = self.block(&i.then.stmts);
        let then_frame = self.frames.pop().unwrap_or_default();
        self.frames.push(Frame::default());
        let els = match &i.els {
            Some(b) => self.block(&b.stmts),
            None => Vec::new(),
        };
        let else_frame = self.frames.pop().unwrap_or_default();
        self.depth -= 1;
        let mut joined = Vec::new();
        let mut names: Vec<(String, usize)> = then_frame.assigned.clone();
        for a in &else_frame.assigned {
            if !names.contains(a) {
                names.push(a.clone());
            }
        }
        for (name, decl) in names {
            let Some(Entry::Active {
                b: outer,
                decl_frame,
                ..
            }) = self.lookup(&name).cloned()
            else {
                continue;
            };
            let last_in = |f: &Frame| match f.names.get(&name) {
                Some(Entry::Active { b, decl: d, .. }) if *d == decl => b.clone(),
                _ => outer.clone(),
            };
            let then_last = last_in(&then_frame);
            let else_last = last_in(&else_frame);
            let exit = self.binding(&outer.name);
            self.state.alias(&[&then_last, &else_last, &exit]);
            self.reassign(&outer.name, decl, decl_frame, exit.clone());
            joined.push(Joined {
                then_last,
                else_last,
                exit,
            });
        }
        for f in [&then_frame, &else_frame] {
            for n in &f.data_assigned {
                let cur = self.frames.len() - 1;
                let decl_frame = self
                    .frames
                    .iter()
                    .rposition(|fr| fr.data_decl_frame.contains_key(&n.to_string()))
                    .unwrap_or(0);
                if decl_frame < cur {
                    let fr = &mut self.frames[cur];
                    if !fr.data_assigned.iter().any(|i| i == n) {
                        fr.data_assigned.push(n.clone());
                    }
                }
            }
        }
        out.push(Stmt::If {
            cond: i.cond.clone(),
            then,
            els,
            joined,
            src,
        });
    }
}
