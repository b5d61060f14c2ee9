"""Started with the notebook kernel (the sandboxed runner puts this folder on the kernel's PYTHONPATH):
the 2019 course's environment (`course_env`) in the kernel too, notes to $HW1GRADE_NOTES_FILE."""
import os
import sys

_inside = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, _inside)
try:
    import course_env
    course_env.install()
finally:
    sys.path.remove(_inside)
