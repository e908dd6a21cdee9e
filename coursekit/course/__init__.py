"""A course folder as nbgrader lays it out: config, assignments, submissions, notebooks, gradebook."""
