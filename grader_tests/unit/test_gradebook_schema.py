"""coursekit/course/gradebook.py: a new gradebook gets nbgrader's schema revision without alembic run as a
program (nbgrader's get_alembic_version, about 3 s of CPU per new gradebook)."""
import subprocess
import sys
from pathlib import Path

import pytest
from nbgrader.api import Gradebook
from sqlalchemy import text

from coursekit.course.gradebook import schema_head


def test_a_new_gradebook_is_stamped_with_the_schema_head_without_a_subprocess(tmp_path, monkeypatch):
    def no_subprocess(*args, **kwargs):
        raise AssertionError(f"a subprocess was started: {args}")
    monkeypatch.setattr(subprocess, "Popen", no_subprocess)
    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gb:
        stamped = gb.db.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert stamped == schema_head()


@pytest.mark.slow
def test_the_schema_head_is_what_alembic_heads_prints():
    from nbgrader.dbutil import _temp_alembic_ini
    alembic = Path(sys.executable).parent / "alembic"
    with _temp_alembic_ini("sqlite:////tmp/gradebook.db") as ini:
        printed = subprocess.run([str(alembic), "-c", ini, "heads"], capture_output=True, text=True, check=True)
    assert printed.stdout.split()[0] == schema_head()
