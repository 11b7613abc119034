"""Roles and the role × action matrix now live in the kernel, ``glocal.core.roles``; this module re-exports
them so that the apps importing ``glocal.network.roles`` keep working (network → core is the allowed
direction). New code imports ``glocal.core.roles``."""

from glocal.core.roles import (
    HQ_ROLES,
    MATRIX,
    PERSONAL_DATA_ACTION,
    RANK,
    Action,
    Role,
    grantable_roles,
    is_hq,
    matrix_markdown,
    role_allows,
    sees_personal_data,
)

__all__ = [
    "HQ_ROLES",
    "MATRIX",
    "PERSONAL_DATA_ACTION",
    "RANK",
    "Action",
    "Role",
    "grantable_roles",
    "is_hq",
    "matrix_markdown",
    "role_allows",
    "sees_personal_data",
]

if __name__ == "__main__":
    print(matrix_markdown())
