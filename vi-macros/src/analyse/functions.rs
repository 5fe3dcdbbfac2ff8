//! User functions, Stan's functions block: `fn` items written inside `model! { .. }` before
//! the model's function, inlined at each call before the model is analysed. A call
//! `hill(dose[i], ec50, h)` becomes the function's body with each parameter replaced by its
//! argument (parenthesised), so the body is differentiated by the same source transformation
//! as the model, on data and on latent paths alike, and a mistake inside it (an unknown
//! function, a branch on a latent) is reported at its token inside the body.
//!
//! A body is `let` statements followed by one expression (`let x = ..; let y = ..; expr`);
//! a `let` is inlined into what follows it. Functions may call functions written before them.

use std::collections::HashMap;

use syn::visit_mut::VisitMut;
use syn::{Expr, Ident};

use crate::ctxt::Ctxt;
use crate::parse::{self, ModelDef};

fn error(cx: &Ctxt, tokens: impl quote::ToTokens, msg: impl std::fmt::Display) {
    cx.syn_error(syn::Error::new_spanned(tokens, msg));
}

/// A user function ready to inline: its parameters and its body as one expression.
struct Inline {
    params: Vec<Ident>,
    body: Expr,
}

/// `def` with every call of a user function replaced by the function's body. Errors (a
/// body that is not `let`s and an expression, a wrong number of arguments) go to `cx`.
pub fn inline(cx: &Ctxt, def: &ModelDef) -> Option<parse::Block> {
    if def.fns.is_empty() {
        return None;
    }
    let mut fns: HashMap<String, Inline> = HashMap::new();
    for f in &def.fns {
        let mut params = Vec::new();
        for a in &f.sig.inputs {
            match a {
                syn::FnArg::Typed(t) => match &*t.pat {
                    syn::Pat::Ident(p) => params.push(p.ident.clone()),
                    other => error(cx, other, "a user function's parameter is a plain name"),
                },
                syn::FnArg::Receiver(r) => error(cx, r, "a user function takes no `self`"),
            }
        }
        let Some(mut body) = body_expr(cx, &f.block) else {
            continue;
        };
        // Calls of functions written before this one.
        let mut calls = Calls { fns: &fns, cx };
        calls.visit_expr_mut(&mut body);
        let name = f.sig.ident.to_string();
        if fns.contains_key(&name) {
            error(
                cx,
                &f.sig.ident,
                format!("function `{name}` is written twice"),
            );
        }
        fns.insert(name, Inline { params, body });
    }
    let mut calls = Calls { fns: &fns, cx };
    let mut body = def.body.clone();
    calls.block(&mut body);
    Some(body)
}

/// The body `let a = e1; let b = e2; e3` as one expression, each `let` substituted into
/// what follows it.
fn body_expr(cx: &Ctxt, block: &syn::Block) -> Option<Expr> {
    let Some((last, lets)) = block.stmts.split_last() else {
        error(
            cx,
            block,
            "a user function's body ends with the value it returns",
        );
        return None;
    };
    let syn::Stmt::Expr(value, None) = last else {
        error(
            cx,
            last,
            "a user function's body ends with the value it returns",
        );
        return None;
    };
    let mut value = value.clone();
    for s in lets.iter().rev() {
        match s {
            syn::Stmt::Local(l) => {
                let (syn::Pat::Ident(p), Some(init)) = (&l.pat, &l.init) else {
                    error(
                        cx,
                        s,
                        "a user function's `let` binds a plain name to a value",
                    );
                    return None;
                };
                let map = HashMap::from([(p.ident.to_string(), (*init.expr).clone())]);
                Substitute(&map).visit_expr_mut(&mut value);
            }
            other => {
                error(
                    cx,
                    other,
                    "a user function's body is `let` statements and the value it returns",
                );
                return None;
            }
        }
    }
    Some(value)
}

/// Replaces the names of a map by their (parenthesised) expressions.
struct Substitute<'a>(&'a HashMap<String, Expr>);

impl VisitMut for Substitute<'_> {
    fn visit_expr_mut(&mut self, e: &mut Expr) {
        if let Expr::Path(p) = e {
            if let Some(name) = p.path.get_ident() {
                if let Some(with) = self.0.get(&name.to_string()) {
                    // The parentheses at the name's token, so a mistake found there is
                    // reported inside the function's body.
                    *e = syn::parse_quote_spanned!(name.span()=> (#with));
                    return;
                }
            }
        }
        syn::visit_mut::visit_expr_mut(self, e);
    }
}

/// Replaces calls of user functions by their bodies.
struct Calls<'a> {
    fns: &'a HashMap<String, Inline>,
    cx: &'a Ctxt,
}

impl Calls<'_> {
    fn block(&mut self, b: &mut parse::Block) {
        for s in &mut b.stmts {
            match s {
                parse::Stmt::Latent(l) => {
                    l.dist.args.iter_mut().for_each(|a| self.visit_expr_mut(a));
                    if let Some(e) = &mut l.iid {
                        self.visit_expr_mut(e);
                    }
                }
                parse::Stmt::Observe(o) => {
                    self.visit_expr_mut(&mut o.lhs);
                    o.dist.args.iter_mut().for_each(|a| self.visit_expr_mut(a));
                }
                parse::Stmt::Let(l) => self.visit_expr_mut(&mut l.init),
                parse::Stmt::Assign(a) => {
                    self.visit_expr_mut(&mut a.lhs);
                    self.visit_expr_mut(&mut a.rhs);
                }
                parse::Stmt::Target(t) => self.visit_expr_mut(&mut t.expr),
                parse::Stmt::For(f) => {
                    self.visit_expr_mut(&mut f.iter);
                    self.block(&mut f.body);
                }
                parse::Stmt::If(i) => {
                    self.visit_expr_mut(&mut i.cond);
                    self.block(&mut i.then);
                    if let Some(e) = &mut i.els {
                        self.block(e);
                    }
                }
                parse::Stmt::Expr(e) => self.visit_expr_mut(&mut e.expr),
                parse::Stmt::Error(_) => {}
            }
        }
    }
}

impl VisitMut for Calls<'_> {
    fn visit_expr_mut(&mut self, e: &mut Expr) {
        // Arguments first.
        syn::visit_mut::visit_expr_mut(self, e);
        let Expr::Call(c) = e else { return };
        let Expr::Path(p) = &*c.func else { return };
        let Some(name) = p.path.get_ident() else {
            return;
        };
        let Some(f) = self.fns.get(&name.to_string()) else {
            return;
        };
        if c.args.len() != f.params.len() {
            error(
                self.cx,
                &c.func,
                format!(
                    "`{name}` takes {} argument{}, found {}",
                    f.params.len(),
                    if f.params.len() == 1 { "" } else { "s" },
                    c.args.len()
                ),
            );
            *e = syn::parse_quote!(0.0);
            return;
        }
        // A float literal argument is an `f64` (`hill(1.0, 10.0, 2.0)` on data: a method of
        // the body must not meet an ambiguous `{float}`).
        let typed = |a: &Expr| match a {
            Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Float(f),
                ..
            }) if f.suffix().is_empty() => syn::parse_quote!((#a as f64)),
            _ => a.clone(),
        };
        let map: HashMap<String, Expr> = f
            .params
            .iter()
            .map(|p| p.to_string())
            .zip(c.args.iter().map(typed))
            .collect();
        let mut body = f.body.clone();
        Substitute(&map).visit_expr_mut(&mut body);
        *e = syn::parse_quote!((#body));
    }
}
