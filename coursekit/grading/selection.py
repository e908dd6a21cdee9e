"""Which submissions a run grades: those asked for, new, changed, or not fully in the gradebook."""


def to_grade(submissions, state, graded, students, force, autograded_notebook):
    """The submissions this run grades: asked for, new, changed, or not (fully) in the gradebook."""
    if students:
        return [submissions[s] for s in students]
    if force:
        return list(submissions.values())
    todo = []
    for student, submission in submissions.items():
        before = state.outcomes.get(student)
        fresh = (before is not None and before.fingerprint == submission.fingerprint and student in graded
                 and (before.reason is not None or autograded_notebook(student).exists()))
        if not fresh:
            todo.append(submission)
    return todo
