"""Status codes and exceptions.

Every failing call raises a CognitionError (or the subclass for its status)
whose .status is the library's cog_status and whose message is
cog_error_last() of the failing call.
"""
from ._lib import lib

OK = 0
ERROR = -1
EINVAL = -2
ENOMEM = -3
EIO = -4
ETIMEOUT = -5
ECANCELED = -6
ENOTFOUND = -7
EDENIED = -8
EBUDGET = -9
ECYCLE = -10
EPROTO = -11
ESCHEMA = -12
EUNAVAILABLE = -13
EUSER = -14
EVERSION = -15
EEXISTS = -16
EBUSY = -17
ERANGE = -18
EUNCERTAIN = -19
EPENDING = -20
EINTEGRITY = -21


class CognitionError(Exception):
    """A libcognition call failed.

    status: the cog_status code (negative); message: cog_error_last() of the
    call; result: the JSON result the call still produced, if any (a tool's
    error object for the model, an agent run's partial result), parsed.
    """

    def __init__(self, status, message, result=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.result = result

    @property
    def name(self):
        return strerror(self.status)

    def __str__(self):
        return "%s (%s, %d)" % (self.message, strerror(self.status),
                                self.status)


class InvalidArgument(CognitionError, ValueError):
    pass


class OutOfMemory(CognitionError, MemoryError):
    pass


class IOFailure(CognitionError, OSError):
    pass


class Timeout(CognitionError, TimeoutError):
    pass


class Canceled(CognitionError):
    pass


class NotFound(CognitionError, LookupError):
    pass


class Denied(CognitionError, PermissionError):
    pass


class BudgetExceeded(CognitionError):
    pass


class CycleError(CognitionError):
    pass


class ProtocolError(CognitionError):
    pass


class SchemaError(CognitionError, ValueError):
    pass


class Unavailable(CognitionError):
    pass


class UserError(CognitionError):
    """A host callback (a Python tool, executor, LLM...) failed."""


class VersionError(CognitionError):
    pass


class AlreadyExists(CognitionError):
    pass


class Busy(CognitionError):
    pass


class OutOfRange(CognitionError):
    pass


class Uncertain(CognitionError):
    pass


class Pending(CognitionError):
    pass


class IntegrityError(CognitionError):
    pass


_BY_STATUS = {
    EINVAL: InvalidArgument, ENOMEM: OutOfMemory, EIO: IOFailure,
    ETIMEOUT: Timeout, ECANCELED: Canceled, ENOTFOUND: NotFound,
    EDENIED: Denied, EBUDGET: BudgetExceeded, ECYCLE: CycleError,
    EPROTO: ProtocolError, ESCHEMA: SchemaError, EUNAVAILABLE: Unavailable,
    EUSER: UserError, EVERSION: VersionError, EEXISTS: AlreadyExists,
    EBUSY: Busy, ERANGE: OutOfRange, EUNCERTAIN: Uncertain,
    EPENDING: Pending, EINTEGRITY: IntegrityError,
}


def strerror(status):
    """The library's static text for a status code."""
    return lib.cog_strerror(int(status)).decode("utf-8", "replace")


def error_class(status):
    return _BY_STATUS.get(status, CognitionError)


def last_error(status, result=None):
    """The exception for `status`, with the calling thread's
    cog_error_last() (read right after the failing call)."""
    msg = lib.cog_error_last().decode("utf-8", "replace")
    return error_class(status)(status, msg, result)


def check(status):
    """Raise for a negative status; return it otherwise."""
    if status < 0:
        raise last_error(status)
    return status


def set_error(status, message):
    """Record `message` as the calling thread's error (for a callback that
    fails) and return `status`."""
    text = str(message).replace("%", "%%").encode("utf-8", "replace")
    text = text.replace(b"\0", b"")
    return lib.cog_error_set(int(status), text)
