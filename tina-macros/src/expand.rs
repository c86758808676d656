//! Code generation: the message enum, its `Message`, `From` and `Accepts` impls, the
//! `Isolate` impl with the dispatch `match`, the mailbox bound, the derives, and the
//! compile-time assertions. Every path goes through `::tina::__private`, so nothing in the
//! user's scope (a `Result`, `Option` or `Box` of their own) changes what the code means.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{DeriveInput, Generics, ImplItem, ItemImpl, Type};

use crate::ast::{Container, Field, Handler, Init, IsolateImpl, tokens_text};
use crate::attr;
use crate::errors::Errors;
use crate::validate;

/// `::tina::__private`: the one root every generated path starts from.
fn private() -> TokenStream {
    quote!(::tina::__private)
}

/// The runtime, through the facade.
fn runtime() -> TokenStream {
    quote!(::tina::__private::tina_runtime)
}

/// `#[isolate(…)]` on an item: the state (struct or enum) or the impl block.
pub(crate) fn isolate(args: TokenStream, item: TokenStream) -> TokenStream {
    if syn::parse2::<syn::Ident>(args.clone()).is_ok_and(|ident| ident == "helper") {
        // An `#[isolate]` impl removes its helpers' markers; this one was not inside one.
        let error = syn::Error::new_spanned(
            &args,
            "`#[isolate(helper)]` marks a method inside an `#[isolate]` impl block; this impl \
             block has no `#[isolate]`",
        )
        .to_compile_error();
        return quote!(#item #error);
    }
    match syn::parse2::<syn::Item>(item.clone()) {
        Ok(syn::Item::Struct(_) | syn::Item::Enum(_)) => state(args, item),
        Ok(syn::Item::Impl(block)) => impl_block(args, block),
        Ok(other) => {
            let error = syn::Error::new_spanned(
                &other,
                "`#[isolate]` goes on an isolate's struct, as `#[isolate(mailbox = N)]`, and on \
                 its impl block, as `#[isolate]`",
            );
            let error = error.to_compile_error();
            quote!(#item #error)
        }
        Err(error) => {
            let error = error.to_compile_error();
            quote!(#item #error)
        }
    }
}

/// `#[isolate(mailbox = N)]` on the state: the item unchanged, the bound as a hidden trait
/// impl the impl block's expansion reads, and the assertion that every field is `Bounded`.
fn state(args: TokenStream, item: TokenStream) -> TokenStream {
    let input = match syn::parse2::<DeriveInput>(item.clone()) {
        Ok(input) => input,
        Err(error) => {
            let error = error.to_compile_error();
            return quote!(#item #error);
        }
    };
    let mut errors = Errors::default();
    // Without a usable bound, 1 stands in so the impl block expands without a second error.
    let mailbox = attr::state_options(args, &mut errors).unwrap_or(1);
    let container = Container::from_input(&input, "an isolate's state", &mut errors);
    let ident = &input.ident;
    let (impl_generics, type_generics, where_clause) = input.generics.split_for_impl();
    let private = private();
    let mailbox = Literal::usize_unsuffixed(mailbox);
    let checks = container.map(|container| {
        let place = format!("in the state of `{ident}`");
        let assertions =
            bounded_assertions(&container.fields, &input.generics, &place, &mut errors);
        checks_block(
            &input.generics,
            quote!(state_is_bounded),
            &assertions,
            &TokenStream::new(),
        )
    });
    // The `#[isolate]` impl block claims `Bounded` for the state (these assertions check
    // every field), so a derive of `Bounded` here would claim it twice: it is reported and
    // taken out of the derive, so that the report is the only error.
    let runtime = runtime();
    let mut item = item;
    if let Some(derive) = input
        .attrs
        .iter()
        .find(|attribute| attr::derives_bounded(attribute))
    {
        errors.spanned(
            derive,
            "an `#[isolate(mailbox = N)]` struct needs no `#[derive(Bounded)]`: the attribute \
             checks every field itself; remove `Bounded` from this derive",
        );
        let mut stripped = input.clone();
        stripped.attrs = attr::without_bounded_derive(&input.attrs);
        item = quote!(#stripped);
    }
    let errors = errors.to_compile_errors();
    let hide_internal = hide_internal_tokens();
    quote! {
        #item

        // The bound was read from `#[isolate(mailbox = N)]` and checked to be in range, and
        // every field is asserted `Bounded` below.
        #hide_internal
        // SAFETY: so the promise of `IsolateStruct` holds.
        unsafe impl #impl_generics #runtime::IsolateStruct for #ident #type_generics #where_clause {
            const MAILBOX: #private::core::primitive::usize = #mailbox;
        }

        #checks
        #errors
    }
}

/// One `assert_bounded::<T>()` per field whose type the friendly check did not already
/// report, spanned at the field's type.
fn bounded_assertions(
    fields: &[Field<'_>],
    generics: &Generics,
    place: &str,
    errors: &mut Errors,
) -> Vec<TokenStream> {
    fields
        .iter()
        .filter(|field| !validate::unbounded(field.written, place, errors))
        .map(|field| bounded_assertion(field.written, &field.resolved, generics))
        .collect()
}

/// The statement that compiles only when `resolved` (written as `written`, whose span it
/// takes) is `Bounded`. A concrete type is checked through the trait's own constant, so a
/// failure is reported as "`T` is not `Bounded`" with nothing else in the notes; a type that
/// mentions a type parameter goes through `tina::assert_bounded`, whose error suggests the
/// missing `T: Bounded` bound.
fn bounded_assertion(written: &Type, resolved: &Type, generics: &Generics) -> TokenStream {
    let runtime = runtime();
    if mentions_type_parameter(resolved, generics) {
        quote_spanned!(written.span()=> #runtime::assert_bounded::<#resolved>();)
    } else {
        quote_spanned!(written.span()=> let _: () = <#resolved as #runtime::Bounded>::CHECKED;)
    }
}

/// Whether `ty` names one of the type parameters of `generics` anywhere.
fn mentions_type_parameter(ty: &Type, generics: &Generics) -> bool {
    let parameters: Vec<String> = generics
        .type_params()
        .map(|param| param.ident.to_string())
        .collect();
    if parameters.is_empty() {
        return false;
    }
    fn walk(tokens: TokenStream, parameters: &[String]) -> bool {
        tokens.into_iter().any(|token| match token {
            proc_macro2::TokenTree::Ident(ident) => parameters.contains(&ident.to_string()),
            proc_macro2::TokenTree::Group(group) => walk(group.stream(), parameters),
            _ => false,
        })
    }
    walk(quote!(#ty), &parameters)
}

/// `const _: () = { fn name<generics>() { assertions } statements };`: type-level
/// assertions in a function that is never called (it only has to type-check), then
/// statements evaluated at compile time.
fn checks_block(
    generics: &Generics,
    name: TokenStream,
    assertions: &[TokenStream],
    statements: &TokenStream,
) -> TokenStream {
    if assertions.is_empty() && statements.is_empty() {
        return TokenStream::new();
    }
    let (impl_generics, _, where_clause) = generics.split_for_impl();
    let function = (!assertions.is_empty()).then(|| {
        quote! {
            #[allow(dead_code)]
            fn #name #impl_generics () #where_clause {
                #(#assertions)*
            }
        }
    });
    quote! {
        const _: () = {
            #function
            #statements
        };
    }
}

/// Whether `generics` has type or const parameters (lifetimes are refused earlier).
fn is_generic(generics: &Generics) -> bool {
    generics.type_params().next().is_some() || generics.const_params().next().is_some()
}

/// `#[isolate]` on the impl block.
///
/// Mistakes are reported at their tokens, and the expansion goes ahead without the pieces
/// they affect (a broken handler is left out of the message enum, a broken `init` becomes a
/// stub that never runs, since the crate does not compile anyway), so a mistake produces its
/// own error and no errors about missing `Isolate` or `Accepts` impls elsewhere.
fn impl_block(args: TokenStream, item: ItemImpl) -> TokenStream {
    let mut errors = Errors::default();
    attr::impl_options(args, &mut errors);
    let mut written = strip_attributes(&item);
    let Some(isolate) = IsolateImpl::from_item(&item, &mut errors) else {
        let errors = errors.to_compile_errors();
        return quote!(#written #errors);
    };
    let handlers = validate::distinct_handlers(&isolate, &mut errors);
    // Handlers of `Undelivered<M>` receive bounces: they go into the `undelivered` hook, not
    // into the message enum.
    let (bounce_handlers, handlers): (Vec<&Handler<'_>>, Vec<&Handler<'_>>) = handlers
        .into_iter()
        .partition(|handler| undelivered_message(&handler.message_resolved).is_some());
    // The friendly unbounded check; a handler or `init` it reports is left out like a broken
    // one (a non-`Send` message such as `Rc<T>` would otherwise also fail `Message: Send`).
    let handlers: Vec<&Handler<'_>> = handlers
        .into_iter()
        .filter(|handler| {
            let place = format!("in the message of handler `{}`", handler.method);
            !validate::unbounded(handler.message, &place, &mut errors)
        })
        .collect();
    let init = isolate.init.as_ref().filter(|init| {
        init.args.is_none_or(|args| {
            let place = format!("in the init args of `{}`", isolate.name);
            !validate::unbounded(args, &place, &mut errors)
        })
    });
    if !errors.is_empty() {
        // Methods left out of the expansion are not called from it: no dead-code warnings on
        // top of the real errors.
        written.attrs.push(syn::parse_quote!(#[allow(dead_code)]));
    }
    let expansion = expand_isolate(&isolate, &handlers, &bounce_handlers, init, &written);
    let errors = errors.to_compile_errors();
    quote!(#expansion #errors)
}

/// The impl block without our `#[isolate(helper)]` markers. An `async` handler (always a
/// reported error) loses its `async`, so the method raises no second error of its own.
fn strip_attributes(item: &ItemImpl) -> ItemImpl {
    let mut item = item.clone();
    for impl_item in &mut item.items {
        if let ImplItem::Fn(method) = impl_item {
            let helper = method.attrs.iter().any(attr::marks_helper);
            method
                .attrs
                .retain(|attribute| !attr::is_isolate_attribute(attribute));
            if !helper {
                method.sig.asyncness = None;
            }
        }
    }
    item
}

/// Everything generated for an `#[isolate]` impl block: `written` as the user wrote it, the
/// message enum with one variant per handler in `handlers`, its impls, the `Isolate` impl
/// (with a stub `init` when `init` is `None`, which only happens next to a reported error),
/// and the compile-time checks.
fn expand_isolate(
    isolate: &IsolateImpl<'_>,
    handlers: &[&Handler<'_>],
    bounce_handlers: &[&Handler<'_>],
    init: Option<&Init<'_>>,
    written: &ItemImpl,
) -> TokenStream {
    let private = private();
    let runtime = runtime();
    let item = isolate.item;
    let name = &isolate.name;
    let name_text = name.to_string().trim_start_matches("r#").to_owned();
    let self_type = &item.self_ty;
    let generics = &item.generics;
    let (impl_generics, type_generics, where_clause) = generics.split_for_impl();
    let enum_ident = format_ident!("{}Message", name_text, span = name.span());
    let enum_type = quote!(#enum_ident #type_generics);

    let variants: Vec<_> = handlers.iter().map(|handler| &handler.variant).collect();
    let messages: Vec<&Type> = handlers
        .iter()
        .map(|handler| &handler.message_resolved)
        .collect();
    let tags = (0..handlers.len()).map(|index| Literal::u16_unsuffixed(index as u16));

    // The message enum; a generic isolate adds a variant that can never exist, so every type
    // parameter is used even when no message mentions it.
    let type_parameters: Vec<_> = generics.type_params().map(|param| &param.ident).collect();
    let phantom = is_generic(generics).then(|| {
        quote! {
            /// Never constructed: uses the isolate's type parameters.
            #[doc(hidden)]
            __Phantom(
                #private::core::marker::PhantomData<fn() -> (#(#type_parameters,)*)>,
                #private::core::convert::Infallible,
            ),
        }
    });
    let variant_docs = handlers.iter().map(|handler| {
        format!(
            " A `{}`, handled by `{name_text}::{}`.",
            tokens_text(&handler.message_resolved),
            handler.method
        )
    });
    let enum_doc = format!(
        " The messages `{name_text}` handles: one variant per handler (generated by \
         `#[isolate]`)."
    );
    let enum_definition = quote! {
        #[doc = #enum_doc]
        #[allow(private_interfaces, unreachable_pub)]
        pub enum #enum_ident #generics #where_clause {
            #(
                #[doc = #variant_docs]
                #variants(#messages),
            )*
            #phantom
        }
    };

    // `Message`: the tag is the variant's index.
    let phantom_tag = phantom
        .is_some()
        .then(|| quote!(Self::__Phantom(_, never) => match *never {},));
    let tag_body = if handlers.is_empty() && phantom.is_none() {
        quote!(match *self {})
    } else {
        quote! {
            match self {
                #(Self::#variants(_) => #tags,)*
                #phantom_tag
            }
        }
    };
    let message_impl = quote! {
        impl #impl_generics #runtime::Message for #enum_type #where_clause {
            #[inline]
            fn tag(&self) -> #private::core::primitive::u16 {
                #tag_body
            }
        }
    };

    // `From` and `Accepts`: what makes `ctx.send(&handle, Deposit { .. })` compile.
    let hide_internal = hide_internal_tokens();
    let conversions = handlers.iter().map(|handler| {
        let variant = &handler.variant;
        let message = &handler.message_resolved;
        quote_spanned! {handler.message.span()=>
            impl #impl_generics #private::core::convert::From<#message> for #enum_type
                #where_clause
            {
                #[inline]
                fn from(message: #message) -> Self {
                    Self::#variant(message)
                }
            }

            #hide_internal
            impl #impl_generics #runtime::Accepts<#message> for #self_type #where_clause {
                #[inline]
                fn wrap(message: #message) -> #enum_type {
                    #enum_ident::#variant(message)
                }

                #[inline]
                #[allow(unreachable_patterns)]
                fn extract(message: #enum_type) -> #private::core::option::Option<#message> {
                    match message {
                        #enum_ident::#variant(message) => {
                            #private::core::option::Option::Some(message)
                        }
                        _ => #private::core::option::Option::None,
                    }
                }
            }
        }
    });

    // `Answers`: what makes `ctx.call(&handle, request, timeout)` compile, for the requests
    // whose handler takes the reply address.
    let answers = handlers.iter().filter_map(|handler| {
        let reply = handler.reply?;
        let message = &handler.message_resolved;
        Some(quote_spanned! {reply.span()=>
            impl #impl_generics #runtime::Answers<#message> for #self_type #where_clause {}
        })
    });

    // Impls for messages and requests that cannot exist, kept out of diagnostics: with two
    // of each, the compiler never infers the one candidate there is. Sending an unhandled
    // type reports "`Account` does not handle messages of type `Withdraw`" (even for an
    // isolate with one handler or none) instead of a type mismatch naming a hidden type, and
    // a call whose outcome has no handler, or whose target does not answer, names the
    // request instead of `_`. Left out when a handler takes a bare type parameter, whose
    // impl would overlap them.
    let type_parameter_message = handlers.iter().any(|handler| {
        matches!(&handler.message_resolved, Type::Path(path)
            if path.qself.is_none() && type_parameters.iter().any(|param| path.path.is_ident(*param)))
    });
    let unhandled = (!type_parameter_message).then(|| {
        // A message that cannot exist has no values to wrap; a call outcome of a request that
        // cannot exist could only be a timeout or a refusal of a call nobody can make.
        let uninhabited = quote!(match message {});
        let no_call = quote! {
            match message {
                #runtime::CallResult::Reply(never) => match never {},
                #runtime::CallResult::Timeout | #runtime::CallResult::Refused(_) => {
                    #private::core::unreachable!("no call has this request type")
                }
            }
        };
        let impossible = [
            (quote!(#private::Unhandled), &uninhabited),
            (quote!(#private::Unreachable), &uninhabited),
            (quote!(#runtime::CallResult<#private::Unhandled>), &no_call),
            (quote!(#runtime::CallResult<#private::Unreachable>), &no_call),
        ];
        let impls = impossible.iter().map(|(never, unwrap)| {
            quote! {
                #[diagnostic::do_not_recommend]
                impl #impl_generics #runtime::Accepts<#never> for #self_type #where_clause {
                    fn wrap(message: #never) -> #enum_type {
                        #unwrap
                    }

                    fn extract(_message: #enum_type) -> #private::core::option::Option<#never> {
                        #private::core::option::Option::None
                    }
                }
            }
        });
        quote! {
            #(#impls)*

            #[diagnostic::do_not_recommend]
            impl #impl_generics #runtime::Answers<#private::Unhandled> for #self_type #where_clause {}

            #[diagnostic::do_not_recommend]
            impl #impl_generics #runtime::Answers<#private::Unreachable> for #self_type #where_clause {}
        }
    });

    // The `Isolate` impl: the dispatch `match` calls the handlers as written.
    let unit: Type = syn::parse_quote!(());
    let args_type = init
        .and_then(|init| init.args_resolved.as_ref())
        .unwrap_or(&unit);
    let init_body = match init {
        Some(Init { args: Some(_), .. }) => quote!(Self::init(args, ctx)),
        Some(Init { args: None, .. }) => quote! {
            let () = *args;
            Self::init(ctx)
        },
        None => quote! {
            let _ = (args, ctx);
            #private::core::unreachable!("`#[isolate]` reported an error about `init`")
        },
    };
    let mailbox =
        quote_spanned!(self_type.span()=> <#self_type as #runtime::IsolateStruct>::MAILBOX);
    let phantom_arm = phantom
        .is_some()
        .then(|| quote!(#enum_ident::__Phantom(_, never) => match never {},));
    let dispatch = if handlers.is_empty() {
        // No handler: the enum has no variant that can exist, and the context is unused.
        quote! {
            let _ = ctx;
            match message {
                #phantom_arm
            }
        }
    } else {
        let arms = handlers.iter().map(|handler| {
            let variant = &handler.variant;
            let method = handler.method;
            // The call carries the span of the return type as written, so a handler that
            // returns some other type named `Effect` is reported there.
            let span = handler
                .output
                .map_or_else(|| method.span(), |output| output.span());
            match handler.reply {
                Some(reply) => {
                    let message = &handler.message_resolved;
                    let address = quote_spanned! {reply.span()=>
                        #runtime::Ctx::reply_address::<#message>(ctx)
                    };
                    let call = quote_spanned!(span=> self.#method(message, reply, ctx));
                    quote! {
                        #enum_ident::#variant(message) => {
                            let reply = #address;
                            #call
                        }
                    }
                }
                None => {
                    let call = quote_spanned!(span=> self.#method(message, ctx));
                    quote!(#enum_ident::#variant(message) => #call,)
                }
            }
        });
        quote! {
            match message {
                #(#arms)*
                #phantom_arm
            }
        }
    };
    let hooks = [isolate.resume, isolate.shutdown]
        .into_iter()
        .flatten()
        .map(|hook| {
            quote! {
                fn #hook(&mut self, ctx: &mut #runtime::Ctx<'_, Self>) -> #runtime::Effect {
                    Self::#hook(self, ctx)
                }
            }
        });

    // Bounces: one typed attempt per `Undelivered<M>` handler, in declaration order.
    let undelivered_hook = (!bounce_handlers.is_empty()).then(|| {
        let attempts = bounce_handlers.iter().map(|handler| {
            let method = handler.method;
            let inner =
                undelivered_message(&handler.message_resolved).expect("partitioned on this");
            quote! {
                let bounce = match bounce.downcast::<#inner>() {
                    #private::core::result::Result::Ok(bounce) => {
                        return #private::core::result::Result::Ok(self.#method(bounce, ctx));
                    }
                    #private::core::result::Result::Err(bounce) => bounce,
                };
            }
        });
        quote! {
            const HANDLES_UNDELIVERED: #private::core::primitive::bool = true;

            fn undelivered(
                &mut self,
                bounce: #runtime::Bounce,
                ctx: &mut #runtime::Ctx<'_, Self>,
            ) -> #private::core::result::Result<#runtime::Effect, #runtime::Bounce> {
                #(#attempts)*
                let _ = ctx;
                #private::core::result::Result::Err(bounce)
            }
        }
    });

    // Compile-time checks: `Bounded` (type-checked) and the payload size (evaluated).
    let assertions: Vec<TokenStream> = handlers
        .iter()
        .map(|handler| {
            let message = &handler.message_resolved;
            let bounded = bounded_assertion(handler.message, message, generics);
            let send = quote_spanned! {handler.message.span()=>
                #runtime::assert_send::<#message>();
            };
            quote!(#bounded #send)
        })
        .collect();
    let args = init.and_then(|init| init.args.zip(init.args_resolved.as_ref()));
    // The init args need no assertion of their own: `Isolate::Args` requires `Bounded`, and
    // `type Args` carries the span of the args as written, so that bound reports at them.
    let args_item = match args {
        Some((written_args, _)) => quote_spanned!(written_args.span()=> type Args = #args_type;),
        None => quote!(type Args = #args_type;),
    };
    // A message or args type that does not depend on the isolate's type parameters is
    // checked in the constant block, which `cargo check` evaluates; what depends on them (and
    // the enum of a generic isolate) only has a size once the isolate is instantiated, so it
    // is checked in `handle`, when the compiler generates the code of that instance.
    let generic = is_generic(generics);
    let (generic_handlers, concrete_handlers): (Vec<&Handler<'_>>, Vec<&Handler<'_>>) = handlers
        .iter()
        .partition(|handler| mentions_type_parameter(&handler.message_resolved, generics));
    let (generic_args, concrete_args) = match args {
        Some((_, resolved)) if mentions_type_parameter(resolved, generics) => (args, None),
        _ => (None, args),
    };
    let payload_in_block = if generic {
        payload_statements(&concrete_handlers, concrete_args, None, self_type)
    } else {
        payload_statements(handlers, args, Some(&enum_type), self_type)
    };
    let payload_in_handle = generic.then(|| {
        let payload =
            payload_statements(&generic_handlers, generic_args, Some(&enum_type), self_type);
        quote!(const { #payload };)
    });
    let checks = checks_block(
        generics,
        quote!(messages_are_bounded),
        &assertions,
        &payload_in_block,
    );
    let name_literal = Literal::string(&name_text);
    let hide_internal = hide_internal_tokens();

    quote! {
        #written

        #enum_definition

        #message_impl

        #(#conversions)*

        #(#answers)*

        #unhandled

        // `#[isolate(mailbox = N)]` on the struct asserted every field `Bounded`; without it
        // the `IsolateStruct` bound read for `MAILBOX` fails, and nothing compiles.
        #[diagnostic::do_not_recommend]
        // SAFETY: so the state is bounded.
        unsafe impl #impl_generics #runtime::Bounded for #self_type #where_clause {}

        // Every variant holds a message type asserted `Send` below (each at its handler, so a
        // message that is not `Send` is reported there, once), or can never exist.
        // SAFETY: so the enum is `Send`.
        unsafe impl #impl_generics #private::core::marker::Send for #enum_type #where_clause {}

        // Every variant holds a message type asserted `Bounded` below (or, in a generic
        // isolate, required to be by the impl's bounds), or can never exist.
        #[diagnostic::do_not_recommend]
        // SAFETY: so the enum is bounded.
        unsafe impl #impl_generics #runtime::Bounded for #enum_type #where_clause {}

        #hide_internal
        impl #impl_generics #runtime::Isolate for #self_type #where_clause {
            type Message = #enum_type;
            #args_item
            const MAILBOX: #private::core::primitive::usize = #mailbox;
            const NAME: &'static #private::core::primitive::str = #name_literal;

            fn init(args: &Self::Args, ctx: &mut #runtime::Ctx<'_, Self>) -> Self {
                #init_body
            }

            #[inline]
            fn handle(
                &mut self,
                message: Self::Message,
                ctx: &mut #runtime::Ctx<'_, Self>,
            ) -> #runtime::Effect {
                #payload_in_handle
                #dispatch
            }

            #(#hooks)*

            #undelivered_hook
        }

        #checks
    }
}

/// `M` when `ty` is `Undelivered<M>` (by its last path segment, however it is imported):
/// the message type of a bounce handler.
fn undelivered_message(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else { return None };
    if path.qself.is_some() {
        return None;
    }
    let segment = path.path.segments.last()?;
    if segment.ident != "Undelivered" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(arguments) = &segment.arguments else {
        return None;
    };
    let mut types = arguments.args.iter().filter_map(|argument| match argument {
        syn::GenericArgument::Type(ty) => Some(ty),
        _ => None,
    });
    let inner = types.next()?;
    types.next().is_none().then_some(inner)
}

/// Statements that panic at compile time, with the size and the limit, when a message
/// type, the init args or the message enum does not fit an envelope's payload. The first
/// failing one stops the evaluation, so the enum is only blamed when every message fits.
fn payload_statements(
    handlers: &[&Handler<'_>],
    args: Option<(&Type, &Type)>,
    enum_type: Option<&TokenStream>,
    self_type: &Type,
) -> TokenStream {
    // Every token of the statement carries the span of the type, so the compile-time panic
    // is reported at the type rather than at the attribute.
    let check = |function: TokenStream, ty: &TokenStream, text: String, span: proc_macro2::Span| {
        quote_spanned! {span=>
            if let ::tina::__private::core::option::Option::Some(problem) =
                ::tina::__private::#function::<#ty>(#text)
            {
                ::tina::__private::core::panic!("{}", problem.as_str());
            }
        }
    };
    let mut statements = TokenStream::new();
    for handler in handlers {
        let message = &handler.message_resolved;
        statements.extend(check(
            quote!(message_payload_problem),
            &quote!(#message),
            tokens_text(handler.message),
            handler.message.span(),
        ));
    }
    if let Some((written, args)) = args {
        statements.extend(check(
            quote!(args_payload_problem),
            &quote!(#args),
            tokens_text(written),
            written.span(),
        ));
    }
    if let Some(enum_type) = enum_type {
        // Named by the isolate, not by the generated enum.
        let name = match self_type {
            Type::Path(path) => path.path.segments.last().map_or_else(
                || tokens_text(self_type),
                |segment| segment.ident.to_string(),
            ),
            other => tokens_text(other),
        };
        statements.extend(check(
            quote!(enum_payload_problem),
            enum_type,
            name,
            self_type.span(),
        ));
    }
    statements
}

/// `#[derive(Bounded)]`: the impl, with `T: Bounded` for every type parameter, and the
/// assertion that every field is `Bounded`.
pub(crate) fn derive_bounded(input: &DeriveInput) -> TokenStream {
    let runtime = runtime();
    let mut errors = Errors::default();
    let Some(container) = Container::from_input(input, "a `Bounded` type", &mut errors) else {
        return errors.to_compile_errors();
    };
    let generics = with_bound(&input.generics, &quote!(#runtime::Bounded));
    let (impl_generics, type_generics, where_clause) = generics.split_for_impl();
    let ident = container.ident;
    let place = format!("in a field of `{ident}`");
    let assertions = bounded_assertions(&container.fields, &generics, &place, &mut errors);
    let checks = checks_block(
        &generics,
        quote!(fields_are_bounded),
        &assertions,
        &TokenStream::new(),
    );
    let errors = errors.to_compile_errors();
    quote! {
        // SAFETY: every field's type is asserted `Bounded` in the checks below.
        unsafe impl #impl_generics #runtime::Bounded for #ident #type_generics #where_clause {}

        #checks
        #errors
    }
}

/// `#[derive(Request)]` with `#[reply(T)]`: the `Request` impl naming the reply type, and
/// the assertions that the reply is `Bounded` and fits an envelope.
pub(crate) fn derive_request(input: &DeriveInput) -> TokenStream {
    let runtime = runtime();
    let mut errors = Errors::default();
    let ident = &input.ident;
    let Some(reply) = attr::reply_type(&input.attrs, ident, &mut errors) else {
        return errors.to_compile_errors();
    };
    let (impl_generics, type_generics, where_clause) = input.generics.split_for_impl();
    // No assertion of its own: `Request::Reply` requires `Bounded`, and `type Reply` carries
    // the span of the reply as written, so that bound reports there (with the trait's note
    // on what to use instead).
    let assertions: Vec<TokenStream> = Vec::new();
    let reply_item = quote_spanned!(reply.span()=> type Reply = #reply;);
    let payload = if is_generic(&input.generics) {
        TokenStream::new()
    } else {
        let text = tokens_text(&reply);
        quote_spanned! {reply.span()=>
            if let ::tina::__private::core::option::Option::Some(problem) =
                ::tina::__private::reply_payload_problem::<#reply>(#text)
            {
                ::tina::__private::core::panic!("{}", problem.as_str());
            }
        }
    };
    let checks = checks_block(
        &input.generics,
        quote!(reply_is_bounded),
        &assertions,
        &payload,
    );
    let errors = errors.to_compile_errors();
    quote! {
        impl #impl_generics #runtime::Request for #ident #type_generics #where_clause {
            #reply_item
        }

        #checks
        #errors
    }
}

/// `generics` with `bound` added to every type parameter.
fn with_bound(generics: &Generics, bound: &TokenStream) -> Generics {
    let mut generics = generics.clone();
    for param in generics.type_params_mut() {
        param.bounds.push(syn::parse_quote!(#bound));
    }
    generics
}

/// `#[diagnostic::do_not_recommend]` when expanding inside the `tina` facade itself (its
/// own isolates, such as the metrics endpoint), so that they are never offered as examples
/// ("the trait `Isolate` is implemented for `MetricsServer`") in a user's compile errors;
/// nothing elsewhere, where such hints name the user's own types and help.
fn hide_internal_tokens() -> TokenStream {
    if std::env::var("CARGO_PKG_NAME").is_ok_and(|name| name == "tina") {
        quote!(#[diagnostic::do_not_recommend])
    } else {
        TokenStream::new()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use proc_macro2::TokenStream;
    use quote::{ToTokens, quote};
    use syn::{Attribute, Item, Meta};

    /// The attributes of the items the macros apply to.
    fn attributes_mut(item: &mut Item) -> Option<&mut Vec<Attribute>> {
        match item {
            Item::Struct(item) => Some(&mut item.attrs),
            Item::Enum(item) => Some(&mut item.attrs),
            Item::Impl(item) => Some(&mut item.attrs),
            _ => None,
        }
    }

    /// Expands every `#[isolate]` and `#[derive(Bounded)]`/`#[derive(Request)]` in `file`,
    /// as the compiler would, and returns the expanded items.
    fn expand_file(file: &syn::File) -> Vec<TokenStream> {
        let mut expanded = Vec::new();
        for item in &file.items {
            let mut original = item.clone();
            let Some(attributes) = attributes_mut(&mut original).map(|attributes| &*attributes)
            else {
                expanded.push(item.to_token_stream());
                continue;
            };
            fn strip(item: &mut Item) -> &mut Vec<Attribute> {
                attributes_mut(item).expect("an item with attributes")
            }
            let mut plain = item.clone();
            strip(&mut plain).retain(|attribute| {
                !attribute.path().is_ident("isolate") && !attribute.path().is_ident("reply")
            });
            let derives: Vec<String> = attributes
                .iter()
                .filter(|attribute| attribute.path().is_ident("derive"))
                .flat_map(|attribute| attribute.meta.require_list().ok())
                .flat_map(|list| {
                    list.tokens
                        .to_string()
                        .split(',')
                        .map(|name| name.trim().to_owned())
                        .collect::<Vec<_>>()
                })
                .collect();
            // The compiler removes a derive's attribute once it has run; so does this.
            strip(&mut plain).retain(|attribute| !attribute.path().is_ident("derive"));
            let other_derives: Vec<&String> = derives
                .iter()
                .filter(|name| name.as_str() != "Bounded" && name.as_str() != "Request")
                .collect();
            if !other_derives.is_empty() {
                let names = other_derives
                    .iter()
                    .map(|name| syn::Ident::new(name, proc_macro2::Span::call_site()));
                strip(&mut plain).push(syn::parse_quote!(#[derive(#(#names),*)]));
            }
            match attributes
                .iter()
                .find(|attribute| attribute.path().is_ident("isolate"))
            {
                Some(attribute) => {
                    let args = match &attribute.meta {
                        Meta::List(list) => list.tokens.clone(),
                        _ => TokenStream::new(),
                    };
                    expanded.push(super::isolate(args, plain.to_token_stream()));
                }
                None => expanded.push(plain.to_token_stream()),
            }
            let input: syn::DeriveInput = match syn::parse2(item.to_token_stream()) {
                Ok(input) => input,
                Err(_) => continue,
            };
            if derives.iter().any(|name| name == "Bounded") {
                expanded.push(super::derive_bounded(&input));
            }
            if derives.iter().any(|name| name == "Request") {
                expanded.push(super::derive_request(&input));
            }
        }
        expanded
    }

    #[test]
    fn expansion_is_valid_rust_without_errors() {
        let file: syn::File = syn::parse_quote! {
            #[derive(Bounded)]
            struct Deposit { amount: u64 }
            #[isolate(mailbox = 8)]
            struct Account<T: Bounded> { balance: u64, extra: T }
            #[isolate]
            impl<T: Bounded + Send + 'static> Account<T> {
                fn init(_ctx: &mut Ctx<Self>) -> Self { todo() }
                fn deposit(&mut self, deposit: Deposit, _ctx: &mut Ctx<Self>) -> Effect { todo() }
                fn peer(&mut self, peer: Handle<Self>, _ctx: &mut Ctx<Self>) -> Effect { todo() }
                fn resume(&mut self, _ctx: &mut Ctx<Self>) -> Effect { todo() }
            }
        };
        let expanded = expand_file(&file);
        let text = quote!(#(#expanded)*).to_string();
        assert!(!text.contains("compile_error"), "{text}");
        let reparsed: syn::File = syn::parse_str(&text).expect("the expansion parses");
        let names: Vec<String> = reparsed
            .items
            .iter()
            .filter_map(|item| match item {
                Item::Enum(item) => Some(item.ident.to_string()),
                _ => None,
            })
            .collect();
        assert_eq!(names, ["AccountMessage"]);
        assert!(text.contains("Peer (Handle < Account < T > >)"), "{text}");
    }

    /// The compile cost of the macro on the 20-handler ui case. Prints the time per
    /// expansion (the macro's own work, outside the compiler) and, with `EXPANDED_TO=path`,
    /// writes the expanded file: the hand-written twin the compile-time comparison in
    /// BENCHMARKS.md checks against the macro version.
    #[test]
    #[ignore = "a measurement, run by hand: see BENCHMARKS.md"]
    fn expansion_cost_of_twenty_handlers() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../ui-tests/pass/twenty_handlers.rs"
        );
        let source = std::fs::read_to_string(path).expect("the ui case exists");
        let file: syn::File = syn::parse_str(&source).expect("the ui case parses");
        let rounds = 200;
        let started = Instant::now();
        for _ in 0..rounds {
            std::hint::black_box(expand_file(&file));
        }
        let per_file = started.elapsed() / rounds;
        println!(
            "expanding ui-tests/pass/twenty_handlers.rs (1 isolate with 20 handlers, 2 structs, 20 derives): {per_file:?} per file"
        );
        if let Ok(target) = std::env::var("EXPANDED_TO") {
            let expanded = expand_file(&file);
            let attributes = file.attrs.iter();
            let text = quote!(#(#attributes)* #(#expanded)*).to_string();
            std::fs::write(&target, text).expect("the expansion is written");
            println!("wrote the expansion to {target}");
        }
    }
}
