//! The auth step, first in the chain: with `--auth`, no method, path spelling or header is
//! answered without valid credentials (401 with the Basic challenge). The accounts and the
//! constant-time check live in `crate::auth`; this step only answers.

use super::reply::{Body, Reply, begin};
use crate::auth::{self, Auth};
use crate::http::request::Request;
use crate::http::response_head::{self, Persist};
use crate::site::Site;

/// `None` to go on, or the 401 (with `--auth` and no valid credentials).
pub(super) fn step(
    req: &Request,
    site: &Site,
    persist: Persist,
    out: &mut Vec<u8>,
) -> Option<Reply> {
    let auth = site.settings.share.auth.as_ref()?;
    match auth.check(req.fields.authorization.as_deref().map(str::as_bytes)) {
        auth::Verdict::Allowed(_) => None,
        verdict => {
            if let auth::Verdict::Denied(why) = verdict {
                auth::report(why, &req.line);
            }
            Some(unauthorized(auth, site, persist, out))
        }
    }
}

/// 401 with the Basic challenge.
fn unauthorized(auth: &Auth, site: &Site, persist: Persist, out: &mut Vec<u8>) -> Reply {
    let body = response_head::error_body(401).into_bytes();
    begin(out, 401, site);
    response_head::content_type(out, "text/plain; charset=utf-8");
    response_head::header(out, "WWW-Authenticate", &auth.challenge());
    response_head::end(out, 401, Some(body.len() as u64), persist);
    Reply {
        status: 401,
        body: Body::Bytes(body),
    }
}
