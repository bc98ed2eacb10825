"""The autograder behind `cs285lab grade`: nbval runs each submission; check cells are graded by id.

The pipeline (pipeline.py) reads top to bottom: plan (plan.py: discover.py finds submissions,
course.py reads references and submissions) -> run + verdict (batch.py: assemble.py merges a
submission with its reference, run.py runs nbval in a sandbox.py, verdict.py judges each check)
-> reuse flags (reuse.py) -> written answers (manual.py), overrides (overrides.py), late policy
(late.py) -> reports (tables.py, feedback.py, classreport.py, gradebook.py, gradescope.py).
Around it: cli.py (the command), merge.py (shards into one folder), emit.py (Slurm and Kubernetes
recipes), unpack.py (the handout's submission zips), handgrade.py (the hand-grading page).
See docs/grading.md.
"""
