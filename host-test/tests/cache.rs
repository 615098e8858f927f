//! smtp-host's compile cache with the real component: the first load writes one
//! `.cwasm` into the first usable folder, a later load reuses it, a temp-dir fallback
//! is private to the user, and with no writable folder at all loading still works.
//! One test function, because it changes this process's environment.

use std::path::Path;

fn cwasm_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".cwasm"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn cache_folders_in_order_and_none_at_all() {
    let engine = smtp_host::engine().unwrap();
    let home = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    std::env::remove_var("SMTP_HOST_CACHE");
    std::env::remove_var("XDG_CACHE_HOME");
    std::env::set_var("HOME", home.path());
    std::env::set_var("TMPDIR", tmp.path());

    // An empty HOME: the cache goes to ~/.cache/smtp-component.
    let dir = home.path().join(".cache/smtp-component");
    smtp_host::cache::load(&engine, smtp_host::COMPONENT, "smtp_component").unwrap();
    let files = cwasm_files(&dir);
    assert_eq!(files.len(), 1, "{files:?}");
    let written = std::fs::metadata(dir.join(&files[0]))
        .unwrap()
        .modified()
        .unwrap();
    // The second load reads it and writes nothing.
    smtp_host::cache::load(&engine, smtp_host::COMPONENT, "smtp_component").unwrap();
    assert_eq!(cwasm_files(&dir), files);
    let again = std::fs::metadata(dir.join(&files[0]))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(written, again, "the cached file was rewritten");

    // HOME unusable (a file, not a folder): the private folder in the temp dir.
    let not_a_dir = home.path().join("file");
    std::fs::write(&not_a_dir, b"x").unwrap();
    std::env::set_var("HOME", &not_a_dir);
    smtp_host::cache::load(&engine, smtp_host::COMPONENT, "smtp_component").unwrap();
    let fallback = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().contains("smtp-component-cache-"))
        .expect("a cache folder in the temp dir");
    assert_eq!(cwasm_files(&fallback).len(), 1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&fallback).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the temp-dir cache is private: {mode:o}");
    }

    // Nothing writable: it compiles and works, and writes nowhere.
    std::env::set_var("TMPDIR", &not_a_dir);
    let component =
        smtp_host::cache::load(&engine, smtp_host::COMPONENT, "smtp_component").unwrap();
    assert!(component.component_type().exports(&engine).count() > 0);
}
