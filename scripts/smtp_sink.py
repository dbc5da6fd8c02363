#!/usr/bin/env python3
"""A real SMTP server for tests: keeps every message it receives as files the tests read back.

Each message becomes <n>.eml (the bytes received after DATA) and <n>.json (the envelope: the
MAIL FROM and RCPT TO addresses, which can differ from the headers: that is what Bcc is, and the
user who logged in). With --user and --password, every client must log in (AUTH PLAIN/LOGIN).
"""
import argparse
import asyncio
import itertools
import json
import os
import signal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def login_of(session):
    auth = getattr(session, "auth_data", None)
    if isinstance(auth, LoginPassword):
        return auth.login.decode()
    return None


class Mailbox:
    def __init__(self, path):
        self.path = path
        self.counter = itertools.count(1)

    async def handle_DATA(self, server, session, envelope):
        n = next(self.counter)
        data = envelope.original_content or envelope.content
        tmp = os.path.join(self.path, f".{n}.tmp")
        with open(tmp, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, os.path.join(self.path, f"{n}.eml"))
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "login": login_of(session),
        }
        with open(os.path.join(self.path, f".{n}.json.tmp"), "w") as f:
            json.dump(meta, f)
        os.rename(os.path.join(self.path, f".{n}.json.tmp"), os.path.join(self.path, f"{n}.json"))
        return "250 Message accepted for delivery"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mailbox", required=True)
    parser.add_argument("--user")
    parser.add_argument("--password")
    args = parser.parse_args()
    options = {}
    if args.user is not None:
        expected = (args.user.encode(), (args.password or "").encode())

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == expected
            return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

        options = {"authenticator": authenticator, "auth_required": True, "auth_require_tls": False}
    controller = Controller(Mailbox(args.mailbox), hostname="127.0.0.1", port=args.port, **options)
    controller.start()
    loop = asyncio.new_event_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set_result, None)
    loop.run_until_complete(stop)
    controller.stop()


if __name__ == "__main__":
    main()
