//! Compiles a component once per machine: the native code is kept as a `.cwasm` in
//! `$WASI_HOST_CACHE` (default: `wasi-host-cache` in the temp dir), named after a hash
//! of the component's bytes and the engine's settings.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Instant;
use wasmtime::component::Component;
use wasmtime::{Engine, Result};

/// Loads `path`, compiling it only when no cached `.cwasm` matches.
pub fn load(engine: &Engine, path: &Path) -> Result<Component> {
    let bytes = std::fs::read(path)
        .map_err(|e| wasmtime::format_err!("cannot read {}: {e}", path.display()))?;
    let cached = cache_file(engine, path, &bytes);
    if cached.is_file() {
        // SAFETY: the file was written by `Component::serialize` of this same engine
        // configuration (its name carries the engine's compatibility hash), and wasmtime
        // checks the header again while loading it.
        if let Ok(component) = unsafe { Component::deserialize_file(engine, &cached) } {
            return Ok(component);
        }
    }
    let started = Instant::now();
    let component = Component::new(engine, &bytes)?;
    eprintln!(
        "wasi-host: compiled {} ({} bytes) in {:.1} s; cached as {}",
        path.display(),
        bytes.len(),
        started.elapsed().as_secs_f64(),
        cached.display()
    );
    if let Some(dir) = cached.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let partial = cached.with_extension(format!("partial-{}", std::process::id()));
    if component
        .serialize()
        .ok()
        .and_then(|code| std::fs::write(&partial, code).ok())
        .is_some()
    {
        let _ = std::fs::rename(&partial, &cached);
    }
    Ok(component)
}

fn cache_file(engine: &Engine, path: &Path, bytes: &[u8]) -> PathBuf {
    let dir = std::env::var_os("WASI_HOST_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("wasi-host-cache"));
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir.join(format!("{stem}-{:016x}.cwasm", hasher.finish()))
}
