//! Command-line parsing (no dependency: a handful of flags).

use std::net::SocketAddr;
use std::path::PathBuf;
use wasmtime::{bail, format_err, Result};

/// What to do with the component.
pub enum Command {
    /// Run a `wasi:cli/run` export.
    Run(Options),
    /// Serve a `wasi:http/incoming-handler` export.
    Serve(Options),
}

/// The flags shared by `run` and `serve`.
#[derive(Clone)]
pub struct Options {
    /// The component file.
    pub component: PathBuf,
    /// Arguments after the component (`run` only); the component's name comes first.
    pub args: Vec<String>,
    /// Environment variables given to the guest.
    pub env: Vec<(String, String)>,
    /// When not empty: the only addresses the guest may connect to, and no DNS.
    pub allow_outbound: Vec<SocketAddr>,
    /// Where `serve` listens.
    pub listen: SocketAddr,
    /// `run`: the guest's stdin; `None` inherits the host's (library use only).
    pub stdin: Option<Vec<u8>>,
}

impl Options {
    /// Options for `component` with nothing else set: any outbound address, DNS
    /// allowed, stdin inherited, listening on 127.0.0.1:8080.
    pub fn new(component: impl Into<PathBuf>) -> Options {
        Options {
            component: component.into(),
            args: Vec::new(),
            env: Vec::new(),
            allow_outbound: Vec::new(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            stdin: None,
        }
    }
}

const USAGE: &str = "usage: wasi-host (run|serve) [--env KEY=VALUE]... \
                     [--allow-outbound IP:PORT]... [--listen ADDR] COMPONENT [ARGS...]";

/// Parses the arguments after the program name.
pub fn parse(mut args: impl Iterator<Item = String>) -> Result<Command> {
    let verb = args.next().ok_or_else(|| format_err!("{USAGE}"))?;
    let mut options = Options::new(PathBuf::new());
    let mut component = None;
    while let Some(arg) = args.next() {
        if component.is_some() {
            options.args.push(arg);
            continue;
        }
        let mut value = |flag: &str| {
            args.next()
                .ok_or_else(|| format_err!("{flag} needs a value"))
        };
        match arg.as_str() {
            "--env" => {
                let pair = value("--env")?;
                let (key, val) = pair
                    .split_once('=')
                    .ok_or_else(|| format_err!("--env wants KEY=VALUE, got {pair:?}"))?;
                options.env.push((key.to_string(), val.to_string()));
            }
            "--allow-outbound" => {
                let addr = value("--allow-outbound")?;
                let addr = addr
                    .parse()
                    .map_err(|_| format_err!("--allow-outbound wants IP:PORT, got {addr:?}"))?;
                options.allow_outbound.push(addr);
            }
            "--listen" => {
                let addr = value("--listen")?;
                options.listen = addr
                    .parse()
                    .map_err(|_| format_err!("--listen wants IP:PORT, got {addr:?}"))?;
            }
            "-h" | "--help" => bail!("{USAGE}"),
            flag if flag.starts_with("--") => bail!("unknown flag {flag}\n{USAGE}"),
            _ => component = Some(PathBuf::from(arg)),
        }
    }
    options.component = component.ok_or_else(|| format_err!("no component given\n{USAGE}"))?;
    match verb.as_str() {
        "run" => Ok(Command::Run(options)),
        "serve" if options.args.is_empty() => Ok(Command::Serve(options)),
        "serve" => bail!("serve takes no arguments after the component"),
        _ => bail!("unknown command {verb:?}\n{USAGE}"),
    }
}
