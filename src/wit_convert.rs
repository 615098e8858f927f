//! WIT value conversions, written once for both builds' glue: the p2 build's
//! `component` and the p3 build's `component_p3` generate the same types from the same
//! interface into different modules, and `wit_conversions!()` defines these functions
//! over whichever module the caller has imported as `wit` (with the core types they
//! name in scope).

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
