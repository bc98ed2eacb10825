"""Authoring tools for instructors: student-notebook generation from solutions/."""
