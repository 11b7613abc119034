from pathlib import Path

from glocal.core.roles import matrix_markdown

DOC = Path(__file__).resolve().parents[3] / "docs" / "permissions.md"


def test_docs_permissions_matches_the_enforced_matrix():
    text = DOC.read_text()
    documented = text.split("<!-- matrix:start -->")[1].split("<!-- matrix:end -->")[0].strip()
    assert documented == matrix_markdown(), "Regenerate the table: python -m glocal.core.roles"
