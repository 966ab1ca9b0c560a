"""Log lines in TensorFlow's layout (`YYYY-MM-DD HH:MM:SS.micros: I file] message` on stderr), with
the tensorflow/serving source file each message comes from, so logs read like the real server's."""

from __future__ import annotations

import sys
import threading
import time

_lock = threading.Lock()


def _emit(severity: str, source: str, message: str) -> None:
    now = time.time()
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))
    line = f"{stamp}.{int(now % 1 * 1e6):06d}: {severity} {source}] {message}\n"
    with _lock:
        sys.stderr.write(line)
        sys.stderr.flush()


def info(source: str, message: str) -> None:
    _emit("I", source, message)


def warning(source: str, message: str) -> None:
    _emit("W", source, message)


def error(source: str, message: str) -> None:
    _emit("E", source, message)
