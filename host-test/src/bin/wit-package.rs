//! `wit-package`: the WIT package for consumers. Encodes the repository's `wit/` as one
//! binary WIT package, `target/wit/smtplib-smtp-VERSION.wasm` (doc comments kept; what
//! another project drops into its `wit/deps/` or publishes with `wkg publish`), then
//! checks it the way a consumer uses it:
//!
//! - the package version is the crate version of the component;
//! - decoded again, the package prints exactly as `wit/` does, docs and all;
//! - a consumer world importing `smtplib:smtp/client@VERSION`, with only that file in
//!   its `wit/deps/`, resolves.
//!
//! Prints the path of the package. Run by `scripts/wit-package`.

use std::path::Path;
use wit_component::{DecodedWasm, WitPrinter};
use wit_parser::{PackageId, Resolve};

fn main() {
    match package() {
        Ok(path) => println!("{path}"),
        Err(e) => {
            eprintln!("wit-package: {e}");
            std::process::exit(1);
        }
    }
}

fn package() -> Result<String, String> {
    let root = host_test::servers::workspace_root();
    let mut resolve = Resolve::default();
    let (pkg, _) = resolve
        .push_dir(root.join("wit"))
        .map_err(|e| format!("wit/ does not parse: {e:#}"))?;
    let name = &resolve.packages[pkg].name;
    let version = name
        .version
        .as_ref()
        .ok_or("wit/world.wit's package has no version")?
        .to_string();
    let crate_version = crate_version(&root.join("Cargo.toml"))?;
    if version != crate_version {
        return Err(format!(
            "wit/ says {name} but the component crate is {crate_version}: keep them equal"
        ));
    }
    let bytes = wit_component::encode(&resolve, pkg).map_err(|e| format!("encode: {e:#}"))?;
    let out_dir = root.join("target/wit");
    std::fs::create_dir_all(&out_dir).map_err(|e| e.to_string())?;
    let file_name = format!("{}-{}-{version}.wasm", name.namespace, name.name);
    let out = out_dir.join(&file_name);
    std::fs::write(&out, &bytes).map_err(|e| format!("{}: {e}", out.display()))?;

    // Decoded again, it is wit/ exactly, docs included.
    let DecodedWasm::WitPackage(decoded, decoded_pkg) =
        wit_component::decode(&bytes).map_err(|e| format!("decode: {e:#}"))?
    else {
        return Err("the encoded file is not a WIT package".into());
    };
    let source = print(&resolve, pkg)?;
    if print(&decoded, decoded_pkg)? != source {
        return Err("the package's WIT differs from wit/".into());
    }
    if !source.contains("///") {
        return Err("the package lost its doc comments".into());
    }

    // A consumer with only the package in wit/deps/ resolves its import.
    let consumer = tempfile::tempdir().map_err(|e| e.to_string())?;
    let deps = consumer.path().join("deps");
    std::fs::create_dir_all(&deps).map_err(|e| e.to_string())?;
    std::fs::copy(&out, deps.join(&file_name)).map_err(|e| e.to_string())?;
    let world = format!(
        "package example:consumer;\n\nworld app {{\n    import {}:{}/client@{version};\n}}\n",
        name.namespace, name.name
    );
    std::fs::write(consumer.path().join("world.wit"), world).map_err(|e| e.to_string())?;
    let mut theirs = Resolve::default();
    theirs
        .push_dir(consumer.path())
        .map_err(|e| format!("a consumer cannot resolve the package: {e:#}"))?;

    Ok(out
        .strip_prefix(&root)
        .unwrap_or(&out)
        .display()
        .to_string())
}

fn print(resolve: &Resolve, pkg: PackageId) -> Result<String, String> {
    let mut printer = WitPrinter::default();
    printer
        .print(resolve, pkg, &[])
        .map_err(|e| format!("print: {e:#}"))?;
    Ok(printer.output.to_string())
}

/// The `version` of the `[package]` in the root Cargo.toml.
fn crate_version(manifest: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(manifest).map_err(|e| e.to_string())?;
    text.lines()
        .skip_while(|l| l.trim() != "[package]")
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .map(str::to_string)
        .ok_or_else(|| "no version in Cargo.toml's [package]".into())
}
