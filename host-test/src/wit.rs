//! `wit/world.wit` as written, for the tests that compare against it.

use std::path::Path;

use wit_parser::{InterfaceId, Resolve, WorldItem};

/// `wit/` parsed, and the id of the interface the `smtp` world exports (`client`).
pub fn source() -> (Resolve, InterfaceId) {
    let mut resolve = Resolve::default();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
    let (pkg, _) = resolve.push_path(&dir).expect("parse wit/");
    let world = resolve
        .select_world(&[pkg], Some("smtp"))
        .expect("world smtp");
    let id = match resolve.worlds[world]
        .exports
        .values()
        .next()
        .expect("smtp exports client")
    {
        WorldItem::Interface { id, .. } => *id,
        other => panic!("not an interface: {other:?}"),
    };
    (resolve, id)
}
