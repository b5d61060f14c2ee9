"""The sandboxed end of the bridge: imports submission code and runs the calls the grader asks for.

Started by `graders.engine.bridge.Worker` inside the sandbox, in the submission's folder:

    python -I -B /opt/hw1grade/worker.py --channel REQ_FD,REP_FD [--path DIR ...] [--max-reply BYTES]

Requests and replies are `wire` frames on two dedicated pipes (never stdin/stdout), so whatever the
submission prints, or writes to file descriptors 1 and 2, cannot corrupt the channel: fds 1 and 2 point
at private temporary files, and each reply carries the tail of what the call wrote there.

Results that are plain values (`wire.encode`) cross as values; anything else stays here in a table
and crosses as a handle that later requests may pass back. Exceptions, including SystemExit, become
error replies with the type, message and the last frames of the traceback, their files named as the
student knows them (`shown_paths`: `cs231n/layers.py`, `torch/nn/modules/module.py`).

The 2019 course's environment is installed first (`course_env`: numpy 1.x aliases such as `np.int`,
`scipy.misc.imread`/`imresize`/`imsave`, Windows-style relative paths): each shim's first use is
recorded and reported in the replies as a note.
Arrays of ndarray subclasses in a result (`np.matrix`) are converted to plain arrays, with a note too.
Standard library, numpy, `wire`, `course_env` and `shown_paths` only.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # `wire`, imported before any folder of the submission is on the path

import argparse  # noqa: E402
import faulthandler  # noqa: E402
import fcntl  # noqa: E402
import importlib  # noqa: E402
import tempfile  # noqa: E402
import traceback  # noqa: E402

import numpy as np  # noqa: E402

import course_env  # noqa: E402
import wire  # noqa: E402
from shown_paths import short_path, short_paths  # noqa: E402

OUTPUT_TAIL = 8192       # bytes of stdout/stderr each reply carries
TRACEBACK_FRAMES = 6
MESSAGE_CHARS = 2000
TRACEBACK_CHARS = 4000
CUT_MARK = ' [... cut by the grader: %d more characters]'   # graders/engine/untrusted.py's marker


class Notes:
    """Observations about the submission (legacy aliases, ...), each reported once."""

    def __init__(self):
        self._seen = set()
        self._new = []

    def record(self, text: str):
        if text not in self._seen:
            self._seen.add(text)
            self._new.append(text)

    def take(self) -> list:
        new, self._new = self._new, []
        return new


class Capture:
    """fds 1 and 2 go to unlinked temporary files, emptied before each call and read after it."""

    def __init__(self):
        for target in (1, 2):
            fd, path = tempfile.mkstemp(prefix='hw1grade-out-')
            os.unlink(path)
            # Appending: after each truncation the next write lands at the start again, whoever wrote.
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_APPEND)
            os.dup2(fd, target)
            os.close(fd)
        for stream in (sys.stdout, sys.stderr):
            # Line by line, so that prints and raw writes to fds 1/2 stay in order.
            stream.reconfigure(line_buffering=True)

    @staticmethod
    def _flush():
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            try:
                stream.flush()
            except Exception:  # the submission may have replaced or closed them
                pass

    def reset(self):
        self._flush()
        for fd in (1, 2):
            try:
                os.ftruncate(fd, 0)
            except OSError:
                pass

    def read(self) -> dict:
        """{'stdout': tail, 'stderr': tail} of what was written since `reset`."""
        self._flush()
        out = {}
        for fd, name in ((1, 'stdout'), (2, 'stderr')):
            try:
                size = os.fstat(fd).st_size
                data = os.pread(fd, OUTPUT_TAIL, max(0, size - OUTPUT_TAIL))
                text = data.decode('utf-8', 'replace')
                out[name] = ('[... %d bytes omitted ...]\n' % (size - len(data)) + text
                             if size > len(data) else text)
            except OSError:  # fd 1 or 2 closed or replaced by the submission
                out[name] = ''
        return out


class BadHandle(Exception):
    """A request referred to an object that is not (or no longer) in the table."""


class Objects:
    """The objects that stay in the worker, by handle id."""

    def __init__(self):
        self._table = {}
        self._next = 1

    def register(self, obj) -> 'wire.Handle':
        handle = wire.Handle(self._next, wire.type_name(obj))
        self._table[handle.id] = obj
        self._next += 1
        return handle

    def get(self, handle_id, type_name=None):
        try:
            return self._table[handle_id]
        except KeyError:
            raise BadHandle('no object with handle %r here (released, or from an earlier worker)'
                            % handle_id) from None

    def release(self, ids):
        for i in ids:
            self._table.pop(i, None)


def encode_result(value, arrays: list, objects: Objects, keep=(), notes=None):
    """A result's tree. A returned tuple/list is split one level (so `out, cache = f()` unpacks);
    each element, and any other result, crosses as a value when it is entirely plain, otherwise
    as one handle (a forward cache holding an object stays whole in the worker). The elements whose
    positions are in `keep` always stay here as handles: the grader passes them back unopened.

    Arrays of an ndarray subclass (np.matrix, ...) in a returned value are converted here to plain
    arrays (`plain_arrays`), with a note: the values are right, only the type is one the 2019
    course's numpy handed out freely; the trusted side still checks their shape and dtype strictly."""
    if type(value) in (tuple, list):
        items = [_handle(v, objects) if i in keep else _value_or_handle(plain_arrays(v, notes), arrays, objects)
                 for i, v in enumerate(value)]
        return {'__tuple__': items} if type(value) is tuple else items
    return _value_or_handle(plain_arrays(value, notes), arrays, objects)


def plain_arrays(value, notes=None, depth=0):
    """`value` with every array of an ndarray subclass, inside exact lists, tuples and dicts, turned
    into a plain ndarray (np.asarray: the same numbers and shape, the subclass's behaviour gone), each
    kind noted once. Containers without such an array are returned as they are (the same object)."""
    kind = type(value)
    if depth > wire.MAX_DEPTH:
        return value
    if kind is not np.ndarray and issubclass(kind, np.ndarray):   # (not isinstance: see wire.encode)
        name = wire.type_name(value)
        if notes is not None:
            notes.record('%s returned: converted to a plain numpy array (same values and shape; '
                         'np.array is the type the homework expects)'
                         % ('np.matrix' if name == 'numpy.matrix' else name))
        return np.asarray(value).view(np.ndarray)
    if kind in (list, tuple):
        items = [plain_arrays(v, notes, depth + 1) for v in value]
        if all(a is b for a, b in zip(items, value)):
            return value
        return items if kind is list else tuple(items)
    if kind is dict:
        items = {k: plain_arrays(v, notes, depth + 1) for k, v in value.items()}
        return value if all(items[k] is v for k, v in value.items()) else items
    return value


def _handle(value, objects):
    handle = objects.register(value)
    return {'__handle__': handle.id, 'type': handle.type_name}


def array_snapshots(tree, label='', found=None):
    """(label, array, copy) for every exact ndarray in a decoded argument tree."""
    found = [] if found is None else found
    if type(tree) is np.ndarray:
        found.append((label, tree, tree.copy()))
    elif type(tree) in (list, tuple):
        for i, v in enumerate(tree):
            array_snapshots(v, '%s[%d]' % (label, i), found)
    elif type(tree) is dict:
        for k, v in tree.items():
            array_snapshots(v, '%s[%r]' % (label, k), found)
    return found


def mutated_inputs(snapshots):
    """Labels of the arguments whose arrays the call changed in place."""
    return [label for label, array, before in snapshots
            if array.shape != before.shape or not np.array_equal(array, before, equal_nan=True)]


def _value_or_handle(value, arrays, objects):
    mark = len(arrays)
    try:
        return wire.encode(value, arrays)
    except wire.NotPlain:
        del arrays[mark:]
        return _handle(value, objects)


def resolve_target(target: str):
    """'package.module:attr.sub' -> the object, importing the module from the submission."""
    if type(target) is not str or not wire.TARGET.match(target):
        raise ValueError('bad call target %r (expected "module:attribute")' % (target,))
    module_name, attr_path = target.split(':')
    obj = importlib.import_module(module_name)
    for part in attr_path.split('.'):
        obj = getattr(obj, part)
    return obj


def dispatch(request: dict, arrays: list, objects: Objects):
    """Run one request; returns the raw result (student code runs here)."""
    def arg(tree):
        return wire.decode(tree, arrays, objects.get)

    op = request.get('op')
    if op in ('call', 'call_method'):
        function = (resolve_target(request['target']) if op == 'call'
                    else getattr(objects.get(request['handle']), request['name']))
        args, kwargs = arg(request['args']), arg(request['kwargs'])
        if request.get('check_inputs'):
            named = dict(('argument %d' % (i + 1), a) for i, a in enumerate(args))
            named.update(('argument %s' % k, v) for k, v in kwargs.items())
            snapshots = [s for label, value in named.items() for s in array_snapshots(value, label)]
            return function(*args, **kwargs), snapshots
        return function(*args, **kwargs)
    if op == 'get_attr':
        return getattr(objects.get(request['handle']), request['name'])
    if op == 'set_attr':
        setattr(objects.get(request['handle']), request['name'], arg(request['value']))
        return None
    if op == 'release':
        objects.release(request['ids'])
        return None
    raise ValueError('unknown request %r' % (op,))


def describe_exception(err: BaseException) -> dict:
    """Type, message and the last frames of the traceback (the worker's own frames left out)."""
    try:
        message = short_paths(str(err), (os.getcwd(),))
    except Exception:
        message = '<the exception could not be printed>'
    if len(message) > MESSAGE_CHARS:
        message = message[:MESSAGE_CHARS] + CUT_MARK % (len(message) - MESSAGE_CHARS)
    try:
        frames = [f for f in traceback.extract_tb(err.__traceback__)
                  if not f.filename.startswith(HERE + os.sep)][-TRACEBACK_FRAMES:]
        for f in frames:   # cs231n/layers.py, torch/nn/modules/module.py: never this machine's folders
            f.filename = short_path(f.filename, (os.getcwd(),))
        tb = ''.join(traceback.format_list(frames))
    except Exception:
        tb = ''
    if len(tb) > TRACEBACK_CHARS:
        tb = (CUT_MARK % (len(tb) - TRACEBACK_CHARS)).strip() + '\n' + tb[-TRACEBACK_CHARS:]
    return {'kind': 'raised', 'type': wire.type_name(err), 'message': message, 'traceback': tb}


def serve(req_fd: int, rep_fd: int, max_reply: int, notes: Notes, capture: Capture):
    """Answer requests until the trusted side closes the channel."""
    objects = Objects()
    wire.send(rep_fd, {'ready': True, 'pid': os.getpid(), 'numpy': np.__version__,
                       'python': sys.version.split()[0]}, [])
    while True:
        try:
            request, arrays = wire.recv(req_fd, max_bytes=1 << 62)
        except wire.ChannelClosed:
            return
        capture.reset()
        out_arrays = []
        try:
            result = dispatch(request, arrays, objects)
            mutated = None
            if request.get('check_inputs'):
                result, snapshots = result
                mutated = mutated_inputs(snapshots)
            keep = request.get('keep') or ()
            reply = {'ok': True, 'value': encode_result(result, out_arrays, objects, keep, notes)}
            if mutated is not None:
                reply['mutated'] = mutated
        except BadHandle as err:
            reply = {'ok': False, 'error': {'kind': 'handle', 'type': 'BadHandle', 'message': str(err),
                                            'traceback': ''}}
        except BaseException as err:  # noqa: B036 - SystemExit from the submission is a result too
            reply = {'ok': False, 'error': describe_exception(err)}
            del err
        reply.update(id=request.get('id'), notes=notes.take(), **capture.read())
        try:
            wire.send(rep_fd, reply, out_arrays, max_bytes=max_reply)
        except wire.FrameTooLarge as err:
            reply = {'id': request.get('id'), 'ok': False, 'notes': reply['notes'],
                     'stdout': reply['stdout'], 'stderr': reply['stderr'],
                     'error': {'kind': 'too_large', 'type': 'ResultTooLarge', 'message': str(err),
                               'traceback': ''}}
            wire.send(rep_fd, reply, [])


def main(argv=None):
    parser = argparse.ArgumentParser(prog='worker')
    parser.add_argument('--channel', required=True, help='REQ_FD,REP_FD')
    parser.add_argument('--path', action='append', default=[], help='folder put on sys.path')
    parser.add_argument('--max-reply', type=int, default=1 << 30)
    args = parser.parse_args(argv)
    req_fd, rep_fd = (int(x) for x in args.channel.split(','))
    for fd in (req_fd, rep_fd):
        os.set_inheritable(fd, False)
    # The original stderr (a pipe to the grader) stays for crash reports (faulthandler) only.
    diag = os.fdopen(os.dup(2), 'w')
    faulthandler.enable(file=diag)
    capture = Capture()
    notes = Notes()
    course_env.install(notes.record)
    for path in reversed(args.path):
        sys.path.insert(0, os.path.abspath(path))
    sys.argv = ['']
    try:
        serve(req_fd, rep_fd, args.max_reply, notes, capture)
    except BaseException:  # the submission broke the worker itself (e.g. patched builtins)
        try:
            # os.write first: it needs no builtins, which may be what the submission replaced.
            os.write(diag.fileno(), b'the grader\'s worker failed after running your code: did it '
                                    b'replace Python builtins or standard library functions?\n')
            traceback.print_exc(file=diag)
            diag.flush()
        finally:
            os._exit(70)


if __name__ == '__main__':
    main()
