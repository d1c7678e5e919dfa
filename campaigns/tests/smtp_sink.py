"""A local SMTP server that accepts campaign mail and counts it per recipient.

Used by the sending fault tests, the benchmark and the browser journey: "exactly once" is
checked by counting what really arrived over SMTP, not what the ledger says. It can also answer
a temporary (4xx) or permanent (5xx) refusal for chosen addresses, and slow each message down
so that a test can kill a worker in the middle of a batch.

Two ways to run it, same counting:

- `SmtpSink`: an aiosmtpd server in a thread of this process (tests that read the messages'
  bytes or refuse addresses: cheap to start, and the test process is idle while it waits).
- `SmtpSinkProcess`: the same server in a child process of its own (the benchmark). A server
  thread inside the measuring process shares its interpreter lock with everything else that
  process does, so it measures that process as much as the workers; its own process measures
  only the workers (and is what a plain smtplib loop is compared against).

Both listen with a deep backlog (`BACKLOG`): many workers connecting at once wait in the
kernel's queue instead of being refused.

In a test:     with SmtpSink() as sink: ... sink.port ... sink.counts["ana@ejemplo.mx"]
Benchmark:     with SmtpSinkProcess() as sink: ... sink.total ... sink.stats()["repeated"]
From a shell:  python -m campaigns.tests.smtp_sink --port 2525   (prints the totals on Ctrl-C)
"""

import argparse
import asyncio
import contextlib
import json
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from aiosmtpd.controller import Controller

from crm.core.tests.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
# Pending connections the kernel keeps for the server (asyncio's default is 100).
BACKLOG = 1024
_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(.*?)\r?$", re.IGNORECASE | re.MULTILINE)


def _message_id(content: bytes) -> str:
    """The Message-ID header, read from the header block only (no full MIME parse)."""
    head = content.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    found = _MESSAGE_ID.search(head)
    return found.group(1).strip().decode("ascii", "replace") if found else ""


class _Handler:
    def __init__(self, sink: "SmtpSink"):
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        reply = self.sink.refusals.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.sink.delay:
            await asyncio.sleep(self.sink.delay)
        content = envelope.original_content or b""
        self.sink.record(envelope.rcpt_tos, _message_id(content), content)
        return "250 Message accepted for delivery"


class _Controller(Controller):
    def _create_server(self):
        return self.loop.create_server(
            self._factory_invoker,
            host=self.hostname,
            port=self.port,
            ssl=self.ssl_context,
            backlog=BACKLOG,
        )


class SmtpSink:
    """An aiosmtpd server in a thread of this process.

    `refusals`: {address: "451 4.3.0 Try later"} or "550 5.1.1 No such user".
    `delay`: seconds spent on each message (to widen the window of a crash).
    `keep`: keep each message's bytes (for header checks), off for the benchmark.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        refusals: dict[str, str] | None = None,
        delay: float = 0.0,
        keep: bool = False,
    ):
        self.port = port or free_port()
        self.refusals = {k.lower(): v for k, v in (refusals or {}).items()}
        self.delay = delay
        self.keep = keep
        self.counts: Counter[str] = Counter()
        self.message_ids: list[str] = []
        self.messages: list[bytes] = []
        self.first_at: float | None = None
        self.last_at: float | None = None
        self._lock = threading.Lock()
        self._controller = _Controller(
            _Handler(self), hostname="127.0.0.1", port=self.port, ready_timeout=10
        )

    def record(self, recipients: list[str], message_id: str, content: bytes) -> None:
        with self._lock:
            now = time.monotonic()
            self.first_at = self.first_at or now
            self.last_at = now
            for address in recipients:
                self.counts[address.lower()] += 1
            self.message_ids.append(message_id)
            if self.keep:
                self.messages.append(content)

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.counts.values())

    def snapshot(self) -> Counter:
        with self._lock:
            return Counter(self.counts)

    def stats(self) -> dict:
        """Totals: messages, distinct recipients, recipients with more than one, first/last
        arrival (time.monotonic(), comparable across processes of this machine)."""
        with self._lock:
            return {
                "total": sum(self.counts.values()),
                "recipients": len(self.counts),
                "repeated": sum(1 for n in self.counts.values() if n > 1),
                "first_at": self.first_at,
                "last_at": self.last_at,
            }

    def reset(self) -> None:
        with self._lock:
            self.counts.clear()
            self.message_ids.clear()
            self.messages.clear()
            self.first_at = self.last_at = None

    def start(self) -> "SmtpSink":
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> "SmtpSink":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class SmtpSinkProcess:
    """The sink in a child process (`python -m campaigns.tests.smtp_sink --serve`), asked for
    its counts over a pipe: one command line in, one JSON line out."""

    def __init__(self, *, port: int | None = None, delay: float = 0.0):
        self.port = port or free_port()
        self.delay = delay
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()

    def _ask(self, command: str):
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                raise RuntimeError("the SMTP sink process is not running")
            self._proc.stdin.write(command + "\n")
            self._proc.stdin.flush()
            line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError("the SMTP sink process stopped answering")
        return json.loads(line)

    def start(self) -> "SmtpSinkProcess":
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "campaigns.tests.smtp_sink",
                "--serve",
                "--port",
                str(self.port),
                "--delay",
                str(self.delay),
            ],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        ready = self._proc.stdout.readline()
        if not ready.startswith("ready"):
            self.stop()
            raise RuntimeError(f"the SMTP sink process did not start: {ready!r}")
        return self

    def stats(self) -> dict:
        return self._ask("stats")

    @property
    def total(self) -> int:
        return self.stats()["total"]

    def snapshot(self) -> Counter:
        return Counter(self._ask("counts"))

    def reset(self) -> None:
        self._ask("reset")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            try:
                proc.stdin.write("quit\n")
                proc.stdin.flush()
                proc.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait(5)
        for stream in (proc.stdin, proc.stdout):
            with contextlib.suppress(OSError):
                stream.close()

    def __enter__(self) -> "SmtpSinkProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _serve(port: int, delay: float) -> None:
    """The child's side of SmtpSinkProcess: the server in a thread, commands on stdin."""
    sink = SmtpSink(port=port, delay=delay).start()
    out = sys.stdout
    out.write(f"ready {sink.port}\n")
    out.flush()
    try:
        for line in sys.stdin:
            command = line.strip()
            if command == "stats":
                answer = sink.stats()
            elif command == "counts":
                answer = dict(sink.snapshot())
            elif command == "reset":
                sink.reset()
                answer = {"ok": True}
            elif command == "quit":
                break
            else:
                answer = {"error": f"unknown command {command!r}"}
            out.write(json.dumps(answer) + "\n")
            out.flush()
    finally:
        sink.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="SMTP sink that counts messages per recipient.")
    parser.add_argument("--port", type=int, default=2525)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument(
        "--serve", action="store_true", help="answer commands on stdin (SmtpSinkProcess)"
    )
    args = parser.parse_args()
    if args.serve:
        _serve(args.port, args.delay)
        return
    sink = SmtpSink(port=args.port, delay=args.delay).start()
    print(f"SMTP sink on 127.0.0.1:{sink.port}; Ctrl-C to stop.", flush=True)
    try:
        while True:
            time.sleep(5)
            print(f"{sink.total} messages, {len(sink.counts)} recipients", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        sink.stop()
        stats = sink.stats()
        print(f"{stats['total']} messages, {stats['recipients']} recipients, ", end="")
        print(f"{stats['repeated']} repeated")


if __name__ == "__main__":
    main()
