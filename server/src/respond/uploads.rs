//! The other door: an upload (PUT, or a POST of a form with `--upload`), whose body is not
//! part of the request. [`receive`] runs the steps before the body (auth, uploads on,
//! admission, the target through `crate::share::upload`); the connection loop then takes
//! the body into the [`Intake`] (`crate::share::receive`) while it waits like any other,
//! and [`received`] answers once it is whole (or failed).

use super::authorize;
use super::reply::{Body, Reply, begin, error};
use crate::http::request::{Method, Request};
use crate::http::response_head::{self, Persist};
use crate::jail;
use crate::share::intake::{self, Intake};
use crate::share::multipart;
use crate::share::upload;
use crate::site::Site;

/// An upload accepted for its body: feed `intake`, then answer with [`received`].
#[derive(Debug)]
pub(crate) struct Receive {
    /// Where the body goes.
    pub intake: Intake,
    /// Send `100 Continue` first: the client waits for it.
    pub send_continue: bool,
    /// How to answer once the body is in.
    pub answer: Answer,
}

/// How an upload is answered.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    /// A PUT's file path (the 201's `Location`), or a POST's folder (the 303's).
    pub location: String,
    /// A form POST rather than a PUT.
    pub form: bool,
    /// The client takes HTML (a browser's form post): answer a POST with 303 to the folder.
    pub html: bool,
}

/// The steps of an upload before its body (auth, uploads on, admission, the target), for a
/// PUT or POST. `Err` is the answer instead (its head in `out`), with `persist`: the caller
/// closes the connection unless the request had no body left unread.
pub(crate) fn receive(
    req: &Request,
    site: &Site,
    persist: Persist,
    out: &mut Vec<u8>,
) -> Result<Receive, Reply> {
    if let Some(reply) = authorize::step(req, site, persist, out) {
        return Err(reply);
    }
    let Some(uploads) = &site.settings.share.uploads else {
        return Err(error(405, site, persist, out));
    };
    let framing = req.body.unwrap_or(crate::http::request::BodyFraming {
        length: None,
        chunked: false,
    });
    let admit = intake::Admit::decide(
        framing.length,
        framing.chunked,
        req.fields.expect.as_deref(),
        uploads.max_bytes,
    );
    let send_continue = match admit {
        intake::Admit::Read { send_continue } => send_continue,
        refused => {
            let status = refused.status().unwrap_or(400);
            return Err(error(status, site, persist, out));
        }
    };
    let rules = upload::Rules {
        overwrite: uploads.overwrite,
        mkdir: uploads.mkdir,
        subtree: uploads.subtree.clone(),
        jail: site.settings.jail,
    };
    let frame = match framing.length {
        Some(n) if !framing.chunked => intake::Framing::Length(n),
        _ => intake::Framing::Chunked(intake::Dechunk::default()),
    };
    let path = req.target.split('?').next().unwrap_or("");
    let refuse = |r: upload::Refusal, out: &mut Vec<u8>| error(r.status(), site, persist, out);
    if req.method == Method::Put {
        let (up, location) =
            upload::prepare(&site.root, path, &rules).map_err(|r| refuse(r, out))?;
        return Ok(Receive {
            intake: Intake::put(frame, up, uploads.max_bytes),
            send_continue,
            answer: Answer {
                location,
                form: false,
                html: false,
            },
        });
    }
    // A POST: a multipart form to a folder (its URL ends in `/`).
    let boundary = req
        .fields
        .content_type
        .as_deref()
        .and_then(multipart::boundary);
    let (Some(boundary), true) = (boundary, path.ends_with('/')) else {
        return Err(error(400, site, persist, out));
    };
    let parts =
        jail::segments(path, rules.jail).map_err(|r| refuse(upload::Refusal::Path(r), out))?;
    let dir = upload::folder(&site.root, &parts, &rules).map_err(|r| refuse(r, out))?;
    Ok(Receive {
        intake: Intake::form(
            frame,
            &boundary,
            dir,
            rules.jail.hidden,
            rules.overwrite,
            uploads.max_bytes,
        ),
        send_continue,
        answer: Answer {
            location: path.to_string(),
            form: true,
            html: req
                .fields
                .accept
                .as_deref()
                .is_some_and(|a| a.contains("text/html")),
        },
    })
}

/// The answer once an upload's body is in (or failed): 201 with a Location, 204 for a
/// replaced file, 303 to the folder for a browser's form; the failure's status otherwise,
/// and then the connection closes (`persist` is ignored: the rest of the body is unread).
pub(crate) fn received(
    rx: &Answer,
    result: Result<Vec<(String, upload::Outcome)>, intake::Failure>,
    site: &Site,
    persist: Persist,
    out: &mut Vec<u8>,
) -> Reply {
    let done = match result {
        Ok(done) => done,
        Err(failure) => {
            let status = failure.status();
            let body =
                format!("{status} {}: {failure}\n", response_head::reason(status)).into_bytes();
            begin(out, status, site);
            response_head::content_type(out, "text/plain; charset=utf-8");
            response_head::end(out, status, Some(body.len() as u64), Persist::Close);
            return Reply {
                status,
                body: Body::Bytes(body),
            };
        }
    };
    let created = done.iter().any(|(_, o)| *o == upload::Outcome::Created);
    let status = match (rx.form, rx.html, created) {
        (true, true, _) => 303,
        (false, _, false) => 204,
        _ => 201,
    };
    let mut body = String::new();
    for (name, outcome) in &done {
        let verb = if *outcome == upload::Outcome::Created {
            "created"
        } else {
            "replaced"
        };
        let shown = if rx.form {
            name.as_str()
        } else {
            rx.location.as_str()
        };
        body.push_str(&format!("{verb} {shown}\n"));
    }
    begin(out, status, site);
    if status != 204 {
        response_head::header(out, "Location", &rx.location);
        response_head::content_type(out, "text/plain; charset=utf-8");
    }
    let body = if status == 204 {
        Vec::new()
    } else {
        body.into_bytes()
    };
    response_head::end(
        out,
        status,
        (status != 204).then_some(body.len() as u64),
        persist,
    );
    Reply {
        status,
        body: if body.is_empty() {
            Body::Empty
        } else {
            Body::Bytes(body)
        },
    }
}
