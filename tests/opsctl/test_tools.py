"""The repository's own Terraform tooling: the README table generator and the 6.x schema check."""

from __future__ import annotations

import shutil
from pathlib import Path

from opsctl.terraform import module_docs
from opsctl.terraform.provider_schema import check_module
from tests.support.paths import REPO
from tests.support.tools import require


def test_schema_check_names_each_unknown_argument_block_and_resource() -> None:
    problems = check_module(REPO / "tests/data/schema-drift")
    assert sorted(problems) == [
        "resource.aws_instance_that_never_was: does not exist in provider 6.x",
        "resource.aws_launch_template.this.block_device_mappings.ebs.invented: "
        "not an argument or block in provider 6.x",
        "resource.aws_launch_template.this.metadata_options.made_up: "
        "not an argument or block in provider 6.x",
        "resource.aws_vpc.this.not_an_arg: not an argument or block in provider 6.x",
    ]


def test_schema_check_accepts_valid_module() -> None:
    assert check_module(REPO / "tests/data/tiny-module") == []


def test_readme_table_generated_then_fresh(tmp_path: Path) -> None:
    module = tmp_path / "tiny"
    shutil.copytree(REPO / "tests/data/tiny-module", module)
    (module / "README.md").write_text(
        "# tiny\n\nHand-written.\n\n<!-- BEGIN_TF_DOCS -->\nold\n<!-- END_TF_DOCS -->\n"
    )
    assert module_docs.main(["--check", str(module)]) == 1
    assert module_docs.main([str(module)]) == 0
    text = (module / "README.md").read_text()
    assert "Hand-written." in text
    assert "| `cidr_block` | CIDR of the VPC. | `string` | n/a | yes |" in text
    assert "| `vpc_id` | ID of the VPC. |" in text
    assert "old" not in text
    assert module_docs.main(["--check", str(module)]) == 0


def test_readme_without_markers_is_an_error(tmp_path: Path) -> None:
    shutil.copytree(REPO / "tests/data/tiny-module", tmp_path / "m")
    (tmp_path / "m" / "README.md").write_text("# no markers\n")
    assert module_docs.main(["--check", str(tmp_path / "m")]) == 1


def test_docs_modules_checkov_table_is_current() -> None:
    from opsctl.terraform import checkov

    require(checkov.binary() is not None, "checkov (.venv-checkov)")
    text = (REPO / "docs/modules.md").read_text()
    fresh = module_docs.checkov_summary(text, checkov.scan(REPO / "modules"))
    assert text == fresh, "run: make docs (docs/modules.md checkov table is stale)"
