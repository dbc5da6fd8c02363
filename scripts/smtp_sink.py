#!/usr/bin/env python3
"""A real SMTP server for tests: keeps every message it receives as files the tests read back.

Each message becomes <n>.eml (the bytes received after DATA) and <n>.json (the envelope: the
MAIL FROM and RCPT TO addresses, which can differ from the headers: that is what Bcc is).
"""
import argparse
import asyncio
import itertools
import json
import os
import signal

from aiosmtpd.controller import Controller


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
        meta = {"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos}
        with open(os.path.join(self.path, f".{n}.json.tmp"), "w") as f:
            json.dump(meta, f)
        os.rename(os.path.join(self.path, f".{n}.json.tmp"), os.path.join(self.path, f"{n}.json"))
        return "250 Message accepted for delivery"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mailbox", required=True)
    args = parser.parse_args()
    controller = Controller(Mailbox(args.mailbox), hostname="127.0.0.1", port=args.port)
    controller.start()
    loop = asyncio.new_event_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set_result, None)
    loop.run_until_complete(stop)
    controller.stop()


if __name__ == "__main__":
    main()
