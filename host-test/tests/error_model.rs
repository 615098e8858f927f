//! The error model, checked in one place against `wit/world.wit`: the WIT `smtp-error`
//! cases (parsed with wit-parser) are the source; the component's Rust enum
//! (`smtp_component::error::SmtpError::kind`) and the host's mapping of the `bindgen!`
//! error (`smtp_host::SmtpError::kind`, which is also every JSON `kind` that
//! `smtp-send --json` prints) must name exactly those cases, in the same order.
//!
//! Both `kind` functions are exhaustive matches, so a case added to the WIT (hence to
//! the bindings) or to the Rust enum does not compile until it has its name; a case
//! missing from the samples below, or named differently, fails here.

use smtp_component::error::{Refusal as CoreRefusal, SmtpError as CoreError};
use smtp_component::protocol::reply::Reply as CoreReply;
use smtp_host::{Refusal, Reply, SenderRefusal, SmtpError};
use wit_parser::TypeDefKind;

/// The case names of `smtp-error` in `wit/world.wit`, in order.
fn wit_cases() -> Vec<String> {
    let (resolve, iface) = host_test::wit::source();
    let ty = resolve.interfaces[iface].types["smtp-error"];
    match &resolve.types[ty].kind {
        TypeDefKind::Variant(v) => v.cases.iter().map(|c| c.name.clone()).collect(),
        other => panic!("smtp-error is not a variant: {other:?}"),
    }
}

fn host_reply() -> Reply {
    Reply {
        code: 550,
        text: "no".into(),
        enhanced_status: None,
    }
}

/// One value of every case of the host's `bindgen!` error.
fn host_samples() -> Vec<SmtpError> {
    vec![
        SmtpError::ServerDisconnected("x".into()),
        SmtpError::Response(host_reply()),
        SmtpError::SenderRefused(SenderRefusal {
            sender: "s@x".into(),
            reply: host_reply(),
        }),
        SmtpError::RecipientsRefused(vec![Refusal {
            recipient: "r@x".into(),
            reply: host_reply(),
        }]),
        SmtpError::DataError(host_reply()),
        SmtpError::ConnectError(host_reply()),
        SmtpError::HeloError(host_reply()),
        SmtpError::NotSupported("x".into()),
        SmtpError::AuthenticationError(host_reply()),
        SmtpError::Timeout("x".into()),
        SmtpError::Tls("x".into()),
        SmtpError::Io("x".into()),
        SmtpError::InvalidArgument("x".into()),
        SmtpError::MalformedReply("x".into()),
        SmtpError::DeliveryUnknown("x".into()),
    ]
}

/// One value of every case of the component's own error enum.
fn core_samples() -> Vec<CoreError> {
    let reply = || CoreReply::new(550, "no");
    vec![
        CoreError::ServerDisconnected("x".into()),
        CoreError::Response(reply()),
        CoreError::SenderRefused {
            sender: "s@x".into(),
            reply: reply(),
        },
        CoreError::RecipientsRefused(vec![CoreRefusal {
            recipient: "r@x".into(),
            reply: reply(),
        }]),
        CoreError::DataError(reply()),
        CoreError::ConnectError(reply()),
        CoreError::HeloError(reply()),
        CoreError::NotSupported("x".into()),
        CoreError::AuthenticationError(reply()),
        CoreError::Timeout("x".into()),
        CoreError::Tls("x".into()),
        CoreError::Io("x".into()),
        CoreError::InvalidArgument("x".into()),
        CoreError::MalformedReply("x".into()),
        CoreError::DeliveryUnknown("x".into()),
    ]
}

#[test]
fn wit_parse_finds_the_cases() {
    assert!(wit_cases().len() > 10, "{:?}", wit_cases());
}

#[test]
fn host_kinds_are_the_wit_cases() {
    let kinds: Vec<&str> = host_samples().iter().map(SmtpError::kind).collect();
    assert_eq!(
        kinds,
        wit_cases(),
        "smtp_host::SmtpError::kind against wit/world.wit"
    );
}

#[test]
fn component_kinds_are_the_wit_cases() {
    let kinds: Vec<&str> = core_samples().iter().map(CoreError::kind).collect();
    assert_eq!(
        kinds,
        wit_cases(),
        "smtp_component's SmtpError::kind against wit/world.wit"
    );
}
