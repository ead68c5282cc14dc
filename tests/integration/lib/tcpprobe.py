#!/usr/bin/python3
# One TCP probe, for integration tests: connect to HOST PORT and say what happened, as one JSON line.
#   tcpprobe.py HOST PORT [--connect-timeout S] [--read-timeout S] [--send TEXT] [--quit]
# result: "data" (connected, got bytes: "data" holds the first line), "eof" (connected, closed without data),
#         "silent" (connected, nothing within --read-timeout), "timeout" (no connect within --connect-timeout),
#         "refused" (ECONNREFUSED), or the errno name in lower case ("ehostunreach", ...).
# --send TEXT sends TEXT (with \r\n escapes) after connecting; --quit sends "QUIT\r\n" after a 2xx greeting
# and reports the answer in "quit".
import argparse, errno, json, socket, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("host")
ap.add_argument("port", type=int)
ap.add_argument("--connect-timeout", type=float, default=2.0)
ap.add_argument("--read-timeout", type=float, default=2.0)
ap.add_argument("--send")
ap.add_argument("--quit", action="store_true")
a = ap.parse_args()

out = {"host": a.host, "port": a.port}
t0 = time.monotonic()
s = socket.socket(socket.AF_INET6 if ":" in a.host else socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(a.connect_timeout)
try:
    s.connect((a.host, a.port))
except socket.timeout:
    out["result"] = "timeout"
except ConnectionRefusedError:
    out["result"] = "refused"
except OSError as e:
    out["result"] = errno.errorcode.get(e.errno, str(e.errno)).lower()
if "result" in out:
    out["after_s"] = round(time.monotonic() - t0, 3)
    print(json.dumps(out))
    sys.exit(0)
out["connected_after_s"] = round(time.monotonic() - t0, 3)


def readline(sock, timeout):
    sock.settimeout(timeout)
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


try:
    if a.send:
        s.sendall(a.send.encode().decode("unicode_escape").encode("latin-1"))
    data = readline(s, a.read_timeout)
    if data:
        out["result"] = "data"
        out["data"] = data.split(b"\n", 1)[0].decode("latin-1").rstrip("\r")
        if a.quit and out["data"][:1] == "2":
            s.sendall(b"QUIT\r\n")
            q = readline(s, a.read_timeout)
            out["quit"] = q.split(b"\n", 1)[0].decode("latin-1").rstrip("\r")
    else:
        out["result"] = "eof"
except socket.timeout:
    out["result"] = "silent"
except ConnectionResetError:
    out["result"] = "reset"
except OSError as e:
    out["result"] = errno.errorcode.get(e.errno, str(e.errno)).lower()
out["after_s"] = round(time.monotonic() - t0, 3)
s.close()
print(json.dumps(out))
