#!/usr/bin/env python3
"""Turns bench/run.sh's raw CSV into the BENCHMARKS.md table (medians, ratios to the best
peer) and bench/results/chart.svg. Standard library only."""

import csv
import statistics
import sys
from collections import defaultdict
from pathlib import Path

OURS = {"serve", "serve-q", "fetch"}
# Shown for scale, never a peer: nginx answering `return 200` from memory (no file I/O).
REFERENCE = {"nginx-return"}
# Scenarios where less is better (times, memory, what a request costs); everything else is
# a rate.
ORDER_SERVERS = ["serve", "serve-q", "h2o", "nginx", "lighttpd", "darkhttpd", "python", "nginx-return"]
ORDER_CLIENTS = ["fetch", "curl", "wget", "curl-parallel", "xargs-curl"]


# Rows that check a run measured what it says (not figures of merit), by the end of their
# name, with what the reader should see in them.
CHECKS = {
    "-conns-per-request": "(check: ≈ 1.00)",
    "-is-gzip": "(check: 1 = gzip)",
    "-resumed": "(check: share of handshakes resumed)",
    "-is-tls13": "(check: 1 = TLS 1.3)",
    "-resumes-ticket": "(check: 1 = resumes)",
    "-renews-ticket": "(check: 1 = a new ticket on resumption)",
    "-held": "(check: all held)",
}


def check_label(scen):
    return next((label for end, label in CHECKS.items() if scen.endswith(end)), None)


def lower_is_better(scen):
    return scen.startswith("rss-") or scen.endswith(("-wall", "-cpu", "-syscalls", "-switches"))


def best_round(vals, low):
    """A server's best round: the highest rate, or the lowest time or memory. Rounds recorded
    as 0 (a run that failed its check) are not rounds."""
    vals = [v for v in vals if v > 0]
    if not vals:
        return None
    return min(vals) if low else max(vals)


def main(path, quick):
    rows = list(csv.DictReader(open(path)))
    values = defaultdict(list)
    p99 = defaultdict(list)
    units = {}
    for r in rows:
        key = (r["scenario"], r["server"])
        try:
            values[key].append(float(r["value"]))
        except ValueError:
            continue
        units[r["scenario"]] = r["unit"]
        if r.get("p99_ms"):
            p99[key].append(float(r["p99_ms"]))
    scenarios = []
    for (scen, _), _ in values.items():
        # --watch's rows compare serve with itself: in their own table (issue18_watch).
        if scen not in scenarios and not scen.startswith("watch-"):
            scenarios.append(scen)
    median = {k: statistics.median(v) for k, v in values.items()}
    spread = {k: (min(v), max(v)) for k, v in values.items()}

    out = []
    out.append("| scenario | unit | " + " | ".join(ORDER_SERVERS + ORDER_CLIENTS)
               + " | best peer | ours ÷ best peer (medians) | best rounds: ours ÷ best peer |")
    out.append("|" + "---|" * (len(ORDER_SERVERS) + len(ORDER_CLIENTS) + 5))
    chart = []
    for scen in scenarios:
        names = [n for n in ORDER_SERVERS + ORDER_CLIENTS if (scen, n) in median]
        peers = {n: median[(scen, n)] for n in names
                 if n not in OURS | REFERENCE and median[(scen, n)] > 0}
        check = check_label(scen) is not None
        if not peers and not check:
            continue
        low = lower_is_better(scen)
        if check:
            # Not a figure of merit: the run's own check that a row measured what it says
            # (else that row is recorded as 0).
            best_name, best = check_label(scen), 0
        else:
            best_name = (min if low else max)(peers, key=peers.get)
            best = peers[best_name]
        cells = []
        for n in ORDER_SERVERS + ORDER_CLIENTS:
            if (scen, n) not in median:
                cells.append("")
                continue
            v = median[(scen, n)]
            lo, hi = spread[(scen, n)]
            # Below 1 (a run of tens of milliseconds, in seconds): three decimals.
            d = 3 if v < 1 else 2
            text = f"{v:,.0f}" if v >= 100 else f"{v:,.{d}f}"
            if check:
                text = f"{v:,.0f}" if v >= 100 else f"{v:.2f}"
            if lo != hi and not check:
                text += f" ({lo:,.0f}–{hi:,.0f})" if v >= 100 else f" ({lo:.{d}f}–{hi:.{d}f})"
            if (scen, n) in p99 and p99[(scen, n)]:
                text += f"; p99 {statistics.median(p99[(scen, n)]):.1f} ms"
            cells.append(text)
        ratios, best_ratios = [], []
        # Issue 27: each side's best round beside the medians, so that a peer whose rounds
        # fall in two groups (a fast one and a slow one) shows: its best round can beat ours
        # where its median does not.
        peer_bests = {n: best_round(values[(scen, n)], low) for n in peers}
        peer_bests = {n: b for n, b in peer_bests.items() if b is not None}
        best_round_name = (min if low else max)(peer_bests, key=peer_bests.get) if peer_bests else None
        for ours in ("serve", "serve-q", "fetch"):
            if (scen, ours) in median and best:
                v = median[(scen, ours)]
                # Ratios read "higher is better" in both directions.
                r = (best / v if v else 0) if low else v / best
                ratios.append(f"{ours} {r:.2f}×")
                chart.append((scen, ours, r))
                ob = best_round(values[(scen, ours)], low)
                if best_round_name is not None:
                    pb = peer_bests[best_round_name]
                    rb = (pb / ob if ob else 0) if low else (ob or 0) / pb
                    best_ratios.append(f"{ours} {rb:.2f}×")
        best_text = ", ".join(best_ratios)
        if best_ratios and best_round_name != best_name:
            best_text += f" ({best_round_name})"
        out.append(f"| {scen} | {units.get(scen, '')} | " + " | ".join(cells)
                   + f" | {best_name} | {', '.join(ratios)} | {best_text} |")
    out.append("")
    out.append("Ratios are ours ÷ best peer, oriented so that above 1.00× means we did better "
               "(for times and memory: best peer ÷ ours). Medians of the rounds; ranges in brackets. "
               "The last column divides our best round by the best round of any peer (named when "
               "it is not the peer with the best median): far below the median ratio, a peer "
               "had rounds much better than its median.")
    if quick == "1":
        out.append("(quick run: fewer connection counts, 2 s runs, one round.)")
    out.extend(issue16(median))
    out.extend(issue18_digest(median))
    out.extend(issue18_watch(median))
    out.extend(issue17(values))
    out.extend(issue24(values))
    out.extend(issue15(median, spread))
    out.extend(issue23(values, median))
    print("\n".join(out))
    svg(chart, Path(path).with_name("chart.svg"))


def issue16(median):
    """The targets of issue 16, when the run has their rows: ratios oriented like the table's."""
    def get(scen, name):
        return median.get((scen, name))

    lines = []
    up_s, up_n = get("upload-put", "serve"), get("upload-put", "nginx")
    rss = get("rss-upload", "serve")
    if up_s is not None and up_n:
        lines.append(f"| upload with curl -T ≥ 1.0× nginx (dav_methods PUT) | serve {up_s:,.0f} MiB/s, "
                     f"nginx {up_n:,.0f} MiB/s | {up_s / up_n:.2f}× |")
    if rss is not None:
        lines.append(f"| serve's RSS during the upload ≤ 16 MiB | {rss / 1024:.1f} MiB "
                     f"(nginx {(get('rss-upload', 'nginx') or 0) / 1024:.1f} MiB) | "
                     f"{'met' if rss <= 16 * 1024 else 'not met'} |")
    gz_s, gz_n = get("64k-text-gzip-c16", "serve"), get("64k-text-gzip-c16", "nginx")
    if gz_s is not None and gz_n:
        lines.append(f"| 64 KiB text, gzip, 16 conns ≥ 2× nginx (gzip on) | serve {gz_s:,.0f} req/s, "
                     f"nginx {gz_n:,.0f} req/s | {gz_s / gz_n:.2f}× |")
    tar, file = get("folder-tar", "serve"), get("folder-tar-file", "serve")
    if tar is not None and file:
        lines.append(f"| folder as tar ≥ 0.8× the single-file download | tar {tar:,.0f} MiB/s, "
                     f"file {file:,.0f} MiB/s | {tar / file:.2f}× |")
    if not lines:
        return []
    return ["", "Issue 16 targets (medians of the rounds):", "",
            "| target | figures | ratio |", "|---|---|---|"] + lines


def issue18_digest(median):
    """The cost of --digest and of fetch's check, when the run has their rows."""
    def get(scen, name):
        return median.get((scen, name))

    plain, first, known = (get("bigfile-plain", "serve"), get("bigfile-digest-first", "serve"),
                           get("bigfile-digest", "serve"))
    lines = []
    if plain and first is not None and known is not None:
        lines.append(f"| the big file from serve --digest ÷ serve | first request (hashing meanwhile) "
                     f"{first:,.0f} MiB/s, digest known {known:,.0f} MiB/s, serve {plain:,.0f} MiB/s | "
                     f"{first / plain:.2f}×, {known / plain:.2f}× |")
    on, off = get("get-big-digest-wall", "fetch"), get("get-big-nodigest-wall", "fetch")
    con, coff = get("get-big-digest-cpu", "fetch"), get("get-big-nodigest-cpu", "fetch")
    if on and off:
        lines.append(f"| fetch checking the sha-256 ÷ not | wall {on:.2f} s vs {off:.2f} s, "
                     f"cpu {con or 0:.2f} s vs {coff or 0:.2f} s | {off / on:.2f}× (time: not ÷ checking) |")
    if not lines:
        return []
    return ["", "Issue 18, verified transfers (medians of the rounds):", "",
            "| cost | figures | ratio |", "|---|---|---|"] + lines


def issue18_watch(median):
    """The cost of serve --watch on the 1 KiB keep-alive rows, when the run has them."""
    lines = []
    for kind, what in (("html", "1 KiB HTML (script injected)"), ("bin", "1 KiB other file")):
        for c in (16, 256):
            scen = f"watch-keepalive-{kind}-c{c}"
            off, on = median.get((scen, "serve-q")), median.get((scen, "serve-watch"))
            if off and on is not None:
                lines.append(f"| {what}, {c} conns | {off:,.0f} req/s | {on:,.0f} req/s | {on / off:.2f}× |")
    if not lines:
        return []
    return ["", "Issue 18: the cost of `--watch` (serve -q with and without it, medians of the rounds):", "",
            "| row | without | with --watch | ratio |", "|---|---|---|---|"] + lines
def issue17(values):
    """The targets of issue 17 (fetch --mirror against wget on the 2000-file site), when the
    run has their rows: the ratio of the medians, and the range of the per-round ratios."""
    def pair(scen):
        f, w = values.get((scen, "fetch")), values.get((scen, "wget"))
        if not f or not w:
            return None
        per_round = [a / b for a, b in zip(f, w) if b]
        return statistics.median(f), statistics.median(w), per_round

    lines = []
    for scen, what, target in [("mirror-first-wall", "first run ≤ 0.3× wget -r", 0.3),
                               ("mirror-second-wall", "second run, nothing changed, ≤ 0.1× "
                                "wget -r -N --no-if-modified-since", 0.1)]:
        p = pair(scen)
        if p:
            f, w, rounds = p
            spread = f" (rounds {min(rounds):.3f}–{max(rounds):.3f})" if len(rounds) > 1 else ""
            lines.append(f"| {what} | fetch {f:.2f} s, wget {w:.2f} s | {f / w:.3f}×{spread}, "
                         f"{'met' if f / w <= target else 'not met'} |")
    checked = values.get(("mirror-second-files-checked", "fetch"))
    if checked:
        lines.append(f"| every file still checked on the second run | {min(checked):.0f} of 2000 files "
                     f"reported unchanged | {'met' if min(checked) == 2000 else 'not met'} |")
    rss = [v for scen in ("rss-mirror-first", "rss-mirror-second") for v in values.get((scen, "fetch"), [])]
    if rss:
        lines.append(f"| fetch's peak memory ≤ 32 MiB | {max(rss) / 1024:.1f} MiB at most "
                     f"({min(rss) / 1024:.1f}–{max(rss) / 1024:.1f}) | "
                     f"{'met' if max(rss) <= 32 * 1024 else 'not met'} |")
    if not lines:
        return []
    return ["", "Issue 17 targets (fetch --mirror -Z against wget, 2000-file site on serve):", "",
            "| target | figures | ratio |", "|---|---|---|"] + lines


def issue24(values):
    """The targets of issue 24 (fetch --mirror as typed against wget2 on a real site), when
    the run has their rows: ratios of the medians, and the range of the per-round ratios."""
    def ratio(scen, a, b):
        f, w = values.get((scen, a)), values.get((scen, b))
        if not f or not w:
            return None
        rounds = [x / y for x, y in zip(f, w) if y]
        return statistics.median(f), statistics.median(w), rounds

    lines = []
    rows = [("real-first-serve-wall", "first run from serve, wall ≤ 0.8× wget2 -r", 0.8),
            ("real-first-serve-cpu", "first run from serve, CPU ≤ wget2's", 1.0),
            ("real-first-nginx-wall", "first run from nginx, wall ≤ 0.8× wget2 -r", 0.8),
            ("real-first-nginx-cpu", "first run from nginx, CPU ≤ wget2's", 1.0),
            ("real-second-serve-wall", "re-run from serve ≤ 0.5× wget2 -r -N", 0.5),
            ("real-second-nginx-wall", "re-run from nginx ≤ 1.0× wget2 -r -N", 1.0)]
    for scen in ("real-first-serve-rss", "real-first-nginx-rss", "real-second-serve-rss",
                 "real-second-nginx-rss"):
        rows.append((scen, f"peak RSS ({scen[5:-4]}) ≤ wget2's", 1.0))
    for scen, what, target in rows:
        for other in ("wget2", "wget"):
            p = ratio(scen, "fetch", other)
            if not p:
                continue
            f, w, rounds = p
            spread = f" (rounds {min(rounds):.2f}–{max(rounds):.2f})" if len(rounds) > 1 else ""
            verdict = ("met" if f / w <= target else "not met") if other == "wget2" else "–"
            label = what if other == "wget2" else f"{what.split(',')[0].split(' ≤')[0]}, against wget"
            lines.append(f"| {label} | fetch {f:.3f}, {other} {w:.3f} | {f / w:.2f}×{spread} | "
                         f"{verdict} |")
    for peer in ("serve", "nginx"):
        checked = values.get((f"real-second-{peer}-files-checked", "fetch"))
        if checked:
            lines.append(f"| every file checked on the re-run from {peer} | {min(checked):.0f} "
                         f"files reported unchanged | | |")
    if not lines:
        return []
    return ["", "Issue 24 targets (fetch --mirror as typed against wget2 and wget, "
            "postgresql-doc-15 on serve and nginx; wall and CPU in s, RSS in KiB):", "",
            "| target | medians | ratio | |", "|---|---|---|---|"] + lines


def issue15(median, spread):
    """The targets of issue 15 (fetch against curl), when the run has their rows."""
    lines = []
    for scen, what in (("put-big-wall", "fetch -T wall ≤ 1.0× curl -T"),
                       ("put-big-cpu", "fetch -T CPU ≤ curl -T's"),
                       ("tiny-startup-wall", "fetch -s tiny file ≤ 1.0× curl (hyperfine mean)"),
                       ("tls-tiny-startup-wall",
                        "issue 22: one small https:// request ≤ 1.0× curl (hyperfine mean)"),
                       ("tls-get-big-wall", "issue 22: 1 GiB over https:// wall ≤ 1.0× curl"),
                       ("tls-get-big-cpu", "issue 22: 1 GiB over https:// CPU ≤ curl's")):
        f, c = median.get((scen, "fetch")), median.get((scen, "curl"))
        if f is None or not c:
            continue
        (flo, fhi), (clo, chi) = spread[(scen, "fetch")], spread[(scen, "curl")]
        lines.append(f"| {what} | fetch {f:.3f} ({flo:.3f}–{fhi:.3f}), curl {c:.3f} "
                     f"({clo:.3f}–{chi:.3f}) | {f / c:.2f}× ({'met' if f <= c else 'not met'}) |")
    if not lines:
        return []
    f, c = median.get(("tls-many-small-wall", "fetch")), median.get(("tls-many-small-wall", "curl-parallel"))
    if f is not None and c:
        lines.append(f"| issue 22: the small files over https:// with -Z ≥ 2× faster than curl --parallel "
                     f"| fetch {f:.3f}, curl {c:.3f} | {f / c:.2f}× ({'met' if f * 2 <= c else 'not met'}) |")
    return ["", "Issue 15 and 22 targets (medians of the rounds, ranges in brackets; fetch ÷ curl, "
            "lower is better):", "", "| target | figures | fetch ÷ curl |", "|---|---|---|"] + lines


def issue23(values, median):
    """Issue 23's targets (serve over TLS 1.3 against nginx, h2o and lighttpd), when the run
    has their rows: medians and best rounds beside each other, and the memory targets."""
    peers = ("nginx", "h2o", "lighttpd")
    rows = [("tls-keepalive-c16", "1 KiB keep-alive, 16 conns", "req/s"),
            ("tls-keepalive-c256", "1 KiB keep-alive, 256 conns", "req/s"),
            ("tls-close-c16", "new connection per request, full handshake, 16 conns", "req/s"),
            ("tls-close-resume-c16", "new connection per request, wrk resuming what it can, 16 conns", "req/s"),
            ("tls-close-resume-c16-resumed", "…share of those handshakes resumed", ""),
            ("tls-1m-c16", "1 MiB, 16 conns", "req/s"),
            ("tls-bigfile", "one download of the big file", "MiB/s"),
            ("rss-tls-load", "RSS under load, 256 conns", "KiB"),
            ("rss-tls-idle", "RSS idle, after the rows above", "KiB"),
            ("rss-tls-idle2000", "RSS holding 2000 idle TLS conns", "KiB"),
            ("cost-tls-keepalive-c16-cpu", "CPU per keep-alive request", "µs"),
            ("cost-tls-keepalive-c16-syscalls", "system calls per keep-alive request", ""),
            ("cost-tls-keepalive-c16-switches", "context switches per keep-alive request", ""),
            ("cost-tls-close-c16-cpu", "CPU per full-handshake connection", "µs"),
            ("cost-tls-close-c16-syscalls", "system calls per full-handshake connection", ""),
            ("cost-tls-close-c16-switches", "context switches per full-handshake connection", "")]
    lines = []

    def fmt(v):
        return "" if v is None else (f"{v:,.0f}" if v >= 100 else f"{v:.2f}")

    for scen, what, unit in rows:
        if (scen, "serve") not in median:
            continue
        low = lower_is_better(scen)
        cells = []
        for n in ("serve",) + peers:
            if (scen, n) not in median:
                cells.append("")
                continue
            m, b = median[(scen, n)], best_round(values[(scen, n)], low)
            if check_label(scen) is not None:
                b = None  # a check has no best round
            cells.append(fmt(m) + (f" (best {fmt(b)})" if b is not None and b != m else ""))
        pm = {n: median[(scen, n)] for n in peers if median.get((scen, n), 0) > 0}
        pb = {n: best_round(values[(scen, n)], low) for n in peers if (scen, n) in values}
        pb = {n: b for n, b in pb.items() if b is not None}
        ratio = ""
        if pm and pb and check_label(scen) is None:
            pick = min if low else max
            bm, bb = pick(pm.values()), pick(pb.values())
            s, sb = median[(scen, "serve")], best_round(values[(scen, "serve")], low)
            rm = (bm / s if s else 0) if low else s / bm
            rb = (bb / sb if sb else 0) if low else (sb or 0) / bb
            ratio = f"{rm:.2f}× (best rounds {rb:.2f}×)"
        lines.append(f"| {what} ({unit}) | " + " | ".join(cells) + f" | {ratio} |" if unit else
                     f"| {what} | " + " | ".join(cells) + f" | {ratio} |")
    if not lines:
        return []
    for scen, what in (("rss-tls-load", "under load at 256 TLS connections"),
                       ("rss-tls-idle2000", "holding 2000 idle TLS connections")):
        s, n = median.get((scen, "serve")), median.get((scen, "nginx"))
        if s and n:
            lines.append(f"| target: serve's RSS ≤ nginx's, {what} | {s / 1024:.1f} MiB | "
                         f"{n / 1024:.1f} MiB | | | {'met' if s <= n else 'not met'} |")
    return ["", "Issue 23: serve over TLS 1.3 against nginx, h2o and lighttpd (medians of the rounds, "
            "best rounds in brackets; ratio: serve ÷ the best peer, above 1.00× = serve did better):", "",
            "| row | serve | nginx | h2o | lighttpd | serve ÷ best peer |", "|---|---|---|---|---|---|"] + lines


def svg(chart, dest):
    width, bar, gap = 900, 14, 10
    labels = []
    for scen, ours, r in chart:
        labels.append((f"{scen} ({ours})", r))
    height = 60 + len(labels) * (bar + gap)
    scale = 300  # pixels for 1.0×
    x0 = 260
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
             '<rect width="100%" height="100%" fill="white"/>',
             f'<text x="10" y="20" font-size="14" font-weight="bold">ours ÷ best peer (above 1.0× = better than every peer)</text>']
    y = 40
    for label, r in labels:
        w = min(r, 2.0) * scale
        colour = "#16a34a" if r >= 1.0 else ("#ca8a04" if r >= 0.8 else "#dc2626")
        parts.append(f'<text x="{x0 - 8}" y="{y + bar - 3}" text-anchor="end">{label}</text>')
        parts.append(f'<rect x="{x0}" y="{y}" width="{w:.1f}" height="{bar}" fill="{colour}"/>')
        parts.append(f'<text x="{x0 + w + 6:.1f}" y="{y + bar - 3}">{r:.2f}×</text>')
        y += bar + gap
    parts.append(f'<line x1="{x0 + scale}" y1="30" x2="{x0 + scale}" y2="{height - 10}" stroke="#0f172a" stroke-dasharray="4 3"/>')
    parts.append("</svg>")
    dest.write_text("\n".join(parts) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "0")
