//! The generated items: the model's struct, its constructor, `impl Model` and `simulate`,
//! and the stand-in emitted when the model has errors.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::Ident;

use super::lower::{gname, vname, Lowering};
use super::pass::{Mode, Pass};
use super::Emitter;
use crate::ir::{Stmt, Stored};

/// The struct name: CamelCase of the model's name.
pub fn struct_name(name: &Ident) -> Ident {
    let s = name.to_string();
    let camel: String = s
        .trim_start_matches("r#")
        .split('_')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect::<String>(),
                None => String::new(),
            }
        })
        .collect();
    format_ident!(
        "{}",
        if camel.is_empty() {
            "Model".to_string()
        } else {
            camel
        },
        span = name.span()
    )
}

/// The analyser's warnings, each as the use of a `#[deprecated]` constant spanned at the
/// user's token: stable Rust has no other way for a macro to warn. The constant's name and
/// note make the message (`use of deprecated constant `model::jacobian_not_added`: ...`); a
/// user silences it with `#[allow(deprecated)]` on the model's function, whose attributes the
/// constructor carries.
fn warnings(ws: &[(proc_macro2::Span, String)]) -> TokenStream {
    let uses = ws.iter().map(|(span, note)| {
        let name = quote::quote_spanned!(*span=> jacobian_not_added);
        quote! {
            {
                #[deprecated(note = #note)]
                #[allow(non_upper_case_globals)]
                const jacobian_not_added: () = ();
                let _ = #name;
            }
        }
    });
    quote!(#(#uses)*)
}

/// `impl Simulate` for the model's struct, delegating to its `simulate` method.
fn simulate_impl(sname: &Ident) -> TokenStream {
    quote! {
        impl ::vi::__private::Simulate for #sname {
            fn simulate_with(
                &self,
                constrained: &[f64],
                rng: &mut dyn ::vi::__private::rand::RngCore,
            ) -> ::std::vec::Vec<(::std::string::String, ::std::vec::Vec<f64>)> {
                let mut __rng = rng;
                #sname::simulate(self, constrained, &mut __rng)
            }
        }
    }
}

/// A stub of the struct and constructor, emitted next to the errors so the user's later code
/// does not drown them in follow-on errors.
pub fn fallback(def: &crate::parse::ModelDef) -> TokenStream {
    let name = &def.name;
    let sname = struct_name(name);
    let vis = &def.vis;
    let simulate_impl = simulate_impl(&sname);
    let args = def.args.iter().map(|a| {
        let (n, t) = (&a.name, &a.ty);
        quote!(#n: #t)
    });
    quote! {
        #[allow(dead_code)]
        #vis struct #sname;
        impl ::vi::__private::Model for #sname {
            fn layout(&self) -> &::vi::__private::ParamLayout {
                unimplemented!()
            }
            fn log_density_grad_jac(&self, _: &[f64], _: &mut [f64], _: bool) -> f64 {
                unimplemented!()
            }
        }
        #simulate_impl
        impl #sname {
            #[allow(dead_code)]
            #vis fn simulate(&self, _: &[f64], _: &mut impl ::vi::__private::rand::Rng) -> ::std::vec::Vec<(::std::string::String, ::std::vec::Vec<f64>)> {
                unimplemented!()
            }
        }
        #[allow(dead_code, unused_variables)]
        #vis fn #name(#(#args),*) -> ::core::result::Result<#sname, ::vi::__private::ModelError> {
            unimplemented!()
        }
    }
}

impl Emitter<'_> {
    pub(super) fn model(&self) -> TokenStream {
        let m = self.m;
        let name = &m.name;
        let sname = struct_name(name);
        let simulate_impl = simulate_impl(&sname);
        let vis = &m.vis;
        let attrs = &m.attrs;
        let fields = m.args.iter().map(|a| {
            let n = &a.name;
            match &a.stored {
                Stored::Ref(t) => quote!(#n: <#t as ::std::borrow::ToOwned>::Owned),
                _ => {
                    let t = &a.ty;
                    quote!(#n: #t)
                }
            }
        });
        let params = m.args.iter().map(|a| {
            let (n, t) = (&a.name, &a.ty);
            quote!(#n: #t)
        });
        let inits = m.args.iter().map(|a| {
            let n = &a.name;
            match &a.stored {
                Stored::Ref(_) => quote!(#n: ::std::borrow::ToOwned::to_owned(#n)),
                _ => quote!(#n),
            }
        });
        let finite = m.args.iter().map(|a| {
            let n = &a.name;
            let s = n.to_string();
            quote_spanned!(n.span()=> ::vi::data::check_argument(&#n, #s)?;)
        });
        let srcs = &m.srcs;
        let terms = &m.terms;
        let n_srcs = m.srcs.len();
        let n_obs = m.observed.len();
        let n_cached = m.cached.len();
        let observed = &m.observed;
        let warnings = warnings(&m.warnings);

        let bind = self.bind_data();
        let lp_body = self.block(&m.body, Mode::whole(Pass::Density));
        // The log density alone: the values of the body's `let`s are done with at its end.
        let lp_done = self.recycle_lets(&m.body, false);
        let latents_done = super::lower::recycle(m.latents.iter().map(|l| vname(&l.binding)));
        let lp_body = quote!(#lp_body #lp_done #latents_done);
        let terms_body = self.block(&m.body, Mode::whole(Pass::Terms));
        let build_body = self.block(&m.body, Mode::whole(Pass::Build));
        let sim_body = self.block(&m.body, Mode::whole(Pass::Simulate));
        let derive_body = if m.kept.is_empty() {
            quote!()
        } else {
            self.block(&m.body, Mode::whole(Pass::Derive))
        };
        let grad_body = self.block(&m.body, Mode::whole(Pass::Gradient));
        // The rules' traits, for method-call dispatch on operands (`(&Bin(&a, &b)).mul_fwd()`).
        let rules = quote! {
            #[allow(unused_imports)]
            use ::vi::__private::{
                ScalarRules as _, ColScalarRules as _, GeneralAdd as _, GeneralSub as _,
                GeneralMul as _, GeneralDiv as _, ScalarMulAdd as _, GeneralMulAdd as _, ColMulAdd as _,
            };
        };
        let grad_done = super::lower::recycle(
            m.latents
                .iter()
                .flat_map(|l| [vname(&l.binding), gname(&l.binding)]),
        );
        let grad_out = m.latents.iter().enumerate().map(|(k, l)| {
            let g = gname(&l.binding);
            quote!(::vi::__private::Latent::grad_back(&#g, theta, &__params[#k], grad, jacobian);)
        });
        let doc_ctor = format!(
            "Builds the model `{name}` from its data, checking every value (finite, inside its \
             distribution's support) and every shape.\n\n# Errors\n\nA \
             [`ModelError`](::vi::ModelError) naming the statement, the argument and the index."
        );
        let doc_struct = format!(
            "The model `{name}` with its data, built by [`{name}`]; implements \
             [`Model`](::vi::Model)."
        );
        let doc_sim = "Draws one replicate of every observation at the given parameter values \
            (constrained scale, in the layout's order): the posterior predictive when the values \
            are a posterior draw. Returns (observed expression, draws) per observation statement.";

        // The data operands' slots and the values' the bodies above made.
        let n_cached = n_cached.max(self.values.count());
        // The gathers' kept checks after those (`Model::gathers`).
        let n_slots = n_cached + m.gathers;
        let gathers = (m.gathers > 0).then(|| quote!(const __GATHERS: usize = #n_cached;));
        quote! {
            #(#attrs)*
            #[doc = ""]
            #[doc = #doc_struct]
            #vis struct #sname {
                #(#fields,)*
                __layout: ::vi::__private::ParamLayout,
                __derived: ::vi::__private::ParamLayout,
                __cache: ::vi::__private::DataCache,
            }

            #(#attrs)*
            #[doc = ""]
            #[doc = #doc_ctor]
            #[allow(clippy::too_many_arguments, clippy::ptr_arg)]
            #vis fn #name(#(#params),*) -> ::core::result::Result<#sname, ::vi::__private::ModelError> {
                #warnings
                #(#finite)*
                let mut __model = #sname {
                    #(#inits,)*
                    __layout: ::vi::__private::ParamLayout::new(),
                    __derived: ::vi::__private::ParamLayout::new(),
                    __cache: ::vi::__private::DataCache::new(#n_slots),
                };
                let (__layout, __derived) = ::vi::__private::catch(#sname::__SRCS, || __model.__build())?;
                __model.__layout = __layout;
                __model.__derived = __derived;
                ::core::result::Result::Ok(__model)
            }

            #[allow(
                unused_variables, unused_mut, unused_assignments, unused_braces, unused_parens,
                non_snake_case, clippy::all, clippy::pedantic
            )]
            const _: () = {
                impl #sname {
                    const __SRCS: &'static [&'static str] = &[#(#srcs),*];
                    const __TERMS: &'static [usize] = &[#(#terms),*];
                    const __OBSERVED: &'static [&'static str] = &[#(#observed),*];
                    #gathers

                    fn __build(&self) -> ::core::result::Result<(::vi::__private::ParamLayout, ::vi::__private::ParamLayout), ::vi::__private::Fail> {
                        #rules
                        let mut __layout = ::vi::__private::ParamLayout::new();
                        let mut __derived = ::vi::__private::ParamLayout::new();
                        #bind
                        let mut __lp = 0.0f64;
                        #build_body
                        ::core::result::Result::Ok((__layout, __derived))
                    }

                    fn __derive(&self, constrained: &[f64], __out: &mut [f64]) -> ::core::result::Result<(), ::vi::__private::Fail> {
                        #rules
                        let __params = self.__layout.params();
                        #bind
                        let mut __off = 0usize;
                        #derive_body
                        ::core::result::Result::Ok(())
                    }

                    fn __lp(&self, theta: &[f64], jacobian: bool) -> ::core::result::Result<f64, ::vi::__private::Fail> {
                        #rules
                        let __params = self.__layout.params();
                        #bind
                        let mut __lp = 0.0f64;
                        #lp_body
                        ::core::result::Result::Ok(__lp)
                    }

                    fn __terms(&self, theta: &[f64]) -> ::core::result::Result<::std::vec::Vec<f64>, ::vi::__private::Fail> {
                        #rules
                        let __params = self.__layout.params();
                        let jacobian = true;
                        #bind
                        let mut __lp = 0.0f64;
                        let mut __terms = ::std::vec![0.0f64; #n_srcs];
                        #terms_body
                        ::core::result::Result::Ok(__terms)
                    }

                    fn __grad(&self, theta: &[f64], grad: &mut [f64], jacobian: bool) -> ::core::result::Result<f64, ::vi::__private::Fail> {
                        #rules
                        let __params = self.__layout.params();
                        #bind
                        let mut __lp = 0.0f64;
                        #grad_body
                        #(#grad_out)*
                        #grad_done
                        ::core::result::Result::Ok(__lp)
                    }

                    fn __sim<R: ::vi::__private::rand::Rng + ?Sized>(
                        &self,
                        constrained: &[f64],
                        __rng: &mut R,
                        __sims: &mut ::std::vec::Vec<::std::vec::Vec<f64>>,
                    ) -> ::core::result::Result<(), ::vi::__private::Fail> {
                        #rules
                        let __params = self.__layout.params();
                        #bind
                        #sim_body
                        ::core::result::Result::Ok(())
                    }

                    #[doc = #doc_sim]
                    #[allow(dead_code)]
                    pub fn simulate(
                        &self,
                        constrained: &[f64],
                        rng: &mut impl ::vi::__private::rand::Rng,
                    ) -> ::std::vec::Vec<(::std::string::String, ::std::vec::Vec<f64>)> {
                        let mut __sims = ::std::vec![::std::vec::Vec::new(); #n_obs];
                        let _ = self.__sim(constrained, rng, &mut __sims);
                        Self::__OBSERVED
                            .iter()
                            .zip(__sims)
                            .map(|(n, v)| (::std::string::ToString::to_string(n), v))
                            .collect()
                    }
                }

                #simulate_impl

                impl ::vi::__private::Model for #sname {
                    fn layout(&self) -> &::vi::__private::ParamLayout {
                        &self.__layout
                    }

                    fn derived_layout(&self) -> &::vi::__private::ParamLayout {
                        &self.__derived
                    }

                    fn derive(&self, x: &[f64], out: &mut [f64]) {
                        if self.__derive(x, out).is_err() {
                            out.fill(f64::NAN);
                        }
                    }

                    fn log_density_jac(&self, theta: &[f64], jacobian: bool) -> f64 {
                        self.__lp(theta, jacobian).unwrap_or(f64::NAN)
                    }

                    fn log_density_grad_jac(&self, theta: &[f64], grad: &mut [f64], jacobian: bool) -> f64 {
                        match self.__grad(theta, grad, jacobian) {
                            ::core::result::Result::Ok(v) => v,
                            ::core::result::Result::Err(_) => {
                                for g in grad.iter_mut() {
                                    *g = f64::NAN;
                                }
                                f64::NAN
                            }
                        }
                    }

                    fn subsample_rows(&self) -> ::core::result::Result<usize, ::std::string::String> {
                        self.__subsample_rows()
                    }

                    fn subsample(&self, rows: &[usize]) -> ::core::result::Result<::std::boxed::Box<dyn ::vi::__private::Model + '_>, ::std::string::String> {
                        ::core::result::Result::Ok(::std::boxed::Box::new(self.__subsample(rows)?))
                    }

                    fn log_density_terms(&self, theta: &[f64]) -> ::std::vec::Vec<(::std::string::String, f64)> {
                        match self.__terms(theta) {
                            ::core::result::Result::Ok(t) => Self::__TERMS
                                .iter()
                                .map(|&k| (::std::string::ToString::to_string(Self::__SRCS[k]), t[k]))
                                .collect(),
                            ::core::result::Result::Err(_) => ::std::vec::Vec::new(),
                        }
                    }
                }
            };
        }
    }

    /// A lowering of statement `src` whose data operands use the model's `DataCache`.
    pub(super) fn lowering(&self, src: usize) -> Lowering {
        let loops = self.loops.get(&src).cloned().unwrap_or_default();
        Lowering::new(src)
            .with_cache(&self.slots)
            .with_values(&self.values)
            .with_loops(loops)
    }

    pub(super) fn bind_data(&self) -> TokenStream {
        let binds = self.m.args.iter().map(|a| {
            let n = &a.name;
            let t = &a.ty;
            match &a.stored {
                Stored::Ref(inner) => {
                    quote!(let #n: &#inner = ::std::borrow::Borrow::borrow(&self.#n);)
                }
                Stored::Copy => quote!(let #n: #t = self.#n;),
                Stored::Owned => quote!(let #n: &#t = &self.#n;),
            }
        });
        let memos = self.memos();
        quote!(#(#binds)* #memos)
    }

    /// One kernel memo per distribution statement (`__k{src}`), declared once per call so a
    /// statement in a loop keeps its parameter-only pieces (`ln(sigma)`) across iterations.
    pub(super) fn memos(&self) -> TokenStream {
        let mut out = Vec::new();
        crate::ir::walk(&self.m.body, &mut |s| {
            if let Stmt::Latent { dist, src, .. }
            | Stmt::Observe { dist, src, .. }
            | Stmt::Density { dist, src, .. } = s
            {
                if dist.slice_kernel()
                    || dist.support.multivariate()
                    || dist.support == crate::catalogue::Support::Flat
                {
                    // Called on slices or directly (`codegen::multi`), or no kernel at all
                    // (`Flat`): no memo.
                    return;
                }
                let k = format_ident!("__k{}", src);
                let module = format_ident!("{}", dist.module);
                out.push(quote! {
                    let mut #k = <::vi::__private::dist::#module::Scalar as ::core::default::Default>::default();
                });
            }
        });
        quote!(#(#out)*)
    }
}
