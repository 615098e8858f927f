"""smtp_component against aiosmtpd (host-test/servers/aiosmtpd_server.py), each server
started by the test on 127.0.0.1 and stopped by PID. The server's Python (with aiosmtpd)
is SMTP_TEST_PYTHON, else the checkout's .venv/bin/python.

    python -m unittest discover -s tests -p 'test_*.py'
"""

import base64
import contextlib
import email.message
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

import ssl

import smtp_component as smtplib

ROOT = Path(__file__).resolve().parents[3]
SERVER = ROOT / "host-test" / "servers" / "aiosmtpd_server.py"
PYTHON = os.environ.get("SMTP_TEST_PYTHON") or str(ROOT / ".venv" / "bin" / "python")


class Aiosmtpd:
    """One aiosmtpd process storing every message in a temporary folder."""

    def __init__(self, *args):
        self._dir = tempfile.TemporaryDirectory()
        self.store = Path(self._dir.name)
        self.proc = subprocess.Popen([PYTHON, str(SERVER), "--store", str(self.store), *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     stdin=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("aiosmtpd did not start")
        self.port = json.loads(line)["port"]

    def messages(self):
        """[(envelope, bytes)] of every stored message, in order."""
        out = []
        for eml in sorted(self.store.glob("*.eml")):
            meta = json.loads(eml.with_suffix(".json").read_text())
            out.append((meta, eml.read_bytes()))
        return out

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.proc.stdout.close()
        self._dir.cleanup()


class AiosmtpdTests(unittest.TestCase):
    server_args = ("--auth", "alice:s3cret", "--auth-in-clear")

    @classmethod
    def setUpClass(cls):
        cls.server = Aiosmtpd(*cls.server_args)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def connect(self, cls=smtplib.SMTP):
        smtp = cls("127.0.0.1", self.server.port, timeout=10)
        self.addCleanup(smtp.close)
        return smtp

    def last(self):
        return self.server.messages()[-1]

    def test_sendmail_text_and_bytes_arrive_exactly(self):
        smtp = self.connect()
        self.assertEqual(smtp.sendmail("a@example.com", "b@example.com",
                                       "Subject: t\r\n\r\n.dot line\r\nend\r\n"), {})
        meta, data = self.last()
        self.assertEqual(meta["mail_from"], "a@example.com")
        self.assertEqual(meta["rcpt_tos"], ["b@example.com"])
        self.assertEqual(data, b"Subject: t\r\n\r\n.dot line\r\nend\r\n")
        body = b"Subject: 8bit\r\n\r\n\xe9t\xe9\r\n"
        smtp.sendmail("a@example.com", ["b@example.com"], body)
        self.assertEqual(self.last()[1], body)
        self.assertEqual(smtp.quit()[0], 221)

    def test_refused_recipient_is_reported(self):
        smtp = self.connect()
        refused = smtp.sendmail("a@example.com", ["ok@example.com", "refuse@example.com"], "x\r\n")
        self.assertEqual(list(refused), ["refuse@example.com"])
        self.assertEqual(refused["refuse@example.com"][0], 550)
        self.assertIsInstance(refused["refuse@example.com"][1], bytes)
        with self.assertRaises(smtplib.SMTPRecipientsRefused) as cm:
            smtp.sendmail("a@example.com", ["refuse1@example.com"], "x\r\n")
        self.assertEqual(cm.exception.recipients["refuse1@example.com"][0], 550)
        self.assertEqual(cm.exception.kind, "recipients-refused")
        self.assertIsInstance(cm.exception, smtplib.SMTPException)
        self.assertIsInstance(cm.exception, OSError)

    def test_send_message_takes_envelope_from_headers_and_drops_bcc(self):
        msg = email.message.EmailMessage()
        msg["From"] = "Alice <alice@example.com>"
        msg["To"] = "bob@example.com"
        msg["Bcc"] = "Hidden <hidden@example.com>"
        msg["Subject"] = "send_message"
        msg.set_content("hello\n")
        self.assertEqual(self.connect().send_message(msg), {})
        meta, data = self.last()
        self.assertEqual(meta["mail_from"], "alice@example.com")
        self.assertEqual(sorted(meta["rcpt_tos"]), ["bob@example.com", "hidden@example.com"])
        self.assertNotIn(b"Bcc", data)
        self.assertNotIn(b"hidden", data)
        parsed = email.message_from_bytes(data)
        self.assertEqual(parsed["Subject"], "send_message")
        self.assertEqual(msg["Bcc"], "Hidden <hidden@example.com>")  # caller's copy intact

    def test_ehlo_attributes(self):
        smtp = self.connect()
        self.assertIsNone(smtp.ehlo_resp)
        code, text = smtp.ehlo()
        self.assertEqual(code, 250)
        self.assertTrue(smtp.does_esmtp)
        self.assertEqual(smtp.ehlo_resp, text)
        self.assertIn("size", smtp.esmtp_features)
        self.assertTrue(smtp.has_extn("SIZE"))
        self.assertEqual(smtp.noop()[0], 250)
        smtp.quit()
        self.assertIsNone(smtp.ehlo_resp)
        self.assertFalse(smtp.is_connected())

    def test_login_and_wrong_password(self):
        smtp = self.connect()
        self.assertEqual(smtp.login("alice", "s3cret")[0], 235)
        other = self.connect()
        with self.assertRaises(smtplib.SMTPAuthenticationError) as cm:
            other.login("alice", "wrong")
        self.assertEqual(cm.exception.smtp_code, 535)
        self.assertIsInstance(cm.exception.smtp_error, bytes)

    def test_auth_with_callers_authobject(self):
        # LOGIN driven by the caller's own authobject, one challenge at a time.
        seen = []

        def authobject(challenge=None):
            seen.append(challenge)
            if challenge is None:
                return None  # no initial response: wait for the first challenge
            return "alice" if b"user" in challenge.lower() else "s3cret"

        smtp = self.connect()
        self.assertEqual(smtp.auth("login", authobject)[0], 235)
        self.assertEqual(seen[0], None)
        self.assertEqual(len(seen), 3)
        # PLAIN with an initial response.
        smtp2 = self.connect()
        code, _ = smtp2.auth("PLAIN", lambda challenge=None: "\0alice\0s3cret")
        self.assertEqual(code, 235)
        # The built-in authobjects run the component's mechanisms.
        smtp3 = self.connect()
        smtp3.user, smtp3.password = "alice", "s3cret"
        self.assertEqual(smtp3.auth("CRAM-MD5", smtp3.auth_cram_md5)[0], 235)

    def test_context_manager_quits(self):
        with smtplib.SMTP("127.0.0.1", self.server.port) as smtp:
            self.assertEqual(smtp.noop()[0], 250)
        self.assertFalse(smtp.is_connected())
        with self.assertRaises(smtplib.SMTPServerDisconnected):
            smtp.noop()

    def test_debug_transcript_goes_to_sys_stderr(self):
        smtp = self.connect()
        smtp.set_debuglevel(1)
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            smtp.noop()
        self.assertIn("NOOP", err.getvalue())

    def test_errors_map_to_python_exceptions(self):
        with self.assertRaises(OSError) as cm:
            smtplib.SMTP("127.0.0.1", 1, timeout=5)  # nothing listens on port 1
        self.assertEqual(getattr(cm.exception, "kind", None), "io")
        smtp = smtplib.SMTP()
        with self.assertRaises(smtplib.SMTPServerDisconnected):
            smtp.ehlo()
        with self.assertRaises(ValueError):
            smtplib.SMTP("127.0.0.1", self.server.port, timeout=0)
        with self.assertRaises(OSError):
            smtplib.SMTP("127.0.0.1", "bogus")
        smtp = self.connect()
        with self.assertRaises(ValueError):
            smtp.sendmail("a@example.com", ["b@example.com\r\nRCPT TO:<x@y>"], "x\r\n")
        with self.assertRaises(UnicodeEncodeError):
            smtp.sendmail("a@example.com", ["bö@example.com"], "x\r\n")


class SenderRefusedTests(unittest.TestCase):
    def test_sender_refused_has_sender(self):
        server = Aiosmtpd("--refuse-sender-prefix", "bad")
        self.addCleanup(server.stop)
        smtp = smtplib.SMTP("127.0.0.1", server.port, timeout=10)
        with self.assertRaises(smtplib.SMTPSenderRefused) as cm:
            smtp.sendmail("bad@example.com", ["b@example.com"], "x\r\n")
        self.assertEqual(cm.exception.sender, "bad@example.com")
        self.assertEqual(cm.exception.smtp_code, 553)
        smtp.close()


def make_certificates(folder: Path):
    """A throwaway CA and a server certificate for localhost and 127.0.0.1 (openssl)."""
    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=folder)

    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=smtp-component test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    (folder / "ext.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                                   "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")
    return folder / "ca.pem", folder / "server.pem", folder / "server.key"


class TlsTests(unittest.TestCase):
    """SMTP_SSL and starttls with an ssl.SSLContext: its CA certificates are trusted."""

    @classmethod
    def setUpClass(cls):
        cls._dir = tempfile.TemporaryDirectory()
        cls.ca, cert, key = make_certificates(Path(cls._dir.name))
        cls.starttls = Aiosmtpd("--tls-cert", str(cert), "--tls-key", str(key))
        cls.implicit = Aiosmtpd("--tls-cert", str(cert), "--tls-key", str(key), "--implicit-tls")

    @classmethod
    def tearDownClass(cls):
        cls.starttls.stop()
        cls.implicit.stop()
        cls._dir.cleanup()

    def context(self):
        return ssl.create_default_context(cafile=str(self.ca))

    def test_starttls_with_context(self):
        with smtplib.SMTP("localhost", self.starttls.port, timeout=10) as smtp:
            self.assertFalse(smtp.is_tls())
            self.assertEqual(smtp.starttls(context=self.context())[0], 220)
            self.assertTrue(smtp.is_tls())
            smtp.sendmail("tls@example.com", ["b@example.com"], "Subject: tls\r\n\r\nx\r\n")
        self.assertEqual(self.starttls.messages()[-1][0]["mail_from"], "tls@example.com")

    def test_smtp_ssl_with_context_and_server_name(self):
        # An IP literal to connect to, the certificate's name verified apart.
        with smtplib.SMTP_SSL("127.0.0.1", self.implicit.port, context=self.context(),
                              server_name="localhost", timeout=10) as smtp:
            self.assertTrue(smtp.is_tls())
            self.assertEqual(smtp.noop()[0], 250)

    def test_untrusted_certificate_is_ssl_error(self):
        with self.assertRaises(ssl.SSLError) as cm:
            smtplib.SMTP_SSL("localhost", self.implicit.port, timeout=10)  # Mozilla roots only
        self.assertEqual(cm.exception.kind, "tls")
        unverified = ssl.create_default_context()
        unverified.check_hostname = False
        unverified.verify_mode = ssl.CERT_NONE
        with smtplib.SMTP_SSL("localhost", self.implicit.port, context=unverified, timeout=10) as smtp:
            self.assertEqual(smtp.noop()[0], 250)


if __name__ == "__main__":
    unittest.main()
