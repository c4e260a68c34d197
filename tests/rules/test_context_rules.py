"""Line-exact checks for the context-sensitive Python rules: the same call is high in one
context (module level of an importable module, inside `with ... as`) and absent or lower in
another. The embedded examples say *whether* a rule fires; these pin *where*."""

from __future__ import annotations

from detectors.rules.testing import lines, run_rule


def test_with_as_target_resolves_to_the_bound_call() -> None:
    code = """
    import mss
    def snap(monitor):
        with mss.mss() as grabber:
            return grabber.grab(monitor)
    """
    # line 4 is `mss.mss()` itself; line 5 needs `grabber` resolved through the with-target
    assert lines(run_rule("py-screen-capture", code)) == [4, 5]


def test_with_as_target_does_not_leak_out_of_the_function() -> None:
    code = """
    import mss
    def first():
        with mss.mss() as grabber:
            pass
    def second(grabber):
        return grabber.grab(1)
    """
    assert lines(run_rule("py-screen-capture", code)) == [4]


def test_on_import_and_in_function_variants_split_cleanly() -> None:
    code = """
    import pyperclip
    stolen = pyperclip.paste()
    def copy(text):
        pyperclip.copy(text)
    """
    assert lines(run_rule("py-clipboard-access-on-import", code)) == [3]
    assert lines(run_rule("py-clipboard-access", code)) == [5]


def test_main_guard_makes_module_level_code_a_script() -> None:
    code = """
    import pyperclip
    text = pyperclip.paste()
    if __name__ == "__main__":
        print(text)
    """
    assert run_rule("py-clipboard-access-on-import", code) == []
    assert lines(run_rule("py-clipboard-access", code)) == [3]


def test_shell_true_splits_on_constant_command() -> None:
    code = """
    import subprocess
    subprocess.run("make clean", shell=True)
    subprocess.run("make " + target, shell=True)
    """
    assert lines(run_rule("py-subprocess-shell-constant", code)) == [3]
    assert lines(run_rule("py-subprocess-shell-true", code)) == [4]


def test_exec_at_import_skips_the_version_file_idiom() -> None:
    code = """
    exec(open("pkg/version.py").read())
    for line in payload:
        eval(line)
    """
    assert lines(run_rule("py-exec-at-import", code)) == [4]
