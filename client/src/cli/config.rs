//! Phase two of the command line: the flags checked against each other and turned into a
//! [`Config`] (the client to fetch with, where each body goes). Every problem found here is
//! a usage error (exit 2); reading `--input` is the only I/O.

use std::io::{self, BufRead, Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use shared::{Family, Resolver};

use super::args::{Args, DataKind, DataPart, Output};
use super::data;
use super::dump::HeaderDump;
use super::form;
use super::glob;
use super::mirror::settings::{MIRROR_PARALLEL, MirrorSettings};
use super::netrc;
use super::output::{Dest, FileRules};
use super::proto;
use super::tracefile::TraceFile;
use super::upload;
use super::verbose::verbose;
use crate::auth::{Credentials, Scheme as AuthScheme};
use crate::cookie::CookieJar;
use crate::error::Error;
use crate::payload::Payload;
use crate::proxy::Proxy;
use crate::request::{HeaderEdit, Method, Request, Version};
use crate::{Builder, Client, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_IDLE_PER_ENDPOINT};

/// What to do, validated: the client to fetch with and where each body goes.
#[derive(Debug)]
pub struct Config {
    /// The targets, as typed (each is parsed when its turn comes, so a bad one does not
    /// stop the others).
    pub targets: Vec<String>,
    /// For each target, the index of the target as typed it came from (globbing makes
    /// several of one; curl's `%{urlnum}`).
    pub pattern_of: Vec<usize>,
    /// Where each target's body goes, in order.
    pub dests: Vec<DestSpec>,
    /// HEAD instead of GET (`-I`).
    pub head: bool,
    /// Print response heads before the body (`-i`, and `-I`).
    pub include: bool,
    /// `-f`.
    pub fail: bool,
    /// `--fail-with-body`.
    pub fail_with_body: bool,
    /// `--fail-early`.
    pub fail_early: bool,
    /// `-N`: flush stdout after every piece of body.
    pub no_buffer: bool,
    /// `-S`: the error line even with `-s`.
    pub show_error: bool,
    /// `-w`: the format.
    pub write_out: Option<String>,
    /// `-D`: where the response heads go.
    pub dump_header: Option<HeaderDump>,
    /// `-T`: the body of each target, by index (PUT).
    pub uploads: Vec<Option<Payload>>,
    /// `--create-dirs`.
    pub create_dirs: bool,
    /// `--output-dir`: where -O files go.
    pub output_dir: Option<String>,
    /// `-R`.
    pub remote_time: bool,
    /// `-J`.
    pub remote_header_name: bool,
    /// `--path-as-is`.
    pub path_as_is: bool,
    /// `--proto` leaves http out: every target fails (exit 1).
    pub http_off: bool,
    /// `--proto` without https: every https:// target fails (exit 1).
    pub https_off: bool,
    /// `-n`, `--netrc-file`, `--netrc-optional`: the file's text, when it could be read
    /// (and no -u overrides it).
    pub netrc: Option<String>,
    /// `--netrc-optional`: a password in the URL wins over the file (with `-n` the file wins).
    pub netrc_optional: bool,
    /// `--etag-save`.
    pub etag_save: Option<PathBuf>,
    /// `--max-filesize`.
    pub max_filesize: Option<u64>,
    /// `--limit-rate` (bytes a second; 0 is no limit, as in curl).
    pub limit_rate: Option<u64>,
    /// `--speed-limit` and `--speed-time`: abort below so many bytes a second for so long.
    pub low_speed: Option<(u64, Duration)>,
    /// `--remove-on-error`.
    pub remove_on_error: bool,
    /// `--checksum`: the digest every body must have.
    pub checksum: Option<(shared::digest::Algorithm, Vec<u8>)>,
    /// `-v`: notes on stderr (a digest field not checked, and why).
    pub verbose: bool,
    /// `-c`: where to write the cookies at the end, and the jar.
    pub cookie_jar: Option<(String, Arc<Mutex<CookieJar>>)>,
    /// What to send: the method, `-X`, and the `-d` body with its `Content-Type`.
    pub request: Request,
    /// Show progress on a terminal (not `-s`, not `-v`).
    pub progress: bool,
    /// `-s`: no summary, no retry notices, no error line unless `-S`.
    pub silent: bool,
    /// Transfers at once (`-Z`, `--parallel-max`).
    pub parallel: usize,
    /// `-C -`.
    pub resume: bool,
    /// `--retry`.
    pub retries: u32,
    /// `--retry-delay`: the same wait before every retry (`None`: 1 s doubling).
    pub retry_delay: Option<Duration>,
    /// `--retry-connrefused`.
    pub retry_connrefused: bool,
    /// `--retry-all-errors`.
    pub retry_all_errors: bool,
    /// `--retry-max-time` (`None`: no limit).
    pub retry_max_time: Option<Duration>,
    /// `--timing`.
    pub timing: bool,
    /// `--report-json`.
    pub report_json: bool,
    /// `--compressed`.
    pub compressed: bool,
    /// `--no-clobber`, `--create-file-mode`.
    pub file_rules: FileRules,
    /// `--xattr`.
    pub xattr: bool,
    /// `--raw`: nothing decoded.
    pub raw: bool,
    /// `--tr-encoding`: a gzip or deflate transfer coding is decoded.
    pub tr_encoding: bool,
    /// `-g`: `{` and `}` in a URL are sent as typed.
    pub globoff: bool,
    /// `--disallow-username-in-url`.
    pub disallow_username_in_url: bool,
    /// `--rate`: the least time between two starts (without `-Z`).
    pub rate: Option<Duration>,
    /// `--trace`, `--trace-ascii`: where the trace goes (also the client's observer).
    pub(crate) trace: Option<Arc<TraceFile>>,
    /// The client.
    pub client: Client,
    /// `--mirror` or `--recursive`: the crawl's settings (then `targets` is the one start URL).
    pub mirror: Option<MirrorSettings>,
}

/// Where one target's body goes, before its name is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DestSpec {
    /// Stdout or a named file.
    Given(Dest),
    /// `-O`: the file name comes from the target.
    Remote,
}

impl Config {
    /// Checks the flags and builds the client. Every problem here is a usage error (exit 2).
    pub fn from_args(args: Args) -> Result<Config, Error> {
        Config::from_args_sharing(args, &mut None)
    }

    /// The same, for one part of a line cut by `--next`: a part that turns the cookie
    /// engine on uses `jar`, which the first such part creates.
    pub fn from_args_sharing(
        mut args: Args,
        jar: &mut Option<Arc<Mutex<CookieJar>>>,
    ) -> Result<Config, Error> {
        // The order of the phases is the order in which problems are reported.
        read_input(&mut args)?;
        let mirror = MirrorSettings::from_args(&args)?;
        let resume = args.continue_at.unwrap_or(false);
        check_resume(&args, resume)?;
        check_methods(&args, resume)?;
        let (expanded, uploads) = expand(&mut args)?;
        let request = request(&mut args)?;
        let write_out = write_out_format(&args)?;
        let dump_header = args
            .dump_header
            .as_deref()
            .map(HeaderDump::open)
            .transpose()?;
        let resolver = resolver(&args)?;
        let parallel = parallel(&args, mirror.as_ref());
        let low_speed = low_speed(&args);
        let checksum = args
            .checksum
            .as_deref()
            .map(crate::digest::parse_checksum)
            .transpose()
            .map_err(Error::Usage)?;
        // Read once: for each target's request, and for the hosts a redirect leads to.
        let netrc = netrc_text(&args);
        let built = client(
            &mut args,
            jar,
            resolver,
            parallel,
            mirror.is_some(),
            low_speed,
            netrc.clone(),
        )?;
        with_default_scheme(&mut args);
        Ok(Config {
            pattern_of: expanded.iter().map(|(i, _, _)| *i).collect(),
            dests: dests(&args, &expanded),
            netrc,
            netrc_optional: args.netrc_optional,
            targets: args.targets,
            head: args.head,
            include: args.include || args.head,
            fail: args.fail,
            fail_with_body: args.fail_with_body,
            fail_early: args.fail_early,
            no_buffer: args.no_buffer,
            show_error: args.show_error,
            request,
            write_out,
            dump_header,
            cookie_jar: built.cookie_jar,
            uploads,
            create_dirs: args.create_dirs,
            output_dir: args.output_dir,
            remote_time: args.remote_time,
            remote_header_name: args.remote_header_name,
            http_off: built.http_off,
            https_off: built.https_off,
            path_as_is: args.path_as_is,
            etag_save: args.etag_save.clone(),
            max_filesize: args.max_filesize,
            limit_rate: args.limit_rate.filter(|r| *r > 0),
            low_speed,
            remove_on_error: args.remove_on_error,
            checksum,
            verbose: args.verbose,
            progress: !args.silent
                && !args.verbose
                && !args.no_progress_meter
                && args.trace.is_none()
                && args.trace_ascii.is_none(),
            silent: args.silent,
            parallel,
            resume,
            retries: args.retry,
            retry_delay: args.retry_delay.filter(|d| !d.is_zero()),
            retry_connrefused: args.retry_connrefused,
            retry_all_errors: args.retry_all_errors,
            retry_max_time: args.retry_max_time.filter(|d| !d.is_zero()),
            timing: args.timing,
            report_json: args.report_json,
            mirror,
            compressed: args.compressed,
            file_rules: FileRules {
                no_clobber: args.no_clobber,
                mode: args.create_file_mode.unwrap_or(0o666),
            },
            xattr: args.xattr,
            globoff: args.globoff,
            raw: args.raw,
            tr_encoding: args.tr_encoding,
            disallow_username_in_url: args.disallow_username_in_url,
            rate: args.rate.filter(|_| parallel == 1),
            trace: built.trace,
            client: built.client,
        })
    }
}

/// A target as typed (its index) expanded by globbing: the URL and the glob values an
/// `-o` name's `#N` takes.
type Expanded = (usize, String, Vec<String>);

/// What building the client gives besides the client.
struct Built {
    client: Client,
    cookie_jar: Option<(String, Arc<Mutex<CookieJar>>)>,
    trace: Option<Arc<TraceFile>>,
    http_off: bool,
    https_off: bool,
}

/// `--input`'s targets added to the line's; none at all is a usage error.
fn read_input(args: &mut Args) -> Result<(), Error> {
    if let Some(file) = &args.input {
        args.targets.extend(read_targets(file)?);
    }
    if args.targets.is_empty() {
        return Err(Error::Usage(
            "no target given (on the command line or with --input)".into(),
        ));
    }
    Ok(())
}

/// `-C -` resumes a body into a file: every target needs one, and the bytes must be the
/// ones on the wire.
fn check_resume(args: &Args, resume: bool) -> Result<(), Error> {
    if !resume {
        return Ok(());
    }
    let usage = |m: &str| Err(Error::Usage(m.into()));
    if args.head || args.include {
        return usage("-C - resumes a body into a file: it cannot go with -I or -i");
    }
    if args.compressed {
        return usage("-C - cannot go with --compressed (a range counts encoded bytes)");
    }
    let named = |i: usize| match args.outputs.get(i) {
        Some(Output::File(f)) => f != "-",
        Some(Output::Remote) => true,
        None => args.remote_name_all,
    };
    if !(0..args.targets.len()).all(named) {
        return usage("-C - needs a file for every target (-o FILE or -O)");
    }
    Ok(())
}

/// One method per line: -F, -d, -T, -I and -G that ask for two are a usage error, as is a
/// range from both -r and -C. More -o than targets is curl's warning, and it goes on.
fn check_methods(args: &Args, resume: bool) -> Result<(), Error> {
    let usage = |m: &str| Err(Error::Usage(m.into()));
    if args.outputs.len() > args.targets.len() && !args.silent {
        let _ = writeln!(
            io::stderr(),
            "fetch: warning: got more output options than URLs"
        );
    }
    let has_form = !args.form_parts.is_empty();
    if has_form && (!args.data_parts.is_empty() || args.head || args.get) {
        return usage("-F (a multipart POST) cannot go with -d, -I or -G: choose one method");
    }
    let has_data = !args.data_parts.is_empty();
    let uploading = !args.upload_file.is_empty();
    if uploading && has_form {
        return usage("-T (PUT) cannot go with -F (POST): choose one method");
    }
    if uploading && (args.head || has_data && !args.get) {
        return usage("-T (PUT) cannot go with -I (HEAD) or -d (POST): choose one method");
    }
    if args.range.is_some() && resume {
        return usage("-r and -C - both ask for a range: choose one");
    }
    if args.http09 && args.head {
        return usage("--http0.9 has no HEAD: it cannot go with -I");
    }
    Ok(())
}

/// curl's globbing: a target may stand for several. -o, -O and -T stay paired with the
/// target as typed, and `#N` in an -o name takes the Nth glob's value. Returns each
/// expanded target with the upload it sends; `args.targets` becomes the expanded list.
fn expand(args: &mut Args) -> Result<(Vec<Expanded>, Vec<Option<Payload>>), Error> {
    let uploads = upload::payloads(&args.upload_file, &mut args.targets)?;
    let mut expanded = Vec::new();
    for (i, t) in args.targets.iter().enumerate() {
        if args.globoff {
            expanded.push((i, t.clone(), Vec::new()));
        } else {
            expanded.extend(glob::expand(t)?.into_iter().map(|(u, v)| (i, u, v)));
        }
    }
    let uploads = expanded
        .iter()
        .map(|(i, _, _)| uploads[*i].clone())
        .collect();
    args.targets = expanded.iter().map(|(_, u, _)| u.clone()).collect();
    Ok((expanded, uploads))
}

/// What every target sends: the method (`-I`, `-d`, `-F`, `-X`), `-r`, `-z`,
/// `--etag-compare`, the body, `--json`'s headers; `-G` and `--url-query` change the
/// targets' queries instead.
fn request(args: &mut Args) -> Result<Request, Error> {
    let has_data = !args.data_parts.is_empty();
    if has_data && args.head && !args.get {
        return Err(Error::Usage(
            "-I (HEAD) and -d (a POST body) ask for two methods: choose one (-G sends the \
             data in the query)"
                .into(),
        ));
    }
    let mut request = Request::new(match (args.head, has_data && !args.get) {
        (true, _) => Method::Head,
        (_, true) => Method::Post,
        _ => Method::Get,
    });
    request.method_name = args.request.clone();
    request.range = args.range.as_ref().map(|r| format!("bytes={r}"));
    request.time_condition = args
        .time_cond
        .as_deref()
        .and_then(|t| time_condition(t, args.silent));
    if let Some(file) = &args.etag_compare {
        // As curl: a file that cannot be read stops everything (exit 26); its first
        // line goes after the -H headers.
        let text = std::fs::read_to_string(file).map_err(|e| Error::Read {
            what: file.display().to_string(),
            reason: shared::io_words(&e),
        })?;
        let etag = text.lines().next().unwrap_or("").trim();
        request.headers.push(HeaderEdit {
            name: "If-None-Match".into(),
            value: Some(etag.to_string()),
            verbatim: false,
        });
    }
    if has_data {
        let body = data::body(&args.data_parts, args.silent);
        if args.get {
            for t in &mut args.targets {
                *t = data::with_query(t, &body);
            }
        } else {
            request.body = Some(Payload::Bytes(body.into()));
            request.content_type = Some("application/x-www-form-urlencoded".into());
        }
    }
    if !args.form_parts.is_empty() {
        let (body, content_type) = form::body(&args.form_parts, args.form_escape)?;
        request.method = Method::Post;
        request.body = Some(body);
        request.content_type = Some(content_type);
    }
    if !args.json.is_empty() {
        json_headers(args, &mut request);
    }
    if !args.url_query.is_empty() {
        url_query(args);
    }
    Ok(request)
}

/// `--json`, as curl: two headers added after the user's, unless -H names them; the Accept
/// takes the place of the default `Accept: */*` rather than its position.
fn json_headers(args: &Args, request: &mut Request) {
    let named = |n: &str| args.headers.iter().any(|h| h.name.eq_ignore_ascii_case(n));
    let header = |name: &str, value: Option<&str>| HeaderEdit {
        name: name.into(),
        value: value.map(Into::into),
        verbatim: false,
    };
    if !named("content-type") {
        request
            .headers
            .push(header("Content-Type", Some("application/json")));
    }
    if !named("accept") {
        request.headers.push(header("Accept", None));
        request
            .headers
            .push(header("Accept", Some("application/json")));
    }
}

/// curl's --url-query: each encoded as --data-urlencode encodes (`+`: as it is), joined
/// with `&` and added to every URL's query.
fn url_query(args: &mut Args) {
    let query = args
        .url_query
        .iter()
        .map(|q| match q.strip_prefix('+') {
            Some(raw) => raw.to_string(),
            None => String::from_utf8_lossy(&data::body(
                &[DataPart {
                    kind: DataKind::UrlEncode,
                    value: q.clone(),
                }],
                args.silent,
            ))
            .into_owned(),
        })
        .collect::<Vec<_>>()
        .join("&");
    for t in &mut args.targets {
        *t = data::with_query(t, query.as_bytes());
    }
}

/// `-4`, `-6` and `--resolve`'s overrides.
fn resolver(args: &Args) -> Result<Resolver, Error> {
    let family = match (args.ipv4, args.ipv6) {
        (true, _) => Family::V4,
        (_, true) => Family::V6,
        _ => Family::Any,
    };
    let mut resolver = Resolver::new().with_family(family);
    for spec in &args.resolve {
        resolver
            .add_override_spec(spec)
            .map_err(|e| Error::Usage(format!("--resolve: {e}")))?;
    }
    Ok(resolver)
}

/// Transfers at once: `-Z` (`--parallel-max`, 50 by default); a crawl runs
/// MIRROR_PARALLEL at once without -Z, as wget2 does (its default is 5), and one at a time
/// with --wait; else one.
fn parallel(args: &Args, mirror: Option<&MirrorSettings>) -> usize {
    // curl's clamping: above 300 is 300, below 1 the default.
    let clamped = |default: usize| match args.parallel_max.unwrap_or(default as i64) {
        n @ 1..=300 => n as usize,
        n if n > 300 => 300,
        _ => default,
    };
    if args.parallel {
        clamped(50)
    } else if mirror.is_some_and(|m| m.wait.is_none()) {
        clamped(MIRROR_PARALLEL)
    } else {
        1
    }
}

/// `--speed-limit` and `--speed-time`, with curl's defaults when only one of the pair is
/// given: 1 byte a second, 30 s.
fn low_speed(args: &Args) -> Option<(u64, Duration)> {
    match (args.speed_limit, args.speed_time) {
        (None, None) | (Some(0), _) => None,
        (limit, time) => Some((limit.unwrap_or(1), time.unwrap_or(Duration::from_secs(30)))),
    }
}

/// Whether `--proto` leaves `scheme` out for every target, and which flag (`--proto` or
/// `--proto-redir`) leaves it out for a redirect.
fn scheme_off(args: &Args, scheme: &str) -> (bool, Option<&'static str>) {
    let by = |spec: &Option<String>| {
        spec.as_deref()
            .is_some_and(|p| !proto::allows(p, scheme, true, args.silent))
    };
    let direct = by(&args.proto);
    let redirect = if direct {
        Some("--proto")
    } else {
        by(&args.proto_redir).then_some("--proto-redir")
    };
    (direct, redirect)
}

/// The client every target shares: connections, authentication, cookies, proxies, TLS,
/// the header edits and the observer. A crawl's client follows no redirect (the crawl
/// follows them as links, so that each target is checked against its bounds).
fn client(
    args: &mut Args,
    jar: &mut Option<Arc<Mutex<CookieJar>>>,
    resolver: Resolver,
    parallel: usize,
    crawl: bool,
    low_speed: Option<(u64, Duration)>,
    netrc: Option<String>,
) -> Result<Built, Error> {
    let (jar, literal) = cookies(args, jar)?;
    let (proxy, https_proxy, no_proxy) = proxy(args)?;
    let tls = crate::cli::tls::settings(args)?;
    let local = local(args)?;
    let (http_off, redirect_off) = scheme_off(args, "http");
    let (https_off, redirect_tls_off) = scheme_off(args, "https");
    let version = if args.http09 {
        Version::Http09
    } else if args.http10 {
        Version::Http10
    } else {
        Version::Http11
    };
    let builder = Client::builder()
        .max_idle_per_endpoint(parallel.max(DEFAULT_MAX_IDLE_PER_ENDPOINT))
        .connect_timeout(args.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT))
        .max_time(args.max_time)
        .redirects(
            (args.location && !crawl).then(|| u32::try_from(args.max_redirs).unwrap_or(u32::MAX)),
        )
        .version(version)
        .resolver(resolver)
        .unix_socket(args.unix_socket.clone())
        .expect_timeout(
            args.expect100_timeout
                .filter(|d| !d.is_zero())
                .unwrap_or(crate::DEFAULT_EXPECT_TIMEOUT),
        );
    let builder = authenticated(builder, args)?
        .cookie_jar(jar.clone())
        .cookie(literal)
        .proxy(proxy)
        .https_proxy(https_proxy)
        .no_proxy(no_proxy)
        .tls(tls)
        .redirect_http_off(redirect_off)
        .redirect_https_off(redirect_tls_off)
        .location_trusted(args.location_trusted)
        .host_login(host_login(netrc, args.netrc_optional))
        .request_target(args.request_target.clone())
        .ignore_content_length(args.ignore_content_length)
        .local(local)
        .haproxy_protocol(args.haproxy_protocol)
        .upload_rate(args.limit_rate.filter(|r| *r > 0))
        .raw(args.raw)
        .transfer_codings(args.tr_encoding);
    let builder = edited(builder, args, low_speed);
    let (builder, trace) = observed(builder, args)?;
    Ok(Built {
        client: builder.build(),
        cookie_jar: args.cookie_jar.clone().zip(jar),
        trace,
        http_off,
        https_off,
    })
}

/// `--post301` and kin, `-u` (Basic, or a challenge answered with `--digest`,
/// `--anyauth`), `--oauth2-bearer`, `-e`.
fn authenticated(mut builder: Builder, args: &Args) -> Result<Builder, Error> {
    for (on, status) in [
        (args.post301, 301),
        (args.post302, 302),
        (args.post303, 303),
    ] {
        if on {
            builder = builder.keep_post(status);
        }
    }
    if let Some(user) = &args.user {
        let (name, password) = credentials(user)?;
        builder = match (args.digest, args.anyauth) {
            (false, false) => builder.basic_auth(&name, &password),
            (digest, _) => builder.challenge_auth(Some(Credentials::new(
                &name,
                &password,
                if digest {
                    AuthScheme::Digest
                } else {
                    AuthScheme::Any
                },
            ))),
        };
    }
    if let Some(token) = &args.oauth2_bearer {
        builder = builder.bearer_auth(token);
    }
    if let Some(referer) = &args.referer {
        let (url, auto) = match referer.strip_suffix(";auto") {
            Some(url) => (url, true),
            None => (referer.as_str(), false),
        };
        builder = builder
            .referer((!url.is_empty()).then(|| url.to_string()))
            .auto_referer(auto);
    }
    Ok(builder)
}

/// `--connect-to`, `--proxy-header`, the idle limit `-y` implies, `--compressed`'s
/// `Accept-Encoding`, `-A` and the `-H` edits, in that order.
fn edited(mut builder: Builder, args: &mut Args, low_speed: Option<(u64, Duration)>) -> Builder {
    for rule in std::mem::take(&mut args.connect_to) {
        builder = builder.connect_to(rule);
    }
    for edit in std::mem::take(&mut args.proxy_headers) {
        builder = builder.proxy_header(edit);
    }
    if let Some((_, time)) = low_speed {
        // A body that stops altogether is too slow once the time is up.
        builder = builder.idle_timeout(time.min(crate::DEFAULT_IDLE_TIMEOUT));
    }
    if args.compressed {
        // What fetch decodes (curl lists what its build does); a -H naming
        // Accept-Encoding still wins.
        builder = builder.accept_encoding(Some("gzip, deflate".into()));
    }
    // -A sets the default in its place (a -H naming User-Agent still wins, as in curl).
    builder = builder.user_agent(args.user_agent.clone());
    for edit in std::mem::take(&mut args.headers) {
        builder = builder.header(edit);
    }
    builder
}

/// The observer: `--trace`/`--trace-ascii` (the file is opened here), else `-v`; and
/// `--happy-eyeballs-timeout-ms`.
fn observed(mut builder: Builder, args: &Args) -> Result<(Builder, Option<Arc<TraceFile>>), Error> {
    let trace = match (&args.trace, &args.trace_ascii) {
        (Some(name), _) => Some(TraceFile::open(name, true, args.trace_time)?),
        (_, Some(name)) => Some(TraceFile::open(name, false, args.trace_time)?),
        _ => None,
    }
    .map(Arc::new);
    if let Some(t) = &trace {
        let t = t.clone();
        builder = builder.observer(move |e| t.event(e));
    } else if args.verbose {
        builder = builder.observer(verbose);
    }
    if let Some(ms) = args.happy_eyeballs_timeout_ms {
        builder = builder.happy_eyeballs(Some(Duration::from_millis(ms)));
    }
    Ok((builder, trace))
}

/// `--proto-default`: a target without a scheme gets this one, which fetch cannot speak
/// (http is the default already): exit 1 when its turn comes, as for any other scheme.
fn with_default_scheme(args: &mut Args) {
    let Some(p) = args
        .proto_default
        .as_deref()
        .filter(|p| !p.eq_ignore_ascii_case("http"))
    else {
        return;
    };
    for t in &mut args.targets {
        if !t.contains("://") && !t.starts_with("unix:") {
            *t = format!("{p}://{t}");
        }
    }
}

/// Where each expanded target's body goes: `-o` (`#N` filled in, under `--output-dir`),
/// `-O`, `--remote-name-all`, else stdout.
fn dests(args: &Args, expanded: &[Expanded]) -> Vec<DestSpec> {
    expanded
        .iter()
        .map(|(i, _, values)| match args.outputs.get(*i) {
            Some(Output::File(o)) if o == "-" => DestSpec::Given(Dest::Stdout { explicit: true }),
            Some(Output::File(o)) => {
                let o = glob::name(o, values);
                DestSpec::Given(Dest::File(match &args.output_dir {
                    // curl puts the folder in front of the name as it stands.
                    Some(dir) => PathBuf::from(format!("{dir}/{o}")),
                    None => PathBuf::from(o),
                }))
            }
            Some(Output::Remote) => DestSpec::Remote,
            None if args.remote_name_all => DestSpec::Remote,
            None => DestSpec::Given(Dest::Stdout { explicit: false }),
        })
        .collect()
}

/// `-n`, `--netrc-file`, `--netrc-optional`: the `.netrc` login (from its `text`) for a
/// host a redirect leads to (the first target's own comes with its request).
fn host_login(text: Option<String>, optional: bool) -> Option<crate::HostLogin> {
    let text = text?;
    Some(Arc::new(move |host: &str| {
        netrc::credentials(&text, host, None, optional)
    }))
}

/// `-n`, `--netrc-file`, `--netrc-optional`: the file's text, when it could be read and no
/// `-u` or `--oauth2-bearer` overrides it.
fn netrc_text(args: &Args) -> Option<String> {
    (args.netrc || args.netrc_optional || args.netrc_file.is_some())
        .then(|| netrc::file(args.netrc_file.as_deref()))
        .flatten()
        .filter(|_| args.user.is_none() && args.oauth2_bearer.is_none())
        .and_then(|f| std::fs::read_to_string(f).ok())
}

/// `-z TIME`: `If-Modified-Since` (`-TIME`: `If-Unmodified-Since`) with TIME read as a
/// date (curl's lenient reading) or else as a file's modification time. Neither: curl's
/// warning (not with `-s`) and no condition.
fn time_condition(time: &str, silent: bool) -> Option<(String, String)> {
    let (name, time) = match time.strip_prefix('-') {
        Some(t) => ("If-Unmodified-Since", t),
        None => ("If-Modified-Since", time),
    };
    let at = crate::cookie::parse_lenient_date(time, false)
        .map(|secs| std::time::UNIX_EPOCH + Duration::from_secs(secs))
        .or_else(|| std::fs::metadata(time).and_then(|m| m.modified()).ok());
    match at {
        Some(at) => Some((name.into(), httpdate::fmt_http_date(at))),
        None => {
            if !silent {
                let _ = writeln!(
                    io::stderr(),
                    "fetch: warning: -z {time}: neither a date nor a file; no time condition"
                );
            }
            None
        }
    }
}

/// The client side of connections: `--interface`, `--local-port`, `--keepalive-time`,
/// `--tcp-fastopen`.
fn local(args: &Args) -> Result<shared::Local, Error> {
    let mut local = shared::Local {
        ports: args.local_port,
        keepalive: args
            .keepalive_time
            .filter(|s| *s > 0)
            .map(Duration::from_secs),
        fastopen: args.tcp_fastopen,
        ..shared::Local::default()
    };
    if let Some(name) = &args.interface {
        let addr = |a: &str| {
            a.trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .map_err(|_| {
                    Error::Usage(format!(
                        "--interface {name}: '{a}' is not an address (names are not looked up)"
                    ))
                })
        };
        if let Some(device) = name.strip_prefix("if!") {
            local.device = Some(device.to_string());
        } else if let Some(host) = name.strip_prefix("host!") {
            local.addr = Some(addr(host)?);
        } else if let Ok(a) = addr(name) {
            local.addr = Some(a);
        } else {
            local.device = Some(name.clone());
        }
    }
    Ok(local)
}

/// The proxies for http:// and https:// targets (`-x` for both, else curl's variables)
/// with `-U`'s credentials, and the hosts that go around them (`--noproxy`, else
/// `no_proxy`/`NO_PROXY`). A proxy fetch cannot use (HTTPS, SOCKS) is a usage error with
/// the reason.
#[allow(clippy::type_complexity)] // Three results of one reading, named at the one call.
fn proxy(args: &Args) -> Result<(Option<Proxy>, Option<Proxy>, Vec<String>), Error> {
    let env = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
    };
    let given = args.proxy.clone().or_else(|| args.proxy10.clone());
    // curl reads http_proxy in lowercase only (HTTP_PROXY could be set by a CGI request);
    // https_proxy in either case.
    let http = proxy_of(
        args,
        given
            .clone()
            .or_else(|| env(&["http_proxy", "all_proxy", "ALL_PROXY"])),
    )?;
    let https = proxy_of(
        args,
        given.or_else(|| env(&["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"])),
    )?;
    let list = args
        .noproxy
        .clone()
        .or_else(|| env(&["no_proxy", "NO_PROXY"]))
        .unwrap_or_default();
    let no_proxy = list
        .split(',')
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    Ok((http, https, no_proxy))
}

/// The proxy `given` (if any), with `-U`, `-p`, `--proxy1.0` and the proxy's auth scheme.
fn proxy_of(args: &Args, given: Option<String>) -> Result<Option<Proxy>, Error> {
    let mut proxy = match given.filter(|p| !p.is_empty()) {
        Some(p) => Some(Proxy::parse(&p).map_err(|e| Error::Usage(format!("-x: {e}")))?),
        None => None,
    };
    if let Some(user) = &args.proxy_user {
        let (name, password) = user.split_once(':').unwrap_or((user, ""));
        proxy = proxy.map(|p| p.basic_auth(name, password));
    }
    let challenge = match (args.proxy_digest, args.proxy_anyauth) {
        (true, _) => Some(AuthScheme::Digest),
        (_, true) => Some(AuthScheme::Any),
        _ => None,
    };
    Ok(proxy.map(|p| {
        let p = p
            .tunnel(args.proxytunnel)
            .connect_http10(args.proxy10.is_some());
        match challenge {
            Some(scheme) => p.challenge_auth(scheme),
            None => p,
        }
    }))
}

/// The cookie engine (on with `-b FILE` or `-c`, holding the files' cookies) and the
/// `-b` strings joined with `;` (as curl joins them).
#[allow(clippy::type_complexity)] // Two results of one reading, named at the one call.
fn cookies(
    args: &Args,
    shared: &mut Option<Arc<Mutex<CookieJar>>>,
) -> Result<(Option<Arc<Mutex<CookieJar>>>, Option<String>), Error> {
    let (strings, files): (Vec<&String>, Vec<&String>) =
        args.cookie.iter().partition(|c| c.contains('='));
    let literal = (!strings.is_empty()).then(|| {
        strings
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            // curl joins them with a bare `;`.
            .join(";")
    });
    if files.is_empty() && args.cookie_jar.is_none() {
        return Ok((None, literal));
    }
    let shared = shared.get_or_insert_with(|| Arc::new(Mutex::new(CookieJar::new())));
    let mut jar = shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for file in files {
        // As curl: a file that cannot be read is no error (it is often the jar to come).
        let text = if file == "-" {
            let mut t = String::new();
            io::stdin().lock().read_to_string(&mut t).map(|_| t).ok()
        } else {
            std::fs::read(file)
                .ok()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
        };
        if let Some(text) = text {
            jar.load(&text, args.junk_session_cookies);
        }
    }
    drop(jar);
    Ok((Some(shared.clone()), literal))
}

/// `-u USER:PASSWORD` split at the first colon. `-u USER` alone asks for the password as
/// curl does (tool_getpass.c): the prompt on stderr, the answer read from the terminal
/// (`/dev/tty`) with echo off, or from stdin when there is no terminal.
fn credentials(user: &str) -> Result<(String, String), Error> {
    if let Some((name, password)) = user.split_once(':') {
        return Ok((name.into(), password.into()));
    }
    let fail = |e: io::Error| {
        Error::Usage(format!(
            "-u {user}: reading the password: {}",
            shared::io_words(&e)
        ))
    };
    // One write, so that the prompt is never seen half-written.
    let prompt = format!("Enter host password for user '{user}':");
    let mut line = String::new();
    match std::fs::File::open("/dev/tty") {
        Ok(tty) => {
            // Echo off while the password is typed, back on afterwards whatever happens.
            let saved = rustix::termios::tcgetattr(&tty).ok();
            if let Some(mut quiet) = saved.clone() {
                quiet.local_modes.remove(rustix::termios::LocalModes::ECHO);
                let _ =
                    rustix::termios::tcsetattr(&tty, rustix::termios::OptionalActions::Now, &quiet);
            }
            // The prompt once echo is off, so nothing typed after it shows.
            let _ = io::stderr().write_all(prompt.as_bytes());
            let read = io::BufReader::new(&tty).read_line(&mut line);
            if let Some(saved) = saved {
                let _ =
                    rustix::termios::tcsetattr(&tty, rustix::termios::OptionalActions::Now, &saved);
            }
            read.map_err(fail)?;
        }
        Err(_) => {
            let _ = io::stderr().write_all(prompt.as_bytes());
            io::stdin().lock().read_line(&mut line).map_err(fail)?;
        }
    }
    let _ = writeln!(io::stderr());
    Ok((user.into(), line.trim_end_matches(['\r', '\n']).into()))
}

/// `-w`: the format as given, or read from the file `-w @FILE` names.
fn write_out_format(args: &Args) -> Result<Option<String>, Error> {
    let Some(f) = args.write_out.as_deref() else {
        return Ok(None);
    };
    Ok(Some(match f.strip_prefix('@') {
        Some(file) => read_format(file)?,
        None => f.to_string(),
    }))
}

/// The text of `-w @FILE` (`-`: stdin) as curl reads it: line by line, each line's end
/// dropped, so a format whose lines end in `\n` escapes prints one newline a line.
fn read_format(file: &str) -> Result<String, Error> {
    let mut bytes = Vec::new();
    let result = if file == "-" {
        io::stdin().lock().read_to_end(&mut bytes).map(drop)
    } else {
        std::fs::read(file).map(|b| bytes = b)
    };
    result.map_err(|e| Error::Usage(format!("-w @{file}: {}", shared::io_words(&e))))?;
    Ok(without_line_ends(&bytes))
}

/// curl's file2string: the text in pieces of up to 255 bytes (its `fgets` buffer), each
/// ending after a line feed or when full, and each piece cut at its first CR, LF or NUL.
/// So a CR ends what a line says, and a line over 255 bytes loses nothing but that.
fn without_line_ends(bytes: &[u8]) -> String {
    const PIECE: usize = 255;
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while !rest.is_empty() {
        let window = &rest[..rest.len().min(PIECE)];
        let len = window
            .iter()
            .position(|&b| b == b'\n')
            .map_or(window.len(), |i| i + 1);
        let (piece, tail) = rest.split_at(len);
        let end = piece
            .iter()
            .position(|&b| matches!(b, b'\r' | b'\n' | 0))
            .unwrap_or(piece.len());
        out.extend_from_slice(&piece[..end]);
        rest = tail;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The targets in `file` (`-`: stdin): one a line, trimmed; blank lines and `#` comments
/// skipped.
fn read_targets(file: &std::path::Path) -> Result<Vec<String>, Error> {
    let fail = |e: io::Error| {
        Error::Usage(format!(
            "--input {}: {}",
            file.display(),
            shared::io_words(&e)
        ))
    };
    let reader: Box<dyn BufRead> = if file.as_os_str() == "-" {
        Box::new(io::stdin().lock())
    } else {
        Box::new(io::BufReader::new(std::fs::File::open(file).map_err(fail)?))
    };
    let mut out = Vec::new();
    for line in reader.lines() {
        let line = line.map_err(fail)?;
        let line = line.trim();
        if !line.is_empty() && !line.starts_with('#') {
            out.push(line.to_string());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::args::clap_message;

    fn parse(args: &[&str]) -> Result<Config, Error> {
        let mut all = vec!["fetch"];
        all.extend_from_slice(args);
        let args = Args::parse_ordered(all).map_err(|e| Error::Usage(clap_message(&e)))?;
        Config::from_args(args)
    }

    #[test]
    fn format_files_lose_their_line_ends_as_in_curl() {
        let long = format!("{}\ry\nZ\n", "x".repeat(300));
        let cases: &[(&[u8], String)] = &[
            (b"%{http_code}\\n\n", "%{http_code}\\n".into()),
            (b"A\rB\nC\\n\r\nD", "AC\\nD".into()),
            (b"a\0b\nc", "ac".into()),
            (long.as_bytes(), format!("{}Z", "x".repeat(300))),
            (b"", String::new()),
        ];
        for (bytes, want) in cases {
            assert_eq!(
                without_line_ends(bytes),
                *want,
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn outputs_go_to_targets_in_order() {
        let c = parse(&["-o", "a", "-o", "-", "-O", "x/1", "y/2", "z/3", "w/4"]).unwrap();
        assert_eq!(
            c.dests,
            [
                DestSpec::Given(Dest::File("a".into())),
                DestSpec::Given(Dest::Stdout { explicit: true }),
                DestSpec::Remote,
                DestSpec::Given(Dest::Stdout { explicit: false }),
            ]
        );
        // curl pairs each -o or -O with the next target that has none, wherever it stands.
        let c = parse(&["-O", "x/1", "y/2", "-o", "f"]).unwrap();
        assert_eq!(
            c.dests,
            [DestSpec::Remote, DestSpec::Given(Dest::File("f".into()))]
        );
        let c = parse(&["--remote-name-all", "x/1", "-o", "g", "y/2"]).unwrap();
        assert_eq!(
            c.dests,
            [DestSpec::Given(Dest::File("g".into())), DestSpec::Remote]
        );
        let c = parse(&["x"]).unwrap();
        assert_eq!(c.dests, [DestSpec::Given(Dest::Stdout { explicit: false })]);
    }

    #[test]
    fn parallel_is_clamped_as_curl_clamps_it() {
        let at_once = |line: &[&str]| parse(line).unwrap().parallel;
        assert_eq!(at_once(&["x"]), 1);
        assert_eq!(at_once(&["-Z", "x"]), 50);
        assert_eq!(at_once(&["-Z", "--parallel-max", "7", "x"]), 7);
        assert_eq!(at_once(&["-Z", "--parallel-max", "900", "x"]), 300);
        assert_eq!(at_once(&["-Z", "--parallel-max", "0", "x"]), 50);
        assert_eq!(at_once(&["--mirror", "x/"]), MIRROR_PARALLEL);
        assert_eq!(at_once(&["--mirror", "--parallel-max", "2", "x/"]), 2);
        assert_eq!(at_once(&["--mirror", "--wait", "1", "x/"]), 1);
    }

    #[test]
    fn low_speed_takes_curls_defaults() {
        let low = |line: &[&str]| parse(line).unwrap().low_speed;
        assert_eq!(low(&["x"]), None);
        assert_eq!(low(&["-Y", "0", "x"]), None);
        assert_eq!(low(&["-Y", "9", "x"]), Some((9, Duration::from_secs(30))));
        assert_eq!(low(&["-y", "5", "x"]), Some((1, Duration::from_secs(5))));
    }

    #[test]
    fn one_method_per_line() {
        let cases: &[(&[&str], &str)] = &[
            (
                &["-F", "a=b", "-d", "c", "x"],
                "-F (a multipart POST) cannot go",
            ),
            (&["-T", "f", "-F", "a=b", "x"], "-T (PUT) cannot go with -F"),
            (
                &["-T", "f", "-d", "c", "x"],
                "-T (PUT) cannot go with -I (HEAD) or -d",
            ),
            (&["-I", "-d", "c", "x"], "-I (HEAD) and -d"),
            (
                &["-r", "0-1", "-C", "-", "-o", "f", "x"],
                "-r and -C - both",
            ),
            (&["-C", "-", "x"], "-C - needs a file for every target"),
            (
                &["-C", "-", "-i", "-o", "f", "x"],
                "cannot go with -I or -i",
            ),
        ];
        for (args, want) in cases {
            let err = parse(args).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}");
            assert!(err.to_string().contains(want), "{args:?}: {err}");
        }
    }

    #[test]
    fn data_goes_into_the_query_with_get_and_url_query() {
        let c = parse(&["-G", "-d", "a=1", "--url-query", "b=2 3", "x/p"]).unwrap();
        assert_eq!(c.targets, ["x/p?a=1&b=2+3"]);
        assert_eq!(c.request.method, Method::Get);
        let c = parse(&["--proto-default", "ftp", "x/p", "http://y/"]).unwrap();
        assert_eq!(c.targets, ["ftp://x/p", "http://y/"]);
    }

    #[test]
    fn usage_errors() {
        let cases: &[(&[&str], &str)] = &[
            (&[], "required"),
            (&["--bogus", "x"], "unexpected argument '--bogus'"),
            (&["-m", "soon", "x"], "'soon' is not a number of seconds"),
            (&["-m", "0", "x"], "must be a positive number"),
            (&["--resolve", "nope", "x"], "--resolve: bad target 'nope'"),
            (&["-H", "no colon", "x"], "expected 'Name: value'"),
            (&["--http0.9", "-I", "x"], "cannot go with -I"),
            (&["-4", "-6", "x"], "cannot be used with"),
            (&["--max-redirs", "-2", "x"], "'-2'"),
            (
                &["--max-redirs", "lots", "x"],
                "invalid value 'lots' for '--max-redirs <N>'",
            ),
        ];
        for (args, want) in cases {
            let err = parse(args).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}");
            let text = err.to_string();
            assert!(text.contains(want), "{args:?}: {text}");
            assert!(!text.contains('\n'), "{args:?}: {text}");
        }
    }
}
