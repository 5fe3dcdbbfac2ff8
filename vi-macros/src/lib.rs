//! The `model!` macro of the `vi` crate. Use it through `vi::model!` / `vi::prelude`.

use proc_macro::TokenStream;

/// Compiles a model written as prior and likelihood statements into a log density and its
/// gradient. See the `vi` crate's documentation.
#[proc_macro]
pub fn model(input: TokenStream) -> TokenStream {
    let _ = input;
    quote::quote!(compile_error!("model! is under construction");).into()
}
