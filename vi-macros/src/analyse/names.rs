//! The names an expression uses or a pattern binds, and whether data is built only from the
//! model's arguments.

use std::collections::HashSet;

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;
use syn::{Expr, Ident, Pat};

use crate::parse;

/// Base names of every place assigned in `stmts`, nested blocks included, sorted.
pub(super) fn assigned_names(stmts: &[parse::Stmt], out: &mut Vec<String>) {
    for s in stmts {
        match s {
            parse::Stmt::Assign(a) => {
                let mut e = &a.lhs;
                while let Expr::Index(ix) = e {
                    e = &ix.expr;
                }
                if let Expr::Path(p) = e {
                    if let Some(i) = p.path.get_ident() {
                        let n = i.to_string();
                        if !out.contains(&n) {
                            out.push(n);
                        }
                    }
                }
            }
            parse::Stmt::For(f) => assigned_names(&f.body.stmts, out),
            parse::Stmt::If(i) => {
                assigned_names(&i.then.stmts, out);
                if let Some(b) = &i.els {
                    assigned_names(&b.stmts, out);
                }
            }
            _ => {}
        }
    }
    out.sort();
}

/// Names bound by a pattern.
pub fn pat_names(p: &Pat, out: &mut Vec<Ident>) {
    match p {
        Pat::Ident(i) => {
            out.push(i.ident.clone());
            if let Some((_, sub)) = &i.subpat {
                pat_names(sub, out);
            }
        }
        Pat::Tuple(t) => t.elems.iter().for_each(|e| pat_names(e, out)),
        Pat::TupleStruct(t) => t.elems.iter().for_each(|e| pat_names(e, out)),
        Pat::Slice(s) => s.elems.iter().for_each(|e| pat_names(e, out)),
        Pat::Reference(r) => pat_names(&r.pat, out),
        Pat::Paren(p) => pat_names(&p.pat, out),
        Pat::Type(t) => pat_names(&t.pat, out),
        Pat::Struct(s) => s.fields.iter().for_each(|f| pat_names(&f.pat, out)),
        Pat::Or(o) => o.cases.iter().for_each(|c| pat_names(c, out)),
        _ => {}
    }
}

/// Free single-segment names of an expression (names bound inside it by closures, blocks
/// or match arms are collected in `bound`).
#[derive(Default)]
pub(super) struct FreeVars {
    pub(super) names: Vec<(Ident, ())>,
    /// Identifiers inside macro calls: they may be names (for activity) or not.
    pub(super) macro_names: Vec<Ident>,
    pub(super) bound: HashSet<String>,
}

impl<'ast> Visit<'ast> for FreeVars {
    fn visit_expr_path(&mut self, p: &'ast syn::ExprPath) {
        if p.qself.is_none() {
            if let Some(i) = p.path.get_ident() {
                if !self.bound.contains(&i.to_string()) {
                    self.names.push((i.clone(), ()));
                }
            }
        }
    }
    fn visit_expr_call(&mut self, c: &'ast syn::ExprCall) {
        // A called name may be a function from outside the model: only its arguments count,
        // unless it is a local name.
        match &*c.func {
            Expr::Path(p) if p.path.get_ident().is_some() => {}
            f => self.visit_expr(f),
        }
        for a in &c.args {
            self.visit_expr(a);
        }
    }
    fn visit_expr_closure(&mut self, c: &'ast syn::ExprClosure) {
        let mut names = Vec::new();
        for i in &c.inputs {
            pat_names(i, &mut names);
        }
        self.bound.extend(names.iter().map(|n| n.to_string()));
        self.visit_expr(&c.body);
    }
    fn visit_local(&mut self, l: &'ast syn::Local) {
        if let Some(init) = &l.init {
            self.visit_expr(&init.expr);
        }
        let mut names = Vec::new();
        pat_names(&l.pat, &mut names);
        self.bound.extend(names.iter().map(|n| n.to_string()));
    }
    fn visit_arm(&mut self, a: &'ast syn::Arm) {
        let mut names = Vec::new();
        pat_names(&a.pat, &mut names);
        self.bound.extend(names.iter().map(|n| n.to_string()));
        if let Some((_, g)) = &a.guard {
            self.visit_expr(g);
        }
        self.visit_expr(&a.body);
    }
    fn visit_expr_for_loop(&mut self, f: &'ast syn::ExprForLoop) {
        self.visit_expr(&f.expr);
        let mut names = Vec::new();
        pat_names(&f.pat, &mut names);
        self.bound.extend(names.iter().map(|n| n.to_string()));
        self.visit_block(&f.body);
    }
    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        // Names inside a macro's tokens (`format!("{}", w)`), best effort.
        fn idents(ts: TokenStream, out: &mut Vec<Ident>) {
            for t in ts {
                match t {
                    TokenTree::Ident(i) => out.push(i),
                    TokenTree::Group(g) => idents(g.stream(), out),
                    _ => {}
                }
            }
        }
        let mut ids = Vec::new();
        idents(m.tokens.clone(), &mut ids);
        for i in ids {
            if !self.bound.contains(&i.to_string()) {
                self.macro_names.push(i);
            }
        }
    }
    fn visit_expr_struct(&mut self, s: &'ast syn::ExprStruct) {
        for f in &s.fields {
            self.visit_expr(&f.expr);
        }
        if let Some(r) = &s.rest {
            self.visit_expr(r);
        }
    }
}

/// Whether `e` is built only from the model's arguments, constants and literals by
/// operators, fields, indexing, casts and method calls (no function calls, closures,
/// blocks or macros, whose results need not be the same on every call). `name` says what a
/// name is: `Some(true)` an argument, `Some(false)` another binding, `None` unknown (then a
/// constant when it starts with a capital). `uses_arg` is set when an argument is read.
pub fn built_from_arguments(
    e: &Expr,
    name: &dyn Fn(&str) -> Option<bool>,
    uses_arg: &mut bool,
) -> bool {
    match e {
        Expr::Path(p) => match p.path.get_ident() {
            Some(i) => match name(&i.to_string()) {
                Some(true) => {
                    *uses_arg = true;
                    true
                }
                Some(false) => false,
                None => i.to_string().starts_with(|c: char| c.is_uppercase()),
            },
            // `f64::MAX`, `std::f64::consts::PI`.
            None => p.qself.is_none() && p.path.segments.len() > 1,
        },
        Expr::Lit(_) => true,
        Expr::Paren(x) => built_from_arguments(&x.expr, name, uses_arg),
        Expr::Group(x) => built_from_arguments(&x.expr, name, uses_arg),
        Expr::Reference(x) => {
            x.mutability.is_none() && built_from_arguments(&x.expr, name, uses_arg)
        }
        Expr::Unary(x) => built_from_arguments(&x.expr, name, uses_arg),
        Expr::Cast(x) => built_from_arguments(&x.expr, name, uses_arg),
        Expr::Field(x) => built_from_arguments(&x.base, name, uses_arg),
        Expr::Binary(b) => {
            use syn::BinOp::*;
            let pure = matches!(
                b.op,
                Add(_)
                    | Sub(_)
                    | Mul(_)
                    | Div(_)
                    | Rem(_)
                    | And(_)
                    | Or(_)
                    | BitXor(_)
                    | BitAnd(_)
                    | BitOr(_)
                    | Shl(_)
                    | Shr(_)
                    | Eq(_)
                    | Lt(_)
                    | Le(_)
                    | Ne(_)
                    | Ge(_)
                    | Gt(_)
            );
            pure && built_from_arguments(&b.left, name, uses_arg)
                && built_from_arguments(&b.right, name, uses_arg)
        }
        Expr::Index(x) => {
            built_from_arguments(&x.expr, name, uses_arg)
                && built_from_arguments(&x.index, name, uses_arg)
        }
        Expr::MethodCall(m) => {
            built_from_arguments(&m.receiver, name, uses_arg)
                && m.args
                    .iter()
                    .all(|a| built_from_arguments(a, name, uses_arg))
        }
        Expr::Tuple(t) => t
            .elems
            .iter()
            .all(|a| built_from_arguments(a, name, uses_arg)),
        Expr::Range(r) => {
            r.start
                .iter()
                .all(|a| built_from_arguments(a, name, uses_arg))
                && r.end
                    .iter()
                    .all(|a| built_from_arguments(a, name, uses_arg))
        }
        _ => false,
    }
}
