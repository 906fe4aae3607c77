"""Logging setup for ``junjo serve``: plain text or one JSON object per line."""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections import OrderedDict

_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class RepeatFilter(logging.Filter):
    """Collapses bursts of one log line: the first passes, copies within ``window_s`` are
    counted instead, and the next one after the window says how many were left out.

    A failure that repeats in a tight loop (asyncio logs every failed ``accept()``) must not
    fill the disk or bury what came before it.
    """

    def __init__(self, window_s: float = 10.0, max_messages: int = 1024) -> None:
        super().__init__()
        self._window_s = window_s
        self._max_messages = max_messages
        self._lock = threading.Lock()
        # (logger, level, message) -> [first shown at (monotonic), copies left out since]
        self._recent: OrderedDict[tuple[str, int, str], list[float]] = OrderedDict()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        key = (record.name, record.levelno, message)
        now = time.monotonic()
        with self._lock:
            seen = self._recent.get(key)
            if seen is not None and now - seen[0] < self._window_s:
                seen[1] += 1
                return False
            self._recent[key] = [now, 0]
            self._recent.move_to_end(key)
            while len(self._recent) > self._max_messages:
                self._recent.popitem(last=False)
        if seen is not None and seen[1]:
            record.msg = f"{message} [repeated {int(seen[1])} more times in {now - seen[0]:.0f} s]"
            record.args = None
        return True


def configure_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RepeatFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's own access log would repeat our request line (with query strings).
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
