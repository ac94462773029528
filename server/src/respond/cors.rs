//! `--cors`: the allowed origin on every response, and the answer to a preflight. What
//! CORS adds to a head is decided here and nowhere else; the OPTIONS step and [`begin`]
//! call in.
//!
//! [`begin`]: super::reply::begin

use crate::http::request::Request;
use crate::http::response_head;
use crate::site::Site;

/// `Access-Control-Allow-Origin: *` on every response, with `--cors`.
pub(super) fn allow_origin(out: &mut Vec<u8>, site: &Site) {
    if site.settings.cors {
        response_head::header(out, "Access-Control-Allow-Origin", "*");
    }
}

/// A CORS preflight (an OPTIONS with `Origin` and `Access-Control-Request-Method`, with
/// `--cors`): allow `methods` and whatever headers were asked about (reduced to header-name
/// characters, so nothing can be injected), for a day.
pub(super) fn preflight(req: &Request, site: &Site, methods: &str, out: &mut Vec<u8>) {
    let f = &req.fields;
    if !(site.settings.cors && f.origin.is_some() && f.ac_request_method.is_some()) {
        return;
    }
    response_head::header(out, "Access-Control-Allow-Methods", methods);
    if let Some(asked) = &f.ac_request_headers {
        let clean: String = asked
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ',' | ' '))
            .collect();
        response_head::header(out, "Access-Control-Allow-Headers", clean.trim());
    }
    response_head::header(out, "Access-Control-Max-Age", "86400");
}
