"""coursekit/sandbox/functions.py's Answers: the referee asks the submission's worker each distinct question once.

The worker runs without the sandbox here (a plain Python process). Its function ``counted`` adds how many times
it has run to its input, so a result tells whether the worker was asked again. Audits (a repeated question
asked again at random) are off, except in the tests of audits, where every repeated question is audited.
"""
import numpy as np
import pytest

from coursekit.sandbox import Sandbox
from coursekit.sandbox.functions import StudentCodeError, StudentProcess, proxy

COUNTED = "runs = [0]\ndef counted(x):\n    runs[0] += 1\n    return x + runs[0]"
BUMPS = "def bump(params):\n    params['W'] += 1\n    return params"
DOUBLES = "def double(x):\n    return 2 * x"
EXITS = "import os\ndef leave(x):\n    os._exit(3)"


@pytest.fixture
def student(tmp_path):
    process = StudentProcess([COUNTED, BUMPS, DOUBLES, EXITS], tmp_path, Sandbox(enabled=False), timeout=60)
    process.answers.audit = 0
    yield process
    process.close()


def test_the_same_call_again_is_answered_without_asking_the_worker(student):
    counted = proxy(student, "counted")
    first, again = counted(np.array([1.0])), counted(np.array([1.0]))
    assert first.tolist() == again.tolist() == [2.0], f"got {first} then {again}: the worker ran counted twice"
    assert student.answers.hits == 1


def test_a_call_with_other_bytes_is_asked_again(student):
    counted = proxy(student, "counted")
    counted(np.array([1.0]))
    assert counted(np.array([1.5])).tolist() == [3.5], "a new argument must reach the worker (its second run)"


@pytest.mark.parametrize("other", [np.array([1], dtype=np.int64), np.array([[1.0]]), np.array([1.0], dtype=">f8")],
                         ids=["dtype", "shape", "byte-order"])
def test_a_call_whose_argument_differs_only_in_dtype_or_shape_is_asked_again(student, other):
    counted = proxy(student, "counted")
    counted(np.array([1.0]))
    assert counted(other).ravel().tolist() == [3], f"{other!r} is another question than array([1.])"


def test_a_python_int_and_float_are_different_questions(student):
    counted = proxy(student, "counted")
    assert counted(1) == 2
    assert counted(1.0) == 3.0, "counted(1.0) was answered with counted(1)'s answer"


def test_changing_an_answer_does_not_change_the_next_one(student):
    counted = proxy(student, "counted")
    answer = counted(np.array([1.0]))
    answer[0] = 99.0
    assert counted(np.array([1.0])).tolist() == [2.0], "the remembered answer was changed through the first one"


def test_a_remembered_answer_repeats_the_in_place_change_of_an_argument(student):
    bump = proxy(student, "bump")
    first, second = {"W": np.zeros(2)}, {"W": np.zeros(2)}
    bump(first)
    returned = bump(second)
    assert student.answers.hits == 1
    assert second["W"].tolist() == returned["W"].tolist() == [1.0, 1.0], \
        f"the second caller's params are {second['W']} and bump returned {returned['W']}; bump adds 1"


def test_a_dead_worker_answers_nothing_from_memory(student):
    counted = proxy(student, "counted")
    counted(np.array([1.0]))
    with pytest.raises(StudentCodeError):
        proxy(student, "leave")(np.array([0.0]))
    with pytest.raises(StudentCodeError, match="ended"):
        counted(np.array([1.0]))


def test_a_function_whose_repeated_answer_differs_fails_when_audited(student):
    student.answers.audit = 1
    counted = proxy(student, "counted")
    counted(np.array([1.0]))
    with pytest.raises(StudentCodeError, match="two different answers"):
        counted(np.array([1.0]))
    with pytest.raises(StudentCodeError, match="two different answers"):
        counted(np.array([5.0]))  # unreliable from then on, whatever it is asked


def test_a_pure_function_passes_every_audit(student):
    student.answers.audit = 1
    double = proxy(student, "double")
    answers = [double(np.array([1.5, -2.0])).tolist() for _ in range(3)]
    assert answers == [[3.0, -4.0]] * 3
    assert (student.answers.audits, student.answers.hits) == (2, 0)


def test_about_one_repeated_question_in_sixteen_is_audited_and_always_the_same_ones():
    from coursekit.sandbox.functions import Answers
    keys = [Answers.key([str(i).encode()]) for i in range(16000)]
    first = [Answers().audit_now(key) for key in keys]
    assert 800 <= sum(first) <= 1200, f"{sum(first)} of 16,000 repeated questions audited, expected about 1,000"
    assert first == [Answers().audit_now(key) for key in keys], "another grading audited other questions"


RAISES = "tries = [0]\ndef fails(x):\n    tries[0] += 1\n    raise ValueError(f'try {tries[0]}')"
SAME = "def same(x):\n    return x"
HANGS = "def hangs(x):\n    while True:\n        pass"


def test_an_error_is_not_remembered(tmp_path):
    student = StudentProcess([RAISES], tmp_path, Sandbox(enabled=False), timeout=60)
    try:
        fails = proxy(student, "fails")
        for expected in ("try 1", "try 2"):
            with pytest.raises(StudentCodeError, match=expected):
                fails(np.array([1.0]))
    finally:
        student.close()


def test_a_remembered_result_that_is_the_argument_is_the_callers_own_array(tmp_path):
    student = StudentProcess([SAME], tmp_path, Sandbox(enabled=False), timeout=60)
    student.answers.audit = 0
    try:
        same = proxy(student, "same")
        same(np.array([1.0, 2.0]))
        mine = np.array([1.0, 2.0])
        assert same(mine) is mine and student.answers.hits == 1, "the function returns its input, as before"
    finally:
        student.close()


def test_a_stored_answer_past_the_budget_fails_as_a_call_would(student):
    counted = proxy(student, "counted")
    counted(np.array([1.0]))
    student.deadline = 0.0
    with pytest.raises(StudentCodeError, match="time limit"):
        counted(np.array([1.0]))


def test_an_unreliable_function_stays_unreliable_in_the_worker_started_after_a_hang(tmp_path):
    from coursekit.sandbox.functions import RestartingStudent
    student = RestartingStudent(lambda: StudentProcess([COUNTED, HANGS], tmp_path, Sandbox(enabled=False), timeout=60,
                                                       call_timeout=1))
    student.answers.audit = 1
    try:
        counted = proxy(student, "counted")
        counted(np.array([1.0]))
        with pytest.raises(StudentCodeError, match="two different answers"):
            counted(np.array([1.0]))
        with pytest.raises(StudentCodeError):
            proxy(student, "hangs")(np.array([0.0]))  # stops the worker; the next call starts another
        with pytest.raises(StudentCodeError, match="two different answers"):
            counted(np.array([2.0]))
    finally:
        student.close()
