"""A real SMTP server for mikawaya's tests (aiosmtpd).

Writes every accepted message to --dir as a .eml file, answers the first --fail-first DATA
commands with a temporary 451 error, and refuses recipients at reject.example with 550.
Prints "ready <port>" once it listens.
"""
import argparse
import asyncio
import os
import time

from aiosmtpd.controller import Controller


class Handler:
    def __init__(self, outdir, fail_first):
        self.outdir = outdir
        self.fail_first = fail_first

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.endswith("@reject.example"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.fail_first > 0:
            self.fail_first -= 1
            return "451 4.3.0 Try again later"
        path = os.path.join(self.outdir, f"{time.time_ns()}.eml")
        with open(path + ".tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(path + ".tmp", path)
        return "250 OK"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--fail-first", type=int, default=0)
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    controller = Controller(Handler(args.dir, args.fail_first), hostname="127.0.0.1", port=args.port)
    controller.start()
    print(f"ready {args.port}", flush=True)
    try:
        asyncio.run(asyncio.Event().wait())
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
