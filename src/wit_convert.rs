//! WIT value conversions, written once for both builds' glue: the p2 build's
//! `component` and the p3 build's `component_p3` generate the same types from the same
//! interface into different modules, and `wit_conversions!()` defines these functions
//! over whichever module the caller has imported as `wit` (with the core types they
//! name in scope); `mailer_conversions!()` does the same for the `mailer` interface's
//! types over the module imported as `mwit`, and `mailer_exports!()` is the `mailer`
//! exports themselves, blocking in the p2 build and async in the p3 one
//! (`maybe-async`, as the core they call).

/// Defines the conversions between the WIT types of the module `wit` and the core's:
/// options, TLS settings, messages, mechanisms, replies, refusals, delivery reports and
/// errors.
macro_rules! wit_conversions {
    () => {
        fn options(o: wit::ClientOptions) -> ClientOptions {
            ClientOptions {
                local_hostname: o.local_hostname,
                timeout_ms: o.timeout_ms,
                source_address: o.source_address.map(|s| (s.ip, s.port)),
            }
        }

        fn tls_settings(c: wit::TlsConfig) -> TlsSettings {
            TlsSettings {
                server_name: c.server_name,
                extra_roots_pem: c.extra_roots_pem,
                client_cert_pem: c.client_cert_pem,
                client_key_pem: c.client_key_pem,
                unsafe_accept_invalid_certs: c.unsafe_accept_invalid_certs,
            }
        }

        fn message_bytes(msg: wit::Message) -> Result<Vec<u8>, SmtpError> {
            match msg {
                wit::Message::Text(text) => data::text_to_bytes(&text),
                wit::Message::Bytes(bytes) => Ok(bytes),
            }
        }

        fn mechanism_kind(m: wit::SaslMechanism) -> MechanismKind {
            match m {
                wit::SaslMechanism::CramMd5 => MechanismKind::CramMd5,
                wit::SaslMechanism::Plain => MechanismKind::Plain,
                wit::SaslMechanism::Login => MechanismKind::Login,
                wit::SaslMechanism::Xoauth2 => MechanismKind::XOAuth2,
                wit::SaslMechanism::Oauthbearer => MechanismKind::OAuthBearer,
            }
        }

        fn wrap(result: Result<Reply, SmtpError>) -> Result<wit::Reply, wit::SmtpError> {
            result.map(reply_to_wit).map_err(error_to_wit)
        }

        fn step_to_wit(step: AuthStep) -> wit::AuthStep {
            match step {
                AuthStep::Done(reply) => wit::AuthStep::Done(reply_to_wit(reply)),
                AuthStep::Challenge(bytes) => wit::AuthStep::Challenge(bytes),
            }
        }

        fn reply_to_wit(r: Reply) -> wit::Reply {
            wit::Reply {
                code: r.code,
                text: r.text,
                enhanced_status: r.enhanced.map(|e| wit::EnhancedStatus {
                    class: e.class,
                    subject: e.subject,
                    detail: e.detail,
                }),
            }
        }

        fn refusal_to_wit(r: Refusal) -> wit::Refusal {
            wit::Refusal {
                recipient: r.recipient,
                reply: reply_to_wit(r.reply),
            }
        }

        fn error_to_wit(e: SmtpError) -> wit::SmtpError {
            use wit::SmtpError as W;
            match e {
                SmtpError::ServerDisconnected(m) => W::ServerDisconnected(m),
                SmtpError::Response(r) => W::Response(reply_to_wit(r)),
                SmtpError::SenderRefused { sender, reply } => {
                    W::SenderRefused(wit::SenderRefusal {
                        sender,
                        reply: reply_to_wit(reply),
                    })
                }
                SmtpError::RecipientsRefused(list) => {
                    W::RecipientsRefused(list.into_iter().map(refusal_to_wit).collect())
                }
                SmtpError::DataError(r) => W::DataError(reply_to_wit(r)),
                SmtpError::ConnectError(r) => W::ConnectError(reply_to_wit(r)),
                SmtpError::HeloError(r) => W::HeloError(reply_to_wit(r)),
                SmtpError::NotSupported(m) => W::NotSupported(m),
                SmtpError::AuthenticationError(r) => W::AuthenticationError(reply_to_wit(r)),
                SmtpError::Timeout(m) => W::Timeout(m),
                SmtpError::Tls(m) => W::Tls(m),
                SmtpError::Io(m) => W::Io(m),
                SmtpError::InvalidArgument(m) => W::InvalidArgument(m),
                SmtpError::MalformedReply(m) => W::MalformedReply(m),
                SmtpError::DeliveryUnknown(m) => W::DeliveryUnknown(m),
            }
        }

        fn recipient_replies(list: Vec<(String, Reply)>) -> Vec<wit::RecipientReply> {
            list.into_iter()
                .map(|(recipient, reply)| wit::RecipientReply {
                    recipient,
                    reply: reply_to_wit(reply),
                })
                .collect()
        }

        fn delivery_to_wit(d: Delivery) -> wit::Delivery {
            wit::Delivery {
                reply: reply_to_wit(d.reply),
                queue_id: d.queue_id,
                accepted: recipient_replies(d.accepted),
                refused: d.refused.into_iter().map(refusal_to_wit).collect(),
                lmtp_replies: recipient_replies(d.lmtp_replies),
                extensions: d.extensions,
                elapsed_ms: d.elapsed_ms,
            }
        }
    };
}

pub(crate) use wit_conversions;

/// Defines the conversions from the `mailer` interface's WIT types, in the module the
/// caller has imported as `mwit`, to the core's [`crate::mail`] types: mailboxes, the
/// message, its options (DKIM, DSN, REQUIRETLS) and the transport. Expanded next to
/// [`wit_conversions`] (it uses its `tls_settings`), with `mail` and `MechanismKind`
/// in scope.
macro_rules! mailer_conversions {
    () => {
        fn mailbox_from_wit(m: mwit::Mailbox) -> mail::Mailbox {
            mail::Mailbox {
                name: m.name,
                address: m.address,
            }
        }

        fn mailboxes(list: Vec<mwit::Mailbox>) -> Vec<mail::Mailbox> {
            list.into_iter().map(mailbox_from_wit).collect()
        }

        fn options_from_wit(o: mwit::MailOptions) -> mail::MailOptions {
            mail::MailOptions {
                dkim: o.dkim.map(|d| mail::Dkim {
                    domain: d.domain,
                    selector: d.selector,
                    private_key_pem: d.private_key_pem,
                    algorithm: match d.algorithm {
                        mwit::DkimAlgorithm::RsaSha256 => mail::DkimAlgorithm::RsaSha256,
                        mwit::DkimAlgorithm::Ed25519Sha256 => mail::DkimAlgorithm::Ed25519Sha256,
                    },
                    signed_headers: d.signed_headers,
                }),
                dsn: o.dsn.map(|d| mail::Dsn {
                    notify: d.notify.map(|n| match n {
                        mwit::DsnNotify::Never => mail::Notify::Never,
                        mwit::DsnNotify::On(events) => mail::Notify::On {
                            success: events.contains(mwit::DsnEvents::SUCCESS),
                            failure: events.contains(mwit::DsnEvents::FAILURE),
                            delay: events.contains(mwit::DsnEvents::DELAY),
                        },
                    }),
                    ret: d.ret.map(|r| match r {
                        mwit::DsnReturn::Full => mail::DsnReturn::Full,
                        mwit::DsnReturn::Headers => mail::DsnReturn::Headers,
                    }),
                    envid: d.envid,
                    orcpt: d.orcpt,
                    best_effort: d.best_effort,
                }),
                require_tls: o.require_tls,
            }
        }

        fn mail_from_wit(m: mwit::Mail) -> mail::Mail {
            mail::Mail {
                from: mailbox_from_wit(m.from),
                sender: m.sender.map(mailbox_from_wit),
                to: mailboxes(m.to),
                cc: mailboxes(m.cc),
                bcc: mailboxes(m.bcc),
                reply_to: mailboxes(m.reply_to),
                subject: m.subject,
                date: m.date,
                message_id: m.message_id,
                in_reply_to: m.in_reply_to,
                references: m.references,
                headers: m
                    .headers
                    .into_iter()
                    .map(|h| mail::Header {
                        name: h.name,
                        value: h.value,
                    })
                    .collect(),
                text: m.text,
                html: m.html,
                attachments: m
                    .attachments
                    .into_iter()
                    .map(|a| mail::Attachment {
                        filename: a.filename,
                        content_type: a.content_type,
                        content: a.content,
                        content_id: a.content_id,
                    })
                    .collect(),
                options: options_from_wit(m.options),
            }
        }

        fn transport_from_wit(t: mwit::Transport) -> mail::Transport {
            mail::Transport {
                host: t.host,
                port: t.port,
                security: match t.security {
                    mwit::Security::ImplicitTls => mail::Security::ImplicitTls,
                    mwit::Security::StarttlsRequired => mail::Security::StartTlsRequired,
                    mwit::Security::None => mail::Security::None,
                },
                tls: t.tls.map(tls_settings).unwrap_or_default(),
                credentials: t.credentials.map(|c| match c {
                    mwit::Credentials::Password(p) => mail::Credentials::Password {
                        user: p.user,
                        password: p.password,
                    },
                    mwit::Credentials::Oauth(o) => mail::Credentials::OAuth {
                        user: o.user,
                        token: o.token,
                        mechanism: match o.mechanism {
                            mwit::OauthMechanism::Xoauth2 => MechanismKind::XOAuth2,
                            mwit::OauthMechanism::Oauthbearer => MechanismKind::OAuthBearer,
                        },
                    },
                }),
                allow_insecure_auth: t.allow_insecure_auth,
                local_hostname: t.local_hostname,
                timeout_ms: t.timeout_ms,
                lmtp: t.lmtp,
            }
        }
    };
}

pub(crate) use mailer_conversions;

/// Implements the `mailer` exports (`mwit::Guest`) for `Component` over
/// [`crate::mail`]: written once with `async`/`.await`, which `maybe-async` strips in
/// the p2 build (its `is_sync`), as in the core. Expanded with [`wit_conversions`] and
/// [`mailer_conversions`], `Wasi` (the build's [`crate::client::Network`]) and a
/// `Client` resource whose `lock()` gives its [`crate::client::Client`] (awaited in
/// the p3 build, where an earlier call may still hold it). `compose` does no I/O and
/// is a plain function in both builds.
macro_rules! mailer_exports {
    () => {
        #[maybe_async::maybe_async(AFIT)]
        impl mwit::Guest for Component {
            async fn send(
                transport: mwit::Transport,
                mail: mwit::Mail,
            ) -> Result<wit::Delivery, wit::SmtpError> {
                mail::send::send(Wasi, &transport_from_wit(transport), &mail_from_wit(mail))
                    .await
                    .map(delivery_to_wit)
                    .map_err(error_to_wit)
            }

            fn compose(mail: mwit::Mail) -> Result<Vec<u8>, wit::SmtpError> {
                mail::compose::compose(&mail_from_wit(mail)).map_err(error_to_wit)
            }

            async fn send_with(
                client: wit::ClientBorrow<'_>,
                mail: mwit::Mail,
            ) -> Result<wit::Delivery, wit::SmtpError> {
                let mail = mail_from_wit(mail);
                let mut c = client.get::<Client>().lock().await;
                mail::send::send_with(&mut c, &mail)
                    .await
                    .map(delivery_to_wit)
                    .map_err(error_to_wit)
            }

            async fn send_bytes_with(
                client: wit::ClientBorrow<'_>,
                from_addr: String,
                to_addrs: Vec<String>,
                msg: Vec<u8>,
                options: mwit::MailOptions,
            ) -> Result<wit::Delivery, wit::SmtpError> {
                let options = options_from_wit(options);
                let mut c = client.get::<Client>().lock().await;
                mail::send::send_bytes(&mut c, &from_addr, &to_addrs, msg, &options)
                    .await
                    .map(delivery_to_wit)
                    .map_err(error_to_wit)
            }
        }
    };
}

pub(crate) use mailer_exports;
