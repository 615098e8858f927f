//! The header and address-list parsers, and send-message's envelope, take any message.
#![no_main]
use libfuzzer_sys::fuzz_target;
use smtp_component::message::prepare;
use smtp_component::protocol::{address, headers};

fuzz_target!(|data: &[u8]| {
    let fields = headers::parse(data);
    for f in &fields {
        assert!(f.range.start < f.range.end && f.range.end <= data.len());
        for mailbox in address::parse_list(&f.value) {
            assert!(!mailbox.addr.is_empty());
        }
    }
    let stripped = headers::without(data, &fields, |f| f.is("bcc"));
    assert!(stripped.len() <= data.len());
    if let Ok(p) = prepare(data, None, None) {
        assert!(!p.to.is_empty());
        assert!(p.bytes.len() <= data.len());
    }
});
