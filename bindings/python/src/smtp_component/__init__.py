"""Python's smtplib, run by the smtp WebAssembly component: `import smtp_component as
smtplib`. The protocol, TLS and SASL run inside the component (in wasmtime); this
package converts Python values and raises smtplib's exceptions."""

from smtplib import quoteaddr, quotedata  # pure string helpers, unchanged from smtplib

from ._errors import (SMTPAuthenticationError, SMTPConnectError, SMTPDataError,
                      SMTPDeliveryUnknown, SMTPException, SMTPHeloError,
                      SMTPMalformedReply, SMTPNotSupportedError, SMTPRecipientsRefused,
                      SMTPResponseException, SMTPSenderRefused, SMTPServerDisconnected)
from ._runtime import component_path
from ._smtp import (CRLF, LMTP, LMTP_PORT, OLDSTYLE_AUTH, SMTP, SMTP_PORT, SMTP_SSL,
                    SMTP_SSL_PORT, _MAXCHALLENGE, _MAXLINE, bCRLF, tls_config)
from . import mailer  # the `mailer` interface: mailer.send(Transport(...), Mail(...))

__all__ = ["SMTPException", "SMTPNotSupportedError", "SMTPServerDisconnected",
           "SMTPResponseException", "SMTPSenderRefused", "SMTPRecipientsRefused",
           "SMTPDataError", "SMTPConnectError", "SMTPHeloError", "SMTPAuthenticationError",
           "SMTPMalformedReply", "SMTPDeliveryUnknown", "quoteaddr", "quotedata", "SMTP",
           "SMTP_SSL", "LMTP", "tls_config", "component_path", "mailer"]
