"""The pytest plugin the grader loads by path (its module imports no torch); see cs285lab_nbval_recorder."""
