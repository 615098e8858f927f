//! An HTTP app for WASI 0.3, as Spin 4.1 runs one: a `wasi:http/handler@0.3` export
//! (the `service` world, exported as wasip3's `http-proxy` example does) that sends the
//! body of each `POST` as a mail (RFC 5322 text; the envelope comes from its headers,
//! as smtplib's `send_message` does) through the WASI 0.3 smtp component's `client`
//! interface, awaiting each of its `async func`s.
//!
//! The settings (environment variables), the JSON answers and the error descriptions
//! are examples/spin-app's, shared by path: the two apps differ only in how they speak
//! wasi:http and call the client (sync there, async here).
//!
//! Answers: `200 {"sent":true,"refused":[...]}` when the server accepted the message
//! (for at least one recipient), `502 {"sent":false,"error":...}` when it did not,
//! `405` for other methods, `400` for a body that could not be read, `413` for a body
//! over [`MAX_BODY`], `500` for a bad config.

mod bindings {
    wit_bindgen::generate!({ world: "app", path: "wit", generate_all });
}
#[path = "../../spin-app/src/config.rs"]
mod config;
#[path = "../../spin-app/src/describe.rs"]
mod describe;
#[path = "../../spin-app/src/json.rs"]
mod json;
mod send;

use wasip3::http::types::{ErrorCode, Fields, Method, Request, Response};
use wasip3::{wit_future, wit_stream};
use wit_bindgen::rt::async_support::StreamResult;

/// The largest message accepted in a request body.
pub const MAX_BODY: usize = 25 * 1024 * 1024;

struct App;

wasip3::http::service::export!(App);

impl wasip3::exports::http::handler::Guest for App {
    async fn handle(request: Request) -> Result<Response, ErrorCode> {
        let (status, body) = answer(request).await;
        respond(status, body)
    }
}

/// The status and JSON body for one request.
async fn answer(request: Request) -> (u16, String) {
    if !matches!(request.get_method(), Method::Post) {
        return (405, json::error("POST a message (RFC 5322) to send it"));
    }
    let message = match read_body(request).await {
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
    match send::send(&config, message).await {
        Ok(refused) => (200, json::sent(&refused)),
        Err(error) => (502, json::error(&error)),
    }
}

/// Reads the whole request body (and waits for its end, so that a body cut short is
/// not sent as a mail), or gives the status to answer with.
async fn read_body(request: Request) -> Result<Vec<u8>, u16> {
    let (done_tx, done_rx) = wit_future::new(|| Ok(()));
    let (mut stream, trailers) = Request::consume_body(request, done_rx);
    let mut message = Vec::new();
    loop {
        message.reserve(64 * 1024);
        let (result, buffer) = stream.read(message).await;
        message = buffer;
        if message.len() > MAX_BODY {
            return Err(413);
        }
        match result {
            StreamResult::Complete(_) => {}
            StreamResult::Dropped => break,
            StreamResult::Cancelled => return Err(400),
        }
    }
    drop(stream);
    // The body's end: trailers (none expected) or the error that cut it short.
    let ended = trailers.await;
    drop(done_tx);
    match ended {
        Ok(_) => Ok(message),
        Err(_) => Err(400),
    }
}

/// The response; its body is written by a task of its own once the host reads it.
fn respond(status: u16, body: String) -> Result<Response, ErrorCode> {
    let headers = Fields::new();
    headers
        .append("content-type", b"application/json")
        .map_err(|e| ErrorCode::InternalError(Some(format!("content-type: {e:?}"))))?;
    let (mut body_tx, body_rx) = wit_stream::new();
    let (trailers_tx, trailers_rx) = wit_future::new(|| Ok(None));
    let (response, _sent) = Response::new(headers, Some(body_rx), trailers_rx);
    drop(trailers_tx);
    response
        .set_status_code(status)
        .map_err(|()| ErrorCode::InternalError(Some(format!("bad status {status}"))))?;
    wit_bindgen::spawn_local(async move {
        // A client that went away is nothing to report to.
        let _ = body_tx.write_all(body.into_bytes()).await;
    });
    Ok(response)
}
