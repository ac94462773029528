//! Headless Chromium as a client of `serve`: the default site with its stylesheet, script and
//! image (the page's own script reports what arrived), a screenshot kept as a test artifact,
//! a directory listing whose links are followed, and a media file seeked, which makes the
//! browser send Range requests; `--watch` reloading an open page, over HTTP and HTTPS.
//!
//! Each Chromium start costs a second or two, so there are only a few. Every start gets a
//! fresh profile folder and the flags this machine needs (no sandbox as root, no GPU, no
//! background connections to Google's hosts, which the closed network refuses).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use super::{Child, artifacts_dir, program, put, run, same_bytes, temp_dir, wait_for};
use crate::fetch::fetch;
use crate::support::repo_root;
use crate::support::serve::Serve;

/// Headless Chromium with the flags this machine needs and its own profile folder.
fn command(browser: &Path, profile: &Path) -> Command {
    let mut cmd = Command::new(browser);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    cmd
}

/// Runs headless Chromium with `args` (a URL last), within 90 s.
fn chromium(browser: &Path, args: &[&str]) -> Output {
    let profile = temp_dir("chromium-profile");
    let out = run(
        command(browser, profile.path()).args(args),
        Duration::from_secs(90),
    );
    assert!(
        out.status.success(),
        "chromium {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Chromium's DOM after the page's scripts ran.
fn dump_dom(browser: &Path, url: &str, extra: &[&str]) -> String {
    let mut args = vec!["--dump-dom"];
    args.extend_from_slice(extra);
    args.push(url);
    String::from_utf8(chromium(browser, &args).stdout).unwrap()
}

fn browser() -> Option<PathBuf> {
    program("chromium", "chromium")
}

#[test]
fn chromium_renders_the_default_site_with_its_assets() {
    let Some(browser) = browser() else { return };
    let www = repo_root().join("www");
    let s = Serve::start(&["-p", "0", "--log-format", "combined", www.to_str().unwrap()]);
    let dom = dump_dom(&browser, &s.url, &[]);
    // www/app.js writes what it found into #status: styles applied, the logo decoded.
    let status = dom
        .lines()
        .find(|l| l.contains("id=\"status\""))
        .unwrap_or_else(|| panic!("no #status in the DOM:\n{dom}"));
    assert!(
        status.contains("data-ok=\"yes\"")
            && status.contains("app.js ran · stylesheet loaded · logo loaded (32px)"),
        "#status: {status}\nserve log:\n{:#?}",
        s.log()
    );
    for asset in ["/style.css", "/app.js", "/logo.png"] {
        let line = s.wait_log(asset, |l| {
            l.contains(&format!("\"GET {asset} HTTP/1.1\" 200"))
        });
        assert!(line.contains("Chrome/"), "the browser asked for it: {line}");
    }

    // A picture of it, for people: target/test-artifacts/www-index.png.
    let png = artifacts_dir().join("www-index.png");
    let _ = std::fs::remove_file(&png);
    chromium(
        &browser,
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1200,900",
            "--hide-scrollbars",
            &s.url,
        ],
    );
    let bytes = std::fs::read(&png).expect("chromium wrote the screenshot");
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 10_000,
        "a real PNG: {} bytes",
        bytes.len()
    );
}

/// The `href` values in an HTML text, in order.
fn hrefs(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().replace("&amp;", "&"))
        .collect()
}

#[test]
fn chromium_opens_a_listing_and_its_links_lead_to_the_files() {
    let Some(browser) = browser() else { return };
    let site = temp_dir("peers browser ");
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("data file.csv", b"a,b\n1,2\n".to_vec()),
        ("na\u{ef}ve #1.txt", "na\u{ef}ve\n".as_bytes().to_vec()),
        ("q&a 100%.txt", b"questions\n".to_vec()),
    ];
    for (name, data) in &files {
        put(site.path(), &format!("f\u{e9}es/{name}"), data);
    }
    put(site.path(), "f\u{e9}es/sub/x.txt", b"x");
    let s = Serve::start(&["-p", "0", site.path().to_str().unwrap()]);
    let page = format!("{}f%C3%A9es/", s.url);
    let dom = dump_dom(&browser, &page, &[]);
    assert!(dom.contains("<title>Index of /f\u{e9}es/</title>"), "{dom}");
    // The entries' links (the breadcrumb and the column headers' sort links aside).
    let links: Vec<String> = hrefs(&dom)
        .into_iter()
        .filter(|h| h.starts_with("./") || h.starts_with("../"))
        .collect();
    assert_eq!(
        links,
        [
            "../",
            "./sub/",
            "./data%20file.csv",
            "./na%C3%AFve%20%231.txt",
            "./q&a%20100%25.txt"
        ],
        "{dom}"
    );
    // Each file link, resolved against the page URL as the browser does, gives the file.
    for ((name, data), href) in files.iter().zip(&links[2..]) {
        let url = format!("{page}{}", href.strip_prefix("./").unwrap());
        let run = fetch(&["-f", "-o", "-", &url]);
        run.code(0);
        same_bytes(name, data, &run.stdout);
    }
    // And the browser itself follows one: a text file shows as its text.
    let shown = dump_dom(&browser, &format!("{page}na%C3%AFve%20%231.txt"), &[]);
    assert!(shown.contains("na\u{ef}ve"), "{shown}");
    s.wait_log("the browser's request for the file", |l| {
        l.contains("\"GET /f%C3%A9es/na%C3%AFve%20%231.txt HTTP/1.1\" 200 7")
    });
}

/// A page beside the listing that shows it in a frame covering the whole window (so the
/// frame's layout is the window's) and writes, once it loaded, where each row's icon is:
/// one line per name cell, `HREF LEFT TOP RIGHT BOTTOM` in CSS pixels, or `none`.
const ICON_PROBE: &str = r#"<!doctype html><meta charset="utf-8"><title>icons</title>
<style>html,body{margin:0}iframe{position:fixed;top:0;left:0;width:100%;height:100%;border:0}</style>
<pre id="icons">waiting</pre>
<iframe id="f" src="/files/"></iframe>
<script>
document.getElementById("f").onload = function () {
  var lines = [];
  this.contentDocument.querySelectorAll("td.n").forEach(function (td) {
    var svg = td.querySelector("svg"), use = svg && svg.querySelector("use");
    if (!use) { lines.push("none"); return; }
    var r = svg.getBoundingClientRect();
    lines.push([use.getAttribute("href"), r.left, r.top, r.right, r.bottom].join(" "));
  });
  document.getElementById("icons").textContent = lines.join("\n");
};
</script>
"#;

/// An RGB picture decoded from a PNG as Chromium writes its screenshots: 8-bit RGB or
/// RGBA, not interlaced.
struct Picture {
    width: usize,
    channels: usize,
    bytes: Vec<u8>,
}

impl Picture {
    fn decode(png: &[u8]) -> Picture {
        use std::io::Read;
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
        let be = |b: &[u8]| u32::from_be_bytes(b[..4].try_into().unwrap()) as usize;
        let (mut width, mut height, mut channels) = (0, 0, 0);
        let mut zipped = Vec::new();
        let mut at = 8;
        while at + 8 <= png.len() {
            let (len, kind) = (be(&png[at..]), &png[at + 4..at + 8]);
            let data = &png[at + 8..at + 8 + len];
            match kind {
                b"IHDR" => {
                    (width, height) = (be(data), be(&data[4..]));
                    assert_eq!((data[8], data[12]), (8, 0), "8 bits, not interlaced");
                    channels = match data[9] {
                        2 => 3,
                        6 => 4,
                        other => panic!("PNG colour type {other}"),
                    };
                }
                b"IDAT" => zipped.extend_from_slice(data),
                _ => {}
            }
            at += 12 + len; // length, type, data, CRC
        }
        let mut raw = Vec::new();
        flate2::read::ZlibDecoder::new(&zipped[..])
            .read_to_end(&mut raw)
            .unwrap();
        // Each line is a filter byte and the line, filtered against the pixel to its left
        // (a), above (b) and above-left (c): PNG's five filters undone.
        let stride = width * channels;
        let mut bytes = vec![0u8; height * stride];
        for y in 0..height {
            let line = &raw[y * (stride + 1)..(y + 1) * (stride + 1)];
            for x in 0..stride {
                let a = if x >= channels {
                    bytes[y * stride + x - channels]
                } else {
                    0
                };
                let b = if y > 0 {
                    bytes[(y - 1) * stride + x]
                } else {
                    0
                };
                let c = if x >= channels && y > 0 {
                    bytes[(y - 1) * stride + x - channels]
                } else {
                    0
                };
                let predicted = match line[0] {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => ((u16::from(a) + u16::from(b)) / 2) as u8,
                    4 => {
                        let p = i16::from(a) + i16::from(b) - i16::from(c);
                        let (pa, pb, pc) = (
                            (p - i16::from(a)).abs(),
                            (p - i16::from(b)).abs(),
                            (p - i16::from(c)).abs(),
                        );
                        if pa <= pb && pa <= pc {
                            a
                        } else if pb <= pc {
                            b
                        } else {
                            c
                        }
                    }
                    f => panic!("PNG filter {f}"),
                };
                bytes[y * stride + x] = line[1 + x].wrapping_add(predicted);
            }
        }
        Picture {
            width,
            channels,
            bytes,
        }
    }

    fn rgb(&self, x: usize, y: usize) -> [u8; 3] {
        let at = (y * self.width + x) * self.channels;
        [self.bytes[at], self.bytes[at + 1], self.bytes[at + 2]]
    }
}

/// Issue 28: the listing's icons are drawings (SVG), not emoji, so they show on a machine
/// with no emoji font (this one: a row's emoji was an empty box), in both colour schemes.
/// For each scheme, Chromium reports where each row's icon is, and in a screenshot of the
/// same page every icon's box must hold ink: pixels that stand out from the row behind it.
#[test]
fn chromium_shows_the_listing_icons_in_light_and_dark() {
    let Some(browser) = browser() else { return };
    let site = temp_dir("peers icons ");
    put(site.path(), "icons.html", ICON_PROBE.as_bytes());
    let names = [
        "album/x",
        "photo 1.jpg",
        "backup.tar.gz",
        "notes.txt",
        "song.mp3",
        "clip.mp4",
        "data.bin",
    ];
    for name in names {
        put(site.path(), &format!("files/{name}"), b"x");
    }
    let s = Serve::start(&["-p", "0", site.path().to_str().unwrap()]);
    let url = format!("{}icons.html", s.url);
    let window = [
        "--window-size=800,600",
        "--force-device-scale-factor=1",
        "--hide-scrollbars",
    ];
    for (scheme, flags) in [("light", &[][..]), ("dark", &["--force-dark-mode"][..])] {
        let args = [&window[..], flags, &["--virtual-time-budget=5000"]].concat();
        let dom = dump_dom(&browser, &url, &args);
        let report = dom
            .split("<pre id=\"icons\">")
            .nth(1)
            .and_then(|r| r.split("</pre>").next())
            .unwrap_or_else(|| panic!("no report:\n{dom}"));
        let icons: Vec<(String, [f64; 4])> = report
            .lines()
            .map(|line| {
                let mut words = line.split(' ');
                let href = words.next().unwrap().to_string();
                let edges: Vec<f64> = words.map(|w| w.parse().unwrap()).collect();
                let edges = edges
                    .try_into()
                    .unwrap_or_else(|_| panic!("{scheme}: {line:?} in {report}"));
                (href, edges)
            })
            .collect();
        let hrefs: Vec<&str> = icons.iter().map(|(h, _)| h.as_str()).collect();
        assert_eq!(
            hrefs,
            [
                "#k-up",
                "#k-folder",
                "#k-archive",
                "#k-video",
                "#k-file",
                "#k-text",
                "#k-image",
                "#k-audio"
            ],
            "{scheme}: {report}"
        );

        let png = artifacts_dir().join(format!("listing-icons-{scheme}.png"));
        let _ = std::fs::remove_file(&png);
        let shot = format!("--screenshot={}", png.display());
        let args = [
            &window[..],
            flags,
            &["--virtual-time-budget=5000", &shot, &url],
        ]
        .concat();
        chromium(&browser, &args);
        let picture = Picture::decode(&std::fs::read(&png).expect("chromium wrote the screenshot"));
        for (href, [left, top, right, bottom]) in &icons {
            let (x0, y0, x1, y1) = (
                left.floor() as usize,
                top.floor() as usize,
                right.ceil() as usize,
                bottom.ceil() as usize,
            );
            assert!(
                x1 - x0 >= 12 && y1 - y0 >= 12,
                "{scheme} {href}: too small: {report}"
            );
            // The row's own background, in its left padding beside the icon.
            let behind = picture.rgb(x0 - 4, (y0 + y1) / 2);
            let luma = behind.iter().map(|&c| u32::from(c)).sum::<u32>() / 3;
            match scheme {
                "light" => assert!(luma > 200, "{scheme}: background {behind:?}"),
                _ => assert!(luma < 80, "{scheme}: background {behind:?}"),
            }
            let ink = (y0..y1)
                .flat_map(|y| (x0..x1).map(move |x| (x, y)))
                .filter(|&(x, y)| {
                    let p = picture.rgb(x, y);
                    (0..3).any(|i| p[i].abs_diff(behind[i]) > 60)
                })
                .count();
            let area = (x1 - x0) * (y1 - y0);
            eprintln!("{scheme} {href}: {ink} of {area} pixels drawn");
            assert!(
                ink * 100 >= area * 8,
                "{scheme} {href}: only {ink} of {area} pixels stand out from {behind:?}; see {}",
                png.display()
            );
        }
    }
}

/// A valid WAV file: 16-bit mono PCM, `secs` seconds of a quiet 440 Hz tone at 22050 Hz.
fn wav(secs: u32) -> Vec<u8> {
    let rate = 22_050u32;
    let samples = rate * secs;
    let data_len = samples * 2;
    let mut w = Vec::with_capacity(44 + data_len as usize);
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(36 + data_len).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes()); // fmt chunk size
    w.extend_from_slice(&1u16.to_le_bytes()); // PCM
    w.extend_from_slice(&1u16.to_le_bytes()); // mono
    w.extend_from_slice(&rate.to_le_bytes());
    w.extend_from_slice(&(rate * 2).to_le_bytes()); // byte rate: rate × 2 bytes per sample
    w.extend_from_slice(&2u16.to_le_bytes()); // block align
    w.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    w.extend_from_slice(b"data");
    w.extend_from_slice(&data_len.to_le_bytes());
    for i in 0..samples {
        let t = i as f64 / rate as f64;
        let v = (t * 440.0 * std::f64::consts::TAU).sin() * 3000.0;
        w.extend_from_slice(&(v as i16).to_le_bytes());
    }
    w
}

const MEDIA_PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>seek</title></head>
<body>
<audio id="a" src="tone%20%C3%A9.wav" preload="auto"></audio>
<p id="media">waiting for metadata</p>
<p id="range">waiting for fetch</p>
<script>
var a = document.getElementById("a");
var media = document.getElementById("media");
a.addEventListener("loadedmetadata", function () {
  media.textContent = "duration " + a.duration;
  a.currentTime = 25;
});
a.addEventListener("seeked", function () {
  media.textContent = "seeked to " + a.currentTime + " of " + a.duration;
  media.setAttribute("data-seeked", "yes");
});
a.addEventListener("error", function () {
  media.textContent = "media error " + (a.error && a.error.code);
});
// The same file asked for by script with an explicit Range: a deterministic 206.
fetch("tone%20%C3%A9.wav", { headers: { Range: "bytes=0-99" } })
  .then(function (r) {
    return r.arrayBuffer().then(function (b) {
      document.getElementById("range").textContent =
        "fetch " + r.status + " " + b.byteLength + " " + r.headers.get("Content-Range");
    });
  })
  .catch(function (e) { document.getElementById("range").textContent = "fetch error " + e; });
</script>
</body></html>
"#;

#[test]
fn chromium_seeks_in_an_audio_file_with_range_requests() {
    let Some(browser) = browser() else { return };
    let site = temp_dir("peers media ");
    let wav = wav(30);
    put(site.path(), "tone \u{e9}.wav", &wav);
    put(site.path(), "index.html", MEDIA_PAGE.as_bytes());
    let s = Serve::start(&["-p", "0", site.path().to_str().unwrap()]);
    // Virtual time lets the media pipeline and the script's callbacks run before the dump.
    let dom = dump_dom(&browser, &s.url, &["--virtual-time-budget=10000"]);
    let len = wav.len();
    assert!(
        dom.contains(&format!("fetch 206 100 bytes 0-99/{len}</p>")),
        "script fetch with Range: {dom}\nserve log:\n{:#?}",
        s.log()
    );
    assert!(
        dom.contains("data-seeked=\"yes\">seeked to 25 of 30</p>"),
        "the audio element seeked: {dom}\nserve log:\n{:#?}",
        s.log()
    );
    // The media element's own requests: Chromium asks for media with Range (bytes=0-, then
    // from the seek offset when it has not buffered that far), and serve answers 206.
    // Its log line is written once the response ends, which for a media stream cut when
    // Chromium exits can be after the dump: wait for it rather than read the log once.
    s.wait_log("a 206 for the audio element's own request", |l| {
        l.contains("\"GET /tone%20%C3%A9.wav HTTP/1.1\" 206 ") && !l.ends_with(" 206 100")
    });
}

/// Chromium's flag that trusts the certificate of `s` (serve over HTTPS) by its key hash
/// alone: the same base64 of SHA-256 of the public key that curl's --pinnedpubkey takes
/// after `sha256//`, as serve printed it.
fn trust_key_hash(s: &Serve) -> String {
    let hash = super::https::printed_hash(s);
    format!(
        "--ignore-certificate-errors-spki-list={}",
        hash.trim_start_matches("sha256//")
    )
}

#[test]
fn chromium_loads_a_page_and_seeks_in_media_over_https_trusting_the_key_hash() {
    let Some(browser) = browser() else { return };
    let site = temp_dir("peers media https ");
    let wav = wav(30);
    put(site.path(), "tone \u{e9}.wav", &wav);
    put(site.path(), "index.html", MEDIA_PAGE.as_bytes());
    let s = super::https::serve_https(site.path(), &[]);
    let spki = trust_key_hash(&s);
    let url = format!("https://localhost:{}/", s.addr().port());
    let dom = dump_dom(&browser, &url, &["--virtual-time-budget=10000", &spki]);
    let len = wav.len();
    assert!(
        dom.contains(&format!("fetch 206 100 bytes 0-99/{len}</p>")),
        "script fetch with Range over https: {dom}\nserve log:\n{:#?}",
        s.log()
    );
    assert!(
        dom.contains("data-seeked=\"yes\">seeked to 25 of 30</p>"),
        "the audio element seeked over https: {dom}\nserve log:\n{:#?}",
        s.log()
    );
}

#[test]
fn chromium_uploads_through_the_listing_form_with_a_password() {
    let Some(browser) = browser() else { return };
    let site = temp_dir("peers browser upload ");
    std::fs::create_dir(site.path().join("inbox")).unwrap();
    // A page (beside the folder) that opens the listing in a frame, puts a file made in
    // JavaScript into the listing's own form, submits it, and reports what the listing
    // shows after the form's script reloads it.
    let page = r#"<!doctype html><title>t</title><p id="status">waiting</p>
<iframe id="f" src="/inbox/"></iframe>
<script>
var frame = document.getElementById('f'), shown = document.getElementById('status'), sent = false;
frame.onload = function () {
  var doc = frame.contentDocument;
  if (!sent) {
    sent = true;
    var bytes = new Uint8Array(300000);
    for (var i = 0; i < bytes.length; i++) { bytes[i] = (i * 7) % 251; }
    var dt = new DataTransfer();
    dt.items.add(new File([bytes], 'from chromium.bin'));
    dt.items.add(new File(['second'], 'caf\u00e9.txt'));
    doc.querySelector('input[type=file]').files = dt.files;
    doc.getElementById('up').requestSubmit();
  } else {
    shown.textContent = doc.body.textContent.indexOf('from chromium.bin') >= 0 ? 'listed' : 'missing';
  }
};
</script>"#;
    put(site.path(), "t.html", page.as_bytes());
    let s = Serve::start(&[
        "-p",
        "0",
        "--upload",
        "--auth",
        "u:p",
        site.path().to_str().unwrap(),
    ]);
    // Credentials in the URL: Chromium answers the 401 challenge with them.
    let url = s.url.replace("http://", "http://u:p@") + "t.html";
    let dom = dump_dom(&browser, &url, &["--virtual-time-budget=15000"]);
    assert!(
        dom.contains("<p id=\"status\">listed</p>"),
        "{dom}\n{:?}",
        s.log()
    );
    let want: Vec<u8> = (0..300_000u32).map(|i| ((i * 7) % 251) as u8).collect();
    let got = std::fs::read(site.path().join("inbox/from chromium.bin")).unwrap();
    same_bytes("the uploaded file", &want, &got);
    let second = std::fs::read_to_string(site.path().join("inbox/caf\u{e9}.txt")).unwrap();
    assert_eq!(second, "second");
}

/// `fetch --mirror --convert-links` of a page that links by absolute paths, opened from
/// `file://` with serve gone: its style sheet, script and logo all load from the copy.
#[test]
fn chromium_opens_a_converted_mirror_offline() {
    let Some(browser) = browser() else { return };
    let site = temp_dir("peers convert ");
    crate::fetch::mirror::absolute_site(site.path());
    let mut s = Serve::start(&["-p", "0", site.path().to_str().unwrap()]);
    let copy = temp_dir("peers convert copy ");
    let dir = copy.path().to_str().unwrap();
    let url = format!("{}docs/page.html", s.url);
    let args = [
        "--recursive",
        "--page-requisites",
        "--convert-links",
        "--level",
        "1",
    ];
    let run = crate::fetch::fetch_in(
        copy.path(),
        &[
            &args[..],
            &[
                url.as_str(),
                "--no-host-directories",
                "--directory-prefix",
                dir,
            ],
        ]
        .concat(),
    );
    assert!(run.code == 0 || run.code == 22, "{}", run.stderr);
    s.stop_and_collect_log();

    let page = copy.path().join("docs/page.html");
    let mut file_url = String::from("file://");
    for b in page.to_str().unwrap().bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            file_url.push(b as char);
        } else {
            file_url.push_str(&format!("%{b:02X}"));
        }
    }
    let dom = dump_dom(&browser, &file_url, &[]);
    let status = dom
        .lines()
        .find(|l| l.contains("id=\"status\""))
        .unwrap_or_else(|| panic!("no #status in the DOM:\n{dom}"));
    assert!(
        status.contains("data-ok=\"yes\"") && status.contains("stylesheet loaded · logo loaded"),
        "#status: {status}"
    );
}

/// The live-reload test page: its script counts page loads in sessionStorage (which a
/// reload keeps) and reports to the server by asking for URLs that show up in the access
/// log: `/seen?loads=N&v=HEADING` once loaded, `/styled?loads=N&color=C` when the heading's
/// computed colour changes.
const LIVE_PAGE: &str = r#"<!doctype html>
<html><head><link rel="stylesheet" href="style.css"></head>
<body><h1>HEADING</h1>
<script>
var loads = +(sessionStorage.loads || 0) + 1;
sessionStorage.loads = loads;
var h1 = document.querySelector("h1");
fetch("/seen?loads=" + loads + "&v=" + h1.textContent);
var color = getComputedStyle(h1).color;
setInterval(function () {
  var now = getComputedStyle(h1).color;
  if (now !== color) {
    color = now;
    fetch("/styled?loads=" + loads + "&color=" + encodeURIComponent(now));
  }
}, 50);
</script></body></html>
"#;

/// A folder with the live page (`v1`) and its red stylesheet.
fn live_site(prefix: &str) -> tempfile::TempDir {
    let site = temp_dir(prefix);
    put(
        site.path(),
        "index.html",
        LIVE_PAGE.replace("HEADING", "v1").as_bytes(),
    );
    put(site.path(), "style.css", b"h1 { color: rgb(255, 0, 0) }\n");
    site
}

/// Starts `chromium` (a long-running headless browser, killed when dropped) on `url`, the
/// live page served by `s`, and waits until the page has loaded and listens for changes.
fn open_live(s: &Serve, chromium: &mut Command, url: &str) -> Child {
    let child = Child::start("chromium", chromium.arg(url));
    s.wait_log("the page loaded", |l| l.contains("GET /seen?loads=1&v=v1 "));
    s.wait_log("the page listening", |l| {
        l.contains("GET /%00serve-reload HTTP/1.1\" 200")
    });
    child
}

/// `serve --watch` with Chromium showing a page (a long-running headless browser, killed at
/// the end): a CSS edit restyles the open page without reloading it, an HTML edit reloads it
/// with the new content. The page reports through the access log (see `LIVE_PAGE`), so no
/// DevTools protocol is needed.
#[test]
fn chromium_follows_serve_watch_css_without_reload_html_with_one() {
    let Some(browser) = browser() else { return };
    let site = live_site("peers live ");
    let s = Serve::start(&["-p", "0", "--watch", site.path().to_str().unwrap()]);
    let profile = temp_dir("chromium-profile");
    let _chromium = open_live(&s, &mut command(&browser, profile.path()), &s.url);

    put(site.path(), "style.css", b"h1 { color: rgb(0, 0, 255) }\n");
    let edited = Instant::now();
    s.wait_log("the new style on the same page", |l| {
        l.contains("GET /styled?loads=1&color=rgb(0%2C%200%2C%20255) ")
    });
    eprintln!("CSS edit to new computed style: {:?}", edited.elapsed());
    // Each worker writes its log lines out when it idles: wait for the line, never assume
    // it is there yet.
    s.wait_log("the sheet fetched again, cache-busted", |l| {
        l.contains("GET /style.css?serve-reload=")
    });
    let log = s.log();
    assert!(
        !log.iter().any(|l| l.contains("loads=2")),
        "no reload: {log:#?}"
    );

    reloads_on_an_html_edit(&s, site.path());
}

/// Edits `index.html` (the live page, shown with `loads=1`) to `v2`, then waits until the
/// browser has loaded it again with the new content (`loads=2`).
fn reloads_on_an_html_edit(s: &Serve, site: &Path) {
    put(
        site,
        "index.html",
        LIVE_PAGE.replace("HEADING", "v2").as_bytes(),
    );
    let edited = Instant::now();
    s.wait_log("the page reloaded with the new content", |l| {
        l.contains("GET /seen?loads=2&v=v2 ")
    });
    eprintln!("HTML edit to the reloaded page: {:?}", edited.elapsed());
}

/// `serve --watch --tls-cert ...`: the page, its event stream and the reload all over
/// HTTPS, Chromium trusting the certificate by its key hash (as the media test does). Every
/// request reached the TLS port as TLS (a plain one would be logged as a 301).
#[test]
fn chromium_follows_serve_watch_over_https() {
    let Some(browser) = browser() else { return };
    let site = live_site("peers live https ");
    let s = super::https::serve_https(site.path(), &["--watch"]);
    let url = format!("https://localhost:{}/", s.addr().port());
    let profile = temp_dir("chromium-profile");
    let mut chromium = command(&browser, profile.path());
    let _chromium = open_live(&s, chromium.arg(trust_key_hash(&s)), &url);
    reloads_on_an_html_edit(&s, site.path());
    let log = s.log();
    assert!(
        !log.iter().any(|l| l.contains("\" 301 ")),
        "a plain-HTTP request reached the TLS port: {log:#?}"
    );
}

/// `serve --watch --auth`: the page's event stream carries the credentials the browser
/// already has for the page (EventSource, same origin), so the page still reloads on an edit.
#[test]
fn chromium_follows_serve_watch_behind_auth() {
    let Some(browser) = browser() else { return };
    let site = temp_dir("peers live auth ");
    put(
        site.path(),
        "index.html",
        b"<!doctype html><body><h1>v1</h1></body>\n",
    );
    let s = Serve::start(&[
        "-p",
        "0",
        "--watch",
        "--auth",
        "ann:secret",
        site.path().to_str().unwrap(),
    ]);
    let url = s.url.replace("http://", "http://ann:secret@");
    let profile = temp_dir("chromium-profile");
    let _chromium = Child::start("chromium", command(&browser, profile.path()).arg(&url));
    s.wait_log("the page listening with credentials", |l| {
        l.contains("GET /%00serve-reload HTTP/1.1\" 200")
    });
    put(
        site.path(),
        "index.html",
        b"<!doctype html><body><h1>v2</h1></body>\n",
    );
    wait_for("the page to load again", Duration::from_secs(60), || {
        let pages = s
            .log()
            .iter()
            .filter(|l| l.contains("GET / HTTP/1.1\" 200"))
            .count();
        (pages >= 2).then_some(())
    });
}
