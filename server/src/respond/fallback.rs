//! The fallback step, for a path that leads nowhere: with `--spa`, a client-side route (no
//! extension in its last segment) gets the app's `index.html`; otherwise the `--404` page,
//! or the plain 404.

use std::sync::Arc;

use super::file;
use super::reply::{Body, Reply, begin, error};
use crate::http::request::Request;
use crate::http::response_head::{self, Persist};
use crate::jail::{self, Mapped};
use crate::site::Site;

/// The answer for a path that leads to nothing servable.
pub(super) fn step(req: &Request, site: &Site, persist: Persist, out: &mut Vec<u8>) -> Reply {
    if site.settings.spa {
        let path = req.target.split('?').next().unwrap_or("");
        let last = path.rsplit('/').next().unwrap_or("");
        if !last.contains('.')
            && let Ok(Mapped::File {
                path,
                file: opened,
                meta,
            }) = jail::map(&site.root, "/index.html", site.settings.jail)
            && let Ok(reply) = file::step(
                req,
                site,
                persist,
                out,
                path,
                opened.map(|f| (f, meta)),
                None,
            )
        {
            return reply;
        }
    }
    not_found(site, persist, out)
}

/// The `--404` page, or the plain 404.
fn not_found(site: &Site, persist: Persist, out: &mut Vec<u8>) -> Reply {
    match &site.settings.not_found_page {
        Some(page) => {
            begin(out, 404, site);
            response_head::content_type(out, "text/html; charset=utf-8");
            response_head::end(out, 404, Some(page.len() as u64), persist);
            Reply {
                status: 404,
                body: Body::Shared(Arc::clone(page)),
            }
        }
        None => error(404, site, persist, out),
    }
}
