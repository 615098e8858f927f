//! The reply parser takes any bytes, split anywhere, without panicking, and never holds
//! much more than one line's cap of unparsed input.
#![no_main]
use libfuzzer_sys::fuzz_target;
use smtp_component::protocol::reply::ReplyParser;

fuzz_target!(|data: &[u8]| {
    let (splits, bytes) = data.split_at(data.len().min(4));
    let mut parser = ReplyParser::new();
    let mut rest = bytes;
    let mut i = 0;
    while !rest.is_empty() {
        let step = usize::from(*splits.get(i % splits.len().max(1)).unwrap_or(&7)).max(1);
        let (chunk, tail) = rest.split_at(step.min(rest.len()));
        parser.feed(chunk);
        loop {
            match parser.next_reply() {
                Ok(Some(reply)) => assert!((200..600).contains(&reply.code)),
                Ok(None) => break,
                Err(_) => return,
            }
        }
        assert!(parser.buffered() <= 8192 + 1 + 256, "buffered {}", parser.buffered());
        rest = tail;
        i += 1;
    }
});
