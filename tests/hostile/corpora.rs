//! The fuzzing corpora (`fuzz/corpus/<target>/`), replayed through the same functions with
//! the same invariants as the fuzz targets: no nightly, no libFuzzer, every `cargo test`.
//! The inputs are the minimized ones the fuzzer kept, so this covers what it reached.

use std::path::PathBuf;

use client::wire;
use server::fuzz::jail::{self, Jail, Mapped};
use server::fuzz::range::{self, Ranges};
use server::fuzz::request::{self, Parsed};

use crate::support::repo_root;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = repo_root().join("fuzz/corpus").join(target);
    let mut out: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let p = e.unwrap().path();
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    out.sort();
    assert!(out.len() >= 4, "{target}: only {} inputs", out.len());
    out
}

#[test]
fn request_head_corpus() {
    for (path, data) in corpus("request_head") {
        match request::parse(&data) {
            Parsed::Complete(req) => {
                assert!(req.len > 0 && req.len <= data.len(), "{path:?}");
                assert!(req.target.starts_with('/') || req.target == "*", "{path:?}");
                assert!(!req.line.bytes().any(|b| b.is_ascii_control()), "{path:?}");
            }
            Parsed::Invalid(r) => {
                assert!(
                    matches!(r.status, 400 | 405 | 413 | 414 | 431 | 505),
                    "{path:?}"
                );
                assert!(!r.line.bytes().any(|b| b.is_ascii_control()), "{path:?}");
            }
            Parsed::Partial => {
                assert!(
                    data.len() <= request::HEAD_CAP + request::BODY_CAP,
                    "{path:?}"
                )
            }
        }
    }
}

#[test]
fn url_map_corpus_never_leaves_the_root() {
    let jail = crate::support::jail::Jail::new();
    let root = &jail.root;
    let jail_root = jail::Root::open(root.clone());
    for (path, data) in corpus("url_map") {
        let Ok(target) = std::str::from_utf8(&data) else {
            continue;
        };
        if target.bytes().any(|b| b.is_ascii_control() || b == b' ') {
            continue;
        }
        match jail::map(&jail_root, target, Jail::default()) {
            Ok(Mapped::File { path: p, .. }) | Ok(Mapped::Dir { path: p }) => {
                let rel = p.strip_prefix(root).expect("mapped outside the root");
                assert!(
                    !rel.components()
                        .any(|c| c.as_os_str().to_string_lossy().starts_with('.')),
                    "{path:?}: {rel:?}"
                );
            }
            Ok(Mapped::Redirect(to)) => {
                assert!(
                    to.starts_with('/') && !to.starts_with("//"),
                    "{path:?}: {to}"
                )
            }
            Err(_) => {}
        }
    }
}

#[test]
fn range_corpus() {
    for (path, data) in corpus("range") {
        if data.len() < 8 {
            continue;
        }
        let len = u64::from_le_bytes(data[..8].try_into().unwrap()) >> (data[0] % 64);
        let Ok(value) = std::str::from_utf8(&data[8..]) else {
            continue;
        };
        match range::parse(value, len) {
            Ranges::One(s) => assert!(
                s.len >= 1 && s.start.checked_add(s.len).is_some_and(|e| e <= len),
                "{path:?}"
            ),
            Ranges::Many(spans) => {
                assert!(
                    spans.len() >= 2 && spans.len() <= range::MAX_RANGES,
                    "{path:?}"
                );
                let mut sorted = spans.clone();
                sorted.sort_by_key(|s| s.start);
                assert!(spans.iter().all(|s| s.len >= 1 && s.start + s.len <= len));
                assert!(
                    sorted.windows(2).all(|w| w[0].end() < w[1].start),
                    "{path:?}"
                );
            }
            Ranges::Full | Ranges::Unsatisfiable => {}
        }
    }
}

#[test]
fn response_head_corpus() {
    for (path, data) in corpus("response_head") {
        if let Ok(Some((head, n))) = wire::parse_head(&data) {
            assert!(n > 0 && n <= data.len(), "{path:?}");
            assert_eq!(head.raw(), &data[..n], "{path:?}");
            if let Ok((framing, _)) = wire::framing(&head, true) {
                assert_eq!(framing, wire::Framing::None, "{path:?}");
            }
            let _ = wire::framing(&head, false);
        }
    }
}

#[test]
fn chunked_corpus() {
    for (path, data) in corpus("chunked") {
        match wire::decode_chunked(&data, 1 << 20) {
            Ok(body) => assert!(body.len() <= data.len(), "{path:?}"),
            Err(e) => assert!(matches!(e.exit_code(), 18 | 56), "{path:?}: {e}"),
        }
    }
}

#[test]
fn multipart_corpus() {
    for (path, data) in corpus("multipart") {
        let run = std::panic::catch_unwind(|| server::fuzz::multipart(&data));
        assert!(run.is_ok(), "{path:?}");
    }
}

#[test]
fn dechunk_corpus() {
    for (path, data) in corpus("dechunk") {
        let run = std::panic::catch_unwind(|| server::fuzz::dechunk(&data));
        assert!(run.is_ok(), "{path:?}");
    }
}

#[test]
fn digest_field_corpus() {
    for (path, data) in corpus("digest_field") {
        let run = std::panic::catch_unwind(|| shared::digest::fuzz_one(&data));
        assert!(run.is_ok(), "{path:?}");
    }
}

#[test]
fn mirror_listing_corpus() {
    let mut entries = 0;
    for (_, data) in corpus("mirror_listing") {
        // The invariants are asserted inside, as in the fuzz target.
        entries += client::cli::mirror_fuzz::listing(&data);
    }
    assert!(entries > 0, "the corpus has listings with entries");
}

#[test]
fn www_authenticate_corpus() {
    let all = corpus("www_authenticate");
    assert!(!all.is_empty());
    for (path, data) in all {
        if let Some(answer) = wire::answer_challenge(&data) {
            assert!(
                answer.starts_with("Digest ") || answer.starts_with("Basic "),
                "{path:?}"
            );
            assert!(!answer.contains(['\r', '\n']), "{path:?}: {answer:?}");
        }
    }
}

#[test]
fn html_links_corpus() {
    let mut answered = 0;
    for (_, data) in corpus("html_links") {
        // The same links as the tokenizer's are asserted inside, as in the fuzz target.
        answered += usize::from(client::cli::mirror_fuzz::html_links(&data));
    }
    assert!(answered > 0, "the narrow pass answered none of the corpus");
}
