#!/usr/bin/env python3
"""A real SMTP server for the reports e2e test (Debian python3-aiosmtpd): listens on
127.0.0.1, a free port picked by the kernel (port 0), prints "PORT <n>" on stdout when ready,
and writes every message it accepts to DIR/msg-<n>.eml. Stops on SIGTERM."""
import asyncio
import os
import signal
import sys

from aiosmtpd.smtp import SMTP


class Sink:
    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.n = 0

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        path = os.path.join(self.out_dir, "msg-%d.eml" % self.n)
        with open(path + ".part", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(path + ".part", path)
        with open(path + ".rcpt", "w") as f:
            f.write("\n".join(envelope.rcpt_tos))
        return "250 OK"


async def main(out_dir):
    loop = asyncio.get_running_loop()
    sink = Sink(out_dir)
    server = await loop.create_server(lambda: SMTP(sink, hostname="sink.local"), "127.0.0.1", 0)
    print("PORT %d" % server.sockets[0].getsockname()[1], flush=True)
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
    await stop
    server.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
