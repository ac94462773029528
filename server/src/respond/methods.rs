//! The method step: GET and HEAD go on; OPTIONS is answered here (204 with `Allow`, and a
//! CORS preflight's headers); anything else is 405. PUT and POST reach this step only when
//! they are not uploads: uploads take their own door (`uploads.rs`) because their body is
//! not part of the request.

use super::cors;
use super::reply::{Body, Reply, allow, begin, error};
use crate::http::request::{Method, Request};
use crate::http::response_head::{self, Persist};
use crate::site::Site;

/// `None` for GET and HEAD (go on), else the answer.
pub(super) fn step(
    req: &Request,
    site: &Site,
    persist: Persist,
    out: &mut Vec<u8>,
) -> Option<Reply> {
    match req.method {
        Method::Get | Method::Head => None,
        Method::Options => Some(options(req, site, persist, out)),
        Method::Other | Method::Put | Method::Post => Some(error(405, site, persist, out)),
    }
}

fn options(req: &Request, site: &Site, persist: Persist, out: &mut Vec<u8>) -> Reply {
    begin(out, 204, site);
    cors::preflight(req, site, allow(site), out);
    response_head::header(out, "Allow", allow(site));
    response_head::end(out, 204, None, persist);
    Reply {
        status: 204,
        body: Body::Empty,
    }
}
