#!/usr/bin/python3
# Renders a local page in Debian's headless chromium, offline and isolated:
#   headless.py dom PAGE WORKDIR      -> the rendered DOM on stdout; on stderr one line per console
#                                        message ("console: ...") and per request the page made
#                                        ("request: URL"), then "chromium: ok"
#   headless.py screenshot PAGE WORKDIR OUT.png [WIDTHxHEIGHT]
# Used by tests/integration/t_report_html.sh and scripts/report-screenshot. Nothing can leave the
# machine: every host name resolves to NOTFOUND, every request goes to a proxy on a closed local port,
# background networking is off, and the profile (--user-data-dir) is a fresh directory under WORKDIR.
# Requests are read from chromium's net log: a URL request with a page as initiator (not the browser's
# own "not an origin" requests, which the flags above already mostly silence) counts.
import json, os, shutil, signal, subprocess, sys

TIMEOUT = 90  # a loaded machine (make -j check beside other networks) starts chromium slowly


def browser():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def run(page, workdir, extra):
    profile = os.path.join(workdir, "profile")
    shutil.rmtree(profile, ignore_errors=True)
    netlog = os.path.join(workdir, "netlog.json")
    args = [browser(), "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + profile,
            "--enable-logging=stderr", "--v=0", "--log-net-log=" + netlog,
            "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9", "--no-first-run",
            "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-default-apps", "--disable-extensions", "--disable-domain-reliability",
            "--no-pings", "--disable-client-side-phishing-detection", "--hide-scrollbars",
            "--disable-features=Translate,OptimizationHints,MediaRouter,SpellCheck"] + extra + [
            "file://" + os.path.abspath(page)]
    # Its own process group: on a timeout the whole browser (zygote, renderer, GPU process) is killed.
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=workdir, start_new_session=True)
    try:
        out, errb = p.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        raise SystemExit("chromium: no result after %d s (killed)" % TIMEOUT)
    err = errb.decode("utf-8", "replace")
    if p.returncode != 0:
        sys.stderr.write(err[-3000:])
        raise SystemExit("chromium: exit status %d" % p.returncode)
    console = [line for line in err.splitlines() if ":CONSOLE" in line]
    return out, console, page_requests(netlog, "file://" + os.path.abspath(page))


def page_requests(netlog, page_url):
    """URLs the page asked for (anything but itself), from the net log."""
    try:
        log = json.load(open(netlog))
    except ValueError:  # chromium killed before it closed the log: finish the array
        text = open(netlog).read().rstrip().rstrip(",")
        log = json.loads(text + "]}")
    types = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    urls = []
    for e in log["events"]:
        params = e.get("params") or {}
        if types.get(e["type"]) != "URL_REQUEST_START_JOB" or "url" not in params:
            continue
        if params.get("initiator") == "not an origin" and "file://" not in params.get("network_isolation_key", ""):
            continue  # the browser's own (update checks): not the page's
        if params["url"] != page_url:
            urls.append(params["url"])
    return urls


def main():
    if len(sys.argv) < 4 or sys.argv[1] not in ("dom", "screenshot"):
        raise SystemExit(__doc__ if __doc__ else "usage: headless.py dom|screenshot PAGE WORKDIR [OUT [WxH]]")
    if browser() is None:
        raise SystemExit("chromium: not installed")
    what, page, workdir = sys.argv[1:4]
    os.makedirs(workdir, exist_ok=True)
    if what == "dom":
        dom, console, requests = run(page, workdir, ["--dump-dom"])
        sys.stdout.write(dom.decode("utf-8", "replace"))
    else:
        out = os.path.abspath(sys.argv[4])
        size = sys.argv[5] if len(sys.argv) > 5 else "1200x1400"
        _, console, requests = run(page, workdir, ["--screenshot=" + out, "--window-size=" + size.replace("x", ",")])
    for line in console:
        sys.stderr.write("console: %s\n" % line)
    for url in requests:
        sys.stderr.write("request: %s\n" % url)
    sys.stderr.write("chromium: ok\n")


if __name__ == "__main__":
    main()
