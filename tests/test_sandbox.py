"""Templates are untrusted: reaching Python internals is refused, expensive constructs bounded,
and the error names the template."""

import pytest
import yaml

from flanzh.build.pipeline import build
from flanzh.errors import TemplateError
from flanzh.render.templates import compile_templates
from flanzh.spec.specs import load_task


def set_template(project, index, **fields):
    path = project.templates_dir / "sim_afqmc.yaml"
    document = yaml.safe_load(path.read_text("utf-8"))
    document["templates"][index].update(fields)
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), "utf-8")


@pytest.mark.parametrize("source, problem", [
    ("{{ ''.__class__.__mro__ }}", "refused: access to '__mro__'\n"
     "templates/sim_afqmc.yaml: template 'sim_afqmc_02': input: refused: access to '__class__'"),
    ("{{ sentence1['__class__'] }}", "refused: access to '__class__'"),
    ("{{ sentence1.upper() }}", "refused: method call '.upper()'; use a filter instead"),
    ("{% macro m() %}x{% endmacro %}{{ m() }}", "refused: {% macro %} is not allowed in templates\n"
     "templates/sim_afqmc.yaml: template 'sim_afqmc_02': input: refused: calls are not allowed in "
     "templates; use a filter instead"),
    ("{% include 'other.txt' %}", "refused: {% include %} is not allowed in templates"),
])
def test_python_internals_are_refused_before_any_row(mini_project, source, problem):
    set_template(mini_project, 1, input=source + "{{ sentence1 }}")
    with pytest.raises(TemplateError) as error:
        compile_templates(load_task(mini_project, "sim_afqmc"))
    assert str(error.value) == f"templates/sim_afqmc.yaml: template 'sim_afqmc_02': input: {problem}"


def test_range_is_not_available(mini_project):
    set_template(mini_project, 1, input="{% for i in range(100000) %}{% for j in range(100000) %}"
                                        "x{% endfor %}{% endfor %}{{ sentence1 }}")
    with pytest.raises(TemplateError) as error:
        compile_templates(load_task(mini_project, "sim_afqmc"))
    assert "template 'sim_afqmc_02': unknown variable 'range'" in str(error.value)


def test_huge_string_products_are_bounded_with_the_template_named(mini_project, tmp_path):
    set_template(mini_project, 1, input="{{ sentence1 * 100000000 }}")
    set_template(mini_project, 2, input="{{ sentence1 }}{{ 2 ** 100000 }}{{ options | abc }}")
    with pytest.raises(TemplateError) as error:
        build(mini_project, tmp_path / "out", task_ids=["sim_afqmc"])
    message = str(error.value)
    assert message.startswith("templates/sim_afqmc.yaml: template 'sim_afqmc_0")
    assert ("over the limit of 100000" in message) or ("over the limit of 64" in message)
    assert not (tmp_path / "out").exists()
