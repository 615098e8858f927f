"""smtp_component.mailer against aiosmtpd (host-test/servers/aiosmtpd_server.py), the
messages parsed back by Python's `email`.

    python -m unittest discover -s tests -p 'test_*.py'
"""

import email
import email.policy
import unittest

import smtp_component as smtplib
from smtp_component import mailer

from test_aiosmtpd import Aiosmtpd

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def text(msg, subtype):
    """A body part's text with its CRLF line ends (as sent) read as \n."""
    return msg.get_body((subtype,)).get_content().replace("\r\n", "\n")


class MailerTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Aiosmtpd("--auth", "alice:s3cret", "--auth-in-clear")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def transport(self, **kw):
        return mailer.Transport("127.0.0.1", self.server.port, security="none", timeout=10, **kw)

    def mail(self, **kw):
        fields = dict(from_addr=("Ann Example", "ann@example.com"),
                      to=["bob@example.com", mailer.Mailbox("carol@example.com", "Carol")],
                      bcc=["hidden@example.com"], subject="Report \u00e9t\u00e9",
                      text="Hello in text.\n", html="<p>Hello in <b>HTML</b>.</p>\n",
                      attachments=[mailer.Attachment("chart.png", PNG, "image/png")])
        fields.update(kw)
        return mailer.Mail(**fields)

    def count(self):
        return len(self.server.messages())

    def test_send_text_html_attachment_parsed_back(self):
        delivery = mailer.send(self.transport(user="alice", password="s3cret"), self.mail())
        self.assertIsInstance(delivery, mailer.Delivery)
        self.assertEqual(delivery.code, 250)
        self.assertIsInstance(delivery.message, bytes)
        self.assertEqual(list(delivery.accepted),
                         ["bob@example.com", "carol@example.com", "hidden@example.com"])
        self.assertTrue(all(code == 250 for code, _ in delivery.accepted.values()))
        self.assertEqual(delivery.refused, {})
        self.assertEqual(delivery.lmtp_replies, {})
        self.assertGreaterEqual(delivery.elapsed_ms, 0)

        meta, data = self.server.messages()[-1]
        self.assertEqual(meta["mail_from"], "ann@example.com")
        self.assertEqual(sorted(meta["rcpt_tos"]),
                         ["bob@example.com", "carol@example.com", "hidden@example.com"])
        self.assertEqual(meta["auth_user"], "alice")
        self.assertNotIn(b"hidden", data)
        msg = email.message_from_bytes(data, policy=email.policy.default)
        self.assertEqual(msg["Subject"], "Report \u00e9t\u00e9")
        self.assertEqual(msg["From"].addresses[0].display_name, "Ann Example")
        self.assertEqual([a.addr_spec for a in msg["To"].addresses],
                         ["bob@example.com", "carol@example.com"])
        self.assertEqual(msg.get_content_type(), "multipart/mixed")
        self.assertEqual(text(msg, "plain"), "Hello in text.\n")
        self.assertEqual(text(msg, "html"),
                         "<p>Hello in <b>HTML</b>.</p>\n")
        attachments = list(msg.iter_attachments())
        self.assertEqual([a.get_filename() for a in attachments], ["chart.png"])
        self.assertEqual(attachments[0].get_content_type(), "image/png")
        self.assertEqual(attachments[0].get_content(), PNG)

    def test_refused_recipient_in_delivery_and_all_refused_raises(self):
        delivery = mailer.send(self.transport(),
                               self.mail(to=["ok@example.com", "refuse@example.com"], bcc=[]))
        self.assertEqual(list(delivery.accepted), ["ok@example.com"])
        self.assertEqual(list(delivery.refused), ["refuse@example.com"])
        self.assertEqual(delivery.refused["refuse@example.com"][0], 550)
        before = self.count()
        with self.assertRaises(smtplib.SMTPRecipientsRefused) as cm:
            mailer.send(self.transport(), self.mail(to=["refuse1@example.com"], bcc=[]))
        self.assertEqual(cm.exception.kind, "recipients-refused")
        self.assertEqual(cm.exception.recipients["refuse1@example.com"][0], 550)
        self.assertEqual(self.count(), before)

    def test_requiretls_in_clear_is_not_supported_and_nothing_is_sent(self):
        before = self.count()
        with self.assertRaises(smtplib.SMTPNotSupportedError) as cm:
            mailer.send(self.transport(), self.mail(require_tls=True))
        self.assertEqual(cm.exception.kind, "not-supported")
        self.assertIn("REQUIRETLS", str(cm.exception).upper())
        self.assertEqual(self.count(), before)

    def test_starttls_required_without_starttls_is_not_supported(self):
        before = self.count()
        transport = mailer.Transport("127.0.0.1", self.server.port, timeout=10)
        with self.assertRaises(smtplib.SMTPNotSupportedError):
            mailer.send(transport, self.mail())
        self.assertEqual(self.count(), before)

    def test_bad_input_is_value_error(self):
        with self.assertRaises(ValueError) as cm:
            mailer.send(self.transport(), self.mail(to=["not an address"]))
        self.assertEqual(cm.exception.kind, "invalid-argument")
        with self.assertRaises(ValueError):
            mailer.compose(self.mail(headers={"Subject": "twice"}))
        with self.assertRaises(ValueError):
            mailer.send(mailer.Transport("127.0.0.1", security="sometimes"), self.mail())
        with self.assertRaises(TypeError):
            mailer.compose(self.mail(to=[42]))

    def test_wrong_password_is_authentication_error(self):
        with self.assertRaises(smtplib.SMTPAuthenticationError) as cm:
            mailer.send(self.transport(user="alice", password="wrong"), self.mail())
        self.assertEqual(cm.exception.smtp_code, 535)

    def test_compose_returns_bytes_email_parses(self):
        data = mailer.compose(self.mail(
            date=1700000000, message_id="abc.123@example.com", in_reply_to=["x@example.com"],
            headers=[("X-Mailer", "tests")], reply_to=["replies@example.com"]))
        self.assertIsInstance(data, bytes)
        self.assertIn(b"\r\n", data)
        self.assertNotIn(b"hidden@example.com", data)
        msg = email.message_from_bytes(data, policy=email.policy.default)
        self.assertEqual(msg["Message-ID"], "<abc.123@example.com>")
        self.assertEqual(msg["In-Reply-To"], "<x@example.com>")
        self.assertEqual(msg["X-Mailer"], "tests")
        self.assertEqual(msg["Reply-To"].addresses[0].addr_spec, "replies@example.com")
        self.assertEqual(msg["Date"].datetime.timestamp(), 1700000000)
        self.assertEqual(text(msg, "plain"), "Hello in text.\n")
        self.assertEqual(next(msg.iter_attachments()).get_content(), PNG)
        self.assertEqual(self.mail().bcc, ["hidden@example.com"])  # not consumed

    def test_send_with_and_send_bytes_with_over_an_open_smtp(self):
        smtp = smtplib.SMTP("127.0.0.1", self.server.port, timeout=10)
        self.addCleanup(smtp.close)
        delivery = mailer.send_with(smtp, self.mail(bcc=[]))
        self.assertEqual(list(delivery.accepted), ["bob@example.com", "carol@example.com"])
        self.assertTrue(smtp.is_connected())
        raw = b"From: a@example.com\r\nSubject: raw\r\n\r\nraw body\r\n"
        delivery = mailer.send_bytes_with(smtp, "a@example.com", "z@example.com", raw,
                                          dsn=mailer.Dsn(notify={"failure"}, best_effort=True))
        self.assertEqual(list(delivery.accepted), ["z@example.com"])
        meta, data = self.server.messages()[-1]
        self.assertEqual(meta["rcpt_tos"], ["z@example.com"])
        self.assertEqual(data, raw)
        self.assertEqual(smtp.quit()[0], 221)
        with self.assertRaises(smtplib.SMTPServerDisconnected):
            mailer.send_with(smtp, self.mail())


if __name__ == "__main__":
    unittest.main()
