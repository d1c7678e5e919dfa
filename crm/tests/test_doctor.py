import sys

from crm import doctor


def test_this_machine_has_what_make_test_needs():
    missing, _ = doctor.problems()
    assert missing == [], "\n".join(missing)


def test_a_missing_pango_is_named_by_its_package(monkeypatch):
    class NoPango:
        def find_spec(self, name, path=None, target=None):
            if name == "weasyprint":
                raise OSError("cannot load library 'libpango-1.0-0'")
            return None

    monkeypatch.delitem(sys.modules, "weasyprint", raising=False)
    monkeypatch.setattr(sys, "meta_path", [NoPango(), *sys.meta_path])
    missing, _ = doctor.problems()
    assert any("apt-get install libpango-1.0-0" in line for line in missing)
