//! An HTTP app, as Spin runs one: a `wasi:http/incoming-handler` that sends the body of
//! each `POST` as a mail (RFC 5322 text; the envelope comes from its headers, as
//! smtplib's `send_message` does) through the smtp component's `client` interface.
//!
//! The server and its TLS settings come from environment variables (Spin's
//! `environment` in `spin.toml`, `--env` for `wasi-host serve`), see [`config`]. Spin
//! gives guests no DNS, so `SMTP_HOST` is an IP literal and the name to verify the
//! certificate against goes separately in `SMTP_TLS_SERVER_NAME`.
//!
//! Answers: `200 {"sent":true,"refused":[...]}` when the server accepted the message
//! (for at least one recipient), `502 {"sent":false,"error":...}` when it did not,
//! `405` for other methods, `413` for a body over [`MAX_BODY`], `500` for a bad config.

mod bindings {
    wit_bindgen::generate!({ world: "app", path: "wit", generate_all });
}
mod config;
mod describe;
mod json;
mod send;

use wasip2::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use wasip2::io::streams::StreamError;

/// The largest message accepted in a request body.
pub const MAX_BODY: usize = 25 * 1024 * 1024;

struct App;

wasip2::http::proxy::export!(App);

impl wasip2::exports::http::incoming_handler::Guest for App {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let (status, body) = answer(&request);
        respond(response_out, status, &body);
    }
}

/// The status and JSON body for one request.
fn answer(request: &IncomingRequest) -> (u16, String) {
    if !matches!(request.method(), Method::Post) {
        return (405, json::error("POST a message (RFC 5322) to send it"));
    }
    let message = match read_body(request) {
        Ok(message) => message,
        Err(status) => {
            return (
                status,
                json::error("the body could not be read or is too large"),
            )
        }
    };
    let config = match config::Config::from_env() {
        Ok(config) => config,
        Err(problem) => return (500, json::error(&problem)),
    };
    match send::send(&config, &message) {
        Ok(refused) => (200, json::sent(&refused)),
        Err(error) => (502, json::error(&error)),
    }
}

/// Reads the whole request body, or gives the status to answer with.
fn read_body(request: &IncomingRequest) -> Result<Vec<u8>, u16> {
    let body = request.consume().map_err(|()| 400u16)?;
    let stream = body.stream().map_err(|()| 400u16)?;
    let mut message = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => {
                if message.len() + chunk.len() > MAX_BODY {
                    return Err(413);
                }
                message.extend_from_slice(&chunk);
            }
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(_)) => return Err(400),
        }
    }
    drop(stream);
    Ok(message)
}

/// Sends the response; a client that went away is nothing to report to.
fn respond(response_out: ResponseOutparam, status: u16, body: &str) {
    let headers = Fields::new();
    let _ = headers.append("content-type", b"application/json");
    let response = OutgoingResponse::new(headers);
    let _ = response.set_status_code(status);
    let Ok(outgoing) = response.body() else {
        return;
    };
    ResponseOutparam::set(response_out, Ok(response));
    if let Ok(stream) = outgoing.write() {
        for chunk in body.as_bytes().chunks(4096) {
            if stream.blocking_write_and_flush(chunk).is_err() {
                break;
            }
        }
        drop(stream);
    }
    let _ = OutgoingBody::finish(outgoing, None);
}
