//! Checks that need the whole picture: one handler per message type, distinct variant
//! names, and the friendly early error for unbounded collections the macro can see.
//!
//! The sturdy check that nothing unbounded hides in a message, the init args or the state is
//! the `Bounded` trait, asserted by the generated code: it sees through type aliases,
//! generics and nested fields. This module only adds a better message where the type is
//! written out in the macro's input (`Vec<u8>`, `std::collections::HashMap<K, V>`, …), with
//! the span on it; the trait assertion for such a type is then left out, so the user sees one
//! error, not two.

use std::collections::HashMap;

use syn::{GenericArgument, PathArguments, Type, TypePath};

use crate::ast::{Handler, IsolateImpl, tokens_text};
use crate::errors::Errors;

/// How many generic arguments make a type the unbounded standard one (and not a
/// fixed-capacity `heapless` type of the same name, such as `heapless::Vec<T, N>`).
enum Arity {
    Exactly(usize),
    AtLeast(usize),
}

/// A standard type that owns heap memory that can grow, and what to use instead.
struct Unbounded {
    name: &'static str,
    arity: Arity,
    fix: &'static str,
}

const UNBOUNDED: &[Unbounded] = &[
    Unbounded {
        name: "Vec",
        arity: Arity::Exactly(1),
        fix: "use `heapless::Vec<T, N>` or an array `[T; N]`, with a capacity N fixed at compile time",
    },
    Unbounded {
        name: "String",
        arity: Arity::Exactly(0),
        fix: "use `heapless::String<N>`, with a capacity N fixed at compile time",
    },
    Unbounded {
        name: "Box",
        arity: Arity::Exactly(1),
        fix: "store the value itself, not a box of it (bulk data goes in a transfer buffer, `tina::Buffer`)",
    },
    Unbounded {
        name: "Rc",
        arity: Arity::Exactly(1),
        fix: "isolates share nothing: keep the data in one isolate and send copies or `Handle`s",
    },
    Unbounded {
        name: "Arc",
        arity: Arity::Exactly(1),
        fix: "isolates share nothing: keep the data in one isolate and send copies or `Handle`s",
    },
    Unbounded {
        name: "HashMap",
        arity: Arity::AtLeast(2),
        fix: "use `heapless::index_map::FnvIndexMap<K, V, N>` or `heapless::LinearMap<K, V, N>`",
    },
    Unbounded {
        name: "BTreeMap",
        arity: Arity::AtLeast(2),
        fix: "use `heapless::LinearMap<K, V, N>` or `heapless::index_map::FnvIndexMap<K, V, N>`",
    },
    Unbounded {
        name: "HashSet",
        arity: Arity::AtLeast(1),
        fix: "use `heapless::index_set::FnvIndexSet<T, N>`",
    },
    Unbounded {
        name: "BTreeSet",
        arity: Arity::AtLeast(1),
        fix: "use `heapless::index_set::FnvIndexSet<T, N>`",
    },
    Unbounded {
        name: "VecDeque",
        arity: Arity::AtLeast(1),
        fix: "use `heapless::Deque<T, N>`",
    },
    Unbounded {
        name: "LinkedList",
        arity: Arity::AtLeast(1),
        fix: "use `heapless::Deque<T, N>` or `heapless::Vec<T, N>`",
    },
    Unbounded {
        name: "BinaryHeap",
        arity: Arity::Exactly(1),
        fix: "use `heapless::BinaryHeap<T, heapless::binary_heap::Max, N>`",
    },
    Unbounded {
        name: "Cow",
        arity: Arity::AtLeast(1),
        fix: "use `&'static str`, `heapless::String<N>` or `heapless::Vec<T, N>`",
    },
    Unbounded {
        name: "PathBuf",
        arity: Arity::Exactly(0),
        fix: "use `heapless::String<N>`",
    },
    Unbounded {
        name: "OsString",
        arity: Arity::Exactly(0),
        fix: "use `heapless::String<N>`",
    },
    Unbounded {
        name: "CString",
        arity: Arity::Exactly(0),
        fix: "use `heapless::CString<N>`",
    },
];

/// Records an error for every unbounded standard type written in `ty`, which sits `place`
/// ("in the state of `Account`"). Returns whether there was one, so the caller can leave
/// out the trait assertion that would report the same problem again.
pub(crate) fn unbounded(ty: &Type, place: &str, errors: &mut Errors) -> bool {
    let mut found = false;
    walk(ty, &mut |path, rule| {
        found = true;
        errors.spanned(
            path,
            format!(
                "`{}` {place} can grow without limit: {}",
                tokens_text(path),
                rule.fix
            ),
        );
    });
    if let Some(pointer) = raw_pointer(ty) {
        found = true;
        errors.spanned(
            pointer,
            format!(
                "a raw pointer `{}` {place} points at memory nothing bounds and cannot cross \
                 shards: send a `Handle`, an index into a fixed-size table, or a transfer \
                 buffer (`tina::Buffer`)",
                tokens_text(pointer)
            ),
        );
    }
    found
}

/// The fix for the first unbounded standard type written in `ty`, if there is one.
pub(crate) fn fix_for(ty: &Type) -> Option<&'static str> {
    let mut fix = None;
    walk(ty, &mut |_, rule| {
        fix.get_or_insert(rule.fix);
    });
    fix
}

/// The first raw pointer written in `ty` (outside borrows), if there is one.
fn raw_pointer(ty: &Type) -> Option<&syn::TypePtr> {
    match ty {
        Type::Ptr(pointer) => Some(pointer),
        Type::Path(path) if path.qself.is_none() => {
            path.path
                .segments
                .iter()
                .find_map(|segment| match &segment.arguments {
                    PathArguments::AngleBracketed(arguments) => {
                        arguments.args.iter().find_map(|argument| match argument {
                            GenericArgument::Type(inner) => raw_pointer(inner),
                            _ => None,
                        })
                    }
                    _ => None,
                })
        }
        Type::Array(array) => raw_pointer(&array.elem),
        Type::Slice(slice) => raw_pointer(&slice.elem),
        Type::Tuple(tuple) => tuple.elems.iter().find_map(raw_pointer),
        Type::Paren(paren) => raw_pointer(&paren.elem),
        Type::Group(group) => raw_pointer(&group.elem),
        _ => None,
    }
}

/// Visits every path type in `ty` that names an unbounded standard type. Borrows are not
/// entered (a `&'static T` owns nothing), nor are the arguments of a type already reported.
fn walk(ty: &Type, report: &mut dyn FnMut(&TypePath, &Unbounded)) {
    match ty {
        Type::Path(path) if path.qself.is_none() => {
            if let Some(rule) = unbounded_rule(path) {
                report(path, rule);
                return;
            }
            for segment in &path.path.segments {
                if let PathArguments::AngleBracketed(arguments) = &segment.arguments {
                    for argument in &arguments.args {
                        if let GenericArgument::Type(inner) = argument {
                            walk(inner, report);
                        }
                    }
                }
            }
        }
        Type::Array(array) => walk(&array.elem, report),
        Type::Slice(slice) => walk(&slice.elem, report),
        Type::Tuple(tuple) => tuple.elems.iter().for_each(|element| walk(element, report)),
        Type::Paren(paren) => walk(&paren.elem, report),
        Type::Group(group) => walk(&group.elem, report),
        _ => {}
    }
}

/// The rule `path` matches, if it names a standard unbounded type: a bare name (`Vec<u8>`)
/// or a path from `std`/`alloc` (`std::vec::Vec<u8>`), with the standard type's number of
/// generic arguments. Any other path (`heapless::Vec<u8, 4>`, `crate::Box<T>`) is left to
/// the `Bounded` trait, so a user type that happens to share a name is never refused here.
fn unbounded_rule(path: &TypePath) -> Option<&'static Unbounded> {
    let segments = &path.path.segments;
    let last = segments.last()?;
    if segments.len() > 1 {
        let root = segments.first()?.ident.to_string();
        if root != "std" && root != "alloc" {
            return None;
        }
    }
    let arguments = match &last.arguments {
        PathArguments::None => 0,
        PathArguments::AngleBracketed(arguments) => arguments
            .args
            .iter()
            .filter(|argument| !matches!(argument, GenericArgument::Lifetime(_)))
            .count(),
        PathArguments::Parenthesized(_) => return None,
    };
    UNBOUNDED.iter().find(|rule| {
        last.ident == rule.name
            && match rule.arity {
                Arity::Exactly(count) => arguments == count,
                Arity::AtLeast(count) => arguments >= count,
            }
    })
}

/// The handlers to generate code for: records two handlers for one message type (compared
/// as written; the same type written two ways is caught by the compiler as conflicting
/// `Accepts` impls) and two handlers whose names give the same variant, and leaves the
/// second of each pair out, so the expansion itself stays free of conflicts.
pub(crate) fn distinct_handlers<'i, 'a>(
    isolate: &'i IsolateImpl<'a>,
    errors: &mut Errors,
) -> Vec<&'i Handler<'a>> {
    let mut by_message: HashMap<String, &syn::Ident> = HashMap::new();
    let mut by_variant: HashMap<String, &syn::Ident> = HashMap::new();
    let mut distinct = Vec::with_capacity(isolate.handlers.len());
    for handler in &isolate.handlers {
        let message = tokens_text(handler.message);
        let key = message_key(&handler.message_resolved);
        if let Some(first) = by_message.get(&key) {
            errors.spanned(
                handler.message,
                format!(
                    "two handlers for message type `{message}`: `{first}` and `{}`; an isolate \
                     has exactly one handler per message type, so merge them into one",
                    handler.method
                ),
            );
            continue;
        }
        let variant = handler.variant.to_string();
        if let Some(first) = by_variant.get(&variant) {
            errors.spanned(
                handler.method,
                format!(
                    "handlers `{first}` and `{}` differ only in case or underscores, so `{}` \
                     cannot tell their messages apart (both would be called `{variant}`); \
                     rename one",
                    handler.method, isolate.name
                ),
            );
            continue;
        }
        by_message.insert(key, handler.method);
        by_variant.insert(variant, handler.method);
        distinct.push(handler);
    }
    distinct
}

/// The message type as a key for spotting two handlers of one type: as written, without a
/// leading `crate::`, `self::` or `::`, so `Add` and `crate::Add` are seen as one.
fn message_key(ty: &Type) -> String {
    let mut text = tokens_text(ty);
    loop {
        let stripped = ["crate::", "self::", "::"]
            .iter()
            .find_map(|prefix| text.strip_prefix(prefix).map(str::to_owned));
        match stripped {
            Some(rest) => text = rest,
            None => return text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flagged(ty: Type) -> Vec<String> {
        let mut found = Vec::new();
        walk(&ty, &mut |path, _| found.push(tokens_text(path)));
        found
    }

    #[test]
    fn standard_collections_are_flagged() {
        assert_eq!(flagged(syn::parse_quote!(Vec<u8>)), ["Vec<u8>"]);
        assert_eq!(flagged(syn::parse_quote!(String)), ["String"]);
        assert_eq!(
            flagged(syn::parse_quote!(std::boxed::Box<[u8]>)),
            ["std::boxed::Box<[u8]>"]
        );
        assert_eq!(
            flagged(syn::parse_quote!(Option<(u8, HashMap<u32, String>)>)),
            ["HashMap<u32, String>"]
        );
        assert_eq!(flagged(syn::parse_quote!([Rc<u8>; 2])), ["Rc<u8>"]);
    }

    #[test]
    fn fixed_capacity_and_user_types_are_not() {
        assert!(flagged(syn::parse_quote!(heapless::Vec<u8, 4>)).is_empty());
        assert!(flagged(syn::parse_quote!(Vec<u8, 4>)).is_empty());
        assert!(flagged(syn::parse_quote!(String<16>)).is_empty());
        assert!(flagged(syn::parse_quote!(Box)).is_empty());
        assert!(flagged(syn::parse_quote!(crate::Box<u8>)).is_empty());
        assert!(flagged(syn::parse_quote!(&'static String)).is_empty());
        assert!(flagged(syn::parse_quote!(BinaryHeap<u8, Max, 8>)).is_empty());
    }
}
