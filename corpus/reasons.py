"""Every reason a file can be dropped, in one enum, so stats keys are never free strings."""

from enum import StrEnum


class DropReason(StrEnum):
    """A file's `drop_reason`; the curated view is `drop_reason IS NULL`.

    The prefix before the colon names the stage that decided.
    """

    INTAKE_SYMLINK = "intake:symlink"
    INTAKE_TOO_LARGE = "intake:too_large"
    INTAKE_EMPTY = "intake:empty"
    INTAKE_BINARY = "intake:binary"
    INTAKE_UNDECODABLE = "intake:undecodable"
    INTAKE_UNSAFE_PATH = "intake:unsafe_path"
    INTAKE_UNREADABLE = "intake:unreadable"
    INTAKE_ARCHIVE_LIMIT = "intake:archive_limit"

    LICENSE_NON_PERMISSIVE = "license:non_permissive"
    LICENSE_NO_LICENSE = "license:no_license"
    LICENSE_UNKNOWN = "license:unknown"
    GOVERNANCE_OPT_OUT = "governance:opt_out"

    @property
    def stage(self) -> str:
        return self.value.split(":", 1)[0]
