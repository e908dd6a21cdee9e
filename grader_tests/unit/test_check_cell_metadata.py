"""coursekit/preprocessors/check_cell_metadata.py: nbgrader's metadata checks, with the schema checked once.

Each notebook below has one corrupted nbgrader metadata entry; the kit's CheckCellMetadata must fail it exactly
as nbgrader's own does (the same exception, the same message), and pass the source notebook as nbgrader does.
"""
import copy

import jsonschema
import pytest
from nbgrader.nbgraderformat import MetadataValidator as NbgraderValidator
from nbgrader.nbgraderformat import SchemaTooNewError, SchemaTooOldError, ValidationError
from nbgrader.preprocessors import CheckCellMetadata as NbgraderCheckCellMetadata
from traitlets.config import Config

from coursekit.course.notebooks import cells_by_id
from coursekit.preprocessors import check_cell_metadata, install
from coursekit.preprocessors.check_cell_metadata import CheckCellMetadata, MetadataValidator


def corrupted(nb, grade_id, change):
    """A copy of nb whose cell grade_id has its nbgrader metadata changed by change(meta)."""
    nb = copy.deepcopy(nb)
    change(cells_by_id(nb)[grade_id].metadata.nbgrader)
    return nb


CORRUPTIONS = {
    "points-as-text": ("test_relu", lambda meta: meta.update(points="two")),
    "no-grade-id": ("test_relu", lambda meta: meta.pop("grade_id")),
    "empty-grade-id": ("relu", lambda meta: meta.update(grade_id="")),
    "no-points": ("test_relu", lambda meta: meta.pop("points")),
    "unknown-key": ("relu", lambda meta: meta.update(colour="red")),
    "locked-as-text": ("setup", lambda meta: meta.update(locked="yes")),
    "old-schema": ("relu", lambda meta: meta.update(schema_version=2)),
    "new-schema": ("relu", lambda meta: meta.update(schema_version=9)),
}


def failure(validator, nb):
    """(exception type, message) that validator's validate_nb raises for nb, or None."""
    try:
        validator.validate_nb(nb)
    except (jsonschema.ValidationError, ValidationError, SchemaTooOldError, SchemaTooNewError) as error:
        return type(error), str(error)
    return None


@pytest.mark.parametrize("grade_id, change", CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
def test_corrupted_metadata_fails_exactly_as_in_nbgrader(source_nb, grade_id, change):
    nb = corrupted(source_nb, grade_id, change)
    expected = failure(NbgraderValidator(), nb)
    assert expected is not None, "nbgrader itself should reject this metadata"
    assert failure(MetadataValidator(), nb) == expected


def test_the_source_notebook_passes_as_in_nbgrader(source_nb):
    assert failure(NbgraderValidator(), source_nb) is None
    assert failure(MetadataValidator(), source_nb) is None


def test_the_preprocessor_rejects_corrupted_metadata_with_nbgraders_message(source_nb):
    nb = corrupted(source_nb, "test_relu", lambda meta: meta.update(points="two"))
    with pytest.raises(ValidationError, match="the nbgrader metadata may be corrupted"):
        CheckCellMetadata().preprocess(nb, {})


def test_the_schema_is_checked_once_for_many_notebooks(source_nb, monkeypatch):
    monkeypatch.setattr(check_cell_metadata, "VALIDATORS", {})
    kind = jsonschema.validators.validator_for(MetadataValidator().schema)
    checks = []
    original = kind.check_schema
    monkeypatch.setattr(kind, "check_schema", lambda schema, **kw: checks.append(1) or original(schema, **kw))
    for _ in range(3):
        CheckCellMetadata().preprocess(copy.deepcopy(source_nb), {})
    assert len(checks) == 1, f"the schema was checked {len(checks)} times for 3 notebooks of 33 cells, not once"


def test_autograde_uses_the_kits_check_in_both_pipelines():
    c = Config()
    install(c)
    pipelines = [c.Autograde.sanitize_preprocessors, c.Autograde.autograde_preprocessors]
    assert all(CheckCellMetadata in pipeline and NbgraderCheckCellMetadata not in pipeline for pipeline in pipelines)
