//! serve's JSON folder listing, asked for with `Accept: application/json` on a folder URL:
//! `{"path", "entries": [{"name", "type", "size", "modified"}], "truncated"}`. A folder is
//! then walked without scraping HTML; anything else in JSON is not a listing.

/// The largest listing read, in bytes (about 100,000 entries).
pub const MAX_LISTING: u64 = 16 << 20;

/// A folder's entries as links relative to the folder (`a%20b.txt`, `sub/`), and how many
/// the server left out.
#[derive(Debug, PartialEq, Eq)]
pub struct Listing {
    /// One reference per entry; a folder's ends in `/`.
    pub refs: Vec<String>,
    /// Entries the server did not list (its `truncated`).
    pub truncated: u64,
}

/// The listing in `body`, or `None` when the JSON does not have serve's shape.
pub fn parse(body: &[u8]) -> Option<Listing> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let entries = v.get("entries")?.as_array()?;
    v.get("path")?.as_str()?;
    let mut refs = Vec::with_capacity(entries.len());
    for e in entries {
        let name = e.get("name")?.as_str()?;
        let dir = match e.get("type")?.as_str()? {
            "dir" => true,
            "file" => false,
            // A symlink or anything else: fetched as a file, as a browser would.
            _ => false,
        };
        // A name is one segment: its bytes percent-encoded, so `/`, `?` and `#` stay in it.
        if name.is_empty() || name == "." || name == ".." {
            continue;
        }
        let mut r = shared::percent_encode(name.as_bytes(), shared::Keep::Segment);
        if dir {
            r.push('/');
        }
        refs.push(r);
    }
    let truncated = v.get("truncated").and_then(|t| t.as_u64()).unwrap_or(0);
    Some(Listing { refs, truncated })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serve_listings_become_references() {
        let body = br#"{"path":"/x/","entries":[{"name":"sub","type":"dir","size":0,"modified":"1970-01-02T00:00:00Z"},{"name":"a b#?%.txt","type":"file","size":3,"modified":"1970-01-01T00:00:00Z"},{"name":"caf\u00e9","type":"file","size":1,"modified":"x"},{"name":"..","type":"dir","size":0,"modified":"x"}],"truncated":2}"#;
        assert_eq!(
            parse(body),
            Some(Listing {
                refs: vec![
                    "sub/".into(),
                    "a%20b%23%3F%25.txt".into(),
                    "caf%C3%A9".into()
                ],
                truncated: 2
            })
        );
    }

    #[test]
    fn other_json_is_not_a_listing() {
        for body in [
            &br#"{"entries":[]}"#[..],
            br#"{"path":"/","entries":[{"name":1}]}"#,
            br#"[1,2]"#,
            b"not json",
        ] {
            assert_eq!(parse(body), None, "{}", String::from_utf8_lossy(body));
        }
    }
}
