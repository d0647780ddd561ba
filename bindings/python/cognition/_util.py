"""Helpers shared by the wrappers: text in and out, JSON, callbacks."""
import ctypes
import json
import sys

from ._lib import lib
from . import errors


def to_bytes(value):
    """str -> UTF-8 bytes; None stays None; bytes pass."""
    if value is None or isinstance(value, bytes):
        return value
    return str(value).encode("utf-8")


def to_json_bytes(value):
    """A JSON argument: text is taken as JSON as it is, anything else is
    serialised with json.dumps. None stays None."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)):
        return to_bytes(value)
    return json.dumps(value).encode("utf-8")


def text(value):
    """Borrowed char * -> str (None for NULL)."""
    if value is None:
        return None
    return value.decode("utf-8", "replace")


class OutString:
    """A char ** out-parameter whose string the library allocated: read it
    once (take) and it is released with cog_free."""

    def __init__(self):
        self.ptr = ctypes.c_void_p()

    @property
    def ref(self):
        return ctypes.byref(self.ptr)

    def take(self):
        if not self.ptr.value:
            return None
        try:
            return ctypes.string_at(self.ptr.value).decode("utf-8", "replace")
        finally:
            lib.cog_free(self.ptr)
            self.ptr = ctypes.c_void_p()

    def __del__(self):
        if self.ptr.value:
            lib.cog_free(self.ptr)


def parse(text_value):
    if text_value is None:
        return None
    return json.loads(text_value)


def call_json(fn, *args):
    """Call fn(*args, char **out); raise on failure; return the parsed JSON
    (the library's string freed)."""
    out = OutString()
    status = fn(*args, out.ref)
    value = out.take()
    if status < 0:
        err = errors.last_error(status)
        err.result = _maybe_json(value)
        raise err
    return parse(value)


def call_text(fn, *args):
    out = OutString()
    status = fn(*args, out.ref)
    value = out.take()
    if status < 0:
        raise errors.last_error(status)
    return value


def _maybe_json(value):
    if value is None:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return value


def give_string(out_ptr, value):
    """Hand `value` (str) to the library through a char ** it will
    cog_free: the bytes are copied into cog_malloc'd memory."""
    data = value.encode("utf-8")
    mem = lib.cog_malloc(len(data) + 1)
    if not mem:
        raise MemoryError("cog_malloc(%d) failed" % (len(data) + 1))
    ctypes.memmove(mem, data, len(data))
    ctypes.memset(mem + len(data), 0, 1)
    out_ptr[0] = mem


def callback_failed(exc, default_status=errors.EUSER):
    """Turn a Python exception raised inside a callback into a status with
    the library's error message set: a CognitionError keeps its status, any
    other exception becomes `default_status` with "TypeName: message".
    Never raises: an exception escaping a ctypes callback would be printed
    and the callback would return 0, which C takes for success."""
    status = int(default_status)
    try:
        if isinstance(exc, errors.CognitionError) and int(exc.status) < 0:
            status = int(exc.status)
            msg = str(exc.message)
        else:
            msg = "%s: %s" % (type(exc).__name__, exc)
    except BaseException:  # e.g. the exception's __str__ raised
        msg = ("a Python callback failed with an exception whose message "
               "cannot be formatted")
    try:
        errors.set_error(status, msg)
    except BaseException:
        pass  # the status alone still says the callback failed
    return status if status < 0 else int(errors.EUSER)


def report_unraisable(exc, where):
    """An exception in a hook that cannot return a status (log, event):
    reported through sys.unraisablehook, never propagated into C."""
    hook = getattr(sys, "unraisablehook", None)
    if hook is None:  # pragma: no cover (Python < 3.8)
        sys.stderr.write("cognition: exception in %s: %r\n" % (where, exc))
        return
    try:
        args = type("UnraisableHookArgs", (), {})()
        args.exc_type = type(exc)
        args.exc_value = exc
        args.exc_traceback = exc.__traceback__
        args.err_msg = "Exception ignored in cognition " + where
        args.object = None
        hook(args)
    except Exception:  # the hook itself failed: nothing more to do
        pass


class Handle:
    """An owned library handle, freed once: by close(), at the end of a with
    block, or when the object is collected. Subclasses set _kind (for the
    message after close) and _free (the cog_*_free function)."""

    _kind = "handle"
    _h = None

    def _free(self, h):
        raise NotImplementedError

    @property
    def handle(self):
        if self._h is None:
            raise errors.CognitionError(errors.EINVAL, "the %s is closed" % self._kind)
        return self._h

    def close(self):
        if self._h is not None:
            h, self._h = self._h, None
            self._free(h)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

