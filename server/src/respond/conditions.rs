//! The conditions step (RFC 9110 §13): 304 or 412 when the request's preconditions say so,
//! for files and listings alike. The evaluation itself is `crate::http::conditional`'s; this step
//! answers.

use super::reply::{Body, Reply, begin, error};
use crate::http::conditional::{self, Outcome, Validators};
use crate::http::request::Request;
use crate::http::response_head::{self, Persist};
use crate::site::Site;

/// 304 (with the validators `headers` writes) or 412, else `None` to go on.
pub(super) fn step(
    req: &Request,
    site: &Site,
    persist: Persist,
    out: &mut Vec<u8>,
    v: &Validators,
    headers: &dyn Fn(&mut Vec<u8>),
) -> Option<Reply> {
    match conditional::evaluate(&req.fields.conditions, v, true) {
        Outcome::NotModified => {
            begin(out, 304, site);
            headers(out);
            response_head::end(out, 304, None, persist);
            Some(Reply {
                status: 304,
                body: Body::Empty,
            })
        }
        Outcome::Failed => Some(error(412, site, persist, out)),
        Outcome::Proceed => None,
    }
}
