//! `#[keep]` values (`analyse/keep.rs`): the constructor's run lays them out (their shapes
//! from the values it computes), and `derive` writes them for each posterior draw.

use proc_macro2::TokenStream;
use quote::quote;

use super::lower::vname;
use super::pass::{Mode, Pass};
use super::Emitter;
use crate::ir::Binding;

impl Emitter<'_> {
    /// After the `let` of `b`: its place in the derived layout (constructor), or its value
    /// written into the draw's derived quantities (`derive`).
    pub(super) fn keep_after(&self, b: &Binding, m: Mode) -> TokenStream {
        if !self.m.kept.iter().any(|k| k.id == b.id) {
            return quote!();
        }
        let v = vname(b);
        let name = b.name.to_string();
        match m.pass {
            Pass::Build => {
                quote!(__derived.push_derived(#name, ::vi::__private::Keep::shape(&#v));)
            }
            Pass::Derive => {
                quote!(__off += ::vi::__private::Keep::write(&#v, &mut __out[__off..]);)
            }
            _ => quote!(),
        }
    }
}
