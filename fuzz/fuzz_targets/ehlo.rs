//! The EHLO parser takes any text.
#![no_main]
use libfuzzer_sys::fuzz_target;
use smtp_component::protocol::ehlo::Features;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let features = Features::parse(&text);
    for (name, _) in features.iter() {
        assert!(features.has(name));
        assert_eq!(name, name.to_ascii_lowercase());
    }
    let _ = features.size_limit();
});
