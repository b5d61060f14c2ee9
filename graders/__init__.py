"""Autograder for CS 7643 HW1 Q8: data handling, notebook runs and graders."""
