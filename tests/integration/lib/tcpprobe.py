#!/usr/bin/python3
# TCP probes for integration tests: connect to HOST at each PORT (all at once, one thread each) and say what
# happened, one JSON line per port.
#   tcpprobe.py HOST PORT[/quit|/http] ... [--connect-timeout S] [--read-timeout S]
# PORT/quit sends "QUIT\r\n" after a 2xx greeting and reports the answer in "quit"; PORT/http sends
# "GET / HTTP/1.0" first.
# result: "data" (connected, got bytes: "data" holds the first line), "eof" (connected, closed without data),
#         "silent" (connected, nothing within --read-timeout), "timeout" (no connect within --connect-timeout),
#         "refused" (ECONNREFUSED), "reset", or the errno name in lower case ("ehostunreach", ...).
import argparse, errno, json, socket, sys, threading, time

ap = argparse.ArgumentParser()
ap.add_argument("host")
ap.add_argument("ports", nargs="+")
ap.add_argument("--connect-timeout", type=float, default=2.0)
ap.add_argument("--read-timeout", type=float, default=2.0)
a = ap.parse_args()


def readline(sock, timeout):
    buf = b""
    end = time.monotonic() + timeout
    while b"\n" not in buf and len(buf) < 4096:
        left = end - time.monotonic()
        if left <= 0:
            raise socket.timeout()
        sock.settimeout(left)
        chunk = sock.recv(4096)
        if not chunk:
            break
        buf += chunk
    return buf


def probe(spec, results):
    port, _, mode = spec.partition("/")
    port = int(port)
    out = {"host": a.host, "port": port}
    t0 = time.monotonic()
    s = socket.socket(socket.AF_INET6 if ":" in a.host else socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(a.connect_timeout)
    try:
        s.connect((a.host, port))
        out["connected_after_s"] = round(time.monotonic() - t0, 3)
        if mode == "http":
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = readline(s, a.read_timeout)
        if data:
            out["result"] = "data"
            out["data"] = data.split(b"\n", 1)[0].decode("latin-1").rstrip("\r")
            if mode == "quit" and out["data"][:1] == "2":
                s.sendall(b"QUIT\r\n")
                q = readline(s, a.read_timeout)
                out["quit"] = q.split(b"\n", 1)[0].decode("latin-1").rstrip("\r")
        else:
            out["result"] = "eof"
    except socket.timeout:
        out["result"] = "silent" if "connected_after_s" in out else "timeout"
    except ConnectionRefusedError:
        out["result"] = "refused"
    except ConnectionResetError:
        out["result"] = "reset"
    except OSError as e:
        out["result"] = errno.errorcode.get(e.errno, str(e.errno)).lower()
    finally:
        s.close()
    out["after_s"] = round(time.monotonic() - t0, 3)
    results.append(out)


results = []
threads = [threading.Thread(target=probe, args=(p, results)) for p in a.ports]
for t in threads:
    t.start()
for t in threads:
    t.join()
for r in sorted(results, key=lambda r: r["port"]):
    print(json.dumps(r))
sys.exit(0)
