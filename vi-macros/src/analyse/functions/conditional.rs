//! Calls of user functions in a part of an expression that is evaluated only sometimes: a
//! branch of an expression-level `if`/`else`, the right operand of `&&` or `||`.
//!
//! A call's body is placed before the statement that holds the call, which would evaluate
//! it whatever the condition says: `if t > 0 { f(y[t - 1]) } else { 0.0 }` would read
//! `y[-1]` at `t = 0`. Stan evaluates only the branch taken, and so does the model: such an
//! expression becomes, before its statement,
//!
//! ```text
//! let mut if_value7 = 0.0;
//! if t > 0 { <f's body>; if_value7 = <f's value>; } else { if_value7 = 0.0; }
//! ```
//!
//! and the expression is replaced by `if_value7`. The `if` statement is over data (a branch on
//! a latent is refused as everywhere), and the analysis gives `if_value7` one version per
//! branch joined at the `if`'s exit, on data and on a latent's path alike. `a && b` is
//! `if a { b } else { false }`, `a || b` is `if a { true } else { b }`.

use quote::{format_ident, ToTokens};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::Expr;

use super::{error, shape_of, Inliner, Shape, UserFn};
use crate::parse::{self, AssignOp, Stmt};

/// Whether `e` calls a user function outside closures.
pub(super) fn calls_user(e: &Expr, fns: &std::collections::HashMap<String, UserFn>) -> bool {
    struct Finder<'a>(&'a std::collections::HashMap<String, UserFn>, bool);
    impl<'ast> syn::visit::Visit<'ast> for Finder<'_> {
        fn visit_expr_call(&mut self, c: &'ast syn::ExprCall) {
            if let Expr::Path(p) = &*c.func {
                if p.path
                    .get_ident()
                    .is_some_and(|n| self.0.contains_key(&n.to_string()))
                {
                    self.1 = true;
                }
            }
            syn::visit::visit_expr_call(self, c);
        }
        fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
    }
    let mut f = Finder(fns, false);
    syn::visit::Visit::visit_expr(&mut f, e);
    f.1
}

/// The value a block ends with (its last statement, an expression without `;`).
fn tail(b: &syn::Block) -> Option<&Expr> {
    match b.stmts.last() {
        Some(syn::Stmt::Expr(e, None)) => Some(e),
        _ => None,
    }
}

/// The value an `else` gives: its block's last expression, or an `else if`'s first branch's.
fn branch_value(e: &Expr) -> Option<&Expr> {
    match e {
        Expr::Block(b) => tail(&b.block),
        Expr::If(i) => tail(&i.then_branch),
        other => Some(other),
    }
}

/// Whether `e` is visibly a `bool`: a literal, a comparison, `!`, `&&` or `||`.
fn boolean(e: &Expr) -> bool {
    use syn::BinOp::*;
    match e {
        Expr::Lit(l) => matches!(l.lit, syn::Lit::Bool(_)),
        Expr::Paren(p) => boolean(&p.expr),
        Expr::Unary(u) => matches!(u.op, syn::UnOp::Not(_)) && boolean(&u.expr),
        Expr::Binary(b) => matches!(
            b.op,
            Eq(_) | Ne(_) | Lt(_) | Le(_) | Gt(_) | Ge(_) | And(_) | Or(_)
        ),
        _ => false,
    }
}

impl Inliner<'_> {
    /// `e` rewritten when it is an `if`/`else`, `&&` or `||` whose conditionally evaluated
    /// part calls a user function (see the module's docs): the statements go to `hoisted`,
    /// the value is returned. `None` when `e` is none of these.
    pub(super) fn conditional(&mut self, e: &Expr) -> Option<Expr> {
        let fns = self.fns;
        match e {
            Expr::If(i) => {
                let els = i.else_branch.as_ref().map(|(_, e)| &**e)?;
                let then = syn::Expr::Block(syn::ExprBlock {
                    attrs: Vec::new(),
                    label: None,
                    block: i.then_branch.clone(),
                });
                if !calls_user(&then, fns) && !calls_user(els, fns) {
                    return None;
                }
                // A `bool` (a comparison, a logical operator, `true`/`false`) starts `false`.
                if tail(&i.then_branch).is_some_and(boolean)
                    || branch_value(els).is_some_and(boolean)
                {
                    return Some(self.select(
                        i.if_token.span,
                        &i.cond,
                        &then,
                        els,
                        syn::parse_quote!(false),
                        false,
                    ));
                }
                let shape = tail(&i.then_branch)
                    .and_then(|t| self.value_shape(t))
                    .or_else(|| self.value_shape(els));
                let Some(shape) = shape else {
                    error(
                        self.cx,
                        i.if_token,
                        "this `if` calls a user function in a branch, so its value is set by \
                         the branch taken and needs a shape the macro can tell: end one branch \
                         with a number, a data argument, a latent or a call of a user function \
                         that declares its return type",
                    );
                    return Some(syn::parse_quote!(0.0));
                };
                let init: Expr = match shape {
                    Shape::Scalar => syn::parse_quote!(0.0),
                    Shape::Vector => syn::parse_quote!(DVector::<f64>::zeros(0)),
                    Shape::Matrix => syn::parse_quote!(DMatrix::<f64>::zeros(0, 0)),
                };
                Some(self.select(
                    i.if_token.span,
                    &i.cond,
                    &then,
                    els,
                    init,
                    shape != Shape::Scalar,
                ))
            }
            Expr::Binary(b) => {
                let and = match b.op {
                    syn::BinOp::And(_) => true,
                    syn::BinOp::Or(_) => false,
                    _ => return None,
                };
                if !calls_user(&b.right, fns) {
                    return None;
                }
                let span = b.op.span();
                let (then, els): (Expr, Expr) = if and {
                    ((*b.right).clone(), syn::parse_quote_spanned!(span=> false))
                } else {
                    (syn::parse_quote_spanned!(span=> true), (*b.right).clone())
                };
                Some(self.select(span, &b.left, &then, &els, syn::parse_quote!(false), false))
            }
            _ => None,
        }
    }

    /// The shape of a branch's value, before its calls are inlined.
    fn value_shape(&self, e: &Expr) -> Option<Shape> {
        match e {
            Expr::Block(b) => self.value_shape(tail(&b.block)?),
            Expr::If(i) => tail(&i.then_branch)
                .and_then(|t| self.value_shape(t))
                .or_else(|| self.value_shape(&i.else_branch.as_ref()?.1)),
            other => shape_of(other, &self.names, self.fns),
        }
    }

    /// `let mut v = init; if cond { v = then; } else { v = els; }` in `hoisted`, each
    /// branch's calls inlined inside it; returns `v`.
    fn select(
        &mut self,
        span: proc_macro2::Span,
        cond: &Expr,
        then: &Expr,
        els: &Expr,
        init: Expr,
        inlined: bool,
    ) -> Expr {
        let mut cond = cond.clone();
        self.visit_expr_mut(&mut cond);
        *self.counter += 1;
        let var = format_ident!("if_value{}", *self.counter, span = span);
        self.cx.rename(var.to_string(), "if".to_string());
        let then = self.branch(then, &var);
        let els = self.branch(els, &var);
        self.hoisted.push(Stmt::Let(parse::LetStmt {
            pat: syn::parse_quote!(mut #var),
            ty: None,
            src: format!("let mut {var} = {}", init.to_token_stream()),
            init,
            keep: None,
            inlined,
        }));
        self.hoisted.push(Stmt::If(parse::IfStmt {
            src: format!("if {}", parse::pretty(cond.to_token_stream())),
            cond,
            then,
            els: Some(els),
        }));
        syn::parse_quote_spanned!(span=> #var)
    }

    /// A branch as statements: its own statements (calls inlined), then `var = value;`.
    fn branch(&mut self, e: &Expr, var: &syn::Ident) -> parse::Block {
        let names = self.names.clone();
        let outer = std::mem::take(&mut self.hoisted);
        let mut block = parse::Block { stmts: Vec::new() };
        let value = match e {
            Expr::Block(b) if b.block.stmts.len() > 1 => {
                let mut stmts = b.block.stmts.clone();
                match stmts.pop() {
                    Some(syn::Stmt::Expr(v, None)) => {
                        match syn::parse2::<parse::Block>(quote::quote!({ #(#stmts)* })) {
                            Ok(b) => {
                                for s in &b.stmts {
                                    if let Stmt::Error(e) = s {
                                        self.cx.syn_error(e.clone());
                                    }
                                }
                                block = b;
                                self.block(&mut block);
                                v
                            }
                            Err(err) => {
                                self.cx.syn_error(err);
                                syn::parse_quote!(0.0)
                            }
                        }
                    }
                    _ => {
                        error(self.cx, e, "each branch of this `if` ends with its value");
                        syn::parse_quote!(0.0)
                    }
                }
            }
            Expr::Block(b) => match tail(&b.block) {
                Some(v) => v.clone(),
                None => {
                    error(self.cx, e, "each branch of this `if` ends with its value");
                    syn::parse_quote!(0.0)
                }
            },
            other => other.clone(),
        };
        let mut value = value;
        self.visit_expr_mut(&mut value);
        block.stmts.append(&mut self.hoisted);
        let span = crate::codegen::span_of(&value);
        block.stmts.push(Stmt::Assign(parse::AssignStmt {
            lhs: syn::parse_quote_spanned!(span=> #var),
            op: AssignOp::Set,
            op_span: span,
            src: format!("{var} = {}", parse::pretty(value.to_token_stream())),
            rhs: value,
        }));
        self.hoisted = outer;
        self.names = names;
        block
    }
}
