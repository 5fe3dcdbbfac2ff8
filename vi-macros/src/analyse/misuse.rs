//! Shape misuses a Stan user is likely to make, found on the analysed model with the shapes
//! the macro can tell ([`crate::shape`]) and reported at the user's token: otherwise rustc
//! reports them on the generated code, naming its types and functions.
//!
//! - `dot` of a scalar (`mu.dot(x)` with `mu` a scalar latent, Stan's `dot_product` of a
//!   `real`): multiply scalars with `*`;
//! - `dot_self` of a scalar.

use crate::catalogue::{Binary, Unary};
use crate::ctxt::Ctxt;
use crate::ir::{aexpr_nodes, walk, AExpr, Model, Operand, Stmt};
use crate::shape::Ty;

/// Reports the misuses of `m`'s expressions to `cx`.
pub fn check(cx: &Ctxt, m: &Model) {
    let mut exprs: Vec<&AExpr> = Vec::new();
    fn operand(o: &Operand) -> Option<&AExpr> {
        match o {
            Operand::Active(e) => Some(e),
            Operand::Data(_) => None,
        }
    }
    walk(&m.body, &mut |s| match s {
        Stmt::Let { init, .. } => exprs.push(init),
        Stmt::Density { value, args, .. } => {
            exprs.push(value);
            exprs.extend(args.iter().filter_map(operand));
        }
        Stmt::Latent { args, .. } | Stmt::Observe { args, .. } => {
            exprs.extend(args.iter().filter_map(operand));
        }
        Stmt::Target { value, .. } => exprs.extend(operand(value)),
        _ => {}
    });
    for e in exprs {
        aexpr_nodes(e, &mut |x| misuse(cx, m, x));
    }
}

/// What an operand is called in a message: its name, or its position.
fn called(e: &AExpr, position: &str) -> String {
    match e {
        AExpr::Var(b) => format!("`{}`", b.name),
        AExpr::Data(d) => format!(
            "`{}`",
            crate::parse::pretty(quote::ToTokens::to_token_stream(d))
        ),
        _ => position.to_string(),
    }
}

/// Reports `e` itself if it is a misuse (not the expressions inside it).
fn misuse(cx: &Ctxt, m: &Model, e: &AExpr) {
    let scalar = |x: &AExpr| m.shapes.expr(x) == Some(Ty::Scalar);
    match e {
        AExpr::Binary(Binary::Dot, a, b, span) => {
            for (x, position) in [(a, "its first operand"), (b, "its second operand")] {
                if scalar(x) {
                    cx.syn_error(syn::Error::new(
                        *span,
                        format!(
                            "`dot` takes two vectors of the same length, but {} is a scalar; \
                             multiply scalars with `*`",
                            called(x, position)
                        ),
                    ));
                    break;
                }
            }
        }
        AExpr::Unary(Unary::Named("dot_self"), x, span) if scalar(x) => {
            cx.syn_error(syn::Error::new(
                *span,
                format!(
                    "`dot_self` takes a vector, but {} is a scalar; square a scalar with \
                     `.powi(2)`",
                    called(x, "its operand")
                ),
            ));
        }
        _ => {}
    }
}
