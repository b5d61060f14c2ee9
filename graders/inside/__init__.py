"""The only part of the grader mounted into the sandbox (read-only, at /opt/hw1grade).

Standard library and numpy only; nothing here imports from `graders`.
"""
