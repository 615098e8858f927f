//! The compile cache: a component's native code, serialized by `Component::serialize`
//! into a `.cwasm` named after a hash of the component's bytes and the engine's
//! compatibility hash, so a later process loads it in milliseconds instead of
//! compiling (seconds in a debug host).
//!
//! The directory is the first of `$SMTP_HOST_CACHE`, `$XDG_CACHE_HOME/smtp-component`,
//! `$HOME/.cache/smtp-component` and a private directory in the system temp dir that
//! can be created; when none is writable the component is compiled every time, and
//! nothing fails.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::component::Component;
use wasmtime::error::Context;
use wasmtime::{Engine, Result};

/// The candidate cache directories, in order of preference.
pub fn dirs() -> Vec<PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let mut dirs = Vec::new();
    dirs.extend(var("SMTP_HOST_CACHE"));
    dirs.extend(var("XDG_CACHE_HOME").map(|d| d.join("smtp-component")));
    dirs.extend(var("HOME").map(|d| d.join(".cache").join("smtp-component")));
    dirs.push(std::env::temp_dir().join(format!("smtp-component-cache-{}", user_id())));
    dirs
}

/// Loads the component `bytes` (called `name` in the cache's file names) for `engine`:
/// from the cache when it holds this exact build, otherwise compiling it and storing
/// the result for the next process.
pub fn load(engine: &Engine, bytes: &[u8], name: &str) -> Result<Component> {
    let file = file_name(engine, bytes, name);
    for dir in dirs() {
        let path = dir.join(&file);
        if path.is_file() && usable(&dir) {
            // SAFETY: the file was written by `Component::serialize` of this same engine
            // configuration (its name carries the engine's compatibility hash and the
            // hash of the bytes) in a directory only this user can write; wasmtime
            // checks its header again.
            if let Ok(component) = unsafe { Component::deserialize_file(engine, &path) } {
                return Ok(component);
            }
        }
    }
    let component = Component::new(engine, bytes).with_context(|| format!("compiling {name}"))?;
    if let Ok(code) = component.serialize() {
        for dir in dirs() {
            if store(&dir, &file, name, &code) {
                break;
            }
        }
    }
    Ok(component)
}

/// [`load`] of a component file, cached under the file's name.
pub fn load_file(engine: &Engine, path: &Path) -> Result<Component> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "component".into());
    load(engine, &bytes, &name)
}

fn file_name(engine: &Engine, bytes: &[u8], name: &str) -> String {
    let mut h = DefaultHasher::new();
    bytes_hash(bytes).hash(&mut h);
    engine.precompile_compatibility_hash().hash(&mut h);
    format!("{name}-{:016x}.cwasm", h.finish())
}

/// The hash of a component's bytes: [`embedded_hash`]'s for an embedded component,
/// otherwise computed from the bytes.
fn bytes_hash(bytes: &[u8]) -> u64 {
    embedded_hash(bytes).unwrap_or_else(|| {
        let mut h = DefaultHasher::new();
        bytes.hash(&mut h);
        h.finish()
    })
}

/// For the embedded components ([`crate::COMPONENT`], `COMPONENT_P3`: `bytes` is that
/// very static), the hash of their bytes the build script computed, so a cache hit
/// never reads them and they stay out of the process's memory (about 1 MB each).
fn embedded_hash(bytes: &[u8]) -> Option<u64> {
    let embedded = [
        (crate::COMPONENT, env!("SMTP_COMPONENT_WASM_HASH")),
        #[cfg(feature = "p3")]
        (crate::COMPONENT_P3, env!("SMTP_COMPONENT_P3_WASM_HASH")),
    ];
    let same = |e: &[u8]| std::ptr::eq(e.as_ptr(), bytes.as_ptr()) && e.len() == bytes.len();
    embedded
        .iter()
        .find(|(e, _)| same(e))
        .and_then(|(_, hash)| u64::from_str_radix(hash, 16).ok())
}

/// Writes `code` as `dir/file` (through a temporary file, so a reader never sees half
/// of it) and removes older builds of `name` there. False when `dir` is not usable.
fn store(dir: &Path, file: &str, name: &str, code: &[u8]) -> bool {
    if create_private_dir(dir).is_err() || !usable(dir) {
        return false;
    }
    let path = dir.join(file);
    let tmp = dir.join(format!("{file}.tmp{}", std::process::id()));
    if std::fs::write(&tmp, code).is_err() || std::fs::rename(&tmp, &path).is_err() {
        let _ = std::fs::remove_file(&tmp);
        return false;
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        let prefix = format!("{name}-");
        for entry in entries.flatten() {
            let other = entry.file_name().to_string_lossy().into_owned();
            let stale = other.starts_with(&prefix)
                && other.ends_with(".cwasm")
                && other[prefix.len()..].len() == "0123456789abcdef.cwasm".len()
                && other != file;
            if stale {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    true
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// Whether native code in `dir` can be trusted: the directory belongs to this user and
/// nobody else can write to it (the temp dir is shared between users).
#[cfg(unix)]
fn usable(dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match std::fs::symlink_metadata(dir) {
        Ok(meta) => meta.is_dir() && meta.uid() == user_id() && meta.mode() & 0o022 == 0,
        Err(_) => false,
    }
}

#[cfg(not(unix))]
fn usable(dir: &Path) -> bool {
    dir.is_dir()
}

/// This process's user id (the owner of `/proc/self`), or `u32::MAX` when unknown,
/// which no directory matches.
#[cfg(unix)]
fn user_id() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(u32::MAX)
}

#[cfg(not(unix))]
fn user_id() -> u32 {
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The build script's hash of an embedded component is the hash of its bytes, so a
    /// copy of the bytes (read from a file, say) finds the same `.cwasm`.
    #[test]
    fn embedded_hashes_match_the_bytes() {
        // Copies elsewhere in memory: hashed from their bytes.
        let copy = Vec::from(crate::COMPONENT);
        assert!(embedded_hash(crate::COMPONENT).is_some());
        assert_eq!(embedded_hash(&copy), None);
        assert_eq!(bytes_hash(crate::COMPONENT), bytes_hash(&copy));
        #[cfg(feature = "p3")]
        {
            let copy = Vec::from(crate::COMPONENT_P3);
            assert!(embedded_hash(crate::COMPONENT_P3).is_some());
            assert_eq!(bytes_hash(crate::COMPONENT_P3), bytes_hash(&copy));
        }
        assert_ne!(bytes_hash(b"a"), bytes_hash(b"b"));
    }
}
