"""absl::Status for the stand-in: a code name (`INVALID_ARGUMENT`, ...) and a message, raised as an
exception. `str()` prints like absl's `operator<<` ("CODE: message")."""

from __future__ import annotations

#: absl::StatusCode numbers, which gRPC shares (grpc_status_util.cc casts one to the other).
CODES = {
    "OK": 0, "CANCELLED": 1, "UNKNOWN": 2, "INVALID_ARGUMENT": 3, "DEADLINE_EXCEEDED": 4, "NOT_FOUND": 5,
    "ALREADY_EXISTS": 6, "PERMISSION_DENIED": 7, "RESOURCE_EXHAUSTED": 8, "FAILED_PRECONDITION": 9, "ABORTED": 10,
    "OUT_OF_RANGE": 11, "UNIMPLEMENTED": 12, "INTERNAL": 13, "UNAVAILABLE": 14, "DATA_LOSS": 15, "UNAUTHENTICATED": 16,
}


class Status(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def invalid_argument(*parts: object) -> Status:
    return Status("INVALID_ARGUMENT", "".join(str(p) for p in parts))


def not_found(*parts: object) -> Status:
    return Status("NOT_FOUND", "".join(str(p) for p in parts))


def failed_precondition(*parts: object) -> Status:
    return Status("FAILED_PRECONDITION", "".join(str(p) for p in parts))


def internal(*parts: object) -> Status:
    return Status("INTERNAL", "".join(str(p) for p in parts))


def unavailable(*parts: object) -> Status:
    return Status("UNAVAILABLE", "".join(str(p) for p in parts))


def unknown(*parts: object) -> Status:
    return Status("UNKNOWN", "".join(str(p) for p in parts))
