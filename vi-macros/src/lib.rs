//! The `model!` macro of the `vi` crate. Use it through `vi::model!` / `vi::prelude`.
//!
//! The pipeline, one stage per file, each a plain function of the previous one's output:
//! [`parse`] (tokens -> DSL syntax tree), [`analyse`] (names, latent vs observed, shapes,
//! constraints, activity), [`diff`] (the reverse sweep), [`expand`] (quote). Errors go to
//! a [`ctxt::Ctxt`] and are reported together.

mod analyse;
mod ctxt;
mod diff;
mod expand;
mod parse;

use proc_macro::TokenStream;

/// Compiles a model written as prior and likelihood statements into a log density and its
/// gradient. See the `vi` crate's documentation.
#[proc_macro]
pub fn model(input: TokenStream) -> TokenStream {
    let out = run(input.into());
    if std::env::var_os("VI_MACRO_DEBUG").is_some() {
        eprintln!("{out}");
    }
    out.into()
}

/// The whole pipeline on `proc_macro2` tokens (so tests can drive it).
fn run(input: proc_macro2::TokenStream) -> proc_macro2::TokenStream {
    let def: parse::ModelDef = match syn::parse2(input) {
        Ok(d) => d,
        Err(e) => return e.to_compile_error(),
    };
    let cx = ctxt::Ctxt::new();
    let model = analyse::analyse(&cx, &def);
    match cx.check() {
        Ok(()) => expand::expand(&model),
        Err(e) => {
            let errors = e.to_compile_error();
            let stub = expand::fallback(&def);
            quote::quote!(#errors #stub)
        }
    }
}
