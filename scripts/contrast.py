#!/usr/bin/env python3
"""Contrast of the built-in pages as Chromium renders them (WCAG 2.1 AA, issue 17 item 7).

Usage: contrast.py NAME=URL...

Drives headless Chromium over the DevTools protocol on a pipe (--remote-debugging-pipe: no
port, no websocket library), once per page and colour scheme (light, dark: the
prefers-color-scheme media feature emulated). For every visible element with text of its own
it reads the computed text colour and the background it is painted on (the element's and its
ancestors' background colours composited, alpha included) and computes the contrast ratio;
normal text needs 4.5:1, large text (24px, or 18.66px bold) 3:1. It also checks that the
page's stylesheet applied (the body's background is the scheme's) and that nothing on the page
broke the Content-Security-Policy. Exit 1 when anything fails. Every wait is bounded.
"""
import fcntl
import json
import os
import subprocess
import sys
import tempfile
import time

# The body's background per scheme when the pages' stylesheets applied (hiatus.css, status.css).
BODY = {"light": (244, 245, 247), "dark": (20, 23, 29)}

# Runs in the page: every visible element with its own text, with colours as computed.
PROBE = r"""
(() => {
  const rgba = s => {
    const m = /rgba?\(([^)]*)\)/.exec(s || "");
    if (!m) return [0, 0, 0, 0];
    const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, under) => {
    const a = top[3];
    return [0, 1, 2].map(i => top[i] * a + under[i] * (1 - a)).concat([1]);
  };
  // What an element's text is painted on: the backgrounds from the root down to it.
  const backdrop = el => {
    const chain = [];
    for (let e = el; e; e = e.parentElement) chain.unshift(e);
    let bg = [255, 255, 255, 1];
    for (const e of chain) bg = over(rgba(getComputedStyle(e).backgroundColor), bg);
    return bg;
  };
  const out = [];
  for (const el of document.body.querySelectorAll("*")) {
    const own = Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || el.getClientRects().length === 0) continue;
    const cs = getComputedStyle(el);
    if (cs.visibility !== "visible" || Number(cs.opacity) === 0) continue;
    const bg = backdrop(el);
    out.push({
      tag: el.tagName.toLowerCase(), cls: el.className || "", text: el.textContent.trim().slice(0, 40),
      fg: over(rgba(cs.color), bg), bg: bg, size: parseFloat(cs.fontSize), weight: Number(cs.fontWeight),
    });
  }
  return { body: rgba(getComputedStyle(document.body).backgroundColor), items: out };
})()
"""


def luminance(c):
    def channel(v):
        v = v / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
    return 0.2126 * channel(c[0]) + 0.7152 * channel(c[1]) + 0.0722 * channel(c[2])


def ratio(a, b):
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


class Browser:
    """Chromium with its DevTools protocol on fds 3 (our commands) and 4 (its messages)."""

    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="contrast-")
        # Both ends of both pipes are moved to fds 10 and up (close-on-exec), so that the child's
        # dup2 onto 3 and 4 never meets one of them: dup2 onto itself would leave it
        # close-on-exec.
        high = lambda fd: (fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10), os.close(fd))[0]
        to_child_r, self.to_child = map(high, os.pipe())
        self.from_child, from_child_w = map(high, os.pipe())

        def fds():
            os.dup2(to_child_r, 3)
            os.dup2(from_child_w, 4)

        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-quic",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--remote-debugging-pipe", f"--user-data-dir={self.profile}", "--window-size=1000,1100",
                 "about:blank"]
        self.proc = subprocess.Popen(["chromium", *flags], preexec_fn=fds, close_fds=False,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_child_r)
        os.close(from_child_w)
        self.buf = b""
        self.next_id = 0
        self.events = []

    def send(self, method, params=None, session=None, timeout=30):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_child, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            m = self.read(deadline)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def read(self, deadline):
        import select
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.from_child], [], [], left)[0]:
                raise TimeoutError("no answer from Chromium in time")
            chunk = os.read(self.from_child, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed its pipe")
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\0", 1)
        return json.loads(raw)

    def wait_event(self, method, session, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e.get("method") == method and e.get("sessionId") == session:
                    return self.events.pop(i)
            self.events.append(self.read(deadline))

    def close(self):
        try:
            self.send("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        subprocess.run(["rm", "-rf", self.profile], check=False)


def check(browser, name, url, scheme):
    target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for domain in ("Page", "Log", "Runtime"):
        browser.send(f"{domain}.enable", session=session)
    browser.send("Emulation.setEmulatedMedia",
                 {"features": [{"name": "prefers-color-scheme", "value": scheme}]}, session=session)
    browser.send("Page.navigate", {"url": url}, session=session)
    browser.wait_event("Page.loadEventFired", session)
    result = browser.send("Runtime.evaluate", {"expression": PROBE, "returnByValue": True}, session=session)
    page = result["result"]["value"]
    failures = []
    if tuple(round(v) for v in page["body"][:3]) != BODY[scheme]:
        failures.append(f"the stylesheet did not apply: body background {page['body']}")
    for e in browser.events:
        if e.get("sessionId") != session:
            continue
        text = json.dumps(e.get("params", {}))
        if "Content Security Policy" in text or "Content-Security-Policy" in text:
            failures.append(f"CSP violation: {text[:300]}")
    worst = None
    for item in page["items"]:
        r = ratio(item["fg"], item["bg"])
        large = item["size"] >= 24 or (item["size"] >= 18.66 and item["weight"] >= 700)
        need = 3.0 if large else 4.5
        if worst is None or r < worst[0]:
            worst = (r, item)
        if r < need:
            fg = "#%02x%02x%02x" % tuple(round(v) for v in item["fg"][:3])
            bg = "#%02x%02x%02x" % tuple(round(v) for v in item["bg"][:3])
            failures.append(f"{item['tag']}.{item['cls']} {item['text']!r}: {fg} on {bg} is {r:.2f}:1, needs {need}:1")
    if len(page["items"]) < 3:
        failures.append(f"only {len(page['items'])} text elements found: is this the page?")
    browser.send("Target.closeTarget", {"targetId": target})
    browser.events = [e for e in browser.events if e.get("sessionId") != session]
    if failures:
        for f in failures:
            print(f"FAIL contrast {name} ({scheme}): {f}")
        return False
    r, item = worst
    print(f"ok   contrast {name} ({scheme}): {len(page['items'])} text elements, lowest {r:.2f}:1 "
          f"({item['tag']}.{item['cls']} {item['text']!r})")
    return True


def main(args):
    pages = [a.split("=", 1) for a in args]
    if not pages or any(len(p) != 2 for p in pages):
        sys.exit("usage: contrast.py NAME=URL...")
    browser = Browser()
    ok = True
    try:
        for name, url in pages:
            for scheme in ("light", "dark"):
                ok &= check(browser, name, url, scheme)
    finally:
        browser.close()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main(sys.argv[1:])
