"""Call submission code that runs in the sandbox, from the trusted side.

    w = Worker(root, sandbox)                               # the worker starts on the first call
    out, cache = w.call('cs231n.layers:affine_forward', x, wt, b)
    dx, dw, db = w.call('cs231n.layers:affine_backward', dout, cache)
    clf = w.call('cs231n.classifiers.softmax:Softmax')     # an instance: a Handle
    hist = w.call_method(clf, 'train', X, y, num_iters=50)
    W = w.get_attr(clf, 'W')

Arguments and results follow the bridge contract (docs/engine.md, `graders.inside.wire`): plain values
and numpy arrays cross as copies, anything else the submission returns stays in the worker as a
`Handle`. Every reply is decoded strictly; the trusted side never unpickles or imports what the
submission produced.

Failures raise a `SandboxError` whose str() is written for the student: `SubmissionRaised`,
`CallTimeout`, `WorkerDied`, `BadValue`. After a timeout, a death, or a reply that broke the
protocol, the worker is killed (whole process tree) and the next call starts a fresh one; handles of
the old worker are then refused with BadValue.
"""

from __future__ import annotations

import errno
import os
import re
import select
import subprocess
import time
import uuid
import weakref
from pathlib import Path

from graders.engine import untrusted
from graders.engine.budget import Budget
from graders.engine.outcome import SandboxUnavailable, SubmissionError
from graders.engine.sandbox import CappedOutput, Sandbox, is_running
from graders.engine.untrusted import clean_text, clean_trace
from graders.inside import wire
from graders.inside.wire import Handle

__all__ = ['Worker', 'Handle', 'SandboxError', 'SubmissionRaised', 'CallTimeout', 'WorkerDied',
           'BadValue', 'MUTATION_NOTE']

# How `call_checked` reports a function that changed its inputs in place. Not a deduction: the values
# it returns are graded (a forward pass that corrupts its own cache fails through the backward's values),
# and real correct code does it (relu_backward zeroing dout before returning it).
MUTATION_NOTE = ('%s changed its input %s in place: no points taken, since what it returns is graded, '
                 'but the homework\'s functions should leave their inputs unchanged')

STARTUP_TIMEOUT = 60.0  # python + numpy imports in the sandbox, on a loaded machine
DIAG_CHARS = 1500       # crash output (faulthandler) quoted in WorkerDied
# What the trusted side keeps of a reply (the worker caps its own, but submitted code can forge replies:
# graders/engine/untrusted.py): every text cleaned of terminal escapes and cut to these lengths; notes
# de-duplicated in linear time, at most MAX_NOTES per worker, only the first MAX_REPLY_NOTES of a reply looked at.
NOTE_CHARS, MAX_NOTES, MAX_REPLY_NOTES = 500, 100, 200
MESSAGE_CHARS, TRACEBACK_CHARS, OUTPUT_CHARS, TYPE_CHARS = 2000, 4000, 8192, 200
NOTES_LEFT_OUT = 'your code sent more notes than the grader keeps (%d at most); the rest were left out' % MAX_NOTES


class SandboxError(SubmissionError):
    """A failure of submission code in the sandbox; str() is a message for the student."""


class SubmissionRaised(SandboxError):
    """The call raised. `exc_type`, `message`, `traceback` (last frames), `stdout`/`stderr` tails."""

    def __init__(self, what: str, exc_type: str, message: str, traceback: str, stdout='', stderr=''):
        self.exc_type, self.message, self.traceback = exc_type, message, traceback
        self.stdout, self.stderr = stdout, stderr
        text = '%s raised %s: %s' % (what, exc_type, message)
        if traceback:
            text += '\nTraceback (most recent call last, grader frames omitted):\n' + traceback.rstrip()
        super().__init__(text)


class CallTimeout(SandboxError):
    """The call did not finish in time; the worker was killed."""


class ModuleLoadTimeout(CallTimeout):
    """Importing a module of the submission did not finish in time. The budget remembers it
    (`Budget.slow_imports`): every later call that needs the module fails at once with the same message."""


class BudgetExhausted(CallTimeout):
    """The part's grading budget (graders/engine/budget.py) ran out before or during the call."""


class WorkerDied(SandboxError):
    """The worker process ended during a call (exit, crash, memory or CPU limit)."""


class BadValue(SandboxError):
    """A reply that could not be decoded or breaks the contract, or a handle that no longer exists."""


class _Deadline(Exception):
    pass


class _Died(Exception):
    pass


class _Process:
    """One running worker: the sandboxed process, its two channel pipes and its crash output."""

    def __init__(self, sandbox: Sandbox, root: Path, sys_path, threads: int, max_reply_bytes: int):
        self.sandbox, self.root = sandbox, root
        req_r, self.req_w = os.pipe()
        self.rep_r, rep_w = os.pipe()
        for fd in (self.req_w, rep_w):
            wire.widen_pipe(fd)
        argv = [sandbox.python, '-I', '-B', sandbox.inside_dir + '/worker.py',
                '--channel', '%d,%d' % (req_r, rep_w), '--max-reply', str(max_reply_bytes)]
        for p in sys_path:
            argv += ['--path', str(p)]
        try:
            self.proc = sandbox.popen(argv, cwd=root, env=sandbox.env(threads), pass_fds=(req_r, rep_w),
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        except OSError as err:
            for fd in (req_r, rep_w, self.req_w, self.rep_r):
                os.close(fd)
            if err.errno == errno.EAGAIN:   # the sandbox uid's process limit, held for a moment by what
                raise WorkerDied('the sandboxed Python could not be started: %s' % err) from None  # was killed
            # Exec refused (an interpreter the sandbox user cannot read, a missing bwrap): this machine's.
            raise SandboxUnavailable('the sandbox cannot start the grader\'s Python %s here: %s (run '
                                     '`hw1grade doctor`)' % (sandbox.python, err)) from None
        os.close(req_r)
        os.close(rep_w)
        os.set_blocking(self.req_w, False)
        os.set_blocking(self.rep_r, False)
        self.diag = CappedOutput(self.proc.stdout, 16 * 1024)
        self.session = uuid.uuid4().hex

    def waiter(self, deadline: float):
        """wire's wait callback: returns when the fd is ready; raises at the deadline or on death."""
        def wait(fd: int, writing: bool):
            poller = select.poll()
            poller.register(fd, select.POLLOUT if writing else select.POLLIN)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise _Deadline()
                if poller.poll(min(left, 0.25) * 1000):
                    return
                if not is_running(self.proc):
                    raise _Died()
        return wait

    def death(self) -> str:
        """Describe how the process ended, with its crash output (killing what is left).

        Its end of the channel closed, so it is ending: give it a moment to do so by itself, or its
        exit status would read as our SIGKILL.
        """
        self.close(grace=2)
        text = self.sandbox.describe_exit(self.proc.returncode)
        self.diag.join(2)
        output = clean_trace(self.diag.text(), 16 * 1024, (self.root,)).strip()   # faulthandler's frames
        if output:
            text += '\n' + (output if len(output) <= DIAG_CHARS else '[...]' + output[-DIAG_CHARS:])
        return text

    def close(self, grace: float = 1.0):
        """End the worker: EOF on its request pipe, a moment to exit, then kill the whole tree."""
        for fd in (self.req_w, self.rep_r):
            try:
                os.close(fd)
            except OSError:
                pass
        self.req_w = self.rep_r = -1
        end = time.monotonic() + grace
        while is_running(self.proc) and time.monotonic() < end:
            time.sleep(0.01)
        self.sandbox.kill(self.proc)


class Worker:
    """A sandboxed Python process that imports the submission and runs calls for the grader.

    root: host folder of the part's root inside the sandbox's scratch copy (the worker's cwd).
    sandbox: the `Sandbox` of that scratch copy.
    sys_path: folders (relative to root) put first on the worker's sys.path.
    timeout: default seconds per call (wall clock); `timeout=` on a call overrides it, so a call
        cannot pass a keyword argument named `timeout` to the submission.
    threads: BLAS/OpenMP/torch threads of the worker.
    max_reply_bytes: the largest reply accepted (arrays included).
    """

    def __init__(self, root, sandbox: Sandbox, sys_path=('.',), timeout: float = 60, threads: int = 1,
                 *, max_reply_bytes: int = 1 << 30, startup_timeout: float = STARTUP_TIMEOUT,
                 budget: Budget | None = None):
        self.root = Path(root)
        self.budget = budget         # the part's grading budget: caps every wait; remembers slow imports
        self._imported: set[str] = set()   # modules the current worker process has imported
        self.sandbox = sandbox
        self.sys_path = tuple(sys_path)
        self.timeout = timeout
        self.threads = threads
        self.max_reply_bytes = max_reply_bytes
        self.startup_timeout = startup_timeout
        self.notes: list[str] = []
        self.last_output = {'stdout': '', 'stderr': ''}
        self.starts = 0
        self._process: _Process | None = None
        self._finalizer = None
        self._next_id = 0

    # -- public calls ----------------------------------------------------------------------------

    def call(self, target: str, *args, timeout: float | None = None, keep: tuple[int, ...] = (), **kwargs):
        """Call `package.module:function` (or a class, or `module:Class.method`) in the worker.

        keep: positions in a returned tuple that stay in the worker as Handles even when plain (a
        forward cache, passed back to the backward function unopened)."""
        return self._call(target, args, kwargs, timeout, keep, check_inputs=False)

    def call_checked(self, target: str, *args, timeout: float | None = None, keep: tuple[int, ...] = (),
                     **kwargs):
        """`call`, noting (MUTATION_NOTE, once per function) if it changed an array argument in place."""
        return self._call(target, args, kwargs, timeout, keep, check_inputs=True)

    def _call(self, target, args, kwargs, timeout, keep, check_inputs):
        if type(target) is not str or not wire.TARGET.match(target):
            raise ValueError('bad call target %r (expected "package.module:attribute")' % (target,))
        self._load(target.split(':')[0], timeout)
        fields = {'op': 'call', 'target': target, 'keep': [int(k) for k in keep], 'check_inputs': check_inputs}
        return self._request(fields, {'args': args, 'kwargs': kwargs}, '`%s`' % target.replace(':', '.'), timeout)

    def function(self, target: str) -> Handle:
        """A Handle to `package.module:function` of the submission, to pass as an argument (a trainer's
        loss_function); the function itself stays in the worker."""
        module, name = target.split(':')
        self._load(module, None)
        return self.get_attr(self.call('importlib:import_module', module), name)

    def call_method(self, handle: Handle, name: str, *args, timeout: float | None = None, **kwargs):
        """Call a method of an object that lives in the worker."""
        return self._request({'op': 'call_method', 'handle': self._handle_id(handle, name), 'name': name},
                             {'args': args, 'kwargs': kwargs},
                             '`%s.%s`' % (_short(handle.type_name), name), timeout)

    def get_attr(self, handle: Handle, name: str, *, timeout: float | None = None):
        """An attribute of an object that lives in the worker (arrays come back as copies)."""
        return self._request({'op': 'get_attr', 'handle': self._handle_id(handle, name), 'name': name}, {},
                             'reading `%s.%s`' % (_short(handle.type_name), name), timeout)

    def set_attr(self, handle: Handle, name: str, value, *, timeout: float | None = None):
        """Set an attribute of an object that lives in the worker."""
        self._request({'op': 'set_attr', 'handle': self._handle_id(handle, name), 'name': name},
                      {'value': value}, 'setting `%s.%s`' % (_short(handle.type_name), name), timeout)

    def release(self, *handles: Handle):
        """Let the worker drop objects the grader no longer needs (handles of a dead worker: no-op)."""
        live = [h.id for h in handles if self._process and h.session == self._process.session]
        if live:
            self._request({'op': 'release', 'ids': live}, {}, 'releasing objects', None)

    def close(self):
        """Stop the worker (the next call would start a new one)."""
        if self._finalizer is not None:
            self._finalizer()
        self._process = self._finalizer = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- machinery -------------------------------------------------------------------------------

    def _start(self) -> _Process:
        limit, by_budget = self._cap(self.startup_timeout)
        process = _Process(self.sandbox, self.root, self.sys_path, self.threads, self.max_reply_bytes)
        self._process = process
        self._finalizer = weakref.finalize(self, process.close, 0)
        self._imported = set()
        self.starts += 1
        try:
            hello, _ = wire.recv(process.rep_r, 1 << 20, process.waiter(time.monotonic() + limit))
            if hello.get('ready') is not True:
                raise wire.WireError('unexpected first frame')
        except (_Deadline, _Died, wire.WireError, OSError) as err:
            self.close()
            if isinstance(err, _Deadline) and by_budget:
                raise BudgetExhausted(self.budget.stop()) from None
            reason = ('it did not answer within %g s' % limit if isinstance(err, _Deadline)
                      else process.death())
            self._startup_failed(reason)
        return process

    def _startup_failed(self, reason: str):
        """Raise the right error for a worker that died or hung before it said it was ready.

        Until then it runs no submission code (only the standard library and numpy, with the
        submission's folder not yet on its path), so whose failure it is can be asked directly: a bare
        start of the same interpreter in the same sandbox. If that fails too, this machine cannot run
        the sandbox (an interpreter the sandbox user cannot read, a bubblewrap setup error): the
        grader's failure, `SandboxUnavailable`, and no check is the student's. If it starts, the failure
        was passing (the uid's process limit still held by a killed fork bomb) and stays this call's.
        """
        argv = [self.sandbox.python, '-I', '-B', '-c', 'import numpy']
        try:
            probe = self.sandbox.run(argv, timeout=self.startup_timeout, env=self.sandbox.env(self.threads))
        except OSError as err:
            if err.errno == errno.EAGAIN:
                raise WorkerDied('the sandboxed Python worker could not start: %s' % reason) from None
            raise SandboxUnavailable('the sandbox cannot start the grader\'s Python %s here: %s (run '
                                     '`hw1grade doctor`)' % (self.sandbox.python, err)) from None
        said = (probe.stderr.strip() or probe.stdout.strip())[-DIAG_CHARS:]
        # The sandbox uid's process limit still held by what was just killed (a fork bomb): passing.
        if not probe.ok and os.strerror(errno.EAGAIN) not in reason + said:
            raise SandboxUnavailable(
                'the sandbox cannot start the grader\'s Python %s here: the worker could not start (%s), '
                'and neither could `python -c "import numpy"` in the same sandbox (%s)%s (run `hw1grade '
                'doctor`)' % (self.sandbox.python, reason.splitlines()[0],
                              probe.killed or 'exit code %d' % probe.returncode, ': ' + said if said else ''))
        raise WorkerDied('the sandboxed Python worker could not start: %s' % reason)

    def _cap(self, limit: float) -> tuple[float, bool]:
        """(how long a wait may take, whether the grading budget is what limits it); BudgetExhausted
        at once when nothing is left."""
        if self.budget is None:
            return limit, False
        if self.budget.exhausted:
            raise BudgetExhausted(self.budget.stop())
        return self.budget.cap(limit)

    def _stalled(self, module: str) -> str | None:
        """The verdict of an earlier timed-out import that importing `module` would run into: its own,
        a package's above it, or one of the submission's modules it imports (read as text from its
        source, never run here), so that cnn.py, which imports a stalled layers.py, fails at once too."""
        if self.budget is None or not self.budget.slow_imports:
            return None
        todo, seen = [module], set()
        while todo and len(seen) < 200:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            message = self.budget.stalled_prefix(name)
            if message:
                if name != module:
                    self.budget.slow_imports[module] = message
                return message
            todo += _imports_of([self.root / p for p in self.sys_path], name)
        return None

    def _load(self, module: str, timeout: float | None):
        """Import `module` and each package above it in a request of its own, before a call needs it.

        A timeout there is the import's, not the function's: it is remembered in the budget, and every
        later call that needs the module fails at once with the same verdict instead of waiting out
        its own timeout (each of eight layer checks used to wait 60 s for one slow module). An import
        that raises is left to the call itself, which raises the same error with its usual message.
        """
        limit = self.timeout if timeout is None else timeout
        parts = module.split('.')
        for i in range(1, len(parts) + 1):
            name = '.'.join(parts[:i])
            if self._process is not None and name in self._imported:
                continue
            stalled = self._stalled(name)
            if stalled:
                raise ModuleLoadTimeout(stalled)
            fields = {'op': 'call', 'target': 'importlib:import_module', 'keep': [], 'check_inputs': False}
            try:
                self._request(fields, {'args': (name,), 'kwargs': {}}, 'importing `%s`' % name, limit)
            except SubmissionRaised:
                return
            except BudgetExhausted:
                raise
            except CallTimeout:
                message = ('importing `%s` did not finish within %g s and was stopped: does it do slow work '
                           'when it is imported (training, loading data, a long loop outside any function)? '
                           'Move such code into a function or under `if __name__ == "__main__":`. Every '
                           'check that needs `%s` fails with this message.' % (name, limit, name))
                if self.budget is not None:
                    self.budget.slow_imports[name] = message
                raise ModuleLoadTimeout(message) from None
            self._imported.add(name)

    def _handle_id(self, handle, name: str = '') -> int:
        """The id of a live handle (BadValue for a dead worker's), after checking the attribute name."""
        if type(handle) is not Handle:
            raise TypeError('expected a Handle, got %r' % (handle,))
        if not name.isidentifier():
            raise ValueError('bad attribute name %r' % (name,))
        self._check_handle(handle)
        return handle.id

    def _check_handle(self, handle: Handle):
        if self._process is None or handle.session != self._process.session:
            raise BadValue('an object of type %s from an earlier run of your code is gone: the worker '
                           'was restarted after a crash or timeout' % _short(handle.type_name))

    def _encode(self, values: dict, arrays: list) -> dict:
        try:
            return {k: wire.encode(v, arrays, on_handle=self._check_handle) for k, v in values.items()}
        except wire.NotPlain as err:
            raise TypeError('grader bug: an argument is outside the bridge contract: %s' % err) from None

    def _request(self, fields: dict, values: dict, what: str, timeout: float | None):
        process = self._process or self._start()
        self._next_id += 1
        arrays: list = []
        header = dict(fields, id=self._next_id, **self._encode(values, arrays))
        limit, by_budget = self._cap(self.timeout if timeout is None else timeout)
        wait = process.waiter(time.monotonic() + limit)
        try:
            wire.send(process.req_w, header, arrays, wait)
            reply, reply_arrays = wire.recv(process.rep_r, self.max_reply_bytes, wait)
            return self._result(reply, reply_arrays, header['id'], what, process.session)
        except _Deadline:
            self.close()
            if by_budget:
                raise BudgetExhausted(self.budget.stop()) from None
            raise CallTimeout('%s did not finish within %g s and was stopped' % (what, limit)) from None
        except (_Died, wire.ChannelClosed, BrokenPipeError):
            reason = process.death()
            self.close()
            raise WorkerDied('the Python process running your code ended during %s: %s'
                             % (what, reason)) from None
        except wire.WireError as err:
            self.close()
            raise BadValue('%s: the reply could not be decoded (%s); the worker was restarted'
                           % (what, err)) from None

    def _result(self, reply: dict, arrays: list, request_id: int, what: str, session: str):
        """The value of a reply, or the exception it stands for. Raises wire.WireError if malformed."""
        if reply.get('id') != request_id or type(reply.get('ok')) is not bool:
            raise wire.WireError('reply does not answer the request')
        notes, stdout, stderr = reply.get('notes'), reply.get('stdout'), reply.get('stderr')
        if type(notes) is not list or not all(type(n) is str for n in notes) \
                or type(stdout) is not str or type(stderr) is not str:
            raise wire.WireError('malformed reply fields')
        roots = (self.root,)   # a submission's file as cs231n/layers.py, never this machine's folders
        stdout, stderr = clean_trace(stdout, OUTPUT_CHARS, roots), clean_trace(stderr, OUTPUT_CHARS, roots)
        self.last_output = {'stdout': stdout, 'stderr': stderr}
        self._add_notes(notes)
        if reply['ok']:
            value = wire.decode(reply.get('value'), arrays,
                                lambda i, type_name: Handle(i, clean_text(type_name, TYPE_CHARS), session))
            mutated = reply.get('mutated', [])
            if type(mutated) is not list or not all(type(m) is str for m in mutated):
                raise wire.WireError('malformed reply fields')
            if mutated:
                note = MUTATION_NOTE % (what, ', '.join(m[:80] for m in mutated[:5]))
                if not any(n.startswith(what + ' changed its input') for n in self.notes):
                    self.notes.append(note)
            return value
        error = reply.get('error')
        if type(error) is not dict or not all(type(error.get(k)) is str
                                              for k in ('kind', 'type', 'message', 'traceback')):
            raise wire.WireError('malformed error reply')
        message = clean_trace(error['message'], MESSAGE_CHARS, roots)
        if error['kind'] == 'raised':
            raise SubmissionRaised(what, clean_text(error['type'], TYPE_CHARS), message,
                                   clean_trace(error['traceback'], TRACEBACK_CHARS, roots), stdout, stderr)
        raise BadValue('%s: %s' % (what, message))

    def _add_notes(self, notes: list):
        """A reply's notes, cleaned, each kept once (a set: linear time), at most MAX_NOTES in all."""
        seen = set(self.notes)
        for note in notes[:MAX_REPLY_NOTES]:
            if len(self.notes) >= MAX_NOTES:
                break
            text = clean_text(note, NOTE_CHARS)
            if text not in seen:
                seen.add(text)
                self.notes.append(text)
        if (len(notes) > MAX_REPLY_NOTES or len(self.notes) >= MAX_NOTES) and NOTES_LEFT_OUT not in seen:
            self.notes.append(NOTES_LEFT_OUT)


_IMPORT = re.compile(r'^[ \t]*(?:from[ \t]+(\.*[\w.]*)[ \t]+import|import[ \t]+([\w., \t]+))', re.M)


def _imports_of(folders, module: str, max_bytes: int = 1 << 20) -> list[str]:
    """The absolute module names a submission's module imports at its top level or anywhere, read as
    text from its source file under `folders` (none for a module that is not the submission's)."""
    parts = module.split('.')
    for folder in folders:
        for rel, package in (((*parts[:-1], parts[-1] + '.py'), parts[:-1]), ((*parts, '__init__.py'), parts)):
            try:   # a scratch-tree file: no link followed on the way, no FIFO waited on (graders/engine/untrusted.py)
                data = untrusted.read_file(folder, rel, max_bytes)
            except (OSError, untrusted.UnsafeFile):
                continue
            if data is None:
                continue
            text = data.decode('utf-8', 'replace')
            names = []
            for relative, plain in _IMPORT.findall(text):
                if relative:
                    dots = len(relative) - len(relative.lstrip('.'))
                    base = package[:len(package) - dots + 1] if dots else []
                    names.append('.'.join(base + [relative.lstrip('.')] if relative.lstrip('.') else base))
                else:
                    names += [n.split()[0] for n in plain.split(',') if n.split()]
            return [n for n in names if n]
    return []


def _short(type_name: str) -> str:
    """'cs231n.classifiers.softmax.Softmax' -> 'Softmax'."""
    return type_name.rsplit('.', 1)[-1]
