//! `--compress` as a step: for a whole file of a compressible type, the encoding the client
//! prefers, made now or taken from the bounded cache of compressed bodies
//! (`crate::compress`). A precompressed file on disk won before this step; a range asks for
//! the identity bytes.

use std::fs::File;
use std::io::{self, Seek};
use std::path::Path;

use crate::compress::{self, Encoded};
use crate::request::Request;
use crate::site::Site;

/// The compressed body for this request, or `None` to send the file as it is (not worth it,
/// not accepted, or the file changed while read; the file is then back at its start).
pub fn on_the_fly(
    req: &Request,
    site: &Site,
    file: &mut File,
    path: &Path,
    content_type: &str,
    len: u64,
    etag: &str,
) -> Option<Encoded> {
    if !site.settings.share.compress || req.fields.range.is_some() {
        return None;
    }
    let made = compress::encoded(
        &site.compressed,
        path,
        file,
        etag,
        content_type,
        len,
        req.fields.accept_encoding.as_deref(),
        false,
    );
    if let Ok(Some(enc)) = made {
        return Some(enc);
    }
    let _ = file.seek(io::SeekFrom::Start(0));
    None
}

/// Whether the identity body must say `Vary: Accept-Encoding` because with `--compress`
/// another client may get it encoded.
pub fn may_vary(site: &Site, content_type: &str, len: u64) -> bool {
    site.settings.share.compress && compress::worth(content_type, len, false)
}
