//! `~` with a left side that depends on a latent, as in Stan: `h[t] ~ Normal(..)` adds
//! `Normal(..).lpdf(h[t])` to the density, and nothing else. No Jacobian is added, so a
//! left side that is a nonlinear function of the latents gets a warning naming the missing
//! Jacobian (stanc's "Left-hand side of sampling statement (~) may contain a non-linear
//! transform of a parameter"); a linear one (an element, the latent itself, a shift or a
//! scaling by data) gets none. `Flat`, an improper uniform over the reals, has no density: it
//! declares a latent with no prior of its own and cannot be the right side of any other `~`.

use quote::ToTokens;

use super::Analyser;
use crate::catalogue::{DistInfo, Support, WithData};
use crate::ir::*;
use crate::parse;

impl Analyser {
    /// `lhs ~ Dist(..)` where `lhs` depends on a latent.
    pub(super) fn density_stmt(&mut self, o: &parse::ObserveStmt, src: usize, out: &mut Vec<Stmt>) {
        let value = self.sub(&o.lhs);
        let dist = self.dist(&o.dist);
        let args = match dist {
            Some(d) => self.dist_args(d, &o.dist, false),
            None => o.dist.args.iter().map(|a| self.operand(a)).collect(),
        };
        let Some(dist) = dist.filter(|d| self.not_flat(d, &o.dist)) else {
            return;
        };
        if dist.support == Support::Discrete {
            self.err(
                o.dist.name.span(),
                format!(
                    "`{}` is discrete and the left of this `~` depends on a latent variable, which \
                     is continuous; a discrete distribution can only observe data",
                    dist.name
                ),
            );
            return;
        }
        if !self.linear(&value) {
            let lhs = parse::pretty(o.lhs.to_token_stream());
            self.warnings.push((
                crate::codegen::span_of(&o.lhs),
                format!(
                    "the left side of `~`, `{lhs}`, is a nonlinear function of latent variables: \
                     its density is added as written, with no Jacobian; if `{lhs}` is meant to \
                     have this distribution, also add `target +=` the log absolute determinant \
                     of the Jacobian of the transform"
                ),
            ));
        }
        out.push(Stmt::Density {
            value,
            dist,
            args,
            src,
        });
    }

    /// Whether `d` may be the right side of this `~`: anything but `Flat`, which has no
    /// density (an error otherwise).
    pub(super) fn not_flat(&mut self, d: &DistInfo, call: &parse::DistCall) -> bool {
        if d.support != Support::Flat {
            return true;
        }
        self.err(
            call.name.span(),
            "`Flat` is an improper prior with no density: it can only declare a latent \
             variable, `let h ~ Flat;` or `let h ~ Flat.iid(n);`",
        );
        false
    }

    /// Whether `e` is a linear function of the latents (its Jacobian a constant): latents and
    /// `let`s of linear values, their elements, rows, columns, transposes, sums and means,
    /// sums and differences of linear values, and products with (or quotients by) data.
    pub(super) fn linear(&self, e: &AExpr) -> bool {
        match e {
            AExpr::Var(b) => self.linear.contains(&b.id),
            AExpr::Data(_) => true,
            AExpr::Unary(u, x, _) => {
                matches!(
                    u,
                    crate::catalogue::Unary::Neg
                        | crate::catalogue::Unary::Identity
                        | crate::catalogue::Unary::Named("transpose" | "sum" | "mean")
                ) && self.linear(x)
            }
            AExpr::WithData(w, x, _, _) => {
                matches!(
                    w,
                    WithData::Index
                        | WithData::Index2
                        | WithData::Row
                        | WithData::Col
                        | WithData::Gather
                        | WithData::Segment
                ) && self.linear(x)
            }
            AExpr::Binary(b, l, r, _) => {
                use crate::catalogue::Binary;
                let data = |x: &AExpr| matches!(x, AExpr::Data(_));
                match b {
                    Binary::Add | Binary::Sub => self.linear(l) && self.linear(r),
                    Binary::Mul | Binary::Dot => {
                        (data(l) && self.linear(r)) || (self.linear(l) && data(r))
                    }
                    Binary::Div => self.linear(l) && data(r),
                    _ => false,
                }
            }
            AExpr::Set(..) | AExpr::Nary(..) => false,
        }
    }
}
