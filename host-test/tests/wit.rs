//! The WIT of the built component: decoded from the `.wasm`, it must export the
//! `smtplib:smtp/client` interface with the `client` resource, and match
//! `wit/world.wit` item for item (the `smtp-error` cases included).
//!
//! Docs: a built component carries no WIT doc comments. wit-bindgen writes the world's
//! types with `wit_component::metadata::encode`, which has no docs, and the component
//! model keeps docs only in a `package-docs` custom section that describes the root
//! package of a *WIT package* binary (`wasm-tools component wit wit/ --wasm`), never the
//! foreign `smtplib:smtp` package inside a concrete component. The docs live in
//! `wit/world.wit`; the test checks they are there and absent from the component.

use wit_parser::decoding::{decode, DecodedWasm};
use wit_parser::{Docs, Interface, InterfaceId, Resolve, TypeDefKind, WorldItem};

const INTERFACE: &str = "smtplib:smtp/client@0.2.0";
const MAILER: &str = "smtplib:smtp/mailer@0.2.0";

/// The id of the interface `name` that `resolve`'s world `world` exports.
fn export_id(resolve: &Resolve, world: wit_parser::WorldId, name: &str) -> InterfaceId {
    resolve.worlds[world]
        .exports
        .iter()
        .find_map(|(key, item)| match item {
            WorldItem::Interface { id, .. } if resolve.name_world_key(key) == name => Some(*id),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{name} is not exported"))
}

/// The component's decoded WIT and the id of its `mailer` export.
fn component_mailer() -> (Resolve, InterfaceId) {
    let wasm = std::fs::read(smtp_host::COMPONENT_PATH).expect("read the built component");
    match decode(&wasm).expect("decode the component's WIT") {
        DecodedWasm::Component(resolve, world) => {
            let id = export_id(&resolve, world, MAILER);
            (resolve, id)
        }
        DecodedWasm::WitPackage(..) => panic!("expected a component, got a WIT package"),
    }
}

/// `wit/world.wit`'s `mailer` interface.
fn source_mailer() -> (Resolve, InterfaceId) {
    let mut resolve = Resolve::default();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
    let (pkg, _) = resolve.push_path(&dir).expect("parse wit/");
    let world = resolve
        .select_world(&[pkg], Some("smtp"))
        .expect("world smtp");
    let id = export_id(&resolve, world, MAILER);
    (resolve, id)
}

/// The component's decoded WIT and the id of the interface its world exports.
fn component() -> (Resolve, InterfaceId) {
    let wasm = std::fs::read(smtp_host::COMPONENT_PATH).expect("read the built component");
    let (resolve, world) = match decode(&wasm).expect("decode the component's WIT") {
        DecodedWasm::Component(resolve, world) => (resolve, world),
        DecodedWasm::WitPackage(..) => panic!("expected a component, got a WIT package"),
    };
    let exports: Vec<String> = resolve.worlds[world]
        .exports
        .keys()
        .map(|key| resolve.name_world_key(key))
        .collect();
    assert_eq!(exports, [INTERFACE, MAILER], "the world's exports");
    let id = export_id(&resolve, world, INTERFACE);
    (resolve, id)
}

/// `wit/world.wit` as written, and the id of its `client` interface.
fn source() -> (Resolve, InterfaceId) {
    let (resolve, id) = host_test::wit::source();
    assert_eq!(resolve.id_of(id).as_deref(), Some(INTERFACE));
    (resolve, id)
}

fn type_kind<'a>(resolve: &'a Resolve, iface: &Interface, name: &str) -> &'a TypeDefKind {
    let id = iface
        .types
        .get(name)
        .unwrap_or_else(|| panic!("no type {name}"));
    &resolve.types[*id].kind
}

fn case_names(resolve: &Resolve, iface: &Interface, name: &str) -> Vec<String> {
    match type_kind(resolve, iface, name) {
        TypeDefKind::Variant(v) => v.cases.iter().map(|c| c.name.clone()).collect(),
        other => panic!("{name} is not a variant: {other:?}"),
    }
}

fn has_docs(docs: &Docs) -> bool {
    docs.contents
        .as_deref()
        .is_some_and(|d| !d.trim().is_empty())
}

#[test]
fn exports_the_client_interface() {
    let (resolve, id) = component();
    let iface = &resolve.interfaces[id];
    assert_eq!(resolve.id_of(id).as_deref(), Some(INTERFACE));

    assert!(
        matches!(type_kind(&resolve, iface, "client"), TypeDefKind::Resource),
        "client is a resource"
    );
    for func in [
        "[constructor]client",
        "[method]client.connect",
        "[method]client.sendmail",
        "[method]client.sendmail-report",
        "[method]client.quit",
        "[method]client.close",
    ] {
        assert!(iface.functions.contains_key(func), "missing {func}");
    }

    // The cases themselves: `matches_wit_world` (component against wit/) and
    // tests/error_model.rs (the Rust enums against wit/).
    assert!(
        matches!(type_kind(&resolve, iface, "reply"), TypeDefKind::Record(_)),
        "reply is a record"
    );
}

#[test]
fn matches_wit_world() {
    let (built, built_id) = component();
    let (src, src_id) = source();
    let (built_iface, src_iface) = (&built.interfaces[built_id], &src.interfaces[src_id]);

    let names = |iface: &Interface| iface.types.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(built_iface), names(src_iface), "types");
    let funcs = |iface: &Interface| iface.functions.keys().cloned().collect::<Vec<_>>();
    assert_eq!(funcs(built_iface), funcs(src_iface), "functions");
    assert_eq!(
        case_names(&built, built_iface, "smtp-error"),
        case_names(&src, src_iface, "smtp-error"),
        "smtp-error cases"
    );
}

#[test]
fn mailer_matches_wit_world() {
    let (built, built_id) = component_mailer();
    let (src, src_id) = source_mailer();
    let (b, s) = (&built.interfaces[built_id], &src.interfaces[src_id]);
    let names = |iface: &Interface| iface.types.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(b), names(s), "mailer types");
    let funcs = |iface: &Interface| iface.functions.keys().cloned().collect::<Vec<_>>();
    assert_eq!(funcs(b), funcs(s), "mailer functions");
    assert_eq!(
        funcs(s),
        ["send", "compose", "send-with", "send-bytes-with"]
    );
    // The client's types are used, not copied: one smtp-error, one delivery.
    for used in ["smtp-error", "delivery", "tls-config", "client"] {
        match &src.types[s.types[used]].kind {
            TypeDefKind::Type(wit_parser::Type::Id(_)) => {}
            other => panic!("mailer's {used} is not the client's: {other:?}"),
        }
    }
}

/// Every declaration of `iface` in wit/ has a doc comment: the interface, each type,
/// field, case and flag, and each function.
fn assert_all_documented(src: &Resolve, id: InterfaceId) {
    let iface = &src.interfaces[id];
    let name = src.id_of(id).unwrap_or_default();
    assert!(has_docs(&iface.docs), "{name} has docs");
    for (ty, tid) in &iface.types {
        let def = &src.types[*tid];
        if matches!(def.kind, TypeDefKind::Type(_)) {
            continue; // `use`d from another interface, documented there
        }
        assert!(has_docs(&def.docs), "{name}: type {ty} has docs");
        let missing: Vec<String> = match &def.kind {
            TypeDefKind::Record(r) => r
                .fields
                .iter()
                .filter(|f| !has_docs(&f.docs))
                .map(|f| f.name.clone())
                .collect(),
            TypeDefKind::Variant(v) => v
                .cases
                .iter()
                .filter(|c| !has_docs(&c.docs))
                .map(|c| c.name.clone())
                .collect(),
            TypeDefKind::Enum(e) => e
                .cases
                .iter()
                .filter(|c| !has_docs(&c.docs))
                .map(|c| c.name.clone())
                .collect(),
            TypeDefKind::Flags(f) => f
                .flags
                .iter()
                .filter(|c| !has_docs(&c.docs))
                .map(|c| c.name.clone())
                .collect(),
            _ => Vec::new(),
        };
        assert!(
            missing.is_empty(),
            "{name}: {ty} has undocumented items {missing:?}"
        );
    }
    for (f, func) in &iface.functions {
        assert!(has_docs(&func.docs), "{name}: {f} has docs");
    }
}

#[test]
fn every_declaration_is_documented() {
    let (src, id) = source();
    assert_all_documented(&src, id);
    let (src, id) = source_mailer();
    assert_all_documented(&src, id);
    // The mailer's functions list their typical errors, as the WASI interfaces do.
    let iface = &src.interfaces[id];
    for (f, func) in &iface.functions {
        let docs = func.docs.contents.as_deref().unwrap_or_default();
        assert!(
            docs.contains("Typical errors"),
            "mailer {f} lists its typical errors"
        );
    }
}

#[test]
fn docs_are_in_wit_not_in_the_component() {
    let (src, src_id) = source();
    let iface = &src.interfaces[src_id];
    assert!(has_docs(&iface.docs), "wit/: interface client has docs");
    for ty in ["client", "reply", "smtp-error"] {
        assert!(
            has_docs(&src.types[iface.types[ty]].docs),
            "wit/: {ty} has docs"
        );
    }
    for func in ["[constructor]client", "[method]client.sendmail"] {
        assert!(
            has_docs(&iface.functions[func].docs),
            "wit/: {func} has docs"
        );
    }
    match type_kind(&src, iface, "smtp-error") {
        TypeDefKind::Variant(v) => assert!(v.cases.iter().all(|c| has_docs(&c.docs))),
        _ => unreachable!(),
    }

    // The component keeps no docs (see the module comment). If a toolchain ever
    // embeds them, this fails: then assert that they are present instead.
    let (built, id) = component();
    let iface = &built.interfaces[id];
    let typed = iface
        .types
        .values()
        .any(|t| has_docs(&built.types[*t].docs));
    let funcs = iface.functions.values().any(|f| has_docs(&f.docs));
    assert!(
        !has_docs(&iface.docs) && !typed && !funcs,
        "the component now carries WIT docs"
    );
}

/// The one method `wit/p3/world.wit`'s `client` has that `wit/world.wit`'s lacks: the
/// body as a `stream<u8>` (WASI 0.2 has no streams of the component model).
const P3_ONLY: &str = "sendmail-stream: async func(from-addr: string, to-addrs: list<string>, \
    body: stream<u8>, body-end: future<result<_, string>>, mail-options: list<string>, \
    rcpt-options: list<string>) -> result<delivery, smtp-error>;";

/// `wit/p3/world.wit` is `wit/world.wit`'s package and `client` and `mailer`
/// interfaces with every method of `client` and every networked function of `mailer`
/// async: after `async func` is read as `func` and the one p3-only method (`P3_ONLY`,
/// documented) is taken out, only doc comments differ, and nothing else was left sync
/// (the constructor and the static `lmtp` cannot be async; `mailer.compose` does no
/// I/O, and its doc says why it stays a `func`). Its world exports `client` and
/// `mailer`, as `wit/world.wit`'s does.
#[test]
fn p3_world_is_the_same_client_interface_with_async_methods() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
    let p2 = std::fs::read_to_string(dir.join("world.wit")).expect("wit/world.wit");
    let p3 = std::fs::read_to_string(dir.join("p3/world.wit")).expect("wit/p3/world.wit");
    // The package line through the end of `interface client`.
    let client_part = |text: &str| -> String {
        let start = text.find("package ").expect("a package line");
        let iface = text.find("interface client {").expect("interface client");
        let end = iface + text[iface..].find("\n}\n").expect("the end of client") + 3;
        text[start..end].to_string()
    };
    // `interface mailer` through its closing brace.
    let mailer_part = |text: &str| -> String {
        let start = text.find("interface mailer {").expect("interface mailer");
        let end = start + text[start..].find("\n}\n").expect("the end of mailer") + 3;
        text[start..end].to_string()
    };
    let code = |text: &str| -> Vec<String> {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.starts_with("///") && !l.is_empty())
            .map(|l| l.replace(": async func(", ": func("))
            .collect()
    };
    // The p3-only method: exactly once, as written in `P3_ONLY`, with a doc comment
    // right above it, and absent from wit/world.wit.
    let p3_client = client_part(&p3);
    let lines: Vec<&str> = p3_client.lines().map(str::trim).collect();
    let at: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].starts_with("sendmail-stream:"))
        .collect();
    assert_eq!(at.len(), 1, "one sendmail-stream in wit/p3/world.wit");
    assert_eq!(lines[at[0]], P3_ONLY, "sendmail-stream's signature");
    assert!(
        at[0] > 0 && lines[at[0] - 1].starts_with("///"),
        "sendmail-stream has docs"
    );
    assert!(
        !p2.contains("sendmail-stream"),
        "sendmail-stream is p3-only"
    );
    let mut p3_code = code(&p3_client);
    let p3_only = P3_ONLY.replace(": async func(", ": func(");
    p3_code.retain(|l| *l != p3_only);
    assert_eq!(
        code(&client_part(&p2)),
        p3_code,
        "wit/p3/world.wit drifted from wit/world.wit"
    );
    let p3_mailer = mailer_part(&p3);
    assert_eq!(
        code(&mailer_part(&p2)),
        code(&p3_mailer),
        "wit/p3/world.wit's mailer drifted from wit/world.wit's"
    );
    for line in p3.lines().map(str::trim) {
        if line.contains(": func(") {
            assert!(
                line.starts_with("lmtp: static func(") || line.starts_with("compose: func("),
                "not async in p3: {line}"
            );
        }
    }
    for f in ["send", "send-with", "send-bytes-with"] {
        let head = format!("{f}: async func(");
        assert!(
            p3_mailer.lines().any(|l| l.trim().starts_with(&head)),
            "mailer.{f} is async in p3"
        );
    }
    assert!(
        p3_mailer
            .lines()
            .any(|l| l.trim().starts_with("compose: func(")),
        "mailer.compose is in p3"
    );
    let world = &p3[p3.find("world smtp {").expect("world smtp")..];
    assert_eq!(
        code(world),
        ["world smtp {", "export client;", "export mailer;", "}"],
        "the p3 world's exports changed: update this test and the README"
    );
}
