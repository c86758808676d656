//! What the macros read from the user's code: an isolate's state (struct or enum, also the
//! input of the derives) and its `#[isolate]` impl block, classified into `init`, handlers,
//! hooks and helpers. Shape mistakes are recorded here, each at the offending token.

use proc_macro2::Span;
use quote::{ToTokens, format_ident};
use syn::visit_mut::VisitMut;
use syn::{
    Data, DeriveInput, FnArg, Ident, ImplItem, ImplItemFn, ItemImpl, ReturnType, Signature, Type,
};

use crate::attr;
use crate::errors::Errors;

/// A struct or enum whose fields must all be `Bounded`: an isolate's state, or the input of
/// `#[derive(Bounded)]`.
pub(crate) struct Container<'a> {
    pub(crate) ident: &'a Ident,
    /// Every field's type, with `Self` replaced by the container's own type.
    pub(crate) fields: Vec<Field<'a>>,
}

/// One field of a [`Container`].
pub(crate) struct Field<'a> {
    /// As written, for spans and messages.
    pub(crate) written: &'a Type,
    /// With `Self` replaced, for use outside the item.
    pub(crate) resolved: Type,
}

impl<'a> Container<'a> {
    /// Reads `input`; a union is refused (its fields overlap, so none can be checked alone).
    pub(crate) fn from_input(
        input: &'a DeriveInput,
        what: &str,
        errors: &mut Errors,
    ) -> Option<Container<'a>> {
        let fields: Vec<&syn::Field> = match &input.data {
            Data::Struct(data) => data.fields.iter().collect(),
            Data::Enum(data) => data
                .variants
                .iter()
                .flat_map(|variant| &variant.fields)
                .collect(),
            Data::Union(data) => {
                errors.spanned(
                    data.union_token,
                    format!("{what} must be a struct or an enum, not a union"),
                );
                return None;
            }
        };
        let (_, type_generics, _) = input.generics.split_for_impl();
        let ident = &input.ident;
        let own_type: Type = syn::parse_quote!(#ident #type_generics);
        let fields = fields
            .into_iter()
            .map(|field| Field {
                written: &field.ty,
                resolved: replace_self(&field.ty, &own_type),
            })
            .collect();
        Some(Container { ident, fields })
    }
}

/// An `#[isolate]` impl block, classified.
pub(crate) struct IsolateImpl<'a> {
    pub(crate) item: &'a ItemImpl,
    /// The isolate type's name: the last segment of the self type.
    pub(crate) name: Ident,
    pub(crate) init: Option<Init<'a>>,
    pub(crate) handlers: Vec<Handler<'a>>,
    pub(crate) resume: Option<&'a Ident>,
    pub(crate) shutdown: Option<&'a Ident>,
}

/// The `init` method: `fn init(args: &Args, ctx: &mut Ctx<Self>) -> Self`, or
/// `fn init(ctx: &mut Ctx<Self>) -> Self` when there are no args.
pub(crate) struct Init<'a> {
    /// The `Args` of `args: &Args`, as written (`None` without args).
    pub(crate) args: Option<&'a Type>,
    /// The same with `Self` replaced, for the trait impl.
    pub(crate) args_resolved: Option<Type>,
}

/// One handler: `fn name(&mut self, message: M, ctx: &mut Ctx<Self>) -> Effect`, or, for a
/// request it answers, `fn name(&mut self, request: Q, reply: ReplyTo<Q>, ctx: &mut Ctx<Self>)
/// -> Effect`.
pub(crate) struct Handler<'a> {
    pub(crate) method: &'a Ident,
    /// The `ReplyTo<Q>` parameter's type as written, for a handler that answers a request.
    pub(crate) reply: Option<&'a Type>,
    /// The return type as written, where a mismatch with `Effect` is reported.
    pub(crate) output: Option<&'a Type>,
    /// The message type as written, for spans and messages.
    pub(crate) message: &'a Type,
    /// The message type with `Self` replaced, for use outside the impl block.
    pub(crate) message_resolved: Type,
    /// The variant of the message enum: the method's name in CamelCase.
    pub(crate) variant: Ident,
}

impl<'a> IsolateImpl<'a> {
    /// Reads and classifies `item`, recording every shape mistake. Returns `None` when the
    /// block is not something an isolate can be built from at all.
    pub(crate) fn from_item(item: &'a ItemImpl, errors: &mut Errors) -> Option<IsolateImpl<'a>> {
        if let Some((_, path, _)) = &item.trait_ {
            errors.spanned(
                path,
                "`#[isolate]` goes on the isolate's own impl block (`impl Account { … }`), not on \
                 a trait impl",
            );
            return None;
        }
        if let Some(unsafety) = item.unsafety {
            errors.spanned(unsafety, "an `#[isolate]` impl block cannot be `unsafe`");
        }
        if let Some(lifetime) = item.generics.lifetimes().next() {
            errors.spanned(
                lifetime,
                "an isolate owns its state and cannot borrow: lifetime parameters are not allowed",
            );
        }
        let name = match &*item.self_ty {
            Type::Path(path) if path.qself.is_none() => path
                .path
                .segments
                .last()
                .map(|segment| segment.ident.clone()),
            _ => None,
        };
        let Some(name) = name else {
            errors.spanned(
                &item.self_ty,
                "`#[isolate]` goes on the impl block of the isolate's struct: `impl Account { … }`",
            );
            return None;
        };
        let self_type = &*item.self_ty;
        let mut parsed = IsolateImpl {
            item,
            name,
            init: None,
            handlers: Vec::new(),
            resume: None,
            shutdown: None,
        };
        for impl_item in &item.items {
            match impl_item {
                ImplItem::Fn(method) => parsed.classify(method, self_type, errors),
                ImplItem::Macro(invocation) => errors.spanned(
                    &invocation.mac,
                    "macro invocations inside an `#[isolate]` impl cannot be read as handlers; \
                     move this one to a separate impl block",
                ),
                _ => {}
            }
        }
        if parsed.init.is_none() && !item.items.iter().any(is_method_named_init) {
            errors.spanned(
                &item.self_ty,
                format!(
                    "`{}` has no `init`: add `fn init(args: &Args, ctx: &mut Ctx<Self>) -> Self` \
                     (or `fn init(ctx: &mut Ctx<Self>) -> Self` when there are no args) to this \
                     impl block",
                    parsed.name
                ),
            );
        }
        Some(parsed)
    }

    fn classify(&mut self, method: &'a ImplItemFn, self_type: &Type, errors: &mut Errors) {
        if attr::is_helper(&method.attrs, errors) {
            return;
        }
        let signature = &method.sig;
        let name = signature.ident.to_string();
        match name.as_str() {
            "init" => self.init = parse_init(signature, self_type, errors),
            "resume" | "shutdown" => {
                if parse_hook(signature, errors) {
                    if name == "resume" {
                        self.resume = Some(&signature.ident);
                    } else {
                        self.shutdown = Some(&signature.ident);
                    }
                }
            }
            _ => {
                if let Some(handler) = parse_handler(signature, self_type, errors) {
                    self.handlers.push(handler);
                }
            }
        }
    }
}

fn is_method_named_init(item: &ImplItem) -> bool {
    matches!(item, ImplItem::Fn(method) if method.sig.ident == "init")
}

/// The shape every handler follows, for error messages.
const HANDLER_SHAPE: &str = "fn name(&mut self, message: M, ctx: &mut Ctx<Self>) -> Effect";
/// The shape of a handler that answers a request, for error messages.
const REQUEST_SHAPE: &str =
    "fn name(&mut self, request: Q, reply: ReplyTo<Q>, ctx: &mut Ctx<Self>) -> Effect";
const INIT_SHAPE: &str = "fn init(args: &Args, ctx: &mut Ctx<Self>) -> Self";

/// Refuses what no handler, hook or `init` may be: `async`, `unsafe`, `extern`, generic.
fn check_plain(signature: &Signature, role: &str, errors: &mut Errors) -> bool {
    let mut plain = true;
    if let Some(asyncness) = signature.asyncness {
        errors.spanned(
            asyncness,
            format!(
                "{role} cannot be `async`: handlers are synchronous and return at once; remove \
                 `async`, and wait for work by returning an `Effect` (send a message, \
                 `ctx.call`, a timer) and handling the answer as a message"
            ),
        );
        plain = false;
    }
    if let Some(unsafety) = signature.unsafety {
        errors.spanned(unsafety, format!("{role} cannot be `unsafe`"));
        plain = false;
    }
    if let Some(abi) = &signature.abi {
        errors.spanned(abi, format!("{role} cannot have an `extern` ABI"));
        plain = false;
    }
    if !signature.generics.params.is_empty() {
        errors.spanned(
            &signature.generics,
            format!("{role} cannot be generic: each handler takes one concrete message type"),
        );
        plain = false;
    }
    if let Some(variadic) = &signature.variadic {
        errors.spanned(variadic, format!("{role} cannot be variadic"));
        plain = false;
    }
    plain
}

/// Whether `argument` is `&mut self` (or `self: &mut Self`).
fn is_mut_self(argument: Option<&FnArg>) -> bool {
    match argument {
        Some(FnArg::Receiver(receiver)) => {
            matches!(&*receiver.ty, Type::Reference(reference) if reference.mutability.is_some())
        }
        _ => false,
    }
}

/// The type of a typed (non-`self`) argument.
fn typed(argument: &FnArg) -> Option<&Type> {
    match argument {
        FnArg::Typed(typed) => Some(&typed.ty),
        FnArg::Receiver(_) => None,
    }
}

/// Checks that `ty` is a `&mut` reference: the context parameter.
fn check_context(ty: &Type, role: &str, shape: &str, errors: &mut Errors) -> bool {
    if matches!(ty, Type::Reference(reference) if reference.mutability.is_some()) {
        return true;
    }
    errors.spanned(
        ty,
        format!("the last parameter of {role} is the context, `ctx: &mut Ctx<Self>`: `{shape}`"),
    );
    false
}

/// The span covering a signature's parameter list.
fn parameters_span(signature: &Signature) -> Span {
    signature.paren_token.span.join()
}

/// Checks that a handler or hook returns `Effect`.
fn check_returns_effect(
    signature: &Signature,
    role: &str,
    shape: &str,
    errors: &mut Errors,
) -> bool {
    match &signature.output {
        ReturnType::Default => {
            errors.at(
                parameters_span(signature),
                format!(
                    "{role} must return the isolate's next state, an `Effect` (usually \
                     `Effect::Receive`): `{shape}`"
                ),
            );
            false
        }
        ReturnType::Type(_, ty) if !last_segment_is(ty, "Effect") => {
            errors.spanned(
                ty,
                format!(
                    "{role} must return `Effect`, the isolate's next state, not `{}`: `{shape}`",
                    tokens_text(ty)
                ),
            );
            false
        }
        ReturnType::Type(..) => true,
    }
}

fn parse_handler<'a>(
    signature: &'a Signature,
    self_type: &Type,
    errors: &mut Errors,
) -> Option<Handler<'a>> {
    let role = format!("the handler `{}`", signature.ident);
    let mut valid = check_plain(signature, &role, errors);
    let inputs: Vec<&FnArg> = signature.inputs.iter().collect();
    if !is_mut_self(inputs.first().copied()) {
        let returns_effect =
            matches!(&signature.output, ReturnType::Type(_, ty) if last_segment_is(ty, "Effect"));
        let message = if returns_effect {
            format!(
                "{role} takes `&mut self` first: `{HANDLER_SHAPE}` (a method that is not a \
                 handler goes in another impl block, or is marked `#[isolate(helper)]`)"
            )
        } else {
            format!(
                "`{}` is not a handler (a handler is `{HANDLER_SHAPE}`): if it is a helper \
                 the handlers call, mark it `#[isolate(helper)]` or move it to a plain `impl` \
                 block",
                signature.ident
            )
        };
        match inputs.first() {
            Some(first) => errors.spanned(first, message),
            None => errors.at(parameters_span(signature), message),
        }
        return None;
    }
    if inputs.len() != 3 && inputs.len() != 4 {
        errors.at(
            parameters_span(signature),
            format!(
                "{role} takes a message and the context after `&mut self`, found {} parameter{}: \
                 `{HANDLER_SHAPE}` (or, answering a request, `{REQUEST_SHAPE}`); a method that \
                 is not a handler is marked `#[isolate(helper)]` or goes in a plain impl block",
                inputs.len() - 1,
                if inputs.len() == 2 { "" } else { "s" }
            ),
        );
        return None;
    }
    let message = typed(inputs[1])?;
    if let Type::Reference(reference) = message
        && !is_static_shared(reference)
    {
        errors.spanned(
            message,
            format!(
                "{role} takes its message by value: a message outlives the handler call that \
                 sent it, so it cannot borrow; {}",
                owned_instead(&reference.elem)
            ),
        );
        valid = false;
    }
    if let Type::ImplTrait(_) = message {
        errors.spanned(
            message,
            format!("{role} takes one concrete message type, not `impl …`"),
        );
        valid = false;
    }
    let reply = if inputs.len() == 4 {
        let reply = typed(inputs[2])?;
        if !last_segment_is(reply, "ReplyTo") {
            errors.spanned(
                reply,
                format!(
                    "{role} has a parameter between the message and the context: that is the \
                     reply address of a request, `reply: ReplyTo<{}>`: `{REQUEST_SHAPE}`",
                    tokens_text(message)
                ),
            );
            valid = false;
        }
        Some(reply)
    } else {
        None
    };
    let (context, shape) = match reply {
        Some(_) => (inputs[3], REQUEST_SHAPE),
        None => (inputs[2], HANDLER_SHAPE),
    };
    valid &= check_context(typed(context)?, &role, shape, errors);
    valid &= check_returns_effect(signature, &role, shape, errors);
    let output = match &signature.output {
        ReturnType::Type(_, ty) => Some(&**ty),
        ReturnType::Default => None,
    };
    valid.then(|| Handler {
        method: &signature.ident,
        reply,
        output,
        message,
        message_resolved: replace_self(message, self_type),
        variant: format_ident!(
            "{}",
            camel_case(&signature.ident),
            span = signature.ident.span()
        ),
    })
}

fn parse_init<'a>(
    signature: &'a Signature,
    self_type: &Type,
    errors: &mut Errors,
) -> Option<Init<'a>> {
    let role = "`init`";
    let mut valid = check_plain(signature, role, errors);
    let inputs: Vec<&FnArg> = signature.inputs.iter().collect();
    if let Some(FnArg::Receiver(receiver)) = inputs.first() {
        errors.spanned(
            receiver,
            format!("`init` builds the state, so it takes no `self`: `{INIT_SHAPE}`"),
        );
        return None;
    }
    let (args, context) = match inputs.as_slice() {
        [context] => (None, typed(context)?),
        [args, context] => {
            let args = typed(args)?;
            match args {
                Type::Reference(reference) if reference.mutability.is_none() => {
                    (Some(&*reference.elem), typed(context)?)
                }
                _ => {
                    errors.spanned(
                        args,
                        format!(
                            "`init` borrows its args, which the runtime keeps to run `init` \
                             again on a restart: write `args: &{}`",
                            tokens_text(strip_reference(args))
                        ),
                    );
                    return None;
                }
            }
        }
        _ => {
            errors.at(
                parameters_span(signature),
                format!(
                    "`init` takes its args and the context, found {} parameters: `{INIT_SHAPE}`, \
                     or `fn init(ctx: &mut Ctx<Self>) -> Self` without args",
                    inputs.len()
                ),
            );
            return None;
        }
    };
    valid &= check_context(context, role, INIT_SHAPE, errors);
    match &signature.output {
        ReturnType::Default => {
            errors.at(
                parameters_span(signature),
                format!("`init` returns the isolate's new state: `{INIT_SHAPE}`"),
            );
            valid = false;
        }
        ReturnType::Type(_, ty) if matches!(&**ty, Type::Tuple(tuple) if tuple.elems.is_empty()) => {
            errors.spanned(
                ty,
                format!("`init` returns the isolate's new state: `{INIT_SHAPE}`"),
            );
            valid = false;
        }
        ReturnType::Type(..) => {}
    }
    valid.then(|| Init {
        args,
        args_resolved: args.map(|args| replace_self(args, self_type)),
    })
}

/// `resume` and `shutdown`: `fn name(&mut self, ctx: &mut Ctx<Self>) -> Effect`.
fn parse_hook(signature: &Signature, errors: &mut Errors) -> bool {
    let name = &signature.ident;
    let when = if name == "resume" {
        "after the isolate returned `Effect::Yield`"
    } else {
        "when the system shuts down"
    };
    let shape = format!("fn {name}(&mut self, ctx: &mut Ctx<Self>) -> Effect");
    let role = format!("`{name}`");
    let mut valid = check_plain(signature, &role, errors);
    let inputs: Vec<&FnArg> = signature.inputs.iter().collect();
    if !is_mut_self(inputs.first().copied()) || inputs.len() != 2 {
        errors.at(
            parameters_span(signature),
            format!(
                "`{name}` is the hook the runtime runs {when}: `{shape}`; a handler for a \
                 message needs another name"
            ),
        );
        return false;
    }
    if let Some(context) = typed(inputs[1]) {
        valid &= check_context(context, &role, &shape, errors);
    }
    valid & check_returns_effect(signature, &role, &shape, errors)
}

/// Whether `ty` is a path whose last segment is `name` (`Effect`, `tina::Effect`, …).
fn last_segment_is(ty: &Type, name: &str) -> bool {
    match ty {
        Type::Path(path) => path
            .path
            .segments
            .last()
            .is_some_and(|segment| segment.ident == name),
        Type::Group(group) => last_segment_is(&group.elem, name),
        Type::Paren(paren) => last_segment_is(&paren.elem, name),
        _ => false,
    }
}

/// Whether `reference` is `&'static T`: it borrows nothing that can go away, so it is a
/// message like any other (the `Bounded` trait decides, as for `&'static str`).
fn is_static_shared(reference: &syn::TypeReference) -> bool {
    reference.mutability.is_none()
        && reference
            .lifetime
            .as_ref()
            .is_some_and(|lifetime| lifetime.ident == "static")
}

/// What to take instead of a borrow of `inner`, as the end of an error message.
fn owned_instead(inner: &Type) -> String {
    match inner {
        Type::Slice(slice) => format!(
            "take a fixed-capacity copy, `heapless::Vec<{0}, N>` or an array `[{0}; N]`, or a \
             transfer buffer (`tina::Buffer`); a table compiled into the program can be \
             `&'static [{0}]`",
            tokens_text(&slice.elem)
        ),
        Type::Path(path) if path.path.is_ident("str") => "take a `heapless::String<N>`, or \
             `&'static str` for text compiled into the program"
            .to_owned(),
        other => match crate::validate::fix_for(other) {
            Some(fix) => format!(
                "`{}` can grow without limit, so do not take it by value either: {fix}",
                tokens_text(other)
            ),
            None => format!("write `message: {}`", tokens_text(other)),
        },
    }
}

fn strip_reference(ty: &Type) -> &Type {
    match ty {
        Type::Reference(reference) => &reference.elem,
        other => other,
    }
}

/// `on_balance` → `OnBalance`; a raw identifier loses its `r#`.
pub(crate) fn camel_case(ident: &Ident) -> String {
    let name = ident.to_string();
    let name = name.strip_prefix("r#").unwrap_or(&name);
    let mut camel = String::with_capacity(name.len());
    let mut upper = true;
    for character in name.chars() {
        if character == '_' {
            upper = true;
        } else if upper {
            camel.extend(character.to_uppercase());
            upper = false;
        } else {
            camel.push(character);
        }
    }
    if camel.is_empty() {
        "Handler".to_owned()
    } else {
        camel
    }
}

/// `ty` with every bare `Self` replaced by `replacement`, so it can be used outside the impl
/// block or item it was written in.
pub(crate) fn replace_self(ty: &Type, replacement: &Type) -> Type {
    struct ReplaceSelf<'a>(&'a Type);
    impl VisitMut for ReplaceSelf<'_> {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            if let Type::Path(path) = ty
                && path.qself.is_none()
                && path.path.is_ident("Self")
            {
                *ty = self.0.clone();
                return;
            }
            syn::visit_mut::visit_type_mut(self, ty);
        }
    }
    let mut ty = ty.clone();
    ReplaceSelf(replacement).visit_type_mut(&mut ty);
    ty
}

/// Tokens as a person would write them: `Vec<u8>` rather than `Vec < u8 >`.
pub(crate) fn tokens_text(tokens: impl ToTokens) -> String {
    let mut text = tokens.to_token_stream().to_string();
    for (from, to) in [
        (" < ", "<"),
        ("< ", "<"),
        (" <", "<"),
        (" >", ">"),
        (" :: ", "::"),
        (":: ", "::"),
        (" ::", "::"),
        (" ,", ","),
        ("& ", "&"),
        ("[ ", "["),
        (" ]", "]"),
        (" ;", ";"),
        ("( ", "("),
        (" )", ")"),
        ("* const ", "*const "),
        ("* mut ", "*mut "),
    ] {
        text = text.replace(from, to);
    }
    text
}

/// A path as written: `std::vec::Vec`.
pub(crate) fn path_text(path: &syn::Path) -> String {
    tokens_text(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_case_names_variants() {
        let ident = |name: &str| Ident::new(name, Span::call_site());
        assert_eq!(camel_case(&ident("deposit")), "Deposit");
        assert_eq!(camel_case(&ident("on_call_result")), "OnCallResult");
        assert_eq!(
            camel_case(&Ident::new_raw("type", Span::call_site())),
            "Type"
        );
    }

    #[test]
    fn tokens_read_as_written() {
        let ty: Type = syn::parse_quote!(std::collections::HashMap<u64, Vec<[u8; 4]>>);
        assert_eq!(
            tokens_text(&ty),
            "std::collections::HashMap<u64, Vec<[u8; 4]>>"
        );
        let ty: Type = syn::parse_quote!(&'static str);
        assert_eq!(tokens_text(&ty), "&'static str");
    }

    #[test]
    fn self_is_replaced() {
        let ty: Type = syn::parse_quote!(Option<Handle<Self>>);
        let replacement: Type = syn::parse_quote!(Worker<T>);
        assert_eq!(
            tokens_text(replace_self(&ty, &replacement)),
            "Option<Handle<Worker<T>>>"
        );
    }
}
