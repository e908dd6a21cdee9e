"""nbgrader's CheckCellMetadata, with the metadata's JSON schema checked once per process, not once per cell.

nbgrader 0.9's ``BaseMetadataValidator.validate_cell`` calls ``jsonschema.validate`` for every cell, and that
first checks the schema itself against jsonschema's meta-schema: 26-42 ms of the grader's CPU for this
course's 33 cells, twice per submission (autograde checks the metadata before and after its other steps),
about 3% of a whole grading. ``CheckCellMetadata`` here makes the same checks with one validator per schema,
built once (1 ms a notebook): the same schema, the same validator class, the first error jsonschema's
``best_match``, as ``jsonschema.validate`` raises it, and nbgrader's own further checks (grade ids, points,
task cells) unchanged.
"""
import traceback

import jsonschema
from nbformat.notebooknode import NotebookNode
from nbgrader.nbgraderformat import MetadataValidator as NbgraderMetadataValidator
from nbgrader.nbgraderformat.common import BaseMetadataValidator, SchemaTooNewError, SchemaTooOldError, ValidationError
from nbgrader.preprocessors import CheckCellMetadata as NbgraderCheckCellMetadata


VALIDATORS = {}  # nbgrader's metadata schema version -> jsonschema's validator of that schema, checked once


class SchemaCheckedOnce(BaseMetadataValidator):
    """nbgrader's BaseMetadataValidator.validate_cell, with a validator of the schema built once (VALIDATORS)."""

    def schema_validator(self):
        """The validator of self.schema (nbgrader's file of schema_version)."""
        validator = VALIDATORS.get(self.schema_version)
        if validator is None:
            kind = jsonschema.validators.validator_for(self.schema)
            kind.check_schema(self.schema)
            validator = VALIDATORS[self.schema_version] = kind(self.schema)
        return validator

    def validate_cell(self, cell: NotebookNode) -> None:
        if "nbgrader" not in cell.metadata:
            return
        version = cell.metadata["nbgrader"].get("schema_version", 0)
        if version < self.schema_version:
            raise SchemaTooOldError(f"Outdated schema version: {version} (expected {self.schema_version})",
                                    version, self.schema_version)
        if version > self.schema_version:
            raise SchemaTooNewError(f"Schema version is too new: {version} (expected {self.schema_version})",
                                    version, self.schema_version)
        error = jsonschema.exceptions.best_match(self.schema_validator().iter_errors(cell.metadata["nbgrader"]))
        if error is not None:
            raise error


class MetadataValidator(NbgraderMetadataValidator, SchemaCheckedOnce):
    """nbgrader's MetadataValidator (of its current schema version); its validate_cell's call of the base
    class's lands in SchemaCheckedOnce."""


class CheckCellMetadata(NbgraderCheckCellMetadata):
    """nbgrader's CheckCellMetadata with MetadataValidator above: the same checks and errors."""

    def preprocess(self, nb, resources):
        try:
            MetadataValidator().validate_nb(nb)
        except ValidationError:
            self.log.error(traceback.format_exc())
            message = "Notebook failed to validate; the nbgrader metadata may be corrupted."
            self.log.error(message)
            raise ValidationError(message)
        return nb, resources
