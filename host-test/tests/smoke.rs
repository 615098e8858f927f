mod common;
use common::*;
use host_test::servers::Aiosmtpd;

#[test]
fn smoke() {
    let server = Aiosmtpd::start(&[]).unwrap();
    let mut c = client();
    c.set_debuglevel(1).unwrap();
    let greeting = connect(&mut c, &server.addr());
    assert_eq!(greeting.code, 220);
    let refused = c
        .sendmail(
            "a@example.com",
            &strings(&["b@example.com"]),
            &text("Subject: hi\n\n.dot\nbody\n"),
            &[],
            &[],
        )
        .unwrap()
        .unwrap();
    assert!(refused.is_empty());
    c.quit().unwrap().unwrap();
    let got = server.wait_messages(1);
    println!("{}", c.transcript());
    assert_eq!(got[0].bytes, b"Subject: hi\r\n\r\n.dot\r\nbody\r\n");
}
