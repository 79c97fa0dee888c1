#!/usr/bin/python3
"""A scriptable fake SMTP server (and OAuth2 token endpoint) for the SMTP upstream tests.

It behaves as a plain ESMTP relay unless the scenario says otherwise: rules replace a reply, delay it, or drop the
connection, for a given command, message number or connection number. Everything it sees goes to an events file
as JSON lines, so tests can check what arrived byte for byte. It is a test peer, not a mail server: no queue, no
delivery, no limits beyond what a test needs.

Usage: fake_smtp.py SCENARIO.json PORTS_FILE EVENTS_FILE
The ports file receives {"smtp": port, "http": port} once both listeners are up (ports chosen by the OS).
"""
import base64
import http.server
import json
import socket
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse

scenario = json.load(open(sys.argv[1]))
ports_path = sys.argv[2]
events_path = sys.argv[3]

lock = threading.Lock()
state = {"connections": 0, "open": 0, "max_open": 0, "messages": 0, "tokens_issued": []}
events = open(events_path, "a", buffering=1)


def log(**event):
    with lock:
        events.write(json.dumps(event) + "\n")


def tls_context(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


class Dropped(Exception):
    pass


def find_rule(cmd, line, conn_no, msg_no):
    for rule in scenario.get("rules", []):
        if rule.get("cmd") != cmd:
            continue
        if "match" in rule and rule["match"] not in line:
            continue
        if "message" in rule and rule["message"] != msg_no:
            continue
        if "connection" in rule and rule["connection"] != conn_no:
            continue
        if rule.get("once"):
            with lock:
                if rule.get("_used"):
                    continue
                rule["_used"] = True
        return rule
    return None


class Session:
    def __init__(self, sock, conn_no):
        self.sock = sock
        self.conn_no = conn_no
        self.buf = b""
        self.tls = False
        self.mail_from = None
        self.rcpts = []
        self.chunks = b""  # BDAT chunks of the message in progress
        self.msg_no = 0

    def send(self, data):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def readline(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Dropped()
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def reply(self, cmd, line, default, rule=False):
        """Sends `default` unless a rule (looked up unless given) says otherwise. Returns the reply sent, or raises
        Dropped."""
        if rule is False:
            rule = find_rule(cmd, line, self.conn_no, self.msg_no)
        text = default
        if rule:
            if rule.get("delay"):
                time.sleep(rule["delay"])
            if rule.get("action") == "drop":
                log(event="drop", conn=self.conn_no, cmd=cmd)
                raise Dropped()
            text = rule.get("reply", default)
        self.send(text + "\r\n")
        return text

    def ehlo_lines(self):
        ext = list(scenario.get("ehlo", ["PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES"]))
        if self.tls:
            ext = [e for e in ext if e != "STARTTLS"]
        elif scenario.get("auth_after_tls_only", True) and scenario.get("tls_cert"):
            ext = [e for e in ext if not e.startswith("AUTH")]
        return ext

    def run(self):
        self.reply("GREETING", "", scenario.get("greeting", "220 fake.example ESMTP"))
        while True:
            line = self.readline()
            # "buffered": octets that had already arrived behind this line (pipelined commands, a BDAT chunk).
            log(event="command", conn=self.conn_no, line=line, tls=self.tls, buffered=len(self.buf))
            verb = line.split(" ", 1)[0].upper()
            if verb == "EHLO":
                ext = self.ehlo_lines()
                default = "\r\n".join(["250-fake.example"] + ["250-" + e for e in ext[:-1]] +
                                      ["250 " + ext[-1]]) if ext else "250 fake.example"
                self.reply("EHLO", line, default)
            elif verb == "HELO":
                self.reply("HELO", line, "250 fake.example")
            elif verb == "STARTTLS":
                if scenario.get("starttls_inject"):
                    # A man in the middle's extra reply, in the same segment as the 220.
                    self.send("220 2.0.0 Ready to start TLS\r\n" + scenario["starttls_inject"])
                elif not self.reply("STARTTLS", line, "220 2.0.0 Ready to start TLS").startswith("220"):
                    continue
                self.buf = b""  # the server side of the injection defence
                self.sock = tls_context(scenario["tls_cert"], scenario["tls_key"]).wrap_socket(
                    self.sock, server_side=True)
                self.tls = True
                log(event="tls", conn=self.conn_no)
            elif verb == "AUTH":
                self.auth(line)
            elif verb == "MAIL":
                self.msg_no = state["messages"] + 1
                with lock:
                    state["messages"] += 1
                sent = self.reply("MAIL", line, "250 2.1.0 Ok")
                self.mail_from = line if sent.startswith("2") else None
                self.rcpts = []
            elif verb == "RCPT":
                limit = scenario.get("max_recipients")
                if limit is not None and len(self.rcpts) >= limit:
                    self.send("452 4.5.3 Too many recipients\r\n")
                    continue
                sent = self.reply("RCPT", line, "250 2.1.5 Ok")
                if sent.startswith("2"):
                    self.rcpts.append(line)
            elif verb == "DATA":
                if self.mail_from is None or not self.rcpts:
                    self.reply("DATA", line, "554 5.5.1 No valid recipients")
                    continue
                sent = self.reply("DATA", line, "354 End data with <CR><LF>.<CR><LF>")
                if sent.startswith("354"):
                    self.data()
            elif verb == "BDAT" and "CHUNKING" in self.ehlo_lines():
                self.bdat(line)
            elif verb == "RSET":
                self.mail_from, self.rcpts, self.chunks = None, [], b""
                self.reply("RSET", line, "250 2.0.0 Ok")
            elif verb == "NOOP":
                self.reply("NOOP", line, "250 2.0.0 Ok")
            elif verb == "QUIT":
                self.reply("QUIT", line, "221 2.0.0 Bye")
                return
            else:
                self.reply("UNKNOWN", line, "502 5.5.2 Command not recognized")

    def data(self):
        rule = find_rule("DATA_BODY", "", self.conn_no, self.msg_no)
        lines = []
        while True:
            if rule and rule.get("action") == "drop" and sum(len(l) for l in lines) >= rule.get("after_bytes", 0):
                log(event="drop", conn=self.conn_no, cmd="DATA_BODY")
                raise Dropped()
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise Dropped()
                self.buf += chunk
            line, _, self.buf = self.buf.partition(b"\r\n")
            if line == b".":
                break
            for bad in (b"\r", b"\n"):
                if bad in line:
                    log(event="bare_line_end", conn=self.conn_no)
            if len(line) > 998:
                log(event="long_line", conn=self.conn_no, length=len(line))
            lines.append(line[1:] if line.startswith(b".") else line)
        data = b"".join(l + b"\r\n" for l in lines)
        # Logged before the reply, so that a client that has its answer finds the message in the log.
        log(event="message", conn=self.conn_no, number=self.msg_no, mail_from=self.mail_from, rcpts=self.rcpts,
            data=base64.b64encode(data).decode(), tls=self.tls)
        self.reply("DATA_END", "", "250 2.0.0 Ok: queued as FAKE%d" % self.msg_no)
        self.mail_from, self.rcpts = None, []

    def read_exactly(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Dropped()
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def bdat(self, line):
        """RFC 3030: the chunk is read whatever the reply, so the session stays in step."""
        parts = line.split()
        if len(parts) not in (2, 3) or not parts[1].isdigit() or (len(parts) == 3 and parts[2].upper() != "LAST"):
            self.send("501 5.5.4 Syntax: BDAT <size> [LAST]\r\n")
            return
        size, last = int(parts[1]), len(parts) == 3
        chunk = self.read_exactly(size)
        log(event="bdat", conn=self.conn_no, size=size, last=last)
        if b"\r" in chunk.replace(b"\r\n", b"") or b"\n" in chunk.replace(b"\r\n", b""):
            log(event="bare_line_end", conn=self.conn_no)
        if any(len(l) > 998 for l in chunk.split(b"\r\n")):
            log(event="long_line", conn=self.conn_no)
        if self.mail_from is None or not self.rcpts:
            self.reply("BDAT", line, "503 5.5.1 No valid recipients")
            return
        self.chunks += chunk
        if not last:
            self.reply("BDAT", line, "250 2.0.0 %d octets received" % size)
            return
        data, self.chunks = self.chunks, b""
        rule = find_rule("BDAT", line, self.conn_no, self.msg_no)
        if not rule or rule.get("reply", "2").startswith("2"):
            log(event="message", conn=self.conn_no, number=self.msg_no, mail_from=self.mail_from, rcpts=self.rcpts,
                data=base64.b64encode(data).decode(), tls=self.tls)
        self.reply("BDAT", line, "250 2.0.0 Ok: queued as FAKE%d" % self.msg_no, rule)
        self.mail_from, self.rcpts = None, []

    def auth(self, line):
        parts = line.split(" ")
        mech = parts[1].upper() if len(parts) > 1 else ""
        if mech == "PLAIN":
            payload = parts[2] if len(parts) > 2 else None
            if payload is None:
                self.send("334 \r\n")
                payload = self.readline()
            _, user, password = base64.b64decode(payload).decode().split("\0")
            ok = (user, password) == (scenario["auth"]["user"], scenario["auth"]["password"])
        elif mech == "LOGIN":
            self.send("334 VXNlcm5hbWU6\r\n")
            user = base64.b64decode(self.readline()).decode()
            self.send("334 UGFzc3dvcmQ6\r\n")
            password = base64.b64decode(self.readline()).decode()
            ok = (user, password) == (scenario["auth"]["user"], scenario["auth"]["password"])
        elif mech == "XOAUTH2":
            fields = base64.b64decode(parts[2]).decode().split("\x01")
            user = fields[0][len("user="):]
            token = fields[1][len("auth=Bearer "):]
            with lock:
                issued = token in state["tokens_issued"]
            ok = (user == scenario["xoauth2"]["user"] and issued and
                  token not in scenario["xoauth2"].get("reject", []))
            log(event="auth", conn=self.conn_no, mechanism=mech, user=user, token=token, ok=ok)
            if not ok:
                error = base64.b64encode(b'{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}')
                self.send(b"334 " + error + b"\r\n")
                self.readline()
                self.send("535 5.7.8 Username and Password not accepted\r\n")
                return
            self.send("235 2.7.0 Accepted\r\n")
            return
        else:
            self.send("504 5.5.4 Unrecognized authentication type\r\n")
            return
        log(event="auth", conn=self.conn_no, mechanism=mech, user=user, ok=ok)
        self.send("235 2.7.0 Authentication successful\r\n" if ok else "535 5.7.8 Authentication credentials invalid\r\n")


class SmtpHandler(socketserver.BaseRequestHandler):
    def handle(self):
        with lock:
            state["connections"] += 1
            state["open"] += 1
            state["max_open"] = max(state["max_open"], state["open"])
            conn_no, open_now = state["connections"], state["open"]
        log(event="connect", conn=conn_no, open=open_now)
        sock = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            if scenario.get("implicit_tls"):
                sock = tls_context(scenario["tls_cert"], scenario["tls_key"]).wrap_socket(sock, server_side=True)
            session = Session(sock, conn_no)
            if scenario.get("implicit_tls"):
                session.tls = True
            session.run()
        except (Dropped, ConnectionError, ssl.SSLError, OSError) as e:
            log(event="error", conn=conn_no, error=type(e).__name__ + ": " + str(e))
        finally:
            try:
                sock.close()
            except OSError:
                pass
            with lock:
                state["open"] -= 1
            log(event="disconnect", conn=conn_no)


class TokenHandler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        form = {k: v[0] for k, v in urllib.parse.parse_qs(body).items()}
        with lock:
            number = len(state["tokens_issued"]) + 1
            token = "tok-%d" % number
            state["tokens_issued"].append(token)
        log(event="token_request", form=form, issued=token)
        cfg = scenario.get("token_endpoint", {})
        if form.get("refresh_token") != cfg.get("refresh_token", form.get("refresh_token")):
            answer, status = {"error": "invalid_grant", "error_description": "Bad Request"}, 400
        else:
            answer, status = {"access_token": token, "token_type": "Bearer",
                              "expires_in": cfg.get("expires_in", 3599)}, 200
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


class ThreadingTCPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


smtp_server = ThreadingTCPServer(("127.0.0.1", 0), SmtpHandler)
http_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), TokenHandler)
http_server.daemon_threads = True
threading.Thread(target=http_server.serve_forever, daemon=True).start()
with open(ports_path + ".tmp", "w") as f:
    json.dump({"smtp": smtp_server.server_address[1], "http": http_server.server_address[1]}, f)
import os
os.rename(ports_path + ".tmp", ports_path)
smtp_server.serve_forever()
