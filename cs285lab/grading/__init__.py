"""The autograder behind `cs285lab grade`: nbval runs each submission; check cells are graded by id.

Modules: discover (find submissions), assemble (merge a submission with its reference, restore
check and locked cells, insert the private checks loader), run (nbval in a limited subprocess),
nbval_plugin (per-cell records), verdict (rows and statuses), batch (jobs, cache, parallelism),
report (CSV tables, feedback, Gradescope), cli (the command). See docs/grading.md.
"""
