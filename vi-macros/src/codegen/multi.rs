//! Statements of multivariate distributions (the rows of `catalogue::MULTI_DISTS`): their
//! kernels take whole flat slices (`vi_runtime::dist::multi`: an `N x K` value, one draw per
//! row, column-major; `K x K` matrix parameters), so they are called directly, not through
//! the scalar/slice dispatch of `__private::Ops*`. A latent's size `K` comes from the
//! operands, so its read follows their forward code.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::forward::{term_acc, First};
use super::lower::V;
use super::pass::{Mode, Pass};
use super::Emitter;
use crate::catalogue::{Dim, DistInfo, MultiInfo};
use crate::ir::{Latent, Operand};

impl Emitter<'_> {
    /// `let l ~ Dist(..)` for a multivariate `Dist`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn multi_latent(
        &self,
        k: usize,
        l: &Latent,
        dist: &'static DistInfo,
        mi: &MultiInfo,
        args: &[Operand],
        src: usize,
        m: Mode,
    ) -> TokenStream {
        let kernel_args = kernel_args(mi, args);
        let (low, vals) = self.kernel_operands(src, First::Latent(&l.binding), &kernel_args);
        let fwd = low.forward();
        let dim = if m.pass == Pass::Build {
            Some(dim_of(mi, args, &vals))
        } else {
            None
        };
        let read = self.read_latent(k, l, src, m, dim);
        let mut out = quote!(#fwd #read);
        if m.pass.simulates() {
            return out;
        }
        if m.pass == Pass::Build {
            out.extend(self.multi_check(src, dist, mi, &vals, true));
        }
        out.extend(self.multi_call(src, dist, &low, &vals, m));
        out
    }

    /// `y ~ Dist(..)` for a multivariate `Dist`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn multi_observe(
        &self,
        lhs: &syn::Expr,
        dist: &'static DistInfo,
        mi: &MultiInfo,
        args: &[Operand],
        src: usize,
        obs: usize,
        m: Mode,
    ) -> TokenStream {
        let kernel_args = kernel_args(mi, args);
        let (low, vals) = self.kernel_operands(src, First::Data(lhs), &kernel_args);
        let fwd = low.forward();
        if m.pass.simulates() {
            return self.multi_sample(dist, mi, args, &vals, obs, fwd);
        }
        let mut out = quote!(#fwd);
        if m.pass == Pass::Build {
            out.extend(self.multi_check(src, dist, mi, &vals, false));
        }
        if m.pass.density() || m.pass.adjoints() {
            out.extend(self.multi_call(src, dist, &low, &vals, m));
        }
        out
    }

    /// The kernel call, accumulated into the density, with its reverse sweep in the gradient.
    fn multi_call(
        &self,
        src: usize,
        dist: &DistInfo,
        low: &super::lower::Lowering,
        vals: &[V],
        m: Mode,
    ) -> TokenStream {
        let module = format_ident!("{}", dist.module);
        let lp = format_ident!("__lp{}", src);
        let flats: Vec<TokenStream> = vals.iter().map(V::flat).collect();
        let gs = vals.iter().map(|v| match v.grad() {
            Some(g) if m.pass.adjoints() => quote!(::core::option::Option::Some(
                ::vi::__private::ad::flat_mut(&mut #g)
            )),
            _ => quote!(::core::option::Option::None),
        });
        let call = quote!(::vi::__private::dist::#module::lpdf(#(#flats,)* #(#gs),*));
        if m.pass.adjoints() {
            let adjs = low.adjoints();
            let rev = low.reverse();
            let acc = if m.pass.density() {
                quote!(__lp += #lp;)
            } else {
                quote!()
            };
            let done = low.recycle_temps(true);
            quote!(#adjs let #lp: f64 = #call; #acc #rev #done)
        } else {
            let acc = term_acc(src, &lp, m);
            let done = if m.pass.saves() {
                quote!()
            } else {
                low.recycle_temps(false)
            };
            quote!(let #lp: f64 = #call; #acc #done)
        }
    }

    /// The constructor's check of the data operands (`dist::<module>::check`).
    fn multi_check(
        &self,
        src: usize,
        dist: &DistInfo,
        mi: &MultiInfo,
        vals: &[V],
        latent: bool,
    ) -> TokenStream {
        let module = format_ident!("{}", dist.module);
        let stmt = &self.m.srcs[src];
        let opts = vals.iter().enumerate().map(|(i, v)| match v {
            V::Data(..) | V::Value(_) if !(latent && i == 0) => {
                let f = v.flat();
                quote!(::core::option::Option::Some(#f))
            }
            _ => quote!(::core::option::Option::None),
        });
        let all = self.arg_names(src, dist.params.len() + 1, dist);
        let names: Vec<String> = all
            .into_iter()
            .enumerate()
            .filter(|(i, _)| *i == 0 || !mi.size_only.contains(&(i - 1)))
            .map(|(_, n)| n)
            .collect();
        quote! {
            ::vi::__private::check_statement(
                #stmt,
                &[#(#names),*],
                &[],
                ::vi::__private::dist::#module::check(#(#opts),*),
            )?;
        }
    }

    /// Posterior predictive draws of an observation: as many draws as the data has rows.
    fn multi_sample(
        &self,
        dist: &DistInfo,
        mi: &MultiInfo,
        args: &[Operand],
        vals: &[V],
        obs: usize,
        fwd: TokenStream,
    ) -> TokenStream {
        let module = format_ident!("{}", dist.module);
        let y = vals[0].flat();
        let kk = dim_of(mi, args, vals);
        let per = if mi.matrix {
            quote!(__kk * __kk)
        } else {
            quote!(__kk)
        };
        let params: Vec<TokenStream> = vals[1..].iter().map(V::flat).collect();
        let draws = match dist.name {
            "Multinomial" => {
                let theta = &params[0];
                quote!(::vi::__private::dist::#module::sample(
                    __rng, &::vi::__private::row_sums(__y, __n, __kk), #theta, __n))
            }
            "LkjCorr" | "LkjCholesky" => {
                quote!(::vi::__private::dist::#module::sample(__rng, __kk, #(#params,)* __n))
            }
            _ => quote!(::vi::__private::dist::#module::sample(__rng, #(#params,)* __n)),
        };
        quote! {
            #fwd
            let __y: &[f64] = #y;
            let __kk: usize = #kk;
            let __n = if #per == 0 { 0 } else { __y.len() / (#per) };
            let __draws = #draws;
            __sims[#obs].extend(__draws);
        }
    }
}

/// The arguments passed to the kernel: all but those that only give the size.
fn kernel_args(mi: &MultiInfo, args: &[Operand]) -> Vec<Operand> {
    args.iter()
        .enumerate()
        .filter(|(i, _)| !mi.size_only.contains(i))
        .map(|(_, a)| a.clone())
        .collect()
}

/// `K` as an expression of the statement's operands (`vals`: the value, then the kernel's
/// arguments, already computed).
fn dim_of(mi: &MultiInfo, args: &[Operand], vals: &[V]) -> TokenStream {
    let val_of = |i: usize| {
        let skipped = mi.size_only.iter().filter(|&&s| s < i).count();
        vals.get(1 + i - skipped).map(V::flat)
    };
    match mi.dim {
        Dim::Len(i) => match val_of(i) {
            Some(f) => quote!((#f).len()),
            None => quote!(0usize),
        },
        Dim::Side(i) => match val_of(i) {
            Some(f) => quote!(::vi::__private::side((#f).len())),
            None => quote!(0usize),
        },
        Dim::Value(i) => match args.get(i) {
            Some(Operand::Data(e)) => quote!(::vi::__private::len(#e)),
            _ => quote!(0usize),
        },
    }
}
