//! Collects every error a macro invocation finds, so the user sees all of them at once.

use proc_macro2::TokenStream;
use quote::ToTokens;

/// The errors found so far, combined into one `syn::Error` (which keeps each span).
#[derive(Default)]
pub(crate) struct Errors {
    combined: Option<syn::Error>,
}

impl Errors {
    /// Records `error`.
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.combined {
            Some(combined) => combined.combine(error),
            None => self.combined = Some(error),
        }
    }

    /// Records `message`, spanning all of `tokens`.
    pub(crate) fn spanned(&mut self, tokens: impl ToTokens, message: impl core::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    /// Records `message` at `span`.
    pub(crate) fn at(&mut self, span: proc_macro2::Span, message: impl core::fmt::Display) {
        self.push(syn::Error::new(span, message));
    }

    /// Whether nothing was recorded.
    pub(crate) fn is_empty(&self) -> bool {
        self.combined.is_none()
    }

    /// One `compile_error!` per recorded error, each at its span.
    pub(crate) fn to_compile_errors(&self) -> TokenStream {
        self.combined
            .as_ref()
            .map(syn::Error::to_compile_error)
            .unwrap_or_default()
    }
}
