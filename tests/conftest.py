"""Test collection: notebooks under tests/fixtures are inputs of tests (e.g. graded by the grader), not tests."""

collect_ignore_glob = ["fixtures/*"]
