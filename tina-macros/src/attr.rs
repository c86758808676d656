//! The options the attributes take: `#[isolate(mailbox = N)]` on an isolate's struct,
//! nothing on its impl block, `#[isolate(helper)]` on a method that is not a handler, and
//! `#[reply(T)]` under `#[derive(Request)]`.

use proc_macro2::{Span, TokenStream};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, ExprLit, Lit, Meta, Token, Type};

use crate::errors::Errors;

/// The largest mailbox bound: the macro's copy of `tina_runtime::MAILBOX_MAX` (a proc-macro
/// crate cannot depend on the runtime). The ui tests pin the two together: the maximum
/// compiles and asserts `MAILBOX == MAILBOX_MAX`, one above it does not compile.
pub(crate) const MAILBOX_MAX: u64 = 1 << 16;

/// Parses the options of `#[isolate(…)]` on an isolate's struct or enum: the mailbox bound.
/// Returns `None` after recording why when there is no usable bound.
pub(crate) fn state_options(args: TokenStream, errors: &mut Errors) -> Option<usize> {
    if args.is_empty() {
        errors.at(
            Span::call_site(),
            format!(
                "missing mailbox bound: write `#[isolate(mailbox = N)]` with N in 1..={MAILBOX_MAX}, \
                 how many messages may wait for one isolate"
            ),
        );
        return None;
    }
    let negative = negative_number(&args);
    let parser = Punctuated::<Meta, Token![,]>::parse_terminated;
    let metas = match parser.parse2(args) {
        Ok(metas) => metas,
        Err(error) => {
            errors.at(
                error.span(),
                "malformed isolate options: expected `#[isolate(mailbox = N)]` with an integer N",
            );
            return None;
        }
    };
    let mut mailbox = None;
    let mut seen = false;
    let mut unknown = false;
    for meta in &metas {
        match meta {
            Meta::NameValue(pair) if pair.path.is_ident("mailbox") => {
                if seen {
                    errors.spanned(&pair.path, "the mailbox bound is given twice; keep one");
                    continue;
                }
                seen = true;
                mailbox = mailbox_bound(&pair.value, negative.as_ref(), errors);
            }
            Meta::Path(path) if path.is_ident("mailbox") => {
                seen = true;
                errors.spanned(path, "the mailbox bound needs a value: `mailbox = 64`");
            }
            Meta::List(list) if list.path.is_ident("mailbox") => {
                seen = true;
                errors.spanned(list, "write the mailbox bound as `mailbox = 64`");
            }
            other => {
                unknown = true;
                errors.spanned(
                    other.path(),
                    format!(
                        "unknown isolate option `{}`: the struct attribute takes one option, \
                         the mailbox bound, as `#[isolate(mailbox = N)]` with N in 1..={MAILBOX_MAX}",
                        crate::ast::path_text(other.path())
                    ),
                );
            }
        }
    }
    if !seen && !unknown {
        errors.spanned(
            &metas,
            format!("missing mailbox bound: write `mailbox = N` with N in 1..={MAILBOX_MAX}"),
        );
    }
    mailbox
}

/// The `-` and the number after it, as written in `args`, when there is a negative number:
/// spanning both tokens (a parsed negative literal spans only its `-`).
fn negative_number(args: &TokenStream) -> Option<TokenStream> {
    let tokens: Vec<proc_macro2::TokenTree> = args.clone().into_iter().collect();
    tokens.windows(2).find_map(|pair| match pair {
        [
            proc_macro2::TokenTree::Punct(minus),
            number @ proc_macro2::TokenTree::Literal(_),
        ] if minus.as_char() == '-' => {
            Some(TokenStream::from_iter([pair[0].clone(), number.clone()]))
        }
        _ => None,
    })
}

/// Checks the value of `mailbox = …`: an integer literal in `1..=MAILBOX_MAX`. `negative` is
/// a negative number as written, for the span of its error.
fn mailbox_bound(
    value: &Expr,
    negative: Option<&TokenStream>,
    errors: &mut Errors,
) -> Option<usize> {
    let negative_error = |errors: &mut Errors| {
        let message = format!(
            "the mailbox bound counts messages, so it cannot be negative: use a bound in \
             1..={MAILBOX_MAX}"
        );
        match negative {
            Some(tokens) => errors.spanned(tokens, message),
            None => errors.spanned(value, message),
        }
    };
    let literal = match value {
        Expr::Lit(ExprLit {
            lit: Lit::Int(literal),
            ..
        }) => literal,
        Expr::Lit(ExprLit {
            lit: Lit::Str(literal),
            ..
        }) => {
            errors.spanned(
                literal,
                format!(
                    "the mailbox bound is a number, not a string: `mailbox = {}`",
                    literal.value()
                ),
            );
            return None;
        }
        Expr::Unary(unary) if matches!(unary.op, syn::UnOp::Neg(_)) => {
            negative_error(errors);
            return None;
        }
        other => {
            errors.spanned(
                other,
                format!(
                    "the mailbox bound must be an integer literal such as `mailbox = 64`, so it \
                     can be checked at compile time; `{}` is not one",
                    crate::ast::tokens_text(other)
                ),
            );
            return None;
        }
    };
    if literal.base10_digits().starts_with('-') {
        negative_error(errors);
        return None;
    }
    let bound = match literal.base10_parse::<u64>() {
        Ok(bound) => bound,
        Err(_) => {
            errors.spanned(
                literal,
                format!("the mailbox bound must be an integer in 1..={MAILBOX_MAX}"),
            );
            return None;
        }
    };
    if bound == 0 {
        errors.spanned(
            literal,
            format!(
                "a mailbox bound of 0 could never hold a message: use a bound in 1..={MAILBOX_MAX}"
            ),
        );
        return None;
    }
    if bound > MAILBOX_MAX {
        errors.spanned(
            literal,
            format!(
                "mailbox bound {bound} is above the maximum of {MAILBOX_MAX} \
                 (`tina::MAILBOX_MAX`): use a bound in 1..={MAILBOX_MAX}, or spread the load \
                 over more isolates"
            ),
        );
        return None;
    }
    usize::try_from(bound).ok()
}

/// Checks that `#[isolate]` on an impl block has no options.
pub(crate) fn impl_options(args: TokenStream, errors: &mut Errors) {
    if !args.is_empty() {
        errors.spanned(
            args,
            "`#[isolate]` on an impl block takes no options; the mailbox bound goes on the \
             struct: `#[isolate(mailbox = N)]`",
        );
    }
}

/// Whether `attribute` is one of ours inside an `#[isolate]` impl (`#[isolate(…)]`).
pub(crate) fn is_isolate_attribute(attribute: &Attribute) -> bool {
    attribute.path().is_ident("isolate")
}

/// Whether `attribute` is `#[isolate(helper)]`.
pub(crate) fn marks_helper(attribute: &Attribute) -> bool {
    is_isolate_attribute(attribute)
        && match &attribute.meta {
            Meta::List(list) => {
                syn::parse2::<syn::Ident>(list.tokens.clone()).is_ok_and(|ident| ident == "helper")
            }
            _ => false,
        }
}

/// Whether a method's attributes mark it `#[isolate(helper)]`: an ordinary method kept as
/// written, not a handler. Records anything else written in `#[isolate(…)]` there.
pub(crate) fn is_helper(attributes: &[Attribute], errors: &mut Errors) -> bool {
    let mut helper = false;
    for attribute in attributes
        .iter()
        .filter(|attribute| is_isolate_attribute(attribute))
    {
        if marks_helper(attribute) {
            helper = true;
        } else {
            errors.spanned(
                attribute,
                "inside an `#[isolate]` impl, the only option is `#[isolate(helper)]`, which \
                 marks a method that is not a handler",
            );
        }
    }
    helper
}

/// The `T` of `#[reply(T)]` under `#[derive(Request)]`; records why when it is missing or
/// malformed.
pub(crate) fn reply_type(
    attributes: &[Attribute],
    request: &syn::Ident,
    errors: &mut Errors,
) -> Option<Type> {
    let mut reply = None;
    for attribute in attributes
        .iter()
        .filter(|attribute| attribute.path().is_ident("reply"))
    {
        if reply.is_some() {
            errors.spanned(
                attribute,
                "a request has one reply type; remove this `#[reply(…)]`",
            );
            continue;
        }
        match attribute.parse_args::<Type>() {
            Ok(ty) => reply = Some(ty),
            Err(_) => errors.spanned(
                attribute,
                "write the reply type as `#[reply(YourReply)]`, for example `#[reply(u64)]`",
            ),
        }
    }
    if reply.is_none() && errors.is_empty() {
        errors.spanned(
            request,
            format!(
                "`{request}` derives `Request` but declares no reply type: add \
                 `#[reply(YourReply)]` under the derive, naming what the callee answers with"
            ),
        );
    }
    reply
}

/// Whether `attribute` is a `#[derive(…)]` that lists `Bounded` (however it is pathed).
pub(crate) fn derives_bounded(attribute: &Attribute) -> bool {
    if !attribute.path().is_ident("derive") {
        return false;
    }
    let Ok(paths) = attribute.parse_args_with(
        syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated,
    ) else {
        return false;
    };
    paths.iter().any(|path| {
        path.segments
            .last()
            .is_some_and(|segment| segment.ident == "Bounded")
    })
}

/// `attributes` with `Bounded` taken out of every `#[derive(…)]` (an attribute left empty is
/// dropped).
pub(crate) fn without_bounded_derive(attributes: &[Attribute]) -> Vec<Attribute> {
    attributes
        .iter()
        .filter_map(|attribute| {
            if !derives_bounded(attribute) {
                return Some(attribute.clone());
            }
            let paths = attribute
                .parse_args_with(
                    syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated,
                )
                .ok()?;
            let kept: Vec<&syn::Path> = paths
                .iter()
                .filter(|path| {
                    path.segments
                        .last()
                        .is_none_or(|segment| segment.ident != "Bounded")
                })
                .collect();
            (!kept.is_empty()).then(|| syn::parse_quote!(#[derive(#(#kept),*)]))
        })
        .collect()
}
