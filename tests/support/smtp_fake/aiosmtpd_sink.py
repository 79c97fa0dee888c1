#!/usr/bin/python3
"""A real SMTP server for the SMTP upstream tests: Python's aiosmtpd with STARTTLS required and AUTH required.

Each message received is written as N.eml (the DATA content exactly as aiosmtpd received it, unstuffed) and N.json
(envelope, AUTH user, TLS) in OUT_DIR. The port is chosen by the OS and written to PORT_FILE once listening.

Usage: aiosmtpd_sink.py CERT KEY USER PASSWORD OUT_DIR PORT_FILE
"""
import json
import os
import signal
import socket
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

cert, key, user, password, out_dir, port_file = sys.argv[1:7]


class Sink:
    def __init__(self):
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        base = os.path.join(out_dir, str(self.count))
        with open(base + ".eml", "wb") as f:
            f.write(envelope.original_content)
        with open(base + ".json", "w") as f:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                       "mail_options": envelope.mail_options, "auth_user": session.auth_data if isinstance(session.auth_data, str) else None, "tls": session.ssl is not None}, f)
        return "250 2.0.0 Ok: queued as SINK%d" % self.count


def authenticate(server, session, envelope, mechanism, auth_data):
    if isinstance(auth_data, LoginPassword) and auth_data.login == user.encode() and \
            auth_data.password == password.encode():
        return AuthResult(success=True, auth_data=user)
    return AuthResult(success=False, handled=False)


context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)

# Let the OS pick the port: bind once to learn a free one, then hand it to the controller.
probe = socket.socket()
probe.bind(("127.0.0.1", 0))
port = probe.getsockname()[1]
probe.close()

controller = Controller(Sink(), hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                        authenticator=authenticate, auth_required=True, auth_require_tls=True,
                        decode_data=False, enable_SMTPUTF8=True, data_size_limit=10 * 1024 * 1024)
controller.start()
with open(port_file + ".tmp", "w") as f:
    f.write(str(port))
os.rename(port_file + ".tmp", port_file)
signal.signal(signal.SIGTERM, lambda *_: (controller.stop(), os._exit(0)))
while True:
    signal.pause()
