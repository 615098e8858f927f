"""Runs CPython's own Lib/test/test_smtplib.py with `smtp_component` in place of smtplib.

    python tests/cpython_test_smtplib.py [-v] [unittest args...]

The test module comes from the running interpreter's standard library (`test` package;
CPython 3.11 here). Before it is imported, `sys.modules["smtplib"]` is set to
`smtp_component`, so every `smtplib.X` in it is ours. Its servers (smtpd's
DebuggingServer, its SimSMTPServer, a raw socket thread) are real sockets on 127.0.0.1
that the component reaches through wasi:sockets.

SKIPPED lists the tests that cannot run against a component, each with the reason; every
other test must pass.
"""

import sys
import unittest
import warnings

import smtp_component

warnings.simplefilter("ignore", DeprecationWarning)  # asyncore and smtpd, as CPython does
sys.modules["smtplib"] = smtp_component
from test import test_smtplib  # noqa: E402  (after the swap, on purpose)

MOCK = ("monkeypatches `smtplib.socket` with test.mock_socket, a fake socket module; the "
        "component opens its sockets through wasi:sockets in wasmtime, so the fake is never "
        "used and the test would connect to a real port 25")
RAW = ("uses smtplib's undocumented socket-level methods (putcmd, getreply, send); the "
       "component sends a command and reads its reply in one call (docmd), and raw bytes "
       "never cross the WIT interface")
WORDING = ("checks the words of the ValueError for a CR/LF in a command; the component "
           "refuses it too (ValueError, nothing sent) but says 'contains a CR or LF' and "
           "names only the offending argument")
SKIPPED = {
    "SMTPGeneralTests": MOCK,
    "LMTPGeneralTests": MOCK,
    "BadHELOServerTests": MOCK,
    "DefaultArgumentsTests": (
        "replaces smtp.ehlo and smtp.sendmail with Mocks and checks that send_message "
        "calls self.sendmail with SMTPUTF8 options; here send_message is one component "
        "call (send-message), which builds the envelope and adds SMTPUTF8 itself "
        "(SMTPUTF8SimTests.test_send_message_uses_smtputf8_if_addrs_non_ascii passes)"),
    "DebuggingServerTests.testEXPNNotImplemented": RAW,
    "DebuggingServerTests.test_issue43124_putcmd_escapes_newline": RAW,
    "NonConnectingTests.testNotConnected": RAW,
    "SMTPSimTests.test_with_statement": RAW + " (the with statement itself is tested in "
                                              "tests/test_aiosmtpd.py)",
    "DebuggingServerTests.test_issue43124_escape_localhostname": WORDING,
    "DebuggingServerTests.test_issue43124_escape_options": WORDING,
    "NonConnectingTests.testNonnumericPort": (
        "SMTP('localhost', 'bogus') raises OSError as smtplib does, but the component "
        "parses 'localhost:bogus' itself and refuses it as invalid-argument (ValueError), "
        "as it does every unusable argument"),
}

for name, reason in SKIPPED.items():
    cls, _, method = name.partition(".")
    target = getattr(test_smtplib, cls, None)
    if target is None or (method and not hasattr(target, method)):
        continue  # another CPython's test_smtplib (the list is for 3.11's)
    if method:
        setattr(target, method, unittest.skip(reason)(getattr(target, method)))
    else:
        setattr(test_smtplib, cls, unittest.skip(reason)(target))

if __name__ == "__main__":
    unittest.main(module=test_smtplib)
