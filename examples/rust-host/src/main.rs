//! The smallest wasmtime host for the smtp component: sends one mail to the server given
//! as the first argument or in SMTP_SERVER (host:port), printing each step.
use smtp_host::network::{wasi_builder, NetworkPolicy};
use std::env;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Result, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

wasmtime::component::bindgen!({ world: "smtp", path: "../../wit" });
use exports::smtplib::smtp::client::{ClientOptions, Message};

struct Host(WasiCtx, ResourceTable);

impl WasiView for Host {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.0,
            table: &mut self.1,
        }
    }
}

fn main() -> Result<()> {
    let usage = || wasmtime::format_err!("usage: rust-host HOST:PORT (or set SMTP_SERVER)");
    let server = env::args().nth(1).or(env::var("SMTP_SERVER").ok());
    let server = server.ok_or_else(usage)?;

    let engine = Engine::default();
    let component = Component::new(&engine, smtp_host::COMPONENT)?;
    let mut linker = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    // TCP allowed (wasmtime 48 denies it unless asked), to any address.
    let mut wasi = wasi_builder(&NetworkPolicy::Any);
    let mut store = Store::new(&engine, Host(wasi.build(), ResourceTable::new()));
    let smtp = Smtp::instantiate(&mut store, &component, &linker)?;
    let api = smtp.smtplib_smtp_client().client();

    let options = ClientOptions {
        local_hostname: None,
        timeout_ms: None,
        source_address: None,
    };
    let client = api.call_constructor(&mut store, &options)?;
    // Every call returns Result<Result<T, SmtpError>>: a trap, then the WIT result.
    let reply = api.call_connect(&mut store, client, &server, None)??;
    println!("connected to {server}: {} {}", reply.code, reply.text);
    let (from, to) = ("rust-host@example.com", "someone@example.com");
    let msg = Message::Text(format!(
        "From: {from}\nTo: {to}\nSubject: hi from Rust\n\nhello\n"
    ));
    let refused = api.call_sendmail(&mut store, client, from, &[to.into()], &msg, &[], &[])??;
    println!("sent a mail from {from} to {to}; refused: {refused:?}");
    let reply = api.call_quit(&mut store, client)??;
    println!("quit: {} {}", reply.code, reply.text);
    client.resource_drop(&mut store)?;
    Ok(())
}
