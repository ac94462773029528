//! `--archive`: `?download=tar` (or `tar.gz`, `zip`) on a folder answers with the folder as one
//! stream, written by its own thread (`crate::share::archive`). The folder must exist and pass the
//! jail exactly as browsing does.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use super::fallback;
use super::reply::{Body, Reply, begin, error};
use crate::http::request::{Method, Request};
use crate::http::response_head::{self, Persist};
use crate::jail::{self, Refused};
use crate::listing;
use crate::share::archive;
use crate::site::Site;

/// `None` to go on (no `--archive`, or no `?download=` in the query), else the answer.
pub(super) fn step(req: &Request, site: &Site, out: &mut Vec<u8>) -> Option<Reply> {
    if !site.settings.share.archive {
        return None;
    }
    let format = archive::Format::from_query(req.target.split_once('?').map(|(_, q)| q))?;
    Some(folder(req, site, out, format))
}

/// The folder's archive, close-delimited (its length is not known up front).
fn folder(req: &Request, site: &Site, out: &mut Vec<u8>, format: archive::Format) -> Reply {
    let persist = Persist::Close;
    let path = req.target.split('?').next().unwrap_or("");
    let jail = site.settings.jail;
    let root = site.root.path();
    let dir = match jail::segments(path, jail) {
        Ok(parts) => {
            let mut joined = root.to_path_buf();
            for part in &parts {
                joined.push(OsStr::from_bytes(part));
            }
            jail::canonical_under(root, &joined, jail)
        }
        Err(r) => Err(r),
    };
    let dir = match dir {
        Ok(dir) if dir.is_dir() => dir,
        Ok(_) | Err(Refused::NotFound) => return fallback::step(req, site, persist, out),
        Err(r) => return error(r.status(), site, persist, out),
    };
    // The top folder is named after the served folder itself, others after themselves.
    let shown = match listing::display_path(path).trim_matches('/') {
        "" => root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        _ => listing::display_path(path),
    };
    let name = archive::base_name(&shown);
    let body = if req.method == Method::Head {
        Body::Empty
    } else {
        match archive::spawn(root.to_path_buf(), dir, name.clone(), jail, format) {
            Some(stream) => Body::Stream(stream),
            None => return error(503, site, persist, out),
        }
    };
    begin(out, 200, site);
    response_head::content_type(out, format.content_type());
    response_head::header(
        out,
        "Content-Disposition",
        &archive::disposition(&name, format),
    );
    response_head::header(out, "Cache-Control", "no-store");
    response_head::end(out, 200, None, persist);
    Reply { status: 200, body }
}
