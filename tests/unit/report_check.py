#!/usr/bin/env python3
"""Checks a `migrate report` page in a real browser (headless Chromium), with the standard library only.

  report_check.py REPORT.html --sections summary,best-so-far,... [--min-figures N] [--chromium PROG]

1. The DOM after the page's scripts ran (chromium --dump-dom): every named section is there, there are at least N
   figures, and every figure holds an SVG with at least one drawn data line (a gnuplot plot group with a path);
   a figure gnuplot could not draw fails.
2. Each figure alone (the page's "#only=ID" view), screenshot by Chromium: its pixels must not all be background,
   and the lines must be in colour (more than black, white and greys).
Prints one line per failure and exits 1 on any; 0 when the page passes.
"""
import argparse
import html.parser
import os
import struct
import subprocess
import sys
import tempfile
import zlib


def chromium(prog, args, timeout=90):
    cmd = [prog, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
           "--disable-dev-shm-usage", "--user-data-dir=" + PROFILE] + args
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=timeout, check=False)


class Dom(html.parser.HTMLParser):
    """Sections by id, and per figure: its class, whether it has an <svg>, and how many plot groups have a path."""

    def __init__(self):
        super().__init__()
        self.sections, self.figures, self.stack = set(), [], []
        self.figure = None
        self.plot_group_depth = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section" and a.get("id"):
            self.sections.add(a["id"])
        if tag == "figure":
            self.figure = {"id": a.get("id", "?"), "class": a.get("class", ""), "svg": False, "lines": 0}
            self.figures.append(self.figure)
        if self.figure is None:
            return
        if tag == "svg":
            self.figure["svg"] = True
        if tag == "g" and (a.get("id") or "").startswith("gnuplot_plot_"):
            self.plot_group_depth, self.group_has_path = 0, False
        if self.plot_group_depth is not None:
            if tag == "g":
                self.plot_group_depth += 1
            if tag == "path" and len(a.get("d", "")) > 20:
                self.group_has_path = True

    def handle_endtag(self, tag):
        if tag == "figure":
            self.figure = None
        if tag == "g" and self.plot_group_depth is not None:
            self.plot_group_depth -= 1
            if self.plot_group_depth == 0:
                if self.group_has_path and self.figure is not None:
                    self.figure["lines"] += 1
                self.plot_group_depth = None


def png_pixels(path):
    """(width, height, channels, rows) of an 8-bit non-interlaced PNG, rows unfiltered."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, w = 8, [], None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or interlace or colour not in (2, 6):
                raise ValueError("PNG kind not read here (depth %d colour %d interlace %d)" % (depth, colour,
                                                                                                interlace))
            ch = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + n
    raw = zlib.decompress(b"".join(idat))
    stride, rows, prev = w * ch, [], bytearray(w * ch)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 1:
            for i in range(ch, stride):
                line[i] = (line[i] + line[i - ch]) & 255
        elif f == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif f == 3:
            for i in range(stride):
                left = line[i - ch] if i >= ch else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif f == 4:
            for i in range(stride):
                a = line[i - ch] if i >= ch else 0
                b, c = prev[i], prev[i - ch] if i >= ch else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return w, h, ch, rows


def ink(path):
    """Share of pixels that are not the white background, and how many of them are coloured (not grey)."""
    w, h, ch, rows = png_pixels(path)
    inked = coloured = 0
    for line in rows:
        for i in range(0, w * ch, ch):
            r, g, b = line[i], line[i + 1], line[i + 2]
            if r < 245 or g < 245 or b < 245:
                inked += 1
                if max(r, g, b) - min(r, g, b) > 40:
                    coloured += 1
    return inked / (w * h), coloured


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("page")
    ap.add_argument("--sections", default="summary,best-so-far,origins,training,notes")
    ap.add_argument("--min-figures", type=int, default=1)
    ap.add_argument("--chromium", default="chromium")
    args = ap.parse_args()
    url = "file://" + os.path.abspath(args.page)
    bad = []
    out = chromium(args.chromium, ["--dump-dom", url])
    dom = Dom()
    dom.feed(out.stdout.decode("utf-8", "replace"))
    if out.returncode or "<body" not in out.stdout.decode("utf-8", "replace"):
        print("%s: chromium could not load the page (exit %d)" % (args.page, out.returncode))
        return 1
    for s in filter(None, args.sections.split(",")):
        if s not in dom.sections:
            bad.append("section '%s' missing (sections: %s)" % (s, ", ".join(sorted(dom.sections))))
    if len(dom.figures) < args.min_figures:
        bad.append("%d figures, expected at least %d" % (len(dom.figures), args.min_figures))
    with tempfile.TemporaryDirectory() as tmp:
        for f in dom.figures:
            if "missing" in f["class"].split() or not f["svg"]:
                bad.append("figure %s: not drawn (no SVG)" % f["id"])
                continue
            if f["lines"] < 1:
                bad.append("figure %s: an SVG with no data line" % f["id"])
                continue
            shot = os.path.join(tmp, f["id"] + ".png")
            chromium(args.chromium, ["--window-size=640,360", "--screenshot=" + shot, url + "#only=" + f["id"]])
            if not os.path.exists(shot):
                bad.append("figure %s: chromium made no screenshot" % f["id"])
                continue
            share, coloured = ink(shot)
            if share < 0.01 or coloured < 50:
                bad.append("figure %s: screenshot is blank (%.2f%% of pixels drawn, %d in colour)" %
                           (f["id"], 100 * share, coloured))
    for b in bad:
        print("%s: %s" % (args.page, b))
    if not bad:
        print("%s: %d sections, %d figures drawn and visible" % (args.page, len(dom.sections), len(dom.figures)))
    return 1 if bad else 0


PROFILE = tempfile.mkdtemp(prefix="report-check-chromium-")
if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        subprocess.run(["rm", "-rf", PROFILE], check=False)
